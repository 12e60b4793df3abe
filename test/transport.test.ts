// Connection management through the public Client/Transport (SPEC §6, §11
// "Transport"): the per-host limit and its FIFO wait queue, poolTimeout, close(),
// aborts and timeouts that must kill the exchange, the stats() counters, response
// shapes that have no body, header limits, and per-host TLS (a `tls` function,
// certsDir with a client certificate). Connections are counted on the server side.
// Scenarios GO-07..GO-11, GO-16, GO-18, GO-20, GO-42, UN-04, UN-17, PF-08, PF-09.
import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type * as tls from 'node:tls';
import {
  AbortError,
  Client,
  certsDir,
  HourglassError,
  TimeoutError,
  Transport,
  type TransportOptions,
} from '../src/index.js';
import { CA_CERT, FaultServer, writeCertsDir } from '../src/testing/index.js';
import {
  assertQuiet,
  clientClosed,
  clientFor,
  gatedLookup,
  reasonIs,
  setup,
  sleep,
  timeoutIn,
  waitFor,
} from './helpers/setup.js';

const T = { timeout: 30_000 };

function isAbort(reason?: unknown): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof AbortError, `expected AbortError, got ${String(e)}`);
    assert.equal(e.name, 'AbortError');
    if (reason !== undefined) assert.equal(e.cause, reason);
    return true;
  };
}

function isClosedErr(e: unknown): boolean {
  assert.ok(e instanceof HourglassError, String(e));
  assert.equal(e.code, 'HG_CLOSED', String(e));
  return true;
}

/** Tracks the number of sockets the server has open at once (TCP accept to close or client end). */
function trackOpen(fs: FaultServer): { max: () => number } {
  let open = 0;
  let max = 0;
  const ended = new Set<number>();
  fs.on('connection', () => {
    open++;
    max = Math.max(max, open);
  });
  const end = (info: { id: number }): void => {
    if (ended.has(info.id)) return;
    ended.add(info.id);
    open--;
  };
  fs.on('connectionClosed', end);
  const poll = setInterval(() => {
    for (const c of fs.connectionLog) if (c.clientEnded !== null) end(c);
  }, 5);
  poll.unref();
  fs.once('closed', () => clearInterval(poll));
  return {
    max: () => {
      clearInterval(poll);
      return max;
    },
  };
}

