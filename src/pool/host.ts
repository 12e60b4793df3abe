/**
 * pool/host — what the pool keeps per host key: its connection lists and counts
 * ({@link HostEntry}), its FIFO of requests waiting for a connection ({@link WaitQueue} of
 * {@link Waiter}s) and the one `poolTimeout` timer of that queue ({@link PoolClock}).
 *
 * Owns: a waiter's life (settled exactly once, in the async context it was made in; it
 * holds its request's budget while it waits) and the queue's clock.
 * Never: hands out, dials or closes a connection — the {@link Pool} (pool.ts) decides that;
 * knows nothing of HTTP.
 * Invariants: a queued waiter with a `poolTimeout` is on its host's clock or runs its own
 * timer, never both; the clock is disarmed once the queue is empty.
 */

import { AsyncResource } from 'node:async_hooks';
import { type Budget, LongTimer, now, phaseTimeoutError, type PhaseExpiry, type PhaseOwner, type PhaseSource } from '../deadline.js';
import { type ActivePhase, closedError, type HourglassError } from '../errors.js';
import type { DialHandle, Lease, Pooled } from '../pool.js';

/** Shared connections of `host` that take no stream now but may soon ({@link Pooled.awaitingSlots}). */
export function awaiting<T extends Pooled>(host: { shared: T[] }): number {
  let n = 0;
  for (const c of host.shared) if (c.awaitingSlots?.() === true) n++;
  return n;
}

/** Nobody is left to use `host`'s pending dials: cancel them rather than keep sockets connecting. */
export function abandonDials(host: { dials: Set<DialHandle>; abandoned: Set<DialHandle> }): void {
  for (const d of host.dials) {
    host.abandoned.add(d);
    d.abort(closedError('dial (no waiter left)'));
  }
}

/** Receives the outcome of one wait for a connection (Go's wantConn): exactly one call. */
export interface Wanter<T> {
  leased(lease: Lease<T>): void;
  failed(err: Error): void;
}

/**
 * One request waiting for a connection. It is an async resource made in the request's
 * context: its outcome is delivered in that context, not in the one of whoever released
 * the connection, finished the dial or ran the timer (a callback made there would
 * otherwise run in another request's trace).
 */
export class Waiter<T, D> extends AsyncResource implements PhaseOwner {
  settled = false;
  /** Its own `poolTimeout` timer: only when it could not join its host's {@link PoolClock}. */
  timer: LongTimer | undefined;
  /** The `poolTimeout` this waiter runs (ms). */
  poolTimeout = 0;
  /** Monotonic ms its `poolTimeout` runs out on the host's clock (Infinity: not on it). */
  dueAt = Number.POSITIVE_INFINITY;
  /** The dial started for this waiter, if any (its phase is the request's). */
  dial: PhaseSource | undefined;
  /** The waiter joined a dial another request started (it fails with that dial). */
  joined = false;
  /** The waiter holds the request: `pool`, or the phase of the dial started for it. */
  get phase(): ActivePhase {
    const d = this.dial;
    if (d === undefined) return 'pool';
    const p = d.activePhase;
    return p !== undefined && p !== 'start' ? p : 'connect';
  }
  readonly requestSent = false;
  constructor(
    readonly host: HostEntry<T, D>,
    readonly opts: D,
    readonly budget: Budget,
    private readonly pool: { waiterLeft(w: Waiter<T, D>): void },
    readonly wanter: Wanter<T>,
  ) {
    super('hourglass.pool-wait');
  }
  /** Hands it `lease`, in its own async context. */
  lease(lease: Lease<T>): void {
    this.runInAsyncScope(this.wanter.leased, this.wanter, lease);
  }
  /** Fails it with `err`, in its own async context. */
  fail(err: Error): void {
    this.runInAsyncScope(this.wanter.failed, this.wanter, err);
  }
  phaseExpiry(): PhaseExpiry | undefined {
    if (this.settled) return undefined;
    return { phase: 'pool', timeout: this.poolTimeout, method: this.budget.method, url: this.budget.url };
  }
  cancel(err: HourglassError): void {
    if (this.settled) return;
    this.settle();
    this.pool.waiterLeft(this);
    this.fail(err);
  }
  settle(): void {
    this.settled = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.budget.release(this);
  }
}

