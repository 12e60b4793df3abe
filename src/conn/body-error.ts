/**
 * conn/body-error — what an upload rejects with when its request body fails, one rule for
 * the HTTP/1.1 writer (./writer.ts) and the HTTP/2 upload (../h2/upload.ts) (SPEC §4).
 *
 * Owns: the uploaders' own checks of a body ({@link bodyTooLong}, {@link bodyTooShort},
 * {@link bodyBytes}: HG_INVALID_ARG; the same for MockTransport, testing/mock-body.ts),
 * {@link requestBodyError}, {@link failOnSourceError} (a source's failure heard whenever it
 * comes, not only at an uploader's next pull) and the sources let go ({@link releaseSource}), and {@link asBytes} (a body value's bytes, for request and
 * response bodies alike).
 *
 * Never: passes a body source's error through as the request's own: a source that is
 * another request's body (piped download) fails with *that* request's TimeoutError,
 * AbortError or ConnectError, which would name the wrong method/url/phase and be retried
 * as a connect failure of this one.
 *
 * Invariant: the result is either an error {@link bodyCheck} made (HG_INVALID_ARG) or an
 * `HG_REQUEST_BODY` HourglassError whose `cause` is what the source threw.
 */

import { HourglassError, invalidArg } from '../errors.js';

/** Errors raised by the uploaders' own checks, kept as they are. */
const OWN = new WeakSet<object>();

/** An HG_INVALID_ARG raised by an uploader's own check of the body (not by its source). */
function bodyCheck(message: string): HourglassError {
  const e = invalidArg(message);
  OWN.add(e);
  return e;
}

/** The error an upload fails with when its body loop threw `err`. */
export function requestBodyError(err: unknown): HourglassError {
  if (err instanceof HourglassError && OWN.has(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HourglassError(`request body stream failed: ${message}`, 'HG_REQUEST_BODY', { cause: err });
}

/** `HG_INVALID_ARG`: the stream gave more bytes than its content-length. */
export function bodyTooLong(length: number): HourglassError {
  return bodyCheck(`request body is longer than its content-length (${length})`);
}

/** `HG_INVALID_ARG`: the stream ended short of its content-length. */
export function bodyTooShort(sent: number, length: number): HourglassError {
  return bodyCheck(`request body is shorter (${sent} bytes) than its content-length (${length})`);
}

/** The bytes of a body piece, as a Uint8Array over the same memory (no copy for views). */
export function bodyBytes(piece: unknown): Uint8Array {
  if (typeof piece === 'string') return Buffer.from(piece);
  const bytes = asBytes(piece);
  if (bytes !== undefined) return bytes;
  throw bodyCheck(`a request body chunk must be a string, an ArrayBufferView or an ArrayBuffer, got ${typeof piece}`);
}

/**
 * The bytes of an `ArrayBufferView` of any type (DataView, Float64Array, ...) or an
 * `ArrayBuffer`, as a Uint8Array over the same memory; undefined for anything else.
 * Framing is computed from these bytes, never from an element count.
 */
export function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return undefined;
}

/** An event-emitting body source (a node Readable): its 'error' is heard while nothing pulls from it. */
interface ErrorEmitter {
  once(event: 'error', fn: (err: unknown) => void): unknown;
}

function isEmitter(v: unknown): v is ErrorEmitter {
  const o = v as Partial<ErrorEmitter> | null;
  return typeof o === 'object' && o !== null && typeof o.once === 'function';
}

/**
 * Stream body sources no longer the request's: written whole, or let go by hourglass itself
 * (an abandoned upload destroys its source, which may then emit an AbortError that is no
 * failure of the body).
 */
const SENT = new WeakSet<object>();

/**
 * `source` is no longer the request's: written whole (the uploaders call this before the last
 * byte goes), or left early by an uploader's loop (whose iterator's return destroys it).
 */
export function releaseSource(source: unknown): void {
  if (typeof source === 'object' && source !== null) SENT.add(source);
}

/** {@link bodyBytes} in an uploader's loop: a piece it refuses lets the source go first (leaving the loop destroys it). */
export function pieceBytes(source: unknown, piece: unknown): Uint8Array {
  try {
    return bodyBytes(piece);
  } catch (err) {
    releaseSource(source);
    throw err;
  }
}

/**
 * The caller's own body failed — its source threw or errored (HG_REQUEST_BODY), or a chunk
 * broke the framing (HG_INVALID_ARG: no bytes, a length other than its content-length) —
 * as opposed to the connection failing under the upload. After the response head only
 * these fail the exchange (the body read fails with them, SPEC error table): an uploader
 * hands them to the request's budget, as {@link failOnSourceError} does a stream's 'error'.
 */
export function isSourceFault(err: unknown): err is HourglassError {
  return err instanceof HourglassError && (err.code === 'HG_REQUEST_BODY' || err.code === 'HG_INVALID_ARG');
}

/** {@link bodyTooLong} in an uploader's loop, the source let go first. */
export function overrun(source: unknown, length: number): HourglassError {
  releaseSource(source);
  return bodyTooLong(length);
}

/** Destroys a body source hourglass gives up on; what it emits after is not the request's error. */
export function destroySource(source: unknown): void {
  const src = source as { destroy?: (err?: Error) => void; destroyed?: boolean } | null;
  if (src === null || typeof src !== 'object' || typeof src.destroy !== 'function') return;
  releaseSource(src);
  if (src.destroyed !== true) src.destroy();
}

/**
 * From the moment the transport takes a stream body until the request is over: an 'error'
 * of an event-emitting source, while the body is not yet written whole, fails the request
 * at once (`fail`, the request's budget: whatever holds it then is cancelled) with
 * HG_REQUEST_BODY — while the request waits for a connection or for `100 Continue`, when
 * no pump listens yet (the error was uncaught: a crash, and the request ended late or at a
 * timeout), and after the response head, when the upload's own failure no longer fails
 * the exchange (issue #16, eleventh attack F3/F6) — and while an uploader waits for the socket
 * to drain or the peer's window, when its next pull would come only at a timeout (tenth
 * attack): the cancelled exchange wakes it. The listener stays on the source (once):
 * an error after the request is over finds the budget finished and is dropped, not thrown.
 */
export function failOnSourceError(body: { kind: string; source?: unknown }, budget: { abort(err: HourglassError): void }): void {
  if (body.kind !== 'stream') return;
  const source = body.source;
  if (!isEmitter(source)) return;
  source.once('error', (err) => {
    if (!SENT.has(source)) budget.abort(requestBodyError(err));
  });
}

/** Destroys a stream body's source that will not be written (its request failed before a connection). */
export function dropUnsentSource(body: { kind: string; source?: unknown }): void {
  if (body.kind !== 'stream' || SENT.has(body.source as object)) return;
  destroySource(body.source);
}
