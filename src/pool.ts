/**
 * pool — connections per host key: idle lists, the per-host limit with its FIFO wait
 * queue, hand-off, and idle expiry. Knows nothing of HTTP: it stores things that can
 * say whether they are usable and close themselves ({@link Pooled}).
 *
 * Rules (SPEC §6, Go's wantConn/idleConn):
 *   - idle connections are handed out most-recently-used first; one found unusable or
 *     past its idle deadline is closed and the next is tried;
 *   - a request that finds no idle connection waits in its host's {@link WaitQueue}
 *     and, while the host is under `maxConnsPerHost`, starts a dial; whichever comes
 *     first — a released connection or a finished dial — goes to the oldest waiter;
 *     a dial that finds no waiter left parks its connection idle (never leaked);
 *   - a waiter queued because the limit was reached runs the `poolTimeout` clock (one
 *     timer per host's queue, {@link PoolClock});
 *   - a closed connection frees its slot, letting a waiter dial;
 *   - beyond `maxIdleConnsPerHost` a connection that becomes idle is closed; beyond
 *     `maxIdleConns` (all hosts) the least recently used idle connection is closed.
 *
 * Multiplexed connections (HTTP/2: {@link Pooled.streamSlots} defined) are *shared*: the
 * pool hands out leases on them, up to `streamSlots()` at once. Rules for them:
 *   - one with no lease left and no waiter of its host is *idle* (SPEC §13: no open
 *     stream): it joins the one LRU of idle connections and counts toward
 *     `maxIdleConns` and `maxIdleConnsPerHost` exactly as a single-use idle connection
 *     does (either kind may be the one closed); its next lease takes it out. It stays
 *     in its host's `shared` list meanwhile, and expires by itself (its own idle timer);
 *   - a request takes a lease on a shared connection with a free slot before anything
 *     else; slots that open (a stream ends, the peer's SETTINGS raise the limit) go to
 *     the oldest waiters ({@link Pool.slotsChanged});
 *   - while a host's protocol is unknown (`mayMultiplex` and no connection of it was
 *     made yet) or known to multiplex, a request joins a pending dial instead of
 *     starting one, as long as that dial's expected slots cover the queue: one dial per
 *     cold origin, the others wait for it (their phase is that dial's). A dial that
 *     turns out single-use (ALPN chose http/1.1) lets the queue dial for itself; a failed
 *     dial fails every request that joined it, each with its own method and URL.
 *
 * A waiter's outcome is delivered in the async context it was made in (it is an
 * AsyncResource), never in the releaser's, the dial's or the timer's.
 *
 * A host's entry, its waiters and their `poolTimeout` clock live in pool/host.ts.
 *
 * Invariants: a waiter is settled exactly once; `active + idle + dialing + shared` is the
 * host's connection count; the LRU holds exactly the host lists' idle connections and
 * the shared connections counted in their host's `idleShared` (each with no lease), so
 * `stats()` reports what the limits count; one unref'd sweep timer exists only while
 * some connection is idle; a host entry with nothing in it is deleted; a shared
 * connection's `poolLeases` counts the leases handed out and not yet returned.
 */

import {
  type Budget,
  failPhaseAfter,
  isDisabled,
  LongTimer,
  now,
  type PhaseSource,
} from './deadline.js';
import { closedError, type HourglassError } from './errors.js';
import { abandonDials, awaiting, HostEntry, PoolClock, Waiter, type Wanter } from './pool/host.js';

export { type Wanter, WaitQueue } from './pool/host.js';

