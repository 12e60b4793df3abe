/**
 * download/options — the public option and result shapes of `download()`, and their
 * validation into a resolved, checked form.
 *
 * Owns: defaults (4 retries per mirror after its first attempt — 5 attempts — under the
 * client's {@link RetryPolicy}: its statuses, backoff and `Retry-After` cap), the headers a caller may not set (`Range`, `If-Range`,
 * `Accept-Encoding` belong to the download), and `HG_INVALID_ARG` for bad input,
 * raised before anything is sent or written.
 */

import { resolve } from 'node:path';
import type { Client } from '../client.js';
import { invalidArg } from '../errors.js';
import {
  checkDuration,
  checkOptionsObject,
  checkSignal,
  DEFAULT_TIMEOUTS,
  describeValue,
  DOWNLOAD_NAMES,
  DOWNLOAD_RETRY_NAMES,
  resolveTimeouts,
  type TransportTimeouts,
} from '../options.js';
import { type HeadersInit, parseRequestUrl, prepareHeaders, withoutHeaders } from '../request-init.js';
import type { Response } from '../response.js';
import { RetryPolicy, type RetryOptions } from '../retry.js';

/**
 * `download()`'s retry options: the client's {@link RetryOptions} but `methods` (a
 * download only sends GET), with `limit` applying to each mirror and defaulting to 4.
 */
export type DownloadRetryOptions = Omit<RetryOptions, 'methods'>;

/** What `onResponse` is told besides the response. */
export interface DownloadResponseInfo {
  /** The URL requested (the mirror's, as the caller gave it). */
  url: string;
  /** The number of the request in this transfer, 1-based (as `DownloadResult.attempts` counts). */
  attempt: number;
}

/** Options of `download()`. Durations are in ms. */
export interface DownloadOptions {
  /**
   * Client to send requests with (transport, interceptors, cookies, redirects). Default
   * `defaultClient()`. Its `retry` options are not used at all: which statuses and errors
   * are retried, how often and with what backoff come from this call's {@link retry}
   * (run by the same `RetryPolicy` implementation as the client's).
   */
  client?: Client;
  /** Expected SHA-256 (hex) of the whole file, checked before the rename. */
  sha256?: string;
  /**
   * Called as bytes land in the `.part`; `received` never decreases (a restart reports
   * nothing until it passes the earlier mark). Every caller sharing a transfer gets its
   * own calls; one that throws makes that caller reject with the error.
   */
  onProgress?: (p: { received: number; total: number | undefined }) => void;
  /**
   * This caller's overall budget over every attempt and backoff, from the call (0 or
   * Infinity: none, the default). A call joining a running transfer keeps its own: when
   * it fires, that caller rejects (`TimeoutError` phase `request`) and the transfer
   * goes on for the others.
   */
  timeout?: number;
  /**
   * The client's retry policy (SPEC §7, §12), per mirror. `limit`: retries per mirror
   * after its first attempt (default 4, i.e. 5 attempts); every request counts, whatever
   * its outcome (a 206 covering only part, a restart). `statusCodes` (default 408, 429
   * and every 5xx, SPEC §11 Download — a transfer is a GET that resumes, so any server
   * error is worth another try; the client's default is narrower) are retried, any other status that is not 200/206/416 moves to
   * the next mirror; `backoff(n)`: wait (ms) before retry n (1-based) on a mirror, default
   * 100 ms × 2^(n−1) ±20 % capped at 10 s; a `Retry-After` is honoured up to
   * `maxRetryAfter` (default 60 000 ms), a longer one moves to the next mirror.
   */
  retry?: DownloadRetryOptions;
  /**
   * Called with each response's head as it arrives (every request of the transfer that
   * got one: a retried 503, a 206, the final 200), before the download reads or judges
   * it. For logging and for learning the last response (status, headers, timings); the
   * body belongs to the download: do not read it. Every caller sharing a transfer gets
   * its own calls; one that throws makes that caller reject with the error.
   */
  onResponse?: (res: Response, info: DownloadResponseInfo) => void;
  /** Extra request headers (`Range`, `If-Range` and `Accept-Encoding` are the download's own). */
  headers?: HeadersInit;
  /** Aborts this caller (`AbortError`); the transfer is aborted once no caller is left. */
  signal?: AbortSignal;
  /** Per-request phase timeouts, e.g. a short `readIdleTimeout` to catch stalls. */
  timeouts?: Partial<TransportTimeouts>;
}

/** What a finished download produced. */
export interface DownloadResult {
  /** Absolute path of the file. */
  path: string;
  /** Final file size. */
  bytes: number;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** Whether the file kept bytes received before the last request (same or earlier process). */
  resumed: boolean;
  /** Requests tried, refused connections included. */
  attempts: number;
}

/** Checked options (the client is chosen by the caller, to keep this module free of the index). */
export interface ResolvedDownload {
  urls: string[];
  /** Absolute destination path (concurrent calls share a transfer by its real directory). */
  dest: string;
  /** Lower-case hex, when given. */
  sha256: string | undefined;
  limit: number;
  /** The retry policy (statuses, errors, backoff, `Retry-After` cap); its limit is `limit`. */
  retry: RetryPolicy;
  /** Flat, validated caller headers without the download's own. */
  headers: string[];
}

/** Default retries per mirror after the first attempt (5 attempts in all). */
export const DEFAULT_RETRY_LIMIT = 4;
/** Statuses a download retries by default (SPEC §11): 408, 429 and every 5xx. */
const DOWNLOAD_RETRY_STATUSES: number[] = [408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)];

/** Headers the download sets itself. */
const OWN_HEADERS: ReadonlySet<string> = new Set(['range', 'if-range', 'accept-encoding']);

/** Validates `download()`'s arguments; throws `HG_INVALID_ARG`. */
export function resolveDownload(
  urls: string | string[],
  dest: string,
  opts: DownloadOptions,
): ResolvedDownload {
  checkOptionsObject('download options', '', opts, DOWNLOAD_NAMES);
  checkOptionsObject('download retry', 'retry.', opts.retry, DOWNLOAD_RETRY_NAMES);
  // Every duration is checked here, before anything is sent or written (SPEC §11).
  resolveTimeouts(DEFAULT_TIMEOUTS, opts.timeouts);
  checkSignal(opts.signal);
  const list = typeof urls === 'string' ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0) throw invalidArg('download needs at least one URL');
  const hrefs = list.map((u) => parseRequestUrl(u).href);
  if (typeof dest !== 'string' || dest === '') {
    throw invalidArg(`download needs a destination path (a non-empty string), got ${describeValue(dest)}`);
  }
  if (dest.includes('\0')) throw invalidArg('download destination path must not contain a NUL byte');
  if (
    opts.sha256 !== undefined &&
    (typeof opts.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(opts.sha256))
  ) {
    throw invalidArg('sha256 must be 64 hex digits');
  }
  checkDuration('timeout', opts.timeout);
  const retry = new RetryPolicy({
    ...opts.retry,
    limit: opts.retry?.limit ?? DEFAULT_RETRY_LIMIT,
    statusCodes: opts.retry?.statusCodes ?? DOWNLOAD_RETRY_STATUSES,
    methods: ['GET'],
  });
  for (const name of ['onProgress', 'onResponse'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function') throw invalidArg(`${name} must be a function`);
  }
  return {
    urls: hrefs,
    dest: resolve(dest),
    sha256: opts.sha256?.toLowerCase(),
    limit: retry.limit,
    retry,
    headers: withoutHeaders(prepareHeaders(undefined, opts.headers), OWN_HEADERS),
  };
}
