/**
 * retry — the client's retry policy (SPEC §7, §11): which outcomes are worth another
 * attempt, and how long to wait first.
 *
 * Owns: defaults (limit 0; RFC 9110 idempotent methods plus idempotency-key requests;
 * statuses 408/429/500/502/503/504; 100 ms × 2^(n−1) ±20 % capped at 10 s),
 * `Retry-After` parsing (seconds or HTTP-date) and its cap, and the error classes
 * worth retrying (connect, dns/connect/tls/pool timeouts, connection closed before
 * the response), the cap on a `Retry-After`, and the one rule for a wait against the
 * deadline ({@link waitFits}). Pure: the caller sleeps and keeps the deadline. The
 * client and `download()` both decide with it (SPEC §12: one implementation of retry
 * and backoff); `download()` builds its policy with its own default limit.
 *
 * Waits are durations as every other (SPEC §11): up to `Number.MAX_SAFE_INTEGER` ms they
 * mean what they say; a backoff returning anything else (negative, NaN, a larger finite
 * number) is `HG_INVALID_ARG`. A `Retry-After` too large to count in ms is Infinity.
 */

import { ConnectError, invalidArg, ProtocolError, TimeoutError } from './errors.js';
import { checkDuration, checkOptionsObject, describeValue, isDuration, RETRY_NAMES } from './options.js';
import { findHeader } from './request-init.js';

/** Retry options of a client or a request. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 0. */
  limit?: number;
  /** Methods retried. Default GET, HEAD, OPTIONS, TRACE, PUT, DELETE. */
  methods?: string[];
  /** Statuses retried. Default 408, 429, 500, 502, 503, 504. */
  statusCodes?: number[];
  /** Wait before retry number `attempt` (1-based), in ms. */
  backoff?: (attempt: number) => number;
  /** Longest `Retry-After` honoured (ms); a longer one returns the response. Default 60 000. */
  maxRetryAfter?: number;
}

/** A resolved retry policy. */
export class RetryPolicy {
  readonly limit: number;
  private readonly methods: Set<string>;
  private readonly statusCodes: Set<number>;
  private readonly backoffFn: (attempt: number) => number;
  readonly maxRetryAfter: number;

  constructor(o: RetryOptions | number | undefined) {
    if (typeof o !== 'number' && o !== null) checkOptionsObject('retry', 'retry.', o, RETRY_NAMES);
    const opts: RetryOptions = typeof o === 'number' ? { limit: o } : (o ?? {});
    const limit = opts.limit ?? 0;
    if (typeof limit !== 'number' || limit < 0 || Number.isNaN(limit)) {
      throw invalidArg(`retry.limit must be a non-negative number, got ${describeValue(limit)}`);
    }
    this.limit = limit;
    this.methods = new Set((opts.methods ?? ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']).map((m) => m.toUpperCase()));
    this.statusCodes = new Set(opts.statusCodes ?? [408, 429, 500, 502, 503, 504]);
    if (opts.backoff !== undefined && typeof opts.backoff !== 'function') {
      throw invalidArg(`retry.backoff must be a function, got ${describeValue(opts.backoff)}`);
    }
    this.backoffFn = opts.backoff ?? defaultBackoff;
    this.maxRetryAfter = checkDuration('retry.maxRetryAfter', opts.maxRetryAfter) ?? 60_000;
  }

  /** Whether a request with this method and headers may be retried at all. */
  allows(method: string, headers: readonly string[], replayable: boolean): boolean {
    if (this.limit === 0 || !replayable) return false;
    if (this.methods.has(method.toUpperCase())) return true;
    return findHeader(headers, 'idempotency-key') !== -1 || findHeader(headers, 'x-idempotency-key') !== -1;
  }

  /** Whether this error is worth another attempt. */
  retriesError(err: unknown): boolean {
    if (err instanceof ConnectError) return true;
    if (err instanceof TimeoutError) {
      return err.phase === 'dns' || err.phase === 'connect' || err.phase === 'tls' || err.phase === 'pool';
    }
    return err instanceof ProtocolError && err.reason === 'connection-closed';
  }

  /** Whether this status is worth another attempt. */
  retriesStatus(status: number): boolean {
    return this.statusCodes.has(status);
  }

  /** Wait (ms) before retry number `attempt` (1-based), from `Retry-After` when given. */
  delay(attempt: number, retryAfter: string | string[] | undefined): { ms: number; fromHeader: boolean } {
    const ra = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    if (ra !== undefined) return { ms: ra, fromHeader: true };
    const ms = this.backoffFn(attempt);
    if (!isDuration(ms)) {
      throw invalidArg(
        `retry.backoff(${attempt}) must return a number of milliseconds from 0 to Number.MAX_SAFE_INTEGER, or Infinity; got ${String(ms)}`,
      );
    }
    return { ms, fromHeader: false };
  }

  /**
   * The wait (ms) before retry number `attempt` (1-based), from `Retry-After` when given,
   * else the backoff; `undefined` when the header asks for longer than `maxRetryAfter`
   * (no retry: the response stands, or a download moves to its next mirror).
   */
  retryWait(attempt: number, retryAfter: string | string[] | undefined): number | undefined {
    const d = this.delay(attempt, retryAfter);
    return d.fromHeader && d.ms > this.maxRetryAfter ? undefined : d.ms;
  }
}

/**
 * Whether a wait of `ms` before another attempt leaves that attempt any time before the
 * deadline `remaining` ms away (Infinity: none). When it does not, retrying stops at once
 * rather than sleeping into the deadline (SPEC §11).
 */
export function waitFits(ms: number, remaining: number): boolean {
  return ms < remaining;
}

/** 100 ms × 2^(attempt−1), ±20 % jitter, capped at 10 s. */
export function defaultBackoff(attempt: number): number {
  const base = Math.min(10_000, 100 * 2 ** (attempt - 1));
  return Math.min(10_000, base * (0.8 + Math.random() * 0.4));
}

/** The three HTTP-date forms of RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime. */
const HTTP_DATE =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/;

/** `Retry-After` as ms: delta-seconds or an HTTP-date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const ms = Number(v) * 1000;
    return ms <= Number.MAX_SAFE_INTEGER ? ms : Number.POSITIVE_INFINITY;
  }
  if (!HTTP_DATE.test(v)) return undefined;
  const t = Date.parse(v.endsWith('GMT') ? v : `${v} GMT`);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - nowMs);
}
