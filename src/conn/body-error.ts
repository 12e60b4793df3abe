/**
 * conn/body-error — what an upload rejects with when its request body fails, one rule for
 * the HTTP/1.1 writer (./writer.ts) and the HTTP/2 upload (../h2/upload.ts) (SPEC §4).
 *
 * Owns: {@link bodyCheck} (the uploaders' own checks of a body: framing length, chunk
 * type) and {@link requestBodyError}.
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
export function bodyCheck(message: string): HourglassError {
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
