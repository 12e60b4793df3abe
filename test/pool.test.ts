// Pool unit tests with dummy connections: the pool knows nothing of HTTP, so its rules
// (MRU hand-out, limits, FIFO wait queue, hand-off, dial parking, expiry) are checked
// here without sockets. Integration with real connections is in transport.test.ts.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Budget } from '../src/deadline.js';
import { HourglassError, TimeoutError } from '../src/errors.js';
import { type DialHandle, Pool, type Pooled, WaitQueue } from '../src/pool.js';

class Dummy implements Pooled {
  idleSince = 0;
  idleDeadline = Number.POSITIVE_INFINITY;
  poolState: 'idle' | 'active' | 'shared' | undefined;
  open = true;
  constructor(
    readonly key: string,
    readonly id: number,
    private readonly onClose: (c: Dummy) => void,
  ) {}
  isUsable(): boolean {
    return this.open;
  }
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.onClose(this);
  }
}

interface PendingDial {
  key: string;
  resolve: () => Dummy;
  reject: (err: Error) => void;
  handle: DialHandle & { aborted?: Error };
}

function harness(limits: Partial<{ maxIdleConns: number; maxIdleConnsPerHost: number; maxConnsPerHost: number; idle: number }> = {}) {
  let nextId = 1;
  const dials: PendingDial[] = [];
  // assigned after the pool exists (the close callback needs it)
  let pool: Pool<Dummy, string>;
  const closed: number[] = [];
  const onClose = (c: Dummy): void => {
    closed.push(c.id);
    pool.closed(c);
  };
  pool = new Pool<Dummy, string>(
    {
      maxIdleConns: limits.maxIdleConns ?? 100,
      maxIdleConnsPerHost: limits.maxIdleConnsPerHost ?? 100,
      maxConnsPerHost: limits.maxConnsPerHost ?? 0,
      idleTimeout: () => limits.idle ?? 90_000,
    },
    (key, _opts, handle) =>
      new Promise<Dummy>((res, rej) => {
        const d: PendingDial = {
          key,
          handle: handle as PendingDial['handle'],
          resolve: () => {
            const c = new Dummy(key, nextId++, onClose);
            res(c);
            return c;
          },
          reject: rej,
        };
        (handle as PendingDial['handle']).abort = (err) => {
          d.handle.aborted = err;
          rej(err);
        };
        dials.push(d);
      }),
    () => ({ abort() {} }) as DialHandle,
  );
  return { pool, dials, closed };
}

