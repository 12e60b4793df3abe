// A reused HTTP/1.1 connection delivers its request's callbacks in that request's async
// context (adv-otel4 F9, issue #17). A connection opened under context A and reused by
// request B must run B's body 'data'/'end' handlers, trace hooks and diagnostics-channel
// subscribers with B's AsyncLocalStorage store, as node:http's keep-alive Agent does, so a
// request made from there (pagination, fan-out) carries B's trace, never A's. A request
// whose connection was dialed for another caller is covered the same way.
import * as assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as diagnostics from 'node:diagnostics_channel';
import type { LookupFunction } from 'node:net';
import { test } from 'node:test';
import type { Response } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { clientFor } from './helpers/setup.js';

const T = { timeout: 10_000 };
const als = new AsyncLocalStorage<string>();

/** Resolves with the phase (or message) of `res.body`'s error; `seen` gets the async context its listeners ran in. */
function bodyFailure(res: Response, seen: Set<string | undefined>, withClose = false): Promise<string> {
  return new Promise<string>((resolve) => {
    res.body.on('data', () => {});
    res.body.on('error', (e: Error & { phase?: string }) => {
      seen.add(als.getStore());
      resolve(e.phase ?? e.message);
    });
    if (withClose) res.body.on('close', () => seen.add(als.getStore()));
  });
}
const CHANNELS = ['hourglass:wire:start', 'hourglass:wire:headers', 'hourglass:wire:end', 'hourglass:request:end', 'hourglass:connection:idle'];

for (const tls of [false, true]) {
  const scheme = tls ? 'https' : 'http';
  test(`${scheme}: callbacks of a request on a reused connection run in that request's context`, T, async (t) => {
    const fs = await FaultServer.start({ tls });
    const { client } = clientFor(t, tls ? { tls: { ca: fs.ca } } : {}, fs);
    // A opens the connection and leaves it idle in the pool.
    await als.run('A', async () => {
      const r = await client.request(fs.url('/ok'));
      await r.text();
    });

    const seen = new Map<string, Set<string | undefined>>();
    const note = (where: string): void => {
      let s = seen.get(where);
      if (s === undefined) seen.set(where, (s = new Set()));
      s.add(als.getStore());
    };
    const subs = CHANNELS.map((name) => {
      const fn = (): void => note(name);
      diagnostics.subscribe(name, fn);
      return [name, fn] as const;
    });
    t.after(() => {
      for (const [name, fn] of subs) diagnostics.unsubscribe(name, fn);
    });

    const followUp = await als.run('B', async () => {
      const res = await client.request(fs.url('/drip?bytes=6&interval=20&chunk=2'), {
        trace: {
          gotConn: () => note('gotConn'),
          wroteRequest: () => note('wroteRequest'),
          gotFirstResponseByte: () => note('gotFirstResponseByte'),
        },
      });
      assert.equal(res.reused, true, 'B reuses the connection A opened');
      // The follow-up starts from the body's 'end' handler, as pagination code does.
      return new Promise<string | undefined>((resolve, reject) => {
        res.body.on('data', () => note('data'));
        res.body.on('error', reject);
        res.body.on('end', () => {
          note('end');
          resolve(als.getStore());
        });
      });
    });
    assert.equal(followUp, 'B');

    for (const [where, stores] of seen) assert.deepEqual([...stores], ['B'], `${where} ran under ${[...stores].join(', ')}`);
    for (const where of ['data', 'end', 'gotFirstResponseByte', 'hourglass:wire:end', 'hourglass:request:end', 'hourglass:connection:idle']) {
      assert.ok(seen.has(where), `${where} was observed`);
    }
  });
}

test('a connection dialed for one caller and handed to another runs the taker\'s callbacks in its context', T, async (t) => {
  const fs = await FaultServer.start();
  const { client } = clientFor(t, { maxConnsPerHost: 1 }, fs);
  // A holds the only connection; B queues for it and gets it when A's body ends.
  const a = await als.run('A', () => client.request(fs.url('/drip?bytes=4&interval=30&chunk=2')));
  const b = als.run('B', () => client.request(fs.url('/drip?bytes=4&interval=20&chunk=2')));
  await a.text();
  const res = await b;
  assert.equal(res.reused, true);
  const stores = await new Promise<Set<string | undefined>>((resolve, reject) => {
    const s = new Set<string | undefined>();
    res.body.on('data', () => s.add(als.getStore()));
    res.body.on('error', reject);
    res.body.on('end', () => resolve(s.add(als.getStore())));
  });
  assert.deepEqual([...stores], ['B']);
});

test('a timeout of a request on a reused connection is delivered in that request\'s context', T, async (t) => {
  const fs = await FaultServer.start();
  const { client } = clientFor(t, { readIdleTimeout: 150 }, fs);
  await als.run('A', async () => {
    const r = await client.request(fs.url('/ok'));
    await r.text();
  });
  const where = await als.run('B', async () => {
    // Two bytes, then silence: read-idle fires while B's body is being read.
    const res = await client.request(fs.url('/drip?bytes=8&interval=2000&chunk=2'));
    assert.equal(res.reused, true);
    return new Promise<string | undefined>((resolve) => {
      res.body.on('data', () => {});
      res.body.on('error', () => resolve(als.getStore()));
      res.body.on('end', () => resolve('ended'));
    });
  });
  assert.equal(where, 'B');
});