/** What the pool stores. `poolState` and `idleDeadline` are owned by the pool and transport. */
export interface Pooled {
  readonly key: string;
  isUsable(): boolean;
  /** Closes it; `now`: the transport is closing, its socket goes at once (SPEC §3). */
  close(now?: boolean): void;
  /** Monotonic ms when it became idle. */
  idleSince: number;
  /** Monotonic ms after which an idle connection is closed. */
  idleDeadline: number;
  /** @internal — owned by the pool. */
  poolState?: 'idle' | 'active' | 'shared' | undefined;
  /**
   * Defined only by a connection that carries several requests at once (HTTP/2): how many
   * leases it may have at the same time right now (0 while it takes no new stream).
   */
  streamSlots?(): number;
  /**
   * A shared connection that takes no lease now but may soon, within a bounded time (an
   * HTTP/2 peer allowing 0 streams for now: it closes after `h2.settingsTimeout` if it
   * still does). Waiters wait for it as for a dial in progress instead of dialing another
   * (each new one would be the same: a dial per ms, eleventh attack F2).
   */
  awaitingSlots?(): boolean;
  /** @internal — leases handed out on a shared connection (owned by the pool). */
  poolLeases?: number;
}

/** A connection handed out by {@link Pool.acquire}. */
export interface Lease<T> {
  conn: T;
  /** It came from the idle list. */
  wasIdle: boolean;
  /** ms it sat idle (0 when not from the idle list). */
  idleTime: number;
}

/**
 * Lets the pool cancel a dial nobody waits for any more. Its `activePhase` (a dial's
 * budget: `dns`, `connect`, `tls`) is what the request the dial was started for reports.
 */
export interface DialHandle extends PhaseSource {
  abort(err: HourglassError): void;
}

/** Starts a connection for `key`; `handle` lets the pool cancel it. */
export type DialFn<T, D, H extends DialHandle> = (key: string, opts: D, handle: H) => Promise<T>;

/** Limits of a {@link Pool}. */
export interface PoolLimits {
  maxIdleConns: number;
  maxIdleConnsPerHost: number;
  /** 0 = unlimited. */
  maxConnsPerHost: number;
  /** How long (ms) this connection may stay idle from now (its deadline is set on parking). */
  idleTimeout(conn: unknown): number;
}

/** Connection counts of one host key (or of all): the per-host counters of SPEC §11. */
export interface HostStats {
  active: number;
  idle: number;
  dialing: number;
  waiting: number;
  /** Streams in flight on multiplexed (HTTP/2) connections; present only where there are such connections. */
  streams?: number;
}

/** Slots a dial of a host that multiplexes is expected to bring (SPEC §13: 100 before SETTINGS). */
const EXPECTED_SLOTS = 100;

/** Per-host connection pool with a wait queue. */
export class Pool<T extends Pooled, D, H extends DialHandle = DialHandle> {
  private readonly hosts = new Map<string, HostEntry<T, D>>();
  /** Every idle connection, single-use or shared, least recently idled first. */
  private readonly lru = new Map<T, HostEntry<T, D>>();
  private readonly sweepTimer = new LongTimer(() => this.sweep()).unref();
  private sweepAt = Number.POSITIVE_INFINITY;
  private isClosed = false;

  constructor(
    private readonly limits: PoolLimits,
    private readonly dialFn: DialFn<T, D, H>,
    private readonly makeHandle: () => H,
  ) {}

  /**
   * Hands out an idle connection or waits for one (dialing while under the limit).
   * `poolTimeout` (ms, 0 = none) runs while queued behind `maxConnsPerHost`.
   */
  acquire(key: string, opts: D, budget: Budget, poolTimeout: number, mayMultiplex = false): Promise<Lease<T>> {
    return new Promise<Lease<T>>((resolve, reject) => {
      this.want(key, opts, budget, poolTimeout, { leased: resolve, failed: reject }, mayMultiplex);
    });
  }