const budget = () => new Budget(undefined, undefined, 'GET', 'http://h/');
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('pool', () => {
  it('dials when empty and reuses the released connection (MRU first)', async () => {
    const { pool, dials } = harness();
    const p1 = pool.acquire('k', 'o', budget(), 0);
    const p2 = pool.acquire('k', 'o', budget(), 0);
    assert.equal(dials.length, 2);
    const c1 = dials[0]!.resolve();
    const c2 = dials[1]!.resolve();
    const l1 = await p1;
    const l2 = await p2;
    assert.equal(l1.conn, c1);
    assert.equal(l2.conn, c2);
    pool.release(c1);
    pool.release(c2);
    assert.deepEqual(pool.stats().totals, { active: 0, idle: 2, dialing: 0, waiting: 0 });
    const l3 = await pool.acquire('k', 'o', budget(), 0);
    assert.equal(l3.conn, c2, 'most recently used first');
    assert.equal(l3.wasIdle, true);
  });

  it('skips and closes an unusable idle connection', async () => {
    const { pool, dials, closed } = harness();
    const p = pool.acquire('k', 'o', budget(), 0);
    const c = dials[0]!.resolve();
    await p;
    pool.release(c);
    c.open = false; // the server closed it while idle, undetected
    const p2 = pool.acquire('k', 'o', budget(), 0);
    assert.equal(dials.length, 2, 'a new dial started');
    dials[1]!.resolve();
    const l = await p2;
    assert.notEqual(l.conn, c);
    assert.deepEqual(closed, []);
  });

  it('maxIdleConnsPerHost closes the connection being parked beyond the limit (GO-03)', async () => {
    const { pool, dials, closed } = harness({ maxIdleConnsPerHost: 2 });
    const ps = [pool.acquire('k', 'o', budget(), 0), pool.acquire('k', 'o', budget(), 0), pool.acquire('k', 'o', budget(), 0)];
    const cs = dials.map((d) => d.resolve());
    await Promise.all(ps);
    pool.release(cs[0]!);
    assert.equal(pool.stats().totals.idle, 1);
    pool.release(cs[1]!);
    assert.equal(pool.stats().totals.idle, 2);
    pool.release(cs[2]!);
    assert.equal(pool.stats().totals.idle, 2);
    assert.deepEqual(closed, [cs[2]!.id]);
  });

  it('maxIdleConns across hosts closes the least recently used', async () => {
    const { pool, dials, closed } = harness({ maxIdleConns: 2 });
    const pa = pool.acquire('a', 'o', budget(), 0);
    const pb = pool.acquire('b', 'o', budget(), 0);
    const pc = pool.acquire('c', 'o', budget(), 0);
    const [a, b, c] = dials.map((d) => d.resolve());
    await Promise.all([pa, pb, pc]);
    pool.release(a!);
    pool.release(b!);
    pool.release(c!);
    assert.deepEqual(closed, [a!.id]);
    assert.equal(pool.stats().totals.idle, 2);
  });

  it('maxConnsPerHost queues FIFO and hands a released connection to the oldest waiter', async () => {
    const { pool, dials } = harness({ maxConnsPerHost: 1 });
    const first = pool.acquire('k', 'o', budget(), 0);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      pool.acquire('k', 'o', budget(), 0).then((l) => {
        order.push(n);
        return l;
      }),
    );
    assert.equal(dials.length, 1, 'no dial beyond the limit');
    assert.equal(pool.stats().totals.waiting, 4);
    const c = dials[0]!.resolve();
    const l0 = await first;
    for (const w of waiters) {
      pool.release(l0.conn);
      const l = await w;
      assert.equal(l.conn, c);
      assert.equal(l.wasIdle, false);
    }
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('poolTimeout fires phase pool and the waiter leaves the queue', async () => {
    const { pool, dials } = harness({ maxConnsPerHost: 1 });
    const first = pool.acquire('k', 'o', budget(), 0);
    dials[0]!.resolve();
    await first;
    const t0 = performance.now();
    await assert.rejects(pool.acquire('k', 'o', budget(), 50), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.phase, 'pool');
      assert.equal(err.timeout, 50);
      assert.equal(err.requestSent, false);
      return true;
    });
    assert.ok(performance.now() - t0 >= 45);
    assert.equal(pool.stats().totals.waiting, 0);
  });

  it('one clock for a host\'s queue: each waiter expires at its own time, out-of-order poolTimeouts included, and no timer is left', async () => {
    const { pool, dials } = harness({ maxConnsPerHost: 1 });
    const first = pool.acquire('k', 'o', budget(), 0);
    dials[0]!.resolve();
    const lease = await first;
    const t0 = performance.now();
    const when = (p: Promise<unknown>): Promise<{ ms: number; err: unknown }> =>
      p.then(
        () => ({ ms: -1, err: undefined }),
        (err: unknown) => ({ ms: performance.now() - t0, err }),
      );
    // 120, 120, 200 join the host's clock (due times never go back); 40 is due earlier
    // than the last joined, so it runs its own timer; the one without poolTimeout stays.
    const a = when(pool.acquire('k', 'o', budget(), 120));
    const b = when(pool.acquire('k', 'o', budget(), 120));
    const c = when(pool.acquire('k', 'o', budget(), 200));
    const d = when(pool.acquire('k', 'o', budget(), 40));
    const patient = pool.acquire('k', 'o', budget(), 0);
    const got = await Promise.all([a, b, c, d]);
    for (const [i, want] of [120, 120, 200, 40].entries()) {
      const { ms, err } = got[i]!;
      assert.ok(err instanceof TimeoutError && err.phase === 'pool' && err.timeout === want, String(err));
      assert.ok(ms >= want - 5 && ms < want + 400, `waiter ${i} (poolTimeout ${want}) expired after ${Math.round(ms)} ms`);
      assert.ok(err.elapsed >= want - 5 && err.elapsed < want + 400, `elapsed ${err.elapsed}`);
    }
    assert.equal(pool.stats().totals.waiting, 1, 'the waiter without poolTimeout is still queued');
    pool.release(lease.conn);
    assert.equal((await patient).conn, lease.conn);
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.equal(timers, 0, 'the pool clock stopped with the queue empty');
  });

  it('an aborted waiter leaves at once and its slot goes to the next', async () => {
    const { pool, dials } = harness({ maxConnsPerHost: 1 });
    const first = pool.acquire('k', 'o', budget(), 0);
    const ac = new AbortController();
    const b = new Budget(undefined, ac.signal, 'GET', 'http://h/');
    const aborted = pool.acquire('k', 'o', b, 0);
    const next = pool.acquire('k', 'o', budget(), 0);
    ac.abort(new Error('stop'));
    await assert.rejects(aborted, (err: unknown) => (err as Error).name === 'AbortError');
    assert.equal(pool.stats().totals.waiting, 2);
    const c = dials[0]!.resolve();
    pool.release((await first).conn);
    assert.equal((await next).conn, c);
  });

  it('a dial that finds its waiter served elsewhere parks its connection idle (PF-10)', async () => {
    const { pool, dials } = harness();
    const a = pool.acquire('k', 'o', budget(), 0);
    const ca = dials[0]!.resolve();
    await a;
    const b = pool.acquire('k', 'o', budget(), 0); // starts a second dial
    assert.equal(dials.length, 2);
    pool.release(ca); // A frees its connection while B is dialing
    assert.equal((await b).conn, ca);
    dials[1]!.resolve();
    await tick();
    assert.deepEqual(pool.stats().totals, { active: 1, idle: 1, dialing: 0, waiting: 0 });
  });

  it('a failed dial rejects the oldest waiter and a closed connection lets a waiter dial', async () => {
    const { pool, dials } = harness({ maxConnsPerHost: 1 });
    const a = pool.acquire('k', 'o', budget(), 0);
    const b = pool.acquire('k', 'o', budget(), 0);
    dials[0]!.reject(new Error('refused'));
    await assert.rejects(a, /refused/);
    await tick();
    assert.equal(dials.length, 2, 'the next waiter dials');
    const c = dials[1]!.resolve();
    const lb = await b;
    const q = pool.acquire('k', 'o', budget(), 0);
    c.close();
    await tick();
    assert.equal(dials.length, 3, 'closing frees the slot');
    dials[2]!.resolve();
    assert.notEqual((await q).conn, lb.conn);
  });

  it('an overall timeout while dialing cancels the orphaned dial', async () => {
    const { pool, dials } = harness();
    const b = new Budget(40, undefined, 'GET', 'http://h/');
    await assert.rejects(pool.acquire('k', 'o', b, 0), (err: unknown) => err instanceof TimeoutError && err.phase === 'request');
    b.finish();
    assert.ok(dials[0]!.handle.aborted, 'the dial nobody waits for was aborted');
  });

  it('idle connections expire after their idle timeout (one sweep timer)', async () => {
    const { pool, dials, closed } = harness({ idle: 30 });
    const p = pool.acquire('k', 'o', budget(), 0);
    const c = dials[0]!.resolve();
    await p;
    pool.release(c);
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(closed, [c.id]);
    assert.deepEqual(pool.stats().totals, { active: 0, idle: 0, dialing: 0, waiting: 0 });
  });

  it('close() rejects waiters with HG_CLOSED, closes idle, refuses new requests', async () => {
    const { pool, dials, closed } = harness({ maxConnsPerHost: 1 });
    const a = pool.acquire('k', 'o', budget(), 0);
    const c = dials[0]!.resolve();
    await a;
    const waiting = pool.acquire('k', 'o', budget(), 0);
    pool.close();
    await assert.rejects(waiting, (err: unknown) => err instanceof HourglassError && err.code === 'HG_CLOSED');
    await assert.rejects(pool.acquire('k', 'o', budget(), 0), (err: unknown) => (err as HourglassError).code === 'HG_CLOSED');
    pool.release(c); // an active one finishes and is closed rather than parked
    assert.deepEqual(closed, [c.id]);
  });

  it('WaitQueue keeps FIFO order across removals and compaction', () => {
    const q = new WaitQueue<number>();
    for (let i = 0; i < 3000; i++) q.push(i);
    for (let i = 0; i < 2000; i++) assert.equal(q.shift(), i);
    q.remove(2500);
    assert.equal(q.length, 999);
    assert.equal(q.shift(), 2000);
    assert.equal(q.at(0), 2001);
  });
});

