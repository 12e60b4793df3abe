/**
 * mock-body — reads an outgoing request body to its end for {@link MockTransport}'s
 * record (SPEC §12: `mock.calls` holds the body's bytes, a stream read fully).
 *
 * Invariants: the body is opened once (a non-replayable body is consumed, as a real send
 * would); a stream that fails gives `HG_REQUEST_BODY` (as the real writer does); the
 * caller bounds the wait (the request's deadline, signal and write timeout) and, when it
 * gives up, a Readable body is destroyed as the real writer destroys it.
 */

import { Readable } from 'node:stream';
import { HourglassError } from '../errors.js';
import type { OutgoingBody } from '../round-tripper.js';

/** A body being read: its bytes, and how to give up on it. */
export interface BodyRead {
  readonly bytes: Promise<Buffer | undefined>;
  /** The wait for the body failed (a timeout, an abort): a stream is destroyed, as the real writer does. */
  abandon(): void;
}

/** Starts reading the body of a request (undefined bytes when it has none). */
export function readRequestBody(body: OutgoingBody | undefined): BodyRead {
  if (body === undefined) return { bytes: Promise.resolve(undefined), abandon: noop };
  let content: ReturnType<OutgoingBody['open']>;
  try {
    content = body.open();
  } catch (err) {
    return { bytes: Promise.reject(err as Error), abandon: noop };
  }
  if (typeof content === 'string') return { bytes: Promise.resolve(Buffer.from(content, 'utf8')), abandon: noop };
  if (content instanceof Uint8Array) {
    return { bytes: Promise.resolve(Buffer.from(content.buffer, content.byteOffset, content.byteLength)), abandon: noop };
  }
  const stream = content;
  const bytes = drain(stream);
  bytes.catch(noop); // a wait that ended first (or never started) leaves its failure nobody's
  return {
    bytes,
    abandon: () => {
      if (stream instanceof Readable) stream.destroy();
    },
  };
}

function noop(): void {}

async function drain(content: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of content as AsyncIterable<Uint8Array | string>) {
      chunks.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    }
  } catch (err) {
    if (err instanceof HourglassError) throw err;
    throw new HourglassError(`request body stream failed: ${(err as Error)?.message ?? String(err)}`, 'HG_REQUEST_BODY', {
      cause: err,
    });
  }
  return Buffer.concat(chunks);
}