test('a dial a queued request starts after another request\'s dial failed runs its hooks in its own context', T, async (t) => {
  const fs = await FaultServer.start();
  let lookups = 0;
  // The first lookup fails (after 60 ms, while B waits behind maxConnsPerHost 1), the rest answer.
  const lookup: LookupFunction = (_h, _o, cb) => {
    setTimeout(() => (lookups++ === 0 ? cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }), []) : cb(null, [{ address: '127.0.0.1', family: 4 }])), 60);
  };
  const { client } = clientFor(t, { maxConnsPerHost: 1, dialer: { lookup } }, fs);
  const url = `http://lh.test:${fs.port}/ok`;
  const a = als.run('A', () => client.request(url)).then(() => 'ok', (e: { code?: string }) => e.code);
  await new Promise((r) => setTimeout(r, 20));
  const seen = new Set<string | undefined>();
  const note = (): void => void seen.add(als.getStore());
  const res = await als.run('B', () =>
    client.request(url, { trace: { dnsStart: note, dnsDone: note, connectStart: note, connectDone: note, gotConn: note } }),
  );
  await res.text();
  assert.equal(await a, 'ENOTFOUND');
  assert.deepEqual([...seen], ['B']);
});

test('HTTP/2: a connection that dies under a stream fails it in that stream\'s context (adv-otel5 N7)', T, async (t) => {
  const fs = await FaultServer.start({ h2: true });
  const { client } = clientFor(t, { tls: { ca: fs.ca }, h2: { pingInterval: 100, pingTimeout: 150 } }, fs);
  await als.run('A', async () => {
    const r = await client.request(fs.url('/ok'));
    await r.text();
  });
  const res = await als.run('B', () => client.request(fs.url('/drip?bytes=20&interval=50&chunk=1')));
  assert.equal(res.reused, true);
  const seen = new Set<string | undefined>();
  const failed = bodyFailure(res, seen, true);
  // C silences the whole connection: the PING goes unanswered and every stream fails.
  void als.run('C', () => client.request(fs.url('/h2/dead')).catch(() => undefined));
  assert.equal(await failed, 'h2-ping');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([...seen], ['B']);
});

test('HTTP/2: a stream timeout fires in that stream\'s context although its connection\'s streams share one timer another request armed', T, async (t) => {
  const fs = await FaultServer.start({ h2: true });
  const { client } = clientFor(t, { tls: { ca: fs.ca } }, fs);
  await als.run('W', async () => {
    const r = await client.request(fs.url('/ok'));
    await r.text();
  });
  // A arms the connection's shared timer (its header timeout is the earliest); B's read-idle
  // comes due later, when the timer runs again after firing for A.
  const a = als.run('A', () => client.request(fs.url('/never'), { timeouts: { responseHeaderTimeout: 100 } })).catch((e: Error & { phase?: string }) => e.phase);
  const res = await als.run('B', () => client.request(fs.url('/drip?bytes=40&interval=2000&chunk=2'), { timeouts: { readIdleTimeout: 300 } }));
  const seen = new Set<string | undefined>();
  const failed = bodyFailure(res, seen);
  assert.equal(await a, 'response-headers');
  assert.equal(await failed, 'read-idle');
  assert.deepEqual([...seen], ['B']);
});

for (const h2 of [false, true]) {
  const proto = h2 ? 'HTTP/2' : 'HTTP/1.1';
  test(`${proto}: an abort from another context, and an overall timeout, fail the body in the request's own context`, T, async (t) => {
    const fs = await FaultServer.start(h2 ? { h2: true } : {});
    const { client } = clientFor(t, h2 ? { tls: { ca: fs.ca } } : {}, fs);
    await als.run('A', async () => (await client.request(fs.url('/ok'))).text());
    const bodyError = (res: { body: NodeJS.ReadableStream }): Promise<string | undefined> =>
      new Promise((resolve) => {
        res.body.on('data', () => {});
        res.body.on('error', () => resolve(als.getStore()));
      });
    // Aborted by code running in C.
    const ac = new AbortController();
    let aborted: Promise<string | undefined> | undefined;
    await als.run('B', async () => {
      const res = await client.request(fs.url('/drip?bytes=20&interval=100&chunk=1'), { signal: ac.signal });
      aborted = bodyError(res);
    });
    // The overall timeout: the budgets' shared timer fires it.
    let timedOut: Promise<string | undefined> | undefined;
    await als.run('D', async () => {
      const res = await client.request(fs.url('/drip?bytes=20&interval=100&chunk=1'), { timeout: 250 });
      timedOut = bodyError(res);
    });
    setTimeout(() => als.run('C', () => ac.abort()), 150);
    assert.equal(await aborted, 'B');
    assert.equal(await timedOut, 'D');
  });
}