  /**
   * As `acquire`, but the outcome goes to `wanter` (called synchronously for an idle
   * connection): a queued request then costs one Waiter, no promise chain of its own.
   */
  want(key: string, opts: D, budget: Budget, poolTimeout: number, wanter: Wanter<T>, mayMultiplex = false): void {
    if (this.isClosed) {
      wanter.failed(closedError('transport', { method: budget.method, url: budget.url }));
      return;
    }
    let host = this.hosts.get(key);
    if (host === undefined) {
      host = new HostEntry<T, D>(key);
      this.hosts.set(key, host);
    }
    const t = now();
    for (const conn of host.shared) {
      if (freeSlots(conn) > 0 && conn.isUsable()) {
        const wasIdle = conn.poolLeases === 0;
        this.takeSlot(host, conn);
        wanter.leased({ conn, wasIdle, idleTime: wasIdle ? t - conn.idleSince : 0 });
        return;
      }
    }
    while (host.idle.length > 0) {
      const conn = host.idle.pop()!;
      this.lru.delete(conn);
      conn.poolState = undefined;
      if (conn.isUsable() && t < conn.idleDeadline) {
        conn.poolState = 'active';
        host.active++;
        wanter.leased({ conn, wasIdle: true, idleTime: t - conn.idleSince });
        return;
      }
      conn.close();
    }
    const w = new Waiter<T, D>(host, opts, budget, this, wanter);
    host.waiters.push(w);
    const pending = this.joinable(host, mayMultiplex);
    if (pending !== undefined) {
      w.dial = pending;
      w.joined = true;
    } else if (this.canDial(host) && awaiting(host) * EXPECTED_SLOTS < host.waiters.length) {
      w.dial = this.startDial(host, opts);
    } else {
      w.poolTimeout = poolTimeout;
      if (!isDisabled(poolTimeout) && !(host.poolClock ??= new PoolClock(host.waiters)).join(w, t + poolTimeout)) {
        w.timer = failPhaseAfter(poolTimeout, w, t);
      }
    }
    budget.hold(w);
  }

  /** A lease on a shared connection ended (its stream closed). */
  releaseLease(conn: T): void {
    if (conn.poolState !== 'shared') return;
    conn.poolLeases = Math.max(0, conn.poolLeases! - 1);
    if (conn.poolLeases === 0) conn.idleSince = now();
    const host = this.hosts.get(conn.key);
    if (host === undefined) return;
    if (this.isClosed && conn.poolLeases === 0) {
      conn.close(true);
      return;
    }
    this.serveShared(host, conn);
  }

  /**
   * A shared connection's slots changed (the peer's SETTINGS, a PING answered, a GOAWAY):
   * serve waiters from it, and let the rest dial when it takes no more.
   */
  slotsChanged(conn: T): void {
    const host = this.hosts.get(conn.key);
    if (host === undefined || conn.poolState !== 'shared') return;
    this.serveShared(host, conn);
    this.pumpDials(host);
  }

  /**
   * Fails every request waiting for a connection to `key`, each with its own error
   * (`err(method, url)`): the host's connections will not serve them. Pending dials no
   * waiter needs any more are cancelled.
   */
  failWaiters(key: string, err: (method: string, url: string) => Error): void {
    const host = this.hosts.get(key);
    if (host === undefined) return;
    for (const w of host.waiters.drain()) {
      if (w.settled) continue;
      w.settle();
      w.fail(err(w.budget.method, w.budget.url));
    }
    host.waiterGone();
    abandonDials(host);
    this.parkShared(host);
    this.forgetIfEmpty(host);
  }

  /** A connection finished its exchange and may be reused. */
  release(conn: T): void {
    const host = this.hosts.get(conn.key);
    if (host === undefined || conn.poolState !== 'active') {
      conn.close();
      return;
    }
    host.active--;
    conn.poolState = undefined;
    if (this.isClosed) {
      conn.close(true);
      return;
    }
    this.deliver(host, conn);
  }

  /** A connection closed: it leaves every list and frees its slot. */
  closed(conn: T): void {
    const host = this.hosts.get(conn.key);
    if (host === undefined) return;
    if (conn.poolState === 'idle') {
      const i = host.idle.indexOf(conn);
      if (i !== -1) host.idle.splice(i, 1);
      this.lru.delete(conn);
    } else if (conn.poolState === 'shared') {
      const i = host.shared.indexOf(conn);
      if (i !== -1) host.shared.splice(i, 1);
      if (this.lru.delete(conn)) host.idleShared--;
    } else if (conn.poolState === 'active') {
      host.active--;
    }
    conn.poolState = undefined;
    this.pumpDials(host);
    this.forgetIfEmpty(host);
  }