/** FIFO of waiters with O(1) push/shift and O(n) removal of a cancelled one. */
export class WaitQueue<W> {
  private items: (W | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(w: W): void {
    this.items.push(w);
  }
  shift(): W | undefined {
    if (this.head >= this.items.length) return undefined;
    const w = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }
  at(i: number): W | undefined {
    return this.items[this.head + i];
  }
  remove(w: W): void {
    const i = this.items.indexOf(w, this.head);
    if (i !== -1) this.items.splice(i, 1);
  }
  drain(): W[] {
    const out = this.items.slice(this.head) as W[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

/**
 * The `poolTimeout` clock of a host's queued waiters: one timer for the whole queue
 * instead of one per waiter (a queued request is kept small: SPEC §11's memory figure).
 * Waiters join in queue order only while their due times do not decrease (the usual
 * case: one `poolTimeout` for the host), so the first due waiter on the clock is the
 * first such in the queue; one that would be due earlier than the last joined gets its
 * own timer instead. The clock is disarmed once no waiter is left.
 */
export class PoolClock<T, D> {
  private readonly timer = new LongTimer(() => this.due());
  /** Due time of the last waiter that joined (joins must not go back in time). */
  private lastDue = Number.NEGATIVE_INFINITY;

  constructor(private readonly waiters: WaitQueue<Waiter<T, D>>) {}

  /** Puts `w` on the clock (true), or says it must run its own timer (false). */
  join(w: Waiter<T, D>, dueAt: number): boolean {
    if (dueAt < this.lastDue) return false;
    w.dueAt = this.lastDue = dueAt;
    if (!this.timer.armed) this.timer.startAt(dueAt);
    return true;
  }

  /** No waiter is left: nothing to time (and nothing keeps the process alive). */
  clear(): void {
    this.timer.cancel();
    this.lastDue = Number.NEGATIVE_INFINITY;
  }

  /** Expires every due waiter on the clock, oldest first, then re-arms for the next one. */
  private due(): void {
    const t = now();
    for (let i = 0; ; ) {
      const w = this.waiters.at(i);
      if (w === undefined) return this.clear();
      if (w.settled || w.dueAt === Number.POSITIVE_INFINITY) {
        i++;
        continue;
      }
      if (w.dueAt > t) {
        this.timer.startAt(w.dueAt);
        return;
      }
      const e = w.phaseExpiry();
      // Cancelling removes it from the queue: the next one is now at `i`.
      if (e !== undefined) w.cancel(phaseTimeoutError(e, t - (w.dueAt - w.poolTimeout)));
      else i++;
    }
  }
}

export class HostEntry<T, D> {
  idle: T[] = [];
  /** Multiplexed connections, open (leased or not) until they close themselves. */
  shared: T[] = [];
  /** Shared connections in the pool's LRU (idle: no lease, nobody waiting). */
  idleShared = 0;
  active = 0;
  dialing = 0;
  /** What dials of this host gave so far: unknown, single-use, or multiplexed connections. */
  proto: 'unknown' | 'single' | 'multi' = 'unknown';
  readonly waiters = new WaitQueue<Waiter<T, D>>();
  readonly dials = new Set<DialHandle>();
  /**
   * Dials cancelled because no waiter was left: their failure is nobody's (a request
   * that arrived since is served by another dial), their connection still anyone's.
   */
  readonly abandoned = new Set<DialHandle>();
  /** Made on the first waiter that runs a `poolTimeout`. */
  poolClock: PoolClock<T, D> | undefined;
  constructor(readonly key: string) {}
  get total(): number {
    return this.active + this.idle.length + this.dialing + this.shared.length;
  }
  /** Idle connections of either kind: what `maxIdleConnsPerHost` counts. */
  get idleCount(): number {
    return this.idle.length + this.idleShared;
  }
  /** A waiter left the queue: with none left, the pool clock stops. */
  waiterGone(): void {
    if (this.waiters.length === 0) this.poolClock?.clear();
  }
}