/** A multiplexed dummy: `slots` leases at once (0: it takes none yet, but may soon). */
class SharedDummy extends Dummy {
  slots = 2;
  poolLeases?: number;
  streamSlots(): number {
    return this.open ? this.slots : 0;
  }
  awaitingSlots(): boolean {
    return this.open && this.slots === 0;
  }
}

describe('pool: shared connections count as idle (SPEC §13)', () => {
  function sharedHarness(limits: { maxIdleConns?: number; maxIdleConnsPerHost?: number }, slots: number) {
    const closed: number[] = [];
    const made: SharedDummy[] = [];
    const dials: (() => SharedDummy)[] = [];
    const pool: Pool<SharedDummy, string> = new Pool<SharedDummy, string>(
      { maxIdleConns: limits.maxIdleConns ?? 100, maxIdleConnsPerHost: limits.maxIdleConnsPerHost ?? 100, maxConnsPerHost: 0, idleTimeout: () => 90_000 },
      (key) =>
        new Promise<SharedDummy>((res) => {
          dials.push(() => {
            const c = new SharedDummy(key, made.length + 1, (x) => {
              closed.push(x.id);
              pool.closed(x as SharedDummy);
            });
            c.slots = slots;
            made.push(c);
            res(c);
            return c;
          });
        }),
      () => ({ abort() {} }) as DialHandle,
    );
    return { pool, closed, dials };
  }

  it('a connection held for a waiter (no slot yet) is not idle: only once its lease ends is it counted, and closed past the limit', async () => {
    const { pool, closed, dials } = sharedHarness({ maxIdleConnsPerHost: 0 }, 0);
    const p = pool.acquire('k', 'o', budget(), 0, true);
    const c = dials[0]!();
    await tick();
    assert.deepEqual([closed, pool.stats().totals.idle, pool.stats().totals.active], [[], 0, 1], 'held for the waiter');
    c.slots = 1;
    pool.slotsChanged(c);
    const l = await p;
    assert.equal(l.conn, c);
    pool.releaseLease(c);
    assert.deepEqual(closed, [c.id], 'idle past maxIdleConnsPerHost 0: closed');
  });

  it('idle shared connections of several hosts share one LRU; a lease takes one out of it', async () => {
    const { pool, closed, dials } = sharedHarness({ maxIdleConns: 2 }, 2);
    const ps = ['a', 'b', 'c'].map((k) => pool.acquire(k, 'o', budget(), 0, true));
    const [a, b, c] = dials.map((d) => d());
    await Promise.all(ps);
    pool.releaseLease(a!);
    pool.releaseLease(b!);
    assert.equal(pool.stats().totals.idle, 2);
    const again = await pool.acquire('a', 'o', budget(), 0, true); // a leaves the LRU
    assert.deepEqual([again.conn, again.wasIdle, pool.stats().totals.idle], [a, true, 1]);
    pool.releaseLease(c!); // idle: b, c
    pool.releaseLease(a!); // a is the most recent: b (least recently used) goes
    assert.deepEqual([closed, pool.stats().totals.idle], [[b!.id], 2]);
  });
});
