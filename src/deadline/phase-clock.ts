/**
 * deadline/phase-clock — several named due-times sharing one lazily re-armed timer: how a
 * connection runs its write, write-idle, header, read-idle and throughput clocks without a
 * `setTimeout` per request or per chunk.
 *
 * Owns: {@link PhaseClock}, {@link SharedTimer} (one timer for the clocks of an HTTP/2
 * connection's streams) and the slot table of one exchange ({@link EXCHANGE_SLOT}).
 * Never: builds an error (its owner's `onExpire` does).
 * Invariants: timers are unref'd; a slot fires at most once per setting and never before
 * its due time (within setTimeout's ~1 ms); a disposed clock fires nothing.
 */

import type { TimeoutPhase } from '../errors.js';
import { isDisabled, LongTimer, now } from './timer.js';

/**
 * Several due-times (slots) sharing one lazily re-armed timer. `onExpire(slot)` is
 * called for the earliest expired slot; that slot is cleared before the call.
 *
 * Setting, clearing or moving a due-time later only writes a number; the timer is
 * re-armed only when a due-time moves *earlier* than the armed one, and otherwise fires
 * at its old time, finds nothing due and re-arms for what is left. So a keep-alive
 * connection serving request after request with the same timeouts re-arms about once
 * per timeout period, not per request or per chunk. The timer is unref'd: its owner (a
 * connection) holds a ref'd socket while a request is in flight, and nothing when idle.
 */
export class PhaseClock {
  private readonly due: number[];
  /** Its own timer; undefined when it runs on a {@link SharedTimer}. */
  private readonly timer: LongTimer | undefined;
  /** Monotonic ms at which the armed timer fires (Infinity when none). */
  armedFor = Number.POSITIVE_INFINITY;

  /** `shared`: arm that timer instead of one of its own (see {@link SharedTimer}). */
  constructor(
    slots: number,
    private readonly onExpire: (slot: number) => void,
    private readonly shared?: SharedTimer,
  ) {
    this.due = new Array<number>(slots).fill(Number.POSITIVE_INFINITY);
    this.timer = shared === undefined ? new LongTimer(() => this.fire()).unref() : undefined;
  }

  /** Sets slot's due time to `at` (monotonic ms); Infinity clears it. */
  set(slot: number, at: number): void {
    this.due[slot] = at;
    if (at < this.armedFor) this.arm(at);
  }

  /** Sets slot to expire `ms` from now, unless `ms` disables it. */
  after(slot: number, ms: number | undefined, from?: number): void {
    if (isDisabled(ms)) this.due[slot] = Number.POSITIVE_INFINITY;
    else this.set(slot, (from ?? now()) + (ms as number));
  }

  /** Clears one slot (lazily: the timer, if armed, finds nothing due). */
  unset(slot: number): void {
    this.due[slot] = Number.POSITIVE_INFINITY;
  }

  /** Clears every slot (lazily, as `unset`). */
  clear(): void {
    this.due.fill(Number.POSITIVE_INFINITY);
  }

  /** Clears every slot and the timer itself (the owner is going away). */
  dispose(): void {
    this.clear();
    if (this.shared !== undefined) this.shared.drop(this);
    else this.timer!.cancel();
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** Due time of a slot (Infinity when unset). */
  dueAt(slot: number): number {
    return this.due[slot]!;
  }

  private arm(at: number): void {
    this.armedFor = at;
    if (this.shared !== undefined) this.shared.want(this, at);
    else this.timer!.startAt(at);
  }

  /** The armed time came (its own timer, or the {@link SharedTimer} it runs on). */
  fire(): void {
    this.armedFor = Number.POSITIVE_INFINITY;
    const t = now();
    let expired = -1;
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.due.length; i++) {
      const d = this.due[i]!;
      // setTimeout may fire up to ~1 ms early relative to performance.now().
      if (d <= t + 1 && (expired === -1 || d < this.due[expired]!)) expired = i;
    }
    if (expired !== -1) this.due[expired] = Number.POSITIVE_INFINITY;
    // Re-arm for the rest before calling out: the callback may set or clear slots.
    for (const d of this.due) if (d < next) next = d;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    if (expired !== -1) this.onExpire(expired);
  }
}

/**
 * One lazily re-armed, unref'd timer for many short-lived {@link PhaseClock}s (the streams
 * of one HTTP/2 connection: a stream's clock would otherwise arm a `setTimeout` of its own
 * per request, issue #16). A clock on it arms nothing itself: it asks for a time, and the
 * timer is re-armed only when that time is earlier than the armed one. When it fires, every
 * clock whose time has come runs ({@link PhaseClock.fire}); the others ask again. So
 * streams that come and go with the same timeouts re-arm it about once per timeout period.
 *
 * Invariant: it holds exactly the clocks that asked and were not disposed since. With none
 * left it stays armed until its time, when it finds nothing to run and stops (lazily, as a
 * {@link PhaseClock}'s unset): a connection serving one request at a time re-armed a
 * `setTimeout` per request when the last clock's going disarmed it. Unref'd, it never holds
 * the process.
 */
export class SharedTimer {
  private readonly clocks = new Set<PhaseClock>();
  private readonly timer = new LongTimer(() => this.fire()).unref();
  private armedFor = Number.POSITIVE_INFINITY;

  /** `clock` wants to run at `at` (monotonic ms). */
  want(clock: PhaseClock, at: number): void {
    this.clocks.add(clock);
    if (at < this.armedFor) {
      this.armedFor = at;
      this.timer.startAt(at);
    }
  }

  /** `clock` is going away (the timer stays armed, see the invariant). */
  drop(clock: PhaseClock): void {
    this.clocks.delete(clock);
  }

  /** Its owner is gone (a closed connection): a timer no clock needs is disarmed now, not at its time. */
  release(): void {
    if (this.clocks.size > 0) return;
    this.timer.cancel();
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.armedFor = Number.POSITIVE_INFINITY;
    const t = now();
    // A clock run here may dispose itself or others, or start new ones: iterate a copy.
    for (const clock of [...this.clocks]) {
      if (!this.clocks.has(clock)) continue;
      // Only a clock whose time has come (never early: a clock due a moment later runs at
      // its own time, adv8 F1); its slots keep PhaseClock's own tolerance.
      if (clock.armedFor <= t) clock.fire();
      else if (clock.armedFor !== Number.POSITIVE_INFINITY) this.want(clock, clock.armedFor);
      else this.clocks.delete(clock);
    }
  }
}

/**
 * The timer slots of one exchange (an HTTP/1.1 request on its connection, an HTTP/2
 * stream) on its {@link PhaseClock}, and the phase each one's TimeoutError names
 * (CONTINUE is not an error: it sends the body). One table for both connection types.
 */
export const EXCHANGE_SLOT = { WRITE: 0, HEADERS: 1, READ_IDLE: 2, RATE: 3, CONTINUE: 4, WRITE_IDLE: 5 } as const;
export const EXCHANGE_SLOTS = 6;
export const EXCHANGE_SLOT_PHASE: readonly TimeoutPhase[] = ['write', 'response-headers', 'read-idle', 'min-throughput', 'write', 'write-idle'];