describe('pool: the per-host limit and its wait queue', () => {
  it('1000 GETs at concurrency 50 with maxConnsPerHost 4 never open more than 4 sockets', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 4 });
    const open = trackOpen(fs);
    let next = 0;
    let maxTotal = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 1000) {
          const i = next++;
          try {
            const res = await client.request(fs.url(`/echo?i=${i}`));
            const e = (await res.json()) as { query: { i: string } };
            if (e.query.i !== String(i)) failures.push(`cross-talk ${i} ${e.query.i}`);
          } catch (err) {
            failures.push(String(err));
          }
          const h = transport.stats().totals;
          maxTotal = Math.max(maxTotal, h.active + h.idle + h.dialing);
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.equal(fs.requests.length, 1000);
    assert.ok(fs.connections <= 4, `${fs.connections} sockets accepted`);
    assert.ok(open.max() <= 4, `${open.max()} sockets open at once`);
    assert.ok(maxTotal <= 4, `stats showed ${maxTotal} connections`);
    await assertQuiet(transport);
  });

  it('waiters are served FIFO: 20 queued requests reach the single connection in order', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
    const ps: Promise<string>[] = [];
    for (let i = 0; i < 20; i++) ps.push(client.request(fs.url(`/ok?i=${i}`)).then((r) => r.text()));
    assert.equal(transport.stats().totals.waiting, 20);
    await Promise.all(ps);
    assert.deepEqual(
      fs.requests.map((r) => r.query.get('i')),
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    assert.equal(fs.connections, 1);
    await assertQuiet(transport);
  });

  it(
    'a freed connection goes to the oldest waiter even when a newer request arrives meanwhile',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      fs.route('/slow', async (ex) => {
        await ex.sleep(100);
        await ex.respond(200, {}, 'slow');
      });
      const first = client.request(fs.url('/slow')).then((r) => r.text());
      const order: string[] = [];
      const a = client.request(fs.url('/ok?n=a')).then(async (r) => order.push(`a:${await r.text()}`));
      await sleep(30);
      const b = client.request(fs.url('/ok?n=b')).then(async (r) => order.push(`b:${await r.text()}`));
      await Promise.all([first, a, b]);
      assert.deepEqual(order, ['a:ok', 'b:ok']);
      await assertQuiet(transport);
    },
  );

  it('poolTimeout fires phase pool while queued behind maxConnsPerHost (requestSent false)', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1, poolTimeout: 150 });
    const ac = new AbortController();
    const holder = client.request(fs.url('/never'), { signal: ac.signal });
    await fs.waitForRequests(1);
    const started = performance.now();
    const err = await client.request(fs.url('/ok')).then(
      () => assert.fail('expected a pool timeout'),
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    assert.ok(timeoutIn('pool')(err));
    const te = err as TimeoutError;
    assert.equal(te.timeout, 150);
    assert.equal(te.requestSent, false);
    assert.ok(took >= 140 && took < 400, `fired after ${took.toFixed(0)} ms`);
    assert.equal(fs.requests.length, 1, 'the timed-out request never reached the server');
    ac.abort();
    await assert.rejects(holder, isAbort());
    await assertQuiet(transport);
  });

  it('a per-request timeouts.poolTimeout overrides the transport default', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
    const ac = new AbortController();
    const holder = client.request(fs.url('/never'), { signal: ac.signal });
    await fs.waitForRequests(1);
    await assert.rejects(
      client.request(fs.url('/ok'), { timeouts: { poolTimeout: 100 } }),
      timeoutIn('pool'),
    );
    ac.abort();
    await assert.rejects(holder, isAbort());
    await assertQuiet(transport);
  });

  it(
    'GO-08: maxConnsPerHost 1: 10 concurrent GETs dial once; after the server drops idle sockets, one more GET dials again',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      const bodies = await Promise.all(
        Array.from({ length: 10 }, () => client.request(fs.url('/ok')).then((r) => r.text())),
      );
      assert.deepEqual(new Set(bodies), new Set(['ok']));
      assert.equal(fs.connections, 1);
      fs.closeIdleAfter(0);
      await (await client.request(fs.url('/ok'))).text(); // arms the server's idle close
      assert.ok(await waitFor(() => transport.stats().totals.idle === 0));
      transport.closeIdleConnections();
      fs.closeIdleAfter(null);
      await (await client.request(fs.url('/ok'))).text();
      assert.equal(fs.connections, 2);
      await assertQuiet(transport);
    },
  );

  it('GO-08 over https: 10 concurrent GETs with maxConnsPerHost 1 make one TLS connection', T, async (t) => {
    const { fs, transport, client } = await setup(
      t,
      { maxConnsPerHost: 1, tls: { ca: CA_CERT } },
      { tls: true },
    );
    const bodies = await Promise.all(
      Array.from({ length: 10 }, () => client.request(fs.url('/ok')).then((r) => r.text())),
    );
    assert.deepEqual(new Set(bodies), new Set(['ok']));
    assert.equal(fs.connections, 1);
    await assertQuiet(transport);
  });

  it('GO-09a: a queued request starts no dial while another dial is in progress', T, async (t) => {
    const g = gatedLookup(0);
    const { fs, transport, client } = await setup(t, {
      maxConnsPerHost: 1,
      disableKeepAlives: true,
      dialer: { lookup: g.lookup },
    });
    const url = `http://dial.test:${fs.port}/ok`;
    const p1 = client.request(url).then((r) => r.text());
    const p2 = client.request(url).then((r) => r.text());
    assert.ok(await waitFor(() => g.gates.length === 1));
    await sleep(50);
    assert.equal(g.calls(), 1, 'one dial in progress, none for the queued request');
    assert.deepEqual(
      { dialing: transport.stats().totals.dialing, waiting: transport.stats().totals.waiting },
      { dialing: 1, waiting: 2 },
    );
    g.gates[0]!();
    assert.equal(await p1, 'ok');
    assert.ok(await waitFor(() => g.gates.length === 2));
    g.gates[1]!();
    assert.equal(await p2, 'ok');
    assert.equal(fs.connections, 2);
    await assertQuiet(transport);
  });

  it(
    'GO-09b: aborting the request whose dial holds the only slot frees it for the next one',
    T,
    async (t) => {
      const g = gatedLookup(0);
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1, dialer: { lookup: g.lookup } });
      const url = `http://dial.test:${fs.port}/ok`;
      const ac = new AbortController();
      const p1 = client.request(url, { signal: ac.signal });
      const p2 = client.request(url).then((r) => r.text());
      assert.ok(await waitFor(() => g.gates.length === 1));
      ac.abort(new Error('user gave up'));
      await assert.rejects(p1, isAbort());
      g.gates[0]!(); // the dial req1 started completes and goes to req2
      assert.equal(await p2, 'ok');
      assert.equal(g.calls(), 1);
      assert.equal(fs.connections, 1);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-10: 64 concurrent POSTs x 30 rounds through maxConnsPerHost 1 succeed and leave no abort listeners behind',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      for (let round = 0; round < 30; round++) {
        const acs = Array.from({ length: 64 }, () => new AbortController());
        const bodies = await Promise.all(
          acs.map((ac, i) =>
            client
              .request(fs.url('/ok'), { method: 'POST', body: `r${round}-${i}`, signal: ac.signal })
              .then((r) => r.text()),
          ),
        );
        assert.equal(bodies.filter((b) => b === 'ok').length, 64);
        for (const ac of acs) assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
        assert.equal(transport.stats().totals.waiting, 0);
      }
      assert.equal(fs.connections, 1);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-07a: 25 concurrent held GETs answered 204, then closeIdleConnections(): every socket closed, nothing left',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      fs.route('/held', async (ex) => {
        await gate;
        await ex.write('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
      });
      const ps = Array.from({ length: 25 }, () => client.request(fs.url('/held')));
      await fs.waitForRequests(25);
      release();
      for (const r of await Promise.all(ps)) assert.equal(r.status, 204);
      assert.ok(await waitFor(() => transport.stats().totals.idle === 25));
      transport.closeIdleConnections();
      for (let id = 1; id <= 25; id++) assert.ok(await clientClosed(fs, id), `socket ${id} closed`);
      assert.equal(transport.stats().totals.idle, 0);
      await assertQuiet(transport);
    },
  );

  it('GO-07d: 500 GETs via 32 workers: every body is its own (no cross-talk)', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/e', (ex) => ex.respond(200, {}, ex.query.get('echo') ?? ''));
    let next = 0;
    const wrong: string[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 500) {
          const i = next++;
          const body = await (await client.request(fs.url(`/e?echo=v${i}`))).text();
          if (body !== `v${i}`) wrong.push(`${i}:${body}`);
        }
      }),
    );
    assert.deepEqual(wrong, []);
    assert.ok(fs.connections <= 32);
    await assertQuiet(transport);
  });

  it(
    'PF-08: with maxIdleConnsPerHost 2, bursts of 8 concurrent GETs churn sockets; with the default they keep 8',
    T,
    async (t) => {
      const run = async (opts: TransportOptions): Promise<number> => {
        const { fs, transport, client } = await setup(t, opts);
        fs.route('/burst', async (ex) => {
          await ex.sleep(20); // all 8 are in flight together and finish together
          await ex.respond(200, {}, 'ok');
        });
        for (let round = 0; round < 5; round++) {
          await Promise.all(
            Array.from({ length: 8 }, async () => (await client.request(fs.url('/burst'))).text()),
          );
          assert.ok(transport.stats().totals.idle <= (opts.maxIdleConnsPerHost ?? 100));
        }
        await assertQuiet(transport);
        return fs.connections;
      };
      const churn = await run({ maxIdleConnsPerHost: 2 });
      const steady = await run({});
      assert.equal(churn, 8 + 4 * 6, 'six of eight sockets are closed after each burst');
      assert.equal(steady, 8);
    },
  );

  it(
    'PF-09: 200 requests through maxConnsPerHost 2, a third aborted at random phases: all settle, stats return to zero',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 2 });
      fs.route('/phased', async (ex) => {
        await ex.sleep(Number(ex.query.get('head') ?? 0));
        await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc');
        await ex.sleep(Number(ex.query.get('body') ?? 0));
        await ex.write('def');
      });
      let seed = 42;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, async (_, i) => {
          const ac = new AbortController();
          if (i % 3 === 0) setTimeout(() => ac.abort(), rnd(60));
          const res = await client.request(fs.url(`/phased?head=${rnd(10)}&body=${rnd(10)}`), {
            signal: ac.signal,
          });
          return res.text();
        }),
      );
      const bad = outcomes.filter(
        (o) => !(o.status === 'fulfilled' ? o.value === 'abcdef' : o.reason instanceof AbortError),
      );
      assert.deepEqual(bad, []);
      assert.ok(outcomes.filter((o) => o.status === 'fulfilled').length >= 133);
      await assertQuiet(transport);
      const started = performance.now();
      assert.equal(await (await client.request(fs.url('/ok'))).text(), 'ok');
      assert.ok(performance.now() - started < 200);
      await assertQuiet(transport);
    },
  );

  it('stats() reports per host key and totals', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    // A body larger than the 64 KiB buffer: a small one would release its connection at once (SPEC §11).
    const res = await client.request(fs.url('/bytes?n=300000'));
    const during = transport.stats();
    const key = `http://127.0.0.1:${fs.port}`;
    assert.deepEqual(during.hosts[key], { active: 1, idle: 0, dialing: 0, waiting: 0 });
    await res.text();
    const after = transport.stats();
    assert.deepEqual(after.hosts[key], { active: 0, idle: 1, dialing: 0, waiting: 0 });
    assert.deepEqual(after.totals, { active: 0, idle: 1, dialing: 0, waiting: 0 });
  });
});

