/**
 * logger — {@link logger}, the one-line-per-call interceptor of SPEC §12: method, URL
 * without credentials, status (or the error's name, code and phase), the duration until
 * the response head, and the final attempt's phases.
 *
 * Never does: read or wait for the body (the line is written when the head is known, so
 * logging never delays the caller), print header values (no token can leak), wait for an
 * async log function, or let a throwing or rejecting log function fail the request or
 * crash the process.
 *
 * Invariants: exactly one call of `fn` per call of the interceptor; the URL passes
 * `redactUrl` (userinfo removed) and redact.ts's query redaction (the secret parameters'
 * values are `REDACTED`, as on telemetry's `url.full`).
 */

import { HourglassError, TimeoutError, redactUrl, invalidArg } from '../errors.js';
import { isThenable } from '../chain.js';
import { redactUrl as redactQuery } from '../redact.js';
import type { Response } from '../response.js';
import type { Interceptor, OutgoingRequest } from '../round-tripper.js';
import type { TimingPhases } from '../timings.js';

/** What {@link logger} knows about one call, besides the formatted line. */
export interface LogEntry {
  method: string;
  /** The URL without userinfo, secret query values `REDACTED` (as telemetry's `url.full`). */
  url: string;
  /** The final status, when a response came. */
  status: number | undefined;
  /** The error, when the call failed. */
  error: Error | undefined;
  /** Milliseconds from the call to its response head (or failure). */
  durationMs: number;
  /** The final attempt's phases (SPEC §5), when a response came. */
  phases: TimingPhases | undefined;
  /** Redirects followed below this interceptor. */
  redirects: number;
}

/**
 * An interceptor that calls `fn` once per request with one line, e.g.
 * `GET https://api.test/users -> 200 in 41 ms (dns 1, tcp 2, tls 9, firstByte 27)` or
 * `GET https://api.test/slow -> TimeoutError ETIMEDOUT response-headers in 5002 ms`.
 * The URL never carries credentials (no userinfo; the values of secret query parameters
 * such as `access_token` or `X-Amz-Signature` are `REDACTED`, as on telemetry's
 * `url.full`); header values are never printed.
 *
 * @example
 * const client = new Client({ interceptors: [logger((line) => console.error(line))] });
 */
export function logger(fn: (line: string, entry: LogEntry) => unknown): Interceptor {
  if (typeof fn !== 'function') throw invalidArg('logger: expected a function (line, entry) => void');
  return async function loggerInterceptor(req: OutgoingRequest, next): Promise<Response> {
    const started = performance.now();
    const method = req.method;
    const url = redactQuery(redactUrl(req.url) ?? '');
    let res: Response;
    try {
      res = await next(req);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      emit(fn, { method, url, status: undefined, error, durationMs: elapsed(started), phases: undefined, redirects: 0 });
      throw err;
    }
    emit(fn, {
      method,
      url,
      status: res.status,
      error: undefined,
      durationMs: elapsed(started),
      phases: res.timings.phases,
      redirects: res.redirects.length,
    });
    return res;
  };
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

function emit(fn: (line: string, entry: LogEntry) => unknown, e: LogEntry): void {
  try {
    const out = fn(formatLine(e), e) as unknown;
    // An async sink (fs.promises.appendFile, ...) that rejects: its rejection is handled
    // here, never left to crash the process.
    if (isThenable(out)) out.then(undefined, ignore);
  } catch {
    // A log sink's failure is not the request's.
  }
}

function ignore(): void {}

/** The line for one entry. */
export function formatLine(e: LogEntry): string {
  const head = `${e.method} ${e.url} -> `;
  if (e.error !== undefined) {
    const err = e.error;
    const code = err instanceof HourglassError ? ` ${err.code}` : '';
    const phase = err instanceof TimeoutError ? ` ${err.phase}` : '';
    return `${head}${err.name}${code}${phase} in ${e.durationMs} ms`;
  }
  const p = e.phases;
  const phases = p === undefined ? '' : ` (dns ${p.dns}, tcp ${p.tcp}, tls ${p.tls}, firstByte ${p.firstByte})`;
  const hops = e.redirects > 0 ? ` after ${e.redirects} redirect${e.redirects === 1 ? '' : 's'}` : '';
  return `${head}${e.status ?? '?'} in ${e.durationMs} ms${phases}${hops}`;
}
