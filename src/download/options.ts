/**
 * download/options — the public option and result shapes of `download()`, and their
 * validation into a resolved, checked form.
 *
 * Owns: defaults (4 retries per mirror after its first attempt — 5 attempts — with the
 * client's exponential backoff), the headers a caller may not set (`Range`, `If-Range`,
 * `Accept-Encoding` belong to the download), and `HG_INVALID_ARG` for bad input,
 * raised before anything is sent or written.
 */

import { resolve } from 'node:path';
import type { Client } from '../client.js';
import { invalidArg } from '../errors.js';
import {
  checkOptionsObject,
  checkSignal,
  describeValue,
  DOWNLOAD_NAMES,
  DOWNLOAD_RETRY_NAMES,
  TIMEOUT_NAMES,
  type TransportTimeouts,
} from '../options.js';
import { type HeadersInit, parseRequestUrl, prepareHeaders, withoutHeaders } from '../request-init.js';
import { defaultBackoff } from '../retry.js';

/** Options of `download()`. Durations are in ms. */
export interface DownloadOptions {
  /** Client to send requests with. Default `defaultClient()`. Its own retries are not used. */
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
   * `limit`: retries per mirror after its first attempt (default 4, i.e. 5 attempts);
   * every request counts, whatever its outcome (a 206 covering only part, a restart);
   * `backoff(n)`: wait (ms) before retry n (1-based) on a mirror, default 100 ms × 2^(n−1) ±20 %.
   */
  retry?: { limit?: number; backoff?: (attempt: number) => number };
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
  backoff: (attempt: number) => number;
  /** Flat, validated caller headers without the download's own. */
  headers: string[];
}

/** Default retries per mirror after the first attempt (5 attempts in all). */
export const DEFAULT_RETRY_LIMIT = 4;

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
  checkOptionsObject('timeouts', 'timeouts.', opts.timeouts, TIMEOUT_NAMES);
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
  if (opts.timeout !== undefined && (typeof opts.timeout !== 'number' || !(opts.timeout >= 0))) {
    throw invalidArg(`timeout must be a non-negative number, got ${describeValue(opts.timeout)}`);
  }
  const limit = opts.retry?.limit ?? DEFAULT_RETRY_LIMIT;
  if (typeof limit !== 'number' || !(limit >= 0)) throw invalidArg(`retry.limit must be a number >= 0, got ${describeValue(limit)}`);
  const backoff = opts.retry?.backoff ?? defaultBackoff;
  if (typeof backoff !== 'function') throw invalidArg('retry.backoff must be a function');
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw invalidArg('onProgress must be a function');
  }
  return {
    urls: hrefs,
    dest: resolve(dest),
    sha256: opts.sha256?.toLowerCase(),
    limit,
    backoff,
    headers: withoutHeaders(prepareHeaders(undefined, opts.headers), OWN_HEADERS),
  };
}
