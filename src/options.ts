/**
 * options — the defaults of every timeout and limit, in one visible place, and the
 * validation that turns user options into a resolved, checked shape.
 *
 * Units: every duration is in milliseconds, and any value up to
 * `Number.MAX_SAFE_INTEGER` means what it says (timers re-arm in steps, see
 * `LongTimer`). `0` or `Infinity` disables a timeout, except `expectContinueTimeout`,
 * where `0` means "send the body at once" (Go) and `Infinity` means "wait for the
 * server's answer" (the response clocks still run meanwhile). Anything else — negative,
 * NaN, non-numeric, above `Number.MAX_SAFE_INTEGER` but finite — is `HG_INVALID_ARG`.
 *
 * Also owns the option-name check (SPEC §11): every options object hourglass accepts
 * is checked against its list of known names, so a misspelt timeout is an
 * `HG_INVALID_ARG` naming the closest known name instead of a default silently left in
 * force. The check is a for-in against a `Set` (no allocation on success); the
 * suggestion is only computed on failure. Every invalid-argument message shows the
 * value's type (`describeValue`).
 */

import type { ClientOptions, RequestOptions } from './client.js';
import type { DialerOptions } from './dial/dialer.js';
import type { DownloadOptions } from './download/options.js';
import { invalidArg } from './errors.js';
import type { RetryOptions } from './retry.js';
import type { TransportOptions } from './transport.js';

/** A minimum transfer rate for response bodies. */
export interface MinThroughput {
  /** Bytes per second the body must sustain, measured over `window`. */
  bytesPerSecond: number;
  /** Measurement window in ms; the first judgement comes after `window` ms of body. */
  window: number;
}

/** The phase timeouts of SPEC §3 that a single request may override. */
export interface TransportTimeouts {
  /** Total budget for DNS plus every connect attempt (ms). Default 30 000. */
  dialTimeout: number;
  /** TLS handshake budget (ms). Default 10 000. */
  tlsHandshakeTimeout: number;
  /** Wait for a connection when `maxConnsPerHost` is reached (ms). Default none. */
  poolTimeout: number;
  /** From the first request byte written until the last is flushed (ms). Default none. */
  writeTimeout: number;
  /**
   * Longest time the request is being written and no byte of it can be flushed (a peer
   * that stopped reading); reset by every flushed byte (ms). Default 300 000.
   */
  writeIdleTimeout: number;
  /** Wait for `100 Continue` before sending the body anyway (ms). Default 1 000. */
  expectContinueTimeout: number;
  /** From the request fully written until the final response head is parsed (ms). Default 300 000. */
  responseHeaderTimeout: number;
  /** Longest silence while response bytes are expected; reset on every chunk (ms). Default 300 000. */
  readIdleTimeout: number;
  /** Minimum body rate, or undefined for none. */
  minThroughput: MinThroughput | undefined;
}

/** Default values of SPEC §3 and §6. */
export const DEFAULTS = Object.freeze({
  dialTimeout: 30_000,
  keepAlive: 15_000,
  fallbackDelay: 300,
  tlsHandshakeTimeout: 10_000,
  poolTimeout: 0,
  writeTimeout: 0,
  writeIdleTimeout: 300_000,
  expectContinueTimeout: 1_000,
  responseHeaderTimeout: 300_000,
  readIdleTimeout: 300_000,
  idleConnTimeout: 90_000,
  maxIdleConns: 100,
  maxIdleConnsPerHost: 100,
  maxConnsPerHost: 0,
  maxCachedSessions: 100,
  maxResponseHeaderBytes: 65_536,
  maxRedirects: 10,
  /** How long before a server's `Keep-Alive: timeout=N` we stop reusing a connection. */
  keepAliveHintMargin: 1_000,
  /** `dump()` drains at most this many bytes... */
  dumpMaxBytes: 65_536,
  /** ...arriving within this many ms, else the connection is closed. */
  dumpMaxMs: 1_000,
  /** Redirect bodies are drained up to this size, else the connection is closed. */
  redirectDrainBytes: 2_048,
  maxInterimResponses: 10,
});