  /** Counters per host key and in total. */
  stats(): { hosts: Record<string, HostStats>; totals: HostStats } {
    const hosts: Record<string, HostStats> = {};
    const totals: HostStats = { active: 0, idle: 0, dialing: 0, waiting: 0 };
    for (const [key, h] of this.hosts) {
      const s: HostStats = { active: h.active, idle: h.idleCount, dialing: h.dialing, waiting: h.waiters.length };
      if (h.shared.length > 0) {
        let streams = 0;
        for (const c of h.shared) streams += c.poolLeases!;
        // Idle ones are counted above (in the LRU); the rest carry streams or are held for waiters.
        s.active += h.shared.length - h.idleShared;
        s.streams = streams;
        totals.streams = (totals.streams ?? 0) + streams;
      }
      hosts[key] = s;
      totals.active += s.active;
      totals.idle += s.idle;
      totals.dialing += s.dialing;
      totals.waiting += s.waiting;
    }
    return { hosts, totals };
  }

  /** Closes every idle connection (`now`: the transport is closing). */
  closeIdle(now = false): void {
    for (const conn of [...this.lru.keys()]) conn.close(now);
    for (const host of [...this.hosts.values()]) {
      for (const conn of [...host.shared]) if (conn.poolLeases === 0) conn.close(now);
    }
  }

  /** Rejects every waiter with `HG_CLOSED`, closes idle connections; active ones finish. */
  close(): void {
    this.isClosed = true;
    for (const host of this.hosts.values()) {
      for (const w of host.waiters.drain()) {
        w.cancel(closedError('transport', { method: w.budget.method, url: w.budget.url }));
      }
      host.waiterGone();
      for (const d of host.dials) d.abort(closedError('transport'));
    }
    this.closeIdle(true);
    this.sweepTimer.cancel();
    this.sweepAt = Number.POSITIVE_INFINITY;
  }

  // Private implementation past this point.

  private canDial(host: HostEntry<T, D>): boolean {
    return this.limits.maxConnsPerHost <= 0 || host.total < this.limits.maxConnsPerHost;
  }

  /**
   * A pending dial a new waiter may join rather than dial itself: while the host's
   * protocol is unknown or multiplexed, when the pending dials' expected slots cover the
   * queue. Undefined: dial (or wait) as usual.
   */
  private joinable(host: HostEntry<T, D>, mayMultiplex: boolean): H | undefined {
    if (host.dialing === 0 || host.proto === 'single' || (!mayMultiplex && host.proto !== 'multi')) return undefined;
    if (host.proto === 'unknown' || host.waiters.length <= host.dialing * EXPECTED_SLOTS) {
      for (const d of host.dials) if (!host.abandoned.has(d)) return d as H;
    }
    return undefined;
  }

