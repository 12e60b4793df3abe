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
 */

import { invalidArg } from './errors.js';

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
      `${name} must be a number of milliseconds from 0 to Number.MAX_SAFE_INTEGER, or Infinity; got ${String(value)}`,
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
    throw invalidArg(`${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/** Validates a `minThroughput` option. */
export function checkMinThroughput(value: unknown): MinThroughput | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Partial<MinThroughput>;
  if (typeof v !== 'object') throw invalidArg('minThroughput must be { bytesPerSecond, window }');
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