describe('close()', () => {
  it(
    'client.close() rejects queued waiters and new requests with HG_CLOSED; the active request finishes',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      fs.route('/slow', async (ex) => {
        await ex.sleep(150);
        await ex.respond(200, {}, 'finished');
      });
      const active = client.request(fs.url('/slow'));
      const queued = [1, 2, 3].map(() => client.request(fs.url('/ok')));
      await fs.waitForRequests(1);
      assert.equal(transport.stats().totals.waiting, 3);
      await client.close();
      for (const q of queued) await assert.rejects(q, isClosedErr);
      await assert.rejects(client.request(fs.url('/ok')), isClosedErr);
      assert.equal(await (await active).text(), 'finished');
      assert.equal(fs.requests.length, 1);
      await assertQuiet(transport);
      assert.equal(transport.stats().totals.idle, 0, 'the finished connection is closed, not pooled');
      assert.ok(await clientClosed(fs, 1));
    },
  );

  it('transport.close() makes every client using it fail with HG_CLOSED', T, async (t) => {
    const { fs, transport } = await setup(t);
    const other = new Client({ transport });
    await (await other.request(fs.url('/ok'))).text();
    transport.close();
    await assert.rejects(other.request(fs.url('/ok')), isClosedErr);
    assert.ok(await clientClosed(fs, 1), 'idle connections closed');
    await assertQuiet(transport);
  });
});

