/**
 * deadline/registry — what every pending {@link Budget} of the process shares: one timer
 * for all their deadlines ({@link DeadlineQueue}) and one 'abort' listener per signal
 * ({@link SignalWatch}).
 *
 * Owns: the process-wide queue of budget deadlines and the signal listeners.
 * Never: decides what a budget does when it fails (it calls `expire` / `signalAborted`).
 * Invariants: a budget is in the queue only while its deadline is pending and it is
 * unfinished; the timer is ref'd exactly while a queued budget keeps the process alive;
 * a signal has a listener exactly while an unfinished budget watches it.
 */

import type { Budget } from './budget.js';
import { LongTimer, now } from './timer.js';

/**
 * The one 'abort' listener of a signal, shared by every unfinished budget on it (a
 * listener object: no closure per request). It is removed when the last budget leaves.
 */
export class SignalWatch {
  readonly budgets = new Set<Budget>();
  constructor(private readonly signal: AbortSignal) {}

  handleEvent(): void {
    const signal = this.signal;
    signal.removeEventListener('abort', this);
    WATCHES.delete(signal);
    const all = [...this.budgets];
    this.budgets.clear();
    for (const b of all) b.signalAborted(signal);
  }

  leave(b: Budget): void {
    this.budgets.delete(b);
    if (this.budgets.size === 0) {
      this.signal.removeEventListener('abort', this);
      WATCHES.delete(this.signal);
    }
  }
}

const WATCHES = new WeakMap<AbortSignal, SignalWatch>();

/** Makes `b` one of the budgets watching `signal` (adding the signal's one listener if it has none). */
export function watchSignal(signal: AbortSignal, b: Budget): SignalWatch {
  let w = WATCHES.get(signal);
  if (w === undefined) {
    w = new SignalWatch(signal);
    WATCHES.set(signal, w);
    signal.addEventListener('abort', w);
  }
  w.budgets.add(b);
  return w;
}

/** Budgets of one timeout length, oldest (earliest deadline) first. */
export interface DeadlineList {
  head: Budget | undefined;
  tail: Budget | undefined;
}

/**
 * Every pending budget deadline, behind one shared timer. Budgets of the same timeout
 * length arrive in deadline order, so one FIFO list per length is sorted and its head is
 * its earliest; the timer is armed for the earliest head. A budget that finishes is only
 * unlinked — the timer stays armed, fires at its old time, finds nothing due and re-arms
 * for the earliest head left — so a request costs no timer call, and with one timeout
 * length the timer is re-armed about once per timeout period. The timer is ref'd while
 * any budget is pending (an in-flight request keeps the process alive) and unref'd when
 * none is — a budget parked on its caller ({@link Budget.letProcessExit}) does not count. Expiry is never early: a budget is due when now() has reached its deadline.
 */
class DeadlineQueue {
  private readonly lists = new Map<number, DeadlineList>();
  private readonly timer = new LongTimer(() => this.fire()).unref();
  private armedAt = Number.POSITIVE_INFINITY;
  private pending = 0;

  add(b: Budget): void {
    let list = this.lists.get(b.timeout);
    if (list === undefined) {
      list = { head: undefined, tail: undefined };
      this.lists.set(b.timeout, list);
    }
    b.queued = list;
    b.prevQueued = list.tail;
    b.nextQueued = undefined;
    if (list.tail === undefined) list.head = b;
    else list.tail.nextQueued = b;
    list.tail = b;
    b.keepsAlive = true;
    if (this.pending++ === 0) this.timer.ref();
    if (b.deadlineAt < this.armedAt) this.arm(b.deadlineAt);
  }

  remove(b: Budget): void {
    const list = b.queued;
    if (list === undefined) return;
    if (b.prevQueued === undefined) list.head = b.nextQueued;
    else b.prevQueued.nextQueued = b.nextQueued;
    if (b.nextQueued === undefined) list.tail = b.prevQueued;
    else b.nextQueued.prevQueued = b.prevQueued;
    b.queued = b.prevQueued = b.nextQueued = undefined;
    // Lists of lengths no longer in use go, once there are many (computed timeouts).
    if (list.head === undefined && this.lists.size > 16) this.lists.delete(b.timeout);
    this.letGo(b);
  }

  /** `b`'s deadline stays queued but stops holding the timer ref'd. */
  letGo(b: Budget): void {
    if (!b.keepsAlive) return;
    b.keepsAlive = false;
    if (--this.pending === 0) this.timer.unref();
  }

  private arm(at: number): void {
    this.armedAt = at;
    this.timer.startAt(at);
  }

  private fire(): void {
    this.armedAt = Number.POSITIVE_INFINITY;
    const t = now();
    // Expire what is due in deadline order across lengths (a late timer may find several
    // due at once). Expiring a budget may finish or add others: re-read the heads each time.
    for (;;) {
      let first: Budget | undefined;
      for (const list of this.lists.values()) {
        const b = list.head;
        if (b !== undefined && b.deadlineAt <= t && (first === undefined || b.deadlineAt < first.deadlineAt)) first = b;
      }
      if (first === undefined) break;
      this.remove(first);
      first.expire();
    }
    let next = Number.POSITIVE_INFINITY;
    for (const list of this.lists.values()) {
      const b = list.head;
      if (b !== undefined && b.deadlineAt < next) next = b.deadlineAt;
    }
    if (next < this.armedAt) this.arm(next);
  }
}

/** The one queue of every pending budget deadline in the process. */
export const PENDING = new DeadlineQueue();
