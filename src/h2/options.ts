/**
 * h2/options — the HTTP/2 knobs of a Transport (`allowH2`, `h2c`, `h2: {...}`), their
 * defaults (SPEC §13) and their validation.
 *
 * Owns: {@link H2Options} (public) and its resolved form. Never: opens anything.
 * Invariants: every duration is checked like every other duration (`checkDuration`:
 * 0 or Infinity disables, anything else invalid is `HG_INVALID_ARG`); window sizes are
 * whole numbers within RFC 9113's limits.
 */

import { invalidArg } from '../errors.js';
import { checkDuration, checkOptionsObject, describeValue, nameSet } from '../options.js';

/** HTTP/2 settings of a Transport (SPEC §13). Durations in ms; 0 or Infinity disables. */
export interface H2Options {
  /** From the connection preface until the peer's SETTINGS arrive. Default 10 000 (phase `h2-settings`). */
  settingsTimeout?: number;
  /** Silence (no frame received) on a connection with open streams before a PING goes out. Default 30 000. */
  pingInterval?: number;
  /** From a PING until its ACK; then the connection is closed (phase `h2-ping`). Default 15 000; 0 waits without bound (a suspect connection then takes no new stream and closes at `idleConnTimeout`). */
  pingTimeout?: number;
  /** Receive window of each stream, in bytes. Default 1 MiB. */
  initialWindowSize?: number;
  /** Receive window of the whole connection, in bytes. Default 16 MiB. */
  connectionWindowSize?: number;
}

/** {@link H2Options} with every default filled in (disabled durations are Infinity). */
export interface ResolvedH2Options {
  settingsTimeout: number;
  pingInterval: number;
  pingTimeout: number;
  initialWindowSize: number;
  connectionWindowSize: number;
}

/** Defaults of SPEC §13. */
export const H2_DEFAULTS: Readonly<ResolvedH2Options> = Object.freeze({
  settingsTimeout: 10_000,
  pingInterval: 30_000,
  pingTimeout: 15_000,
  initialWindowSize: 1 << 20,
  connectionWindowSize: 16 << 20,
});

/** Names of an `h2` object. */
export const H2_NAMES: ReadonlySet<string> = nameSet<H2Options>()([
  'settingsTimeout',
  'pingInterval',
  'pingTimeout',
  'initialWindowSize',
  'connectionWindowSize',
]);

const MAX_WINDOW = 2 ** 31 - 1;

function duration(name: string, v: unknown, dflt: number): number {
  const ms = checkDuration(`h2.${name}`, v) ?? dflt;
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}

function windowSize(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_WINDOW) {
    throw invalidArg(`h2.${name} must be a whole number of bytes from ${min} to ${MAX_WINDOW}, got ${describeValue(v)}`);
  }
  return v;
}

/** Validates and resolves a Transport's `h2` option. */
export function resolveH2Options(value: unknown): ResolvedH2Options {
  if (value === undefined || value === null) return H2_DEFAULTS;
  checkOptionsObject('h2', 'h2.', value, H2_NAMES);
  const v = value as H2Options;
  return {
    settingsTimeout: duration('settingsTimeout', v.settingsTimeout, H2_DEFAULTS.settingsTimeout),
    pingInterval: duration('pingInterval', v.pingInterval, H2_DEFAULTS.pingInterval),
    pingTimeout: duration('pingTimeout', v.pingTimeout, H2_DEFAULTS.pingTimeout),
    // A window of 0 never opens: hourglass reopens only what the caller consumed (SPEC §13).
    initialWindowSize: windowSize('initialWindowSize', v.initialWindowSize, H2_DEFAULTS.initialWindowSize, 1),
    connectionWindowSize: windowSize('connectionWindowSize', v.connectionWindowSize, H2_DEFAULTS.connectionWindowSize, 65_535),
  };
}

/** Validates a boolean option (`allowH2`, `h2c`). */
export function checkFlag(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalidArg(`${name} must be a boolean, got ${describeValue(v)}`);
  return v;
}