describe('aborts and timeouts kill the exchange', () => {
  it(
    'GO-16a: an overall timeout before headers closes the socket promptly (server sees EOF)',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const err = await client.request(fs.url('/never'), { timeout: 150 }).then(
        () => assert.fail('expected a timeout'),
        (e: unknown) => e,
      );
      assert.ok(timeoutIn('request')(err));
      const at = performance.now();
      assert.ok(await clientClosed(fs, 1, 1000));
      assert.ok(performance.now() - at < 200);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-16b: an abort after headers (Content-Length 100, 3 bytes sent) closes the socket promptly',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const ac = new AbortController();
      const res = await client.request(fs.url('/stall-body?after=3&length=100'), { signal: ac.signal });
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(((await it.next()).value as Buffer).length, 3);
      const reason = new Error('stop');
      ac.abort(reason);
      await assert.rejects(async () => {
        await it.next();
      }, isAbort(reason));
      assert.ok(await clientClosed(fs, 1, 500));
      await assertQuiet(transport);
      assert.equal(transport.stats().totals.idle, 0);
    },
  );

  it(
    'GO-16: a responseHeaderTimeout closes the socket (never pooled) and the next request dials anew',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 100 });
      await assert.rejects(client.request(fs.url('/never')), timeoutIn('response-headers'));
      assert.ok(await clientClosed(fs, 1, 500));
      const res = await client.request(fs.url('/ok'));
      assert.equal(await res.text(), 'ok');
      assert.equal(res.reused, false);
      await assertQuiet(transport);
    },
  );

  it('GO-11a: aborting the second user of a pooled socket fails only that request', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxIdleConns: 1, maxConnsPerHost: 1 });
    const r1 = await client.request(fs.url('/ok'));
    assert.equal(await r1.text(), 'ok');
    const ac = new AbortController();
    const p2 = client.request(fs.url('/never'), { signal: ac.signal });
    await fs.waitForRequests(2);
    ac.abort();
    await assert.rejects(p2, isAbort());
    assert.equal(r1.status, 200);
    const r3 = await client.request(fs.url('/ok'));
    assert.equal(await r3.text(), 'ok');
    await assertQuiet(transport);
  });

  it(
    'GO-11b: an abort after the body was fully read never affects the next user of the socket',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      for (let i = 0; i < 20; i++) {
        const ac = new AbortController();
        const r1 = await client.request(fs.url('/ok'), { signal: ac.signal });
        assert.equal(await r1.text(), 'ok');
        const p2 = client.request(fs.url('/delay-headers?ms=20'));
        ac.abort(); // late: r1 is finished
        const r2 = await p2;
        assert.equal(await r2.text(), 'ok');
      }
      assert.equal(fs.connections, 1);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-11b: an overall timeout expiring after the body was read never affects the next user',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      const r1 = await client.request(fs.url('/ok'), { timeout: 80 });
      assert.equal(await r1.text(), 'ok');
      const r2 = await client.request(fs.url('/delay-headers?ms=200'));
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, true);
      await assertQuiet(transport);
    },
  );

  it('GO-18a: an abort mid-body fails the next read with AbortError and no spurious bytes', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/hello', async (ex) => {
      await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHello');
      await ex.stall();
    });
    const ac = new AbortController();
    const res = await client.request(fs.url('/hello'), { signal: ac.signal });
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(String((await it.next()).value), 'Hello');
    ac.abort();
    await assert.rejects(async () => {
      const r = await it.next();
      assert.fail(`got ${String(r.value)}`);
    }, isAbort());
    await assertQuiet(transport);
  });

  it('GO-18c: an abort racing with the start of the request is AbortError', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const p = client.request(fs.url('/delay-headers?ms=50'), { signal: ac.signal });
      if (i % 2 === 0) ac.abort();
      else queueMicrotask(() => ac.abort());
      await assert.rejects(p, isAbort());
    }
    await assertQuiet(transport);
  });

  it(
    'GO-07c: closeIdleConnections() called mid-request leaves the in-flight request intact',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      await (await client.request(fs.url('/ok'))).text();
      fs.route('/mid', async (ex) => {
        transport.closeIdleConnections();
        await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello');
        await ex.sleep(30);
        transport.closeIdleConnections();
        await ex.write('world');
      });
      const res = await client.request(fs.url('/mid'));
      assert.equal(await res.text(), 'helloworld');
      assert.equal(transport.stats().totals.idle, 1);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-18d / UN-17: an already-aborted signal fails at once without dialing; cause is the reason',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const reason = new Error('already');
      await assert.rejects(
        client.request(fs.url('/ok'), { signal: AbortSignal.abort(reason) }),
        isAbort(reason),
      );
      assert.equal(fs.connections, 0);
      await assertQuiet(transport);
    },
  );

  it('UN-17: an abort while dialing fails with AbortError and cancels the dial', T, async (t) => {
    const g = gatedLookup(0);
    const { fs, transport, client } = await setup(t, { dialer: { lookup: g.lookup } });
    const ac = new AbortController();
    const p = client.request(`http://dial.test:${fs.port}/ok`, { signal: ac.signal });
    assert.ok(await waitFor(() => g.gates.length === 1));
    const reason = new Error('dial abort');
    ac.abort(reason);
    await assert.rejects(p, isAbort(reason));
    for (const go of g.gates) go();
    await sleep(50);
    assert.equal(fs.connections, 0, 'the cancelled dial never connected');
    await assertQuiet(transport);
  });

  it(
    'UN-17: an abort after the headers were written (no answer) is AbortError; the socket closes',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const ac = new AbortController();
      const p = client.request(fs.url('/never'), { signal: ac.signal });
      await fs.waitForRequests(1);
      ac.abort('plain reason');
      await assert.rejects(p, isAbort('plain reason'));
      assert.ok(await clientClosed(fs, 1, 500));
      await assertQuiet(transport);
    },
  );

  it(
    'UN-17: an abort while the request body is being written is AbortError; the body stream is closed',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      fs.route('/upload', (ex) => ex.stall(), { readBody: false });
      const body = new Readable({ read() {} });
      body.push('first part');
      const ac = new AbortController();
      const p = client.request(fs.url('/upload'), { method: 'POST', body, signal: ac.signal });
      await fs.waitForRequests(1);
      ac.abort();
      await assert.rejects(p, isAbort());
      assert.ok(await waitFor(() => body.destroyed, 500), 'the request body is destroyed');
      assert.ok(await clientClosed(fs, 1, 500));
      await assertQuiet(transport);
    },
  );

  it('UN-17: an abort does not affect other queued requests', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 1 });
    const ac = new AbortController();
    const p1 = client.request(fs.url('/never'), { signal: ac.signal });
    const p2 = client.request(fs.url('/ok')).then((r) => r.text());
    const ac3 = new AbortController();
    const p3 = client.request(fs.url('/ok'), { signal: ac3.signal });
    const p4 = client.request(fs.url('/ok')).then((r) => r.text());
    await fs.waitForRequests(1);
    ac3.abort(); // queued: leaves the queue
    ac.abort(); // active
    await assert.rejects(p1, isAbort());
    await assert.rejects(p3, isAbort());
    assert.deepEqual(await Promise.all([p2, p4]), ['ok', 'ok']);
    await assertQuiet(transport);
  });

  it('UN-04a: with every timeout disabled a slow answer succeeds', T, async (t) => {
    const { fs, transport, client } = await setup(t, {
      responseHeaderTimeout: 0,
      readIdleTimeout: 0,
      dialTimeout: 0,
      writeTimeout: 0,
    });
    const res = await client.request(fs.url('/delay-headers?ms=600'));
    assert.equal(await res.text(), 'ok');
    await assertQuiet(transport);
  });

  it(
    'UN-04b: a 102 Processing neither completes nor breaks a request; all timeouts disabled',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 0, readIdleTimeout: 0 });
      const seen: number[] = [];
      const res = await client.request(fs.url('/1xx?codes=102&delay=500'), {
        trace: { got1xxResponse: ({ status }) => seen.push(status) },
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
      assert.deepEqual(seen, [102]);
      await assertQuiet(transport);
    },
  );

  it('UN-04b: a 1xx does not stop the response-header clock', T, async (t) => {
    const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 200 });
    await assert.rejects(client.request(fs.url('/1xx?codes=102&delay=600')), timeoutIn('response-headers'));
    await assertQuiet(transport);
  });

  it(
    'UN-04c: the first request times out, the second to the same origin succeeds on a new socket',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 300, maxConnsPerHost: 1 });
      const p1 = client.request(fs.url('/never'));
      const p2 = client.request(fs.url('/ok'));
      await assert.rejects(p1, timeoutIn('response-headers'));
      const r2 = await p2;
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, false);
      assert.equal(fs.connections, 2);
      assert.ok(await clientClosed(fs, 1));
      await assertQuiet(transport);
    },
  );
});

