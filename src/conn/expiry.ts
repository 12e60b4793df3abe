/**
 * expiry — the one judgement of an exchange's expired clock slot (EXCHANGE_SLOT in
 * src/deadline.ts), shared by the HTTP/1.1 connection (conn/connection.ts) and the
 * HTTP/2 stream (h2/stream-clock.ts): is it a timeout now, and with which limit and elapsed
 * time, or has the slot moved on (re-armed)?
 *
 * Owns: the rules of `writeTimeout`, `responseHeaderTimeout`, `readIdleTimeout` (body
 * silence counts only while the consumer waits) and `minThroughput` (the meter's
 * sliding window). Never: fails anything, builds an error, or judges write-idle stalls
 * (each transport measures flushes its own way and passes its verdict in), or the
 * 100-continue slot (not a timeout).
 *
 * Invariant: returns undefined exactly when the caller must not fail; any re-arming is
 * done on `clock` before it returns.
 */

import { EXCHANGE_SLOT, type PhaseClock, now } from '../deadline.js';
import type { TransportTimeouts } from '../options.js';
import type { ThroughputMeter } from './throughput.js';

const { WRITE, HEADERS, READ_IDLE, RATE, WRITE_IDLE } = EXCHANGE_SLOT;

/** What an exchange knows when one of its slots expires. */
export interface ExchangeClockState {
  timeouts: TransportTimeouts;
  clock: PhaseClock;
  meter: ThroughputMeter;
  /** Body bytes received so far. */
  bodyBytes: number;
  /** Monotonic ms the current phase (write, then response headers) started. */
  phaseStart: number;
  /** The response body, once the head arrived. */
  channel: { readonly starving: boolean } | undefined;
  /**
   * The transport's write-idle verdict: the ms since the last flush when no byte was
   * flushed for `writeIdleTimeout` (a stall), else undefined (it re-armed the slot).
   */
  writeIdle: () => number | undefined;
}

/** An expired slot that is a timeout: its limit and how long it waited. */
export interface Expiry {
  timeout: number;
  elapsed: number;
}

/** Judges an expired slot (not CONTINUE): the timeout, or undefined when it is none (yet). */
export function judgeExpiry(slot: number, x: ExchangeClockState): Expiry | undefined {
  const t = x.timeouts;
  switch (slot) {
    case WRITE_IDLE: {
      const elapsed = x.writeIdle();
      return elapsed === undefined ? undefined : { timeout: t.writeIdleTimeout, elapsed };
    }
    case RATE: {
      const next = x.meter.tick(x.bodyBytes, t.minThroughput!);
      if (next !== -1) {
        x.clock.set(RATE, next);
        return undefined;
      }
      return { timeout: t.minThroughput!.window, elapsed: now() - x.meter.startedAt };
    }
    case READ_IDLE:
      // During the body, silence counts only while the consumer waits for bytes; it
      // restarts the clock when it asks again (onDemand).
      if (x.channel !== undefined && !x.channel.starving) return undefined;
      return { timeout: t.readIdleTimeout, elapsed: t.readIdleTimeout };
    case WRITE:
      return { timeout: t.writeTimeout, elapsed: now() - x.phaseStart };
    case HEADERS:
      return { timeout: t.responseHeaderTimeout, elapsed: now() - x.phaseStart };
    default:
      return undefined;
  }
}