  /** Starts a dial for `host`; returns its handle (whose phase the waiter it serves reports). */
  private startDial(host: HostEntry<T, D>, opts: D): H {
    host.dialing++;
    const dialBudget = this.makeHandle();
    host.dials.add(dialBudget);
    this.dialFn(host.key, opts, dialBudget).then(
      (conn) => {
        host.dialing--;
        host.dials.delete(dialBudget);
        host.abandoned.delete(dialBudget);
        for (let i = 0; ; i++) {
          const w = host.waiters.at(i);
          if (w === undefined) break;
          if (w.dial === dialBudget) w.joined = false; // served or not, it no longer waits on this dial
        }
        if (this.isClosed) {
          conn.close(true);
          return;
        }
        if (conn.streamSlots !== undefined) {
          host.proto = 'multi';
          conn.poolState = 'shared';
          conn.poolLeases = 0;
          conn.idleSince = now();
          host.shared.push(conn);
          this.serveShared(host, conn);
        } else {
          host.proto = 'single';
          this.deliver(host, conn);
        }
        this.pumpDials(host);
      },
      (err: Error) => {
        host.dialing--;
        host.dials.delete(dialBudget);
        if (host.abandoned.delete(dialBudget)) {
          // Cancelled for want of a waiter: a request queued since (even in the same tick
          // as the cancel) is not failed by it; it gets a dial of its own instead.
          for (let i = 0; ; i++) {
            const w = host.waiters.at(i);
            if (w === undefined) break;
            if (w.dial === dialBudget) {
              w.dial = undefined;
              w.joined = false;
            }
          }
          this.pumpDials(host);
          this.forgetIfEmpty(host);
          return;
        }
        const w = this.nextWaiter(host);
        if (w !== undefined) {
          w.settle();
          w.fail(err);
        }
        // Requests that joined this dial fail with it, each under its own method and URL.
        for (const j of host.waiters.drain()) {
          if (j.settled) continue;
          if (j.joined && j.dial === dialBudget) {
            j.settle();
            j.fail(retarget(err, j.budget.method, j.budget.url));
          } else {
            host.waiters.push(j);
          }
        }
        this.pumpDials(host);
        this.forgetIfEmpty(host);
      },
    );
    return dialBudget;
  }

  /** Hands free slots of a shared connection to the oldest waiters; with none left and no lease, it is idle. */
  private serveShared(host: HostEntry<T, D>, conn: T): void {
    while (freeSlots(conn) > 0 && conn.isUsable()) {
      const w = this.nextWaiter(host);
      if (w === undefined) break;
      w.settle();
      this.takeSlot(host, conn);
      w.lease({ conn, wasIdle: false, idleTime: 0 });
    }
    if (conn.poolLeases === 0) this.parkShared(host, conn);
  }

  /** A lease on a shared connection: one that was idle leaves the LRU. */
  private takeSlot(host: HostEntry<T, D>, conn: T): void {
    if (conn.poolLeases === 0 && this.lru.delete(conn)) host.idleShared--;
    conn.poolLeases!++;
  }

  /**
   * Counts `host`'s shared connections with no lease as idle (all of them, or `conn`),
   * once nobody waits for the host (a waiter is held for a connection that takes no
   * stream yet: closing it would only make the waiter dial): past `maxIdleConnsPerHost`
   * such a connection is closed, past `maxIdleConns` the least recently used idle one.
   */
  private parkShared(host: HostEntry<T, D>, conn?: T): void {
    if (host.waiters.length > 0 || this.isClosed) return;
    // One connection as a stream ends (no list made per request); all of them when waiters leave.
    if (conn !== undefined) this.parkOne(host, conn);
    else for (const c of [...host.shared]) this.parkOne(host, c);
  }

  private parkOne(host: HostEntry<T, D>, c: T): void {
    if (c.poolState !== 'shared' || c.poolLeases !== 0 || this.lru.has(c)) return;
    if (host.idleCount >= this.limits.maxIdleConnsPerHost) {
      c.close();
      return;
    }
    host.idleShared++;
    this.lru.set(c, host);
    this.evictOverflow();
  }

  /** Beyond `maxIdleConns`, closes the least recently used idle connections, of either kind. */
  private evictOverflow(): void {
    while (this.lru.size > this.limits.maxIdleConns) {
      const [oldest, host] = this.lru.entries().next().value as [T, HostEntry<T, D>];
      // Out of the counts before it closes (its close reaches `closed`, which finds it gone).
      this.lru.delete(oldest);
      if (oldest.poolState === 'idle') {
        const i = host.idle.indexOf(oldest);
        if (i !== -1) host.idle.splice(i, 1);
        oldest.poolState = undefined;
      } else host.idleShared--;
      oldest.close();
      this.forgetIfEmpty(host);
    }
  }