describe('responses without a body (GO-20)', () => {
  for (const [name, raw] of [
    ['Content-Length: 123', 'HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n'],
    ['no length', 'HTTP/1.1 200 OK\r\nX-None: 1\r\n\r\n'],
    ['Transfer-Encoding: chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ] as const) {
    it(
      `GO-20a: HEAD answered with ${name}: empty body, headers kept, one socket for two HEADs`,
      T,
      async (t) => {
        const { fs, transport, client } = await setup(t);
        fs.route('/head', (ex) => ex.write(raw));
        for (let i = 0; i < 2; i++) {
          const res = await client.request(fs.url('/head'), { method: 'HEAD' });
          if (name === 'Content-Length: 123') assert.equal(res.headers['content-length'], '123');
          assert.equal((await res.bytes()).length, 0);
        }
        assert.equal(fs.connections, 1);
        await assertQuiet(transport);
      },
    );
  }

  it('GO-20b: eight 204s, read or not, all succeed on one socket', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    for (let i = 0; i < 8; i++) {
      const res = await client.request(fs.url('/status/204'));
      assert.equal(res.status, 204);
      if (i % 2 === 0) assert.equal(await res.text(), '');
    }
    assert.equal(fs.connections, 1);
    await assertQuiet(transport);
  });

  it(
    'GO-20c: a 304 with Transfer-Encoding: chunked has no body; the stray 0\\r\\n\\r\\n is not body and the socket is not reused',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      fs.route('/304', (ex) =>
        ex.write('HTTP/1.1 304 NOT MODIFIED\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
      );
      const res = await client.request(fs.url('/304'));
      assert.equal(res.status, 304);
      assert.equal(await res.text(), '');
      const next = await client.request(fs.url('/ok'));
      assert.equal(await next.text(), 'ok');
      assert.equal(fs.connections, 2);
      await assertQuiet(transport);
    },
  );

  it('MF-23: a 304 with Content-Length has no body and the socket stays in sync', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/304', (ex) => ex.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n'));
    const a = await client.request(fs.url('/304'));
    assert.equal(await a.text(), '');
    const b = await client.request(fs.url('/ok'));
    assert.equal(await b.text(), 'ok');
    assert.equal(b.reused, true);
    await assertQuiet(transport);
  });
});

