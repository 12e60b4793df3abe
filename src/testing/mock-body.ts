/**
 * mock-body — reads an outgoing request body to its end for {@link MockTransport}'s
 * record (SPEC §12: `mock.calls` holds the body's bytes, a stream read fully).
 *
 * Invariants: the body is opened once (a non-replayable body is consumed, as a real send
 * would); a stream that fails gives `HG_REQUEST_BODY` (as the real writer does); the
 * caller bounds the wait (the request's deadline and signal).
 */

import { HourglassError } from '../errors.js';
import type { OutgoingBody } from '../round-tripper.js';

/** The body's bytes, or undefined when the request has none. */
export async function requestBodyBytes(body: OutgoingBody | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const content = body.open();
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array) return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
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