/**
 * Validates a duration option (SPEC §11): a number of ms from 0 to
 * `Number.MAX_SAFE_INTEGER`, or Infinity; undefined/null for "not given".
 */
export function checkDuration(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isDuration(value)) {
    throw invalidArg(
      `${name} must be a number of milliseconds from 0 to Number.MAX_SAFE_INTEGER, or Infinity; got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Whether `value` is a valid duration: 0..`Number.MAX_SAFE_INTEGER` ms, or Infinity. */
export function isDuration(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    value >= 0 &&
    (value <= Number.MAX_SAFE_INTEGER || value === Number.POSITIVE_INFINITY)
  );
}

/** Validates a non-negative integer count option. */
export function checkCount(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalidArg(`${name} must be a non-negative number, got ${describeValue(value)}`);
  }
  return value;
}

/** The `socketPath` option of a Transport: one path for every request, or a choice per URL. */
export type SocketPathOption = string | ((url: URL) => string | undefined);

/** Validates a Unix socket path (a non-empty string without NUL), from the option or from its function. */
export function checkSocketPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw invalidArg(`${name} must be a non-empty path without NUL bytes, got ${describeValue(value)}`);
  }
  return value;
}

/** Validates a `socketPath` option: a path, a function `(url) => path | undefined`, or undefined. */
export function checkSocketPathOption(value: unknown): SocketPathOption | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'function') return value as (url: URL) => string | undefined;
  return checkSocketPath('socketPath', value);
}

/**
 * A value as an invalid-argument message shows it: its type, then the value itself
 * when short (`string "3"`, `number NaN`, `object {}`, `array of 2`, `null`), so that
 * `'3'` and `3` never read the same.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return `symbol ${String(value.description ?? '')}`;
    case 'function':
      return 'function';
    default: {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `array of ${value.length}`;
      const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
      return ctor === undefined || ctor === 'Object' ? 'object' : `object ${ctor}`;
    }
  }
}

/**
 * Throws `HG_INVALID_ARG` for an own enumerable key of `obj` that is not in `known`,
 * naming the closest known name. `where` prefixes names in the message (`timeouts.`).
 * Cheap on success: a for-in against a Set, nothing allocated.
 */
export function checkKnown(what: string, where: string, obj: object, known: ReadonlySet<string>): void {
  for (const key in obj) {
    if (!known.has(key) && Object.hasOwn(obj, key)) throw unknownOption(what, where, key, known);
  }
}

/** Validates that an options argument is an object (or absent), then checks its names. */
export function checkOptionsObject(what: string, where: string, obj: unknown, known: ReadonlySet<string>): void {
  if (obj === undefined) return;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw invalidArg(`${what} must be an object, got ${describeValue(obj)}`);
  }
  checkKnown(what, where, obj, known);
  checkValues(where, obj as Record<string, unknown>);
}

/** `fetch()` init names: the standard RequestInit ones (undici's `dispatcher` too) and hourglass's extensions. */
export const FETCH_INIT_NAMES: ReadonlySet<string> = new Set([
  'body', 'cache', 'credentials', 'headers', 'integrity', 'keepalive', 'method', 'mode', 'priority',
  'redirect', 'referrer', 'referrerPolicy', 'signal', 'window', 'duplex', 'dispatcher',
  'timeout', 'client', 'timeouts',
]);

const TRACE_HOOK_NAMES: ReadonlySet<string> = new Set([
  'getConn', 'dnsStart', 'dnsDone', 'connectStart', 'connectDone', 'tlsHandshakeStart', 'tlsHandshakeDone',
  'gotConn', 'putIdleConn', 'wroteHeaders', 'wait100Continue', 'got100Continue', 'got1xxResponse',
  'wroteRequest', 'gotFirstResponseByte',
]);

type ValueCheck = (name: string, v: unknown) => string | undefined;

const isFn = (v: unknown): boolean => typeof v === 'function';
const boolean: ValueCheck = (_n, v) => (typeof v === 'boolean' ? undefined : 'a boolean');
const fn: ValueCheck = (_n, v) => (isFn(v) ? undefined : 'a function');
const VALUE_CHECKS: ReadonlyMap<string, ValueCheck> = new Map<string, ValueCheck>([
  ['followRedirects', boolean],
  ['disableKeepAlives', boolean],
  ['disableCompression', boolean],
  ['checkRedirect', fn],
  ['retry.backoff', fn],
  ['maxRedirects', (_n, v) => (typeof v === 'number' && (Number.isInteger(v) || v === Infinity) && v >= 0 ? undefined : 'a non-negative integer')],
  [
    'proxy',
    (_n, v) => (typeof v === 'string' || v instanceof URL || isFn(v) ? undefined : "a URL, a string, a function or 'env'"),
  ],
  [
    'jar',
    (_n, v) => {
      const j = v as { getCookieString?: unknown; setCookie?: unknown } | null;
      return typeof j === 'object' && j !== null && isFn(j.getCookieString) && isFn(j.setCookie)
        ? undefined
        : 'a cookie jar (an object with getCookieString and setCookie methods)';
    },
  ],
  [
    'client',
    (_n, v) => {
      const c = v as { request?: unknown } | null;
      return typeof c === 'object' && c !== null && isFn(c.request) ? undefined : 'a Client';
    },
  ],
  [
    'retry.methods',
    (_n, v) => (Array.isArray(v) && v.every((m) => typeof m === 'string') ? undefined : 'an array of method names'),
  ],
  [
    'retry.statusCodes',
    (_n, v) => (Array.isArray(v) && v.every((c) => Number.isInteger(c)) ? undefined : 'an array of status codes'),
  ],
  ['trace', (_n, v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'an object of hook functions')],
]);

/**
 * Checks the values of known options whose type is not checked where they are used
 * (`where` + name keys {@link VALUE_CHECKS}); trace hooks by name and type. Throws
 * `HG_INVALID_ARG` naming the option, what it must be and what it got.
 */
function checkValues(where: string, obj: Record<string, unknown>): void {
  for (const key in obj) {
    const v = obj[key];
    if (v === undefined) continue;
    const check = VALUE_CHECKS.get(where + key);
    if (check === undefined) continue;
    const must = check(key, v);
    if (must !== undefined) throw invalidArg(`${where}${key} must be ${must}, got ${describeValue(v)}`);
    if (where + key === 'trace') checkTraceHooks(v as Record<string, unknown>);
  }
}

/** Trace hooks: known names (with a suggestion), functions. */
export function checkTraceHooks(hooks: Record<string, unknown>): void {
  checkKnown('trace', 'trace.', hooks, TRACE_HOOK_NAMES);
  for (const key in hooks) {
    const v = hooks[key];
    if (v !== undefined && !isFn(v)) throw invalidArg(`trace.${key} must be a function, got ${describeValue(v)}`);
  }
}

function unknownOption(what: string, where: string, key: string, known: ReadonlySet<string>): Error {
  const near = closest(key, known);
  const hint = near === undefined ? `known options: ${[...known].sort().join(', ')}` : `did you mean ${near}?`;
  return invalidArg(`unknown option ${where}${key} in ${what} (${hint})`);
}

/**
 * The known name nearest to `key` (case-insensitive), if near enough to be a typo: within
 * a few edits, or `key` with a word left out (`readTimeout` in `readIdleTimeout`). Ties go
 * to the name sharing the longest prefix, then the shorter name.
 */
export function closest(key: string, known: Iterable<string>): string | undefined {
  const k = key.toLowerCase();
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const n = name.toLowerCase();
    const d = editDistance(k, n);
    // A word left out: `key` is a subsequence of the name, missing at most 8 characters.
    const omitted = k.length >= 4 && n.length - k.length <= 8 && isSubsequence(k, n);
    // A truncated name (`sha` for `sha256`) is a near miss too.
    const truncated = k.length >= 3 && n.startsWith(k);
    if (d > limit && !omitted && !truncated) continue;
    // A word left out counts as one mistake, however long the word.
    const score = (omitted ? Math.min(d, 1) : d) * 1000 - commonPrefix(k, n) * 10 + n.length / 100;
    if (score < bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}

function isSubsequence(a: string, b: string): boolean {
  let i = 0;
  for (let j = 0; j < b.length && i < a.length; j++) if (a[i] === b[j]) i++;
  return i === a.length;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (Damerau, restricted). */
function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur: number[] = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[n]!;
}

/** Names of the per-request `timeouts` object (SPEC §11 `TransportTimeouts`). */
export const TIMEOUT_NAMES: ReadonlySet<string> = nameSet<TransportTimeouts>()([
  'dialTimeout',
  'tlsHandshakeTimeout',
  'poolTimeout',
  'writeTimeout',
  'writeIdleTimeout',
  'expectContinueTimeout',
  'responseHeaderTimeout',
  'readIdleTimeout',
  'minThroughput',
]);

/** Names of a `minThroughput` object. */
const MIN_THROUGHPUT_NAMES: ReadonlySet<string> = new Set(['bytesPerSecond', 'window']);

/** Validates a `minThroughput` option. */
export function checkMinThroughput(value: unknown): MinThroughput | undefined {
  if (value === undefined || value === null) return undefined;
  checkOptionsObject('minThroughput', 'minThroughput.', value, MIN_THROUGHPUT_NAMES);
  const v = value as Partial<MinThroughput>;
  const bps = checkCount('minThroughput.bytesPerSecond', v.bytesPerSecond);
  const window = checkDuration('minThroughput.window', v.window ?? 1_000);
  if (bps === undefined || bps === 0 || window === undefined || window === 0 || window === Infinity) return undefined;
  return { bytesPerSecond: bps, window };
}

/** Resolves and validates a (partial) set of timeouts over a base. */
export function resolveTimeouts(
  base: TransportTimeouts,
  over: Partial<TransportTimeouts> | undefined,
): TransportTimeouts {
  if (over === undefined) return base;
  checkOptionsObject('timeouts', 'timeouts.', over, TIMEOUT_NAMES);
  return {
    dialTimeout: checkDuration('dialTimeout', over.dialTimeout) ?? base.dialTimeout,
    tlsHandshakeTimeout: checkDuration('tlsHandshakeTimeout', over.tlsHandshakeTimeout) ?? base.tlsHandshakeTimeout,
    poolTimeout: checkDuration('poolTimeout', over.poolTimeout) ?? base.poolTimeout,
    writeTimeout: checkDuration('writeTimeout', over.writeTimeout) ?? base.writeTimeout,
    writeIdleTimeout: checkDuration('writeIdleTimeout', over.writeIdleTimeout) ?? base.writeIdleTimeout,
    expectContinueTimeout:
      checkDuration('expectContinueTimeout', over.expectContinueTimeout) ?? base.expectContinueTimeout,
    responseHeaderTimeout:
      checkDuration('responseHeaderTimeout', over.responseHeaderTimeout) ?? base.responseHeaderTimeout,
    readIdleTimeout: checkDuration('readIdleTimeout', over.readIdleTimeout) ?? base.readIdleTimeout,
    minThroughput: 'minThroughput' in over ? checkMinThroughput(over.minThroughput) : base.minThroughput,
  };
}

/** The default timeouts as a resolved object. */
export const DEFAULT_TIMEOUTS: TransportTimeouts = Object.freeze({
  dialTimeout: DEFAULTS.dialTimeout,
  tlsHandshakeTimeout: DEFAULTS.tlsHandshakeTimeout,
  poolTimeout: DEFAULTS.poolTimeout,
  writeTimeout: DEFAULTS.writeTimeout,
  writeIdleTimeout: DEFAULTS.writeIdleTimeout,
  expectContinueTimeout: DEFAULTS.expectContinueTimeout,
  responseHeaderTimeout: DEFAULTS.responseHeaderTimeout,
  readIdleTimeout: DEFAULTS.readIdleTimeout,
  minThroughput: undefined,
});

// --- known option names (SPEC §11) -------------------------------------------------------
// Each list is checked at compile time against its interface where it can import it
// (every key of the interface must be listed); `writeIdleTimeout` is listed ahead of its
// interface field (SPEC §3).

/** A list of names that must cover every key of `T` (a compile error names the missing ones). */
type Covers<T, L extends readonly string[]> = [Exclude<keyof T, L[number]>] extends [never]
  ? L
  : { missing: Exclude<keyof T, L[number]> };

/** A Set of known names, checked to cover every key of `T`. */
export function nameSet<T>(): <const L extends readonly string[]>(list: L & Covers<T, L>) => ReadonlySet<string> {
  return (list) => new Set(list);
}

/** Names of a `retry` object of a Client or a request. */
export const RETRY_NAMES: ReadonlySet<string> = nameSet<RetryOptions>()(['limit', 'methods', 'statusCodes', 'backoff', 'maxRetryAfter']);

/** Names of a `Dialer`'s options (also the Transport's `dialer` object). */
export const DIALER_NAMES: ReadonlySet<string> = nameSet<DialerOptions>()([
  'timeout',
  'keepAlive',
  'fallbackDelay',
  'lookup',
  'localAddress',
  'maxConcurrentDials',
]);

/** Names of a `Transport`'s options. */
export const TRANSPORT_NAMES: ReadonlySet<string> = nameSet<TransportOptions>()([
  'dialer',
  'dialTimeout',
  'tls',
  'tlsHandshakeTimeout',
  'poolTimeout',
  'writeTimeout',
  'writeIdleTimeout',
  'expectContinueTimeout',
  'responseHeaderTimeout',
  'readIdleTimeout',
  'minThroughput',
  'idleConnTimeout',
  'maxIdleConns',
  'maxIdleConnsPerHost',
  'maxConnsPerHost',
  'maxCachedSessions',
  'disableKeepAlives',
  'disableCompression',
  'maxResponseHeaderBytes',
  'maxResponseBytes',
  'proxy',
  'socketPath',
  'allowH2',
  'h2c',
  'h2',
]);

/** Names of a `Client`'s options. */
export const CLIENT_NAMES: ReadonlySet<string> = nameSet<ClientOptions>()([
  'transport',
  'timeout',
  'maxRedirects',
  'followRedirects',
  'checkRedirect',
  'jar',
  'retry',
  'headers',
  'interceptors',
  'networkInterceptors',
]);

/** Names of one request's options (`redirectMode` is the fetch facade's, `wireCount` download's). */
export const REQUEST_NAMES: ReadonlySet<string> = nameSet<RequestOptions>()([
  'method',
  'headers',
  'body',
  'signal',
  'timeout',
  'timeouts',
  'maxRedirects',
  'followRedirects',
  'retry',
  'trace',
  'redirectMode',
  'wireCount',
]);

/** Names of `download()`'s options, and of its `retry` object. */
export const DOWNLOAD_NAMES: ReadonlySet<string> = nameSet<DownloadOptions>()([
  'client',
  'sha256',
  'onProgress',
  'timeout',
  'retry',
  'headers',
  'signal',
  'timeouts',
  'onResponse',
]);
export const DOWNLOAD_RETRY_NAMES: ReadonlySet<string> = nameSet<NonNullable<DownloadOptions['retry']>>()([
  'limit',
  'statusCodes',
  'backoff',
  'maxRetryAfter',
]);

/** Refuses a `signal` that is not an `AbortSignal` (undefined: none). */
export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (value instanceof AbortSignal) return value;
  const s = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  // An AbortSignal of another realm or a faithful polyfill has what the budget uses.
  if (
    typeof s === 'object' &&
    s !== null &&
    typeof s.aborted === 'boolean' &&
    typeof s.addEventListener === 'function' &&
    typeof s.removeEventListener === 'function'
  ) {
    return value as AbortSignal;
  }
  throw invalidArg(`signal must be an AbortSignal, got ${describeValue(value)}`);
}