describe('header limits (GO-42)', () => {
  it(
    'GO-42: a 1 MiB header against maxResponseHeaderBytes 512 KiB is headers-too-large; the next request works',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxResponseHeaderBytes: 512 * 1024 });
      fs.route('/long', (ex) =>
        ex.write(`HTTP/1.1 200 OK\r\nLong: ${'a'.repeat(1024 * 1024)}\r\nContent-Length: 0\r\n\r\n`),
      );
      await assert.rejects(client.request(fs.url('/long')), reasonIs('headers-too-large'));
      const res = await client.request(fs.url('/ok'));
      assert.equal(await res.text(), 'ok');
      assert.equal(res.reused, false);
      await assertQuiet(transport);
    },
  );

  it('the default limit (64 KiB) rejects a 100 KiB head and accepts a 60 KiB one', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/h', (ex) => {
      const n = Number(ex.query.get('n'));
      return ex.write(`HTTP/1.1 200 OK\r\nBig: ${'b'.repeat(n)}\r\nContent-Length: 2\r\n\r\nok`);
    });
    await assert.rejects(client.request(fs.url(`/h?n=${100 * 1024}`)), reasonIs('headers-too-large'));
    const res = await client.request(fs.url(`/h?n=${60 * 1024}`));
    assert.equal(await res.text(), 'ok');
    await assertQuiet(transport);
  });
});

