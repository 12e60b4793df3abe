/**
 * mock-body — reads an outgoing request body to its end for {@link MockTransport}'s
 * record (SPEC §12: `mock.calls` holds the body's bytes, a stream read fully).
 *
 * Owns nothing of framing: the body comes framed by the transport's own rules
 * (transport-head.ts `requestHead`), and a stream is held to its declared length by the
 * writers' rules (conn/body-error.ts: `bodyTooLong`, `bodyTooShort`, `requestBodyError`),
 * so the mock refuses what the wire refuses, with the same codes and messages.
 *
 * Invariants: the body is opened once, by the caller, when the request is taken (a
 * non-replayable body is consumed, as a real send would); a stream that fails gives
 * `HG_REQUEST_BODY` (as the real writer does); the caller bounds the wait (the
 * request's deadline, signal and write timeout) and, when it gives up, a Readable body
 * is destroyed as the real writer destroys it.
 */

import { Readable } from 'node:stream';
import type { BodyChunk, WritableBody } from '../conn/writer.js';
import { bodyBytes, bodyTooLong, bodyTooShort, requestBodyError } from '../conn/body-error.js';

/** A body being read: its bytes, and how to give up on it. */
export interface BodyRead {
  readonly bytes: Promise<Buffer | undefined>;
  /** The wait for the body failed (a timeout, an abort): a stream is destroyed, as the real writer does. */
  abandon(): void;
}

/** Starts reading a framed request body (undefined bytes when it has none). */
export function readRequestBody(body: WritableBody): BodyRead {
  if (body.kind === 'none') return { bytes: Promise.resolve(undefined), abandon: noop };
  if (body.kind === 'buffer') {
    const d = body.data;
    const bytes = typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    return { bytes: Promise.resolve(bytes), abandon: noop };
  }
  const stream = body.source;
  const bytes = drain(stream, body.length);
  bytes.catch(noop); // a wait that ended first (or never started) leaves its failure nobody's
  return {
    bytes,
    abandon: () => {
      if (stream instanceof Readable) stream.destroy();
    },
  };
}

function noop(): void {}

async function drain(content: AsyncIterable<BodyChunk> | Iterable<BodyChunk>, length: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let sent = 0;
  try {
    for await (const piece of content) {
      const c = bodyBytes(piece);
      sent += c.byteLength;
      if (length >= 0 && sent > length) throw bodyTooLong(length);
      chunks.push(c);
    }
    if (length >= 0 && sent !== length) throw bodyTooShort(sent, length);
  } catch (err) {
    if (content instanceof Readable) content.destroy();
    throw requestBodyError(err);
  }
  return Buffer.concat(chunks);
}