  /** Gives `conn` to the oldest waiter, or parks it idle. */
  private deliver(host: HostEntry<T, D>, conn: T): void {
    const w = this.nextWaiter(host);
    if (w !== undefined) {
      w.settle();
      conn.poolState = 'active';
      host.active++;
      w.lease({ conn, wasIdle: false, idleTime: 0 });
      return;
    }
    if (!conn.isUsable()) {
      conn.close();
      this.forgetIfEmpty(host);
      return;
    }
    if (host.idleCount >= this.limits.maxIdleConnsPerHost) {
      conn.close();
      this.forgetIfEmpty(host);
      return;
    }
    conn.poolState = 'idle';
    conn.idleSince = now();
    conn.idleDeadline = conn.idleSince + this.limits.idleTimeout(conn);
    host.idle.push(conn);
    this.lru.set(conn, host);
    this.evictOverflow();
    this.armSweep(conn.idleDeadline);
  }

  private nextWaiter(host: HostEntry<T, D>): Waiter<T, D> | undefined {
    let w = host.waiters.shift();
    while (w !== undefined && w.settled) w = host.waiters.shift();
    host.waiterGone();
    return w;
  }

  /** Starts dials for waiters that have none while the host is under its limit. */
  private pumpDials(host: HostEntry<T, D>): void {
    // A multiplexing host needs one dial per EXPECTED_SLOTS waiters, not one each.
    const per = host.proto === 'multi' ? EXPECTED_SLOTS : 1;
    // Connections that may soon take streams count as dials in progress.
    const soon = awaiting(host);
    while (host.waiters.length > (host.dialing + soon) * per && this.canDial(host) && !this.isClosed) {
      const w = host.waiters.at((host.dialing + soon) * per)!;
      // Started by whoever freed the slot (a failed dial, a closed connection): the dial
      // and its trace hooks belong to the waiter it is for.
      w.dial = w.runInAsyncScope(this.startDial, this, host, w.opts);
      w.joined = false;
    }
  }

  /** @internal — a waiter cancelled itself. */
  waiterLeft(w: Waiter<T, D>): void {
    const host = w.host;
    host.waiters.remove(w);
    host.waiterGone();
    if (host.waiters.length === 0) {
      abandonDials(host);
      this.parkShared(host);
    }
  }

  private forgetIfEmpty(host: HostEntry<T, D>): void {
    if (host.total === 0 && host.waiters.length === 0 && this.hosts.get(host.key) === host) {
      this.hosts.delete(host.key);
    }
  }

  private armSweep(at: number): void {
    if (at === Number.POSITIVE_INFINITY || at >= this.sweepAt) return;
    this.sweepAt = at;
    this.sweepTimer.startAt(at);
  }

  private sweep(): void {
    this.sweepAt = Number.POSITIVE_INFINITY;
    const t = now();
    let next = Number.POSITIVE_INFINITY;
    for (const conn of [...this.lru.keys()]) {
      if (conn.idleDeadline <= t + 1) conn.close();
      else if (conn.idleDeadline < next) next = conn.idleDeadline;
    }
    this.armSweep(next);
  }
}

/** Leases a shared connection can take now. */
function freeSlots(conn: Pooled): number {
  return conn.streamSlots!() - conn.poolLeases!;
}

/**
 * The error of a dial another request started, as the request that joined it sees it: the
 * same class and fields, its own method and URL (SPEC §4: errors name their request).
 */
function retarget(err: Error, method: string, url: string): Error {
  const e = err as Error & { method?: string; url?: string };
  if (e.url === undefined || (e.url === url && e.method === method)) return err;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error & { method?: string; url?: string };
  Object.assign(copy, err);
  const old = `${e.method ?? 'GET'} ${e.url}`;
  const msg = err.message.split(old).join(`${method} ${url}`).split(e.url).join(url);
  Object.defineProperty(copy, 'message', { value: msg, writable: true, configurable: true });
  Object.defineProperty(copy, 'stack', { value: `${err.name}: ${msg}\n${(err.stack ?? '').split('\n').slice(1).join('\n')}`, writable: true, configurable: true });
  if ('cause' in err) Object.defineProperty(copy, 'cause', { value: err.cause, writable: true, configurable: true });
  copy.method = method;
  copy.url = url;
  return copy;
}