describe('per-host TLS', () => {
  it('tls as a function is called with (host, port) and its options are used', T, async (t) => {
    const fs = await FaultServer.start({ tls: true });
    const calls: [string, number][] = [];
    const opts: tls.ConnectionOptions = { ca: fs.ca };
    const { transport, client } = clientFor(
      t,
      {
        tls: (host, port) => {
          calls.push([host, port]);
          return opts;
        },
      },
      fs,
    );
    const res = await client.request(`https://localhost:${fs.port}/ok`);
    assert.equal(await res.text(), 'ok');
    assert.deepEqual(calls[0], ['localhost', fs.port]);
    const again = await client.request(`https://localhost:${fs.port}/ok`);
    assert.equal(await again.text(), 'ok');
    assert.equal(again.reused, true);
    assert.equal(fs.connections, 1);
    await assertQuiet(transport);
  });

  it('a tls function choosing a CA per host: the right host verifies, another is rejected', T, async (t) => {
    const fs = await FaultServer.start({ tls: true });
    const { transport, client } = clientFor(
      t,
      { tls: (host) => (host === 'localhost' ? { ca: fs.ca } : {}) },
      fs,
    );
    assert.equal(await (await client.request(`https://localhost:${fs.port}/ok`)).text(), 'ok');
    await assert.rejects(client.request(`https://127.0.0.1:${fs.port}/ok`), (e: unknown) => {
      assert.ok(e instanceof HourglassError, String(e));
      assert.equal(e.name, 'ConnectError');
      return true;
    });
    await assertQuiet(transport);
  });

  it('certsDir with a client certificate completes mTLS against a server requiring one', T, async (t) => {
    const fs = await FaultServer.start({ tls: { clientAuth: 'require' } });
    const dir = await mkdtemp(join(tmpdir(), 'hg-certs-'));
    await writeCertsDir(dir, `localhost:${fs.port}`);
    const { transport, client } = clientFor(t, { tls: certsDir(dir) }, fs);
    t.after(() => rm(dir, { recursive: true, force: true }));
    const res = await client.request(`https://localhost:${fs.port}/ok`);
    assert.equal(await res.text(), 'ok');
    assert.deepEqual(fs.requests[0]!.clientCert, { subjectCN: 'hourglass test client', authorized: true });
    await assertQuiet(transport);
  });

  it('without a client certificate the mTLS server refuses the request', T, async (t) => {
    const fs = await FaultServer.start({ tls: { clientAuth: 'require' } });
    const { transport, client } = clientFor(t, { tls: { ca: fs.ca } }, fs);
    await assert.rejects(
      (async () => {
        const res = await client.request(`https://localhost:${fs.port}/ok`);
        await res.text();
      })(),
      (e: unknown) => e instanceof HourglassError,
    );
    assert.equal(fs.requests.length, 0);
    await assertQuiet(transport);
  });

  it(
    'certsDir: a host:port entry applies only to that port; a bare host entry applies to every port',
    T,
    async (t) => {
      const fs = await FaultServer.start({ tls: { clientAuth: 'require' } });
      const dir = await mkdtemp(join(tmpdir(), 'hg-certs-'));
      await writeCertsDir(dir, `localhost:${fs.port + 1}`); // another port: no match
      const { transport, client } = clientFor(t, { tls: certsDir(dir) }, fs);
      t.after(() => rm(dir, { recursive: true, force: true }));
      await assert.rejects(
        client.request(`https://localhost:${fs.port}/ok`),
        (e: unknown) => e instanceof HourglassError,
      );
      await writeCertsDir(dir, 'localhost');
      const t2 = new Transport({ tls: certsDir(dir) });
      const c2 = new Client({ transport: t2 });
      t.after(() => c2.close());
      assert.equal(await (await c2.request(`https://localhost:${fs.port}/ok`)).text(), 'ok');
      await assertQuiet(transport);
      await assertQuiet(t2);
    },
  );

  it(
    'pools are keyed by TLS options: different options per request never share a connection',
    T,
    async (t) => {
      const fs = await FaultServer.start({ tls: true });
      let n = 0;
      const { transport, client } = clientFor(
        t,
        { tls: () => ({ ca: fs.ca, ciphers: n++ % 2 === 0 ? 'DEFAULT' : 'HIGH' }) },
        fs,
      );
      for (let i = 0; i < 4; i++) await (await client.request(`https://localhost:${fs.port}/ok`)).text();
      assert.equal(fs.connections, 2);
      assert.equal(Object.keys(transport.stats().hosts).length, 2);
      await assertQuiet(transport);
    },
  );
});
