// Per-stream cost of the HTTP/2 client, counted rather than benchmarked (issue #16): the
// listeners a stream attaches (seven; 'continue' only with Expect: 100-continue; an
// upload adds 'drain' only), the timers it arms (none of its own: its PhaseClock runs on
// the session's SharedTimer, one for all the streams), and a response
// head converted once, in the pass that checks it (h2/head.ts readFields = what headersObject(rawPairs(h)) made).
// Also: a 100 Continue arriving after expectContinueTimeout already sent the body does
// not start the body a second time.
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { before, describe, it } from 'node:test';
import { readFields } from '../../src/h2/head.js';
import { headersObject } from '../../src/http1/headers.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };
/** The reference the one-pass conversion is checked against: a block's name/value pairs, pseudo-headers left out. */
function rawPairs(h: http2.IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) raw.push(name, one);
    else raw.push(name, String(v));
  }
  return raw;
}

const EVENTS = ['headers', 'continue', 'response', 'data', 'trailers', 'end', 'error', 'close', 'drain'];

/** Captures every ClientHttp2Stream that `ClientHttp2Session#request` returns while `fn` runs. */
async function capturingStreams<R>(fn: (streams: http2.ClientHttp2Stream[]) => Promise<R>): Promise<R> {
  const probe = http2.connect('http://127.0.0.1:1');
  probe.on('error', () => {});
  const proto = Object.getPrototypeOf(probe) as { request: (...a: unknown[]) => http2.ClientHttp2Stream };
  probe.destroy();
  const original = proto.request;
  const streams: http2.ClientHttp2Stream[] = [];
  proto.request = function (this: unknown, ...args: unknown[]) {
    const s = original.apply(this, args);
    streams.push(s);
    return s;
  };
  try {
    return await fn(streams);
  } finally {
    proto.request = original;
  }
}

/** Listeners per event on `s` beyond node's own (`base`), for the events hourglass may listen to. */
function listeners(s: http2.ClientHttp2Stream, base: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of EVENTS) {
    const n = s.listenerCount(e) - (base[e] ?? 0);
    if (n > 0) out[e] = n;
  }
  return out;
}

/**
 * Counts live timers of `ms` ≥ `min` armed while `fn` runs (LongTimer calls the global
 * setTimeout; unref'd timers are not in process.getActiveResourcesInfo()).
 */
async function countingTimers<R>(min: number, fn: (live: () => number, armed: () => number) => Promise<R>): Promise<R> {
  const set = globalThis.setTimeout;
  const clear = globalThis.clearTimeout;
  const live = new Set<unknown>();
  let armed = 0;
  globalThis.setTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
    const t: NodeJS.Timeout = set(
      (...a: unknown[]) => {
        live.delete(t);
        cb(...a);
      },
      ms,
      ...rest,
    );
    if ((ms ?? 0) >= min) {
      live.add(t);
      armed++;
    }
    return t;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t?: NodeJS.Timeout | string | number) => {
    live.delete(t);
    clear(t);
  }) as typeof clearTimeout;
  try {
    return await fn(
      () => live.size,
      () => armed,
    );
  } finally {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
  }
}

/** Listeners node itself puts on a client stream for these events (subtracted). */
async function nodeBaseline(): Promise<Record<string, number>> {
  const server = http2.createServer((_req, res) => res.end());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const s = session.request({ ':path': '/' });
  const out: Record<string, number> = {};
  for (const e of EVENTS) out[e] = s.listenerCount(e);
  s.on('error', () => {});
  await new Promise<void>((res) => {
    s.on('close', () => res());
    s.resume();
  });
  session.destroy();
  await new Promise<void>((res) => server.close(() => res()));
  return out;
}

/** A route `/hold` that answers once `release()` is called (no server-side timer per stream). */
function holdRoute(fs: Awaited<ReturnType<typeof rig>>['fs']): () => void {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  fs.h2Route('/hold', async (s) => {
    await s.readBody();
    await held;
    await s.respond(200, {}, 'ok');
  });
  return () => release();
}

describe('h2 per-stream cost (counted)', () => {
  let baseline: Record<string, number> = {};
  before(async () => {
    baseline = await nodeBaseline();
  });
  it('a GET: seven listeners (no continue); one timer for all the streams in flight, not one each', T, async () => {
    const r = await rig();
    try {
      const release = holdRoute(r.fs);
      await capturingStreams(async (streams) => {
        // Long timers (the 300 s defaults; the session's own are 50 ms and 30 s): one for all
        // four streams (it was one per stream before the shared timer), and the one the
        // first request armed: it stays armed after that stream ended, and the streams
        // after it, due later, need no other.
        const pending = await countingTimers(100_000, async (live, armed) => {
          ok(await settle(r.client, r.fs.url('/ok'))); // the connection and its session timers exist
          streams.length = 0;
          const p = [1, 2, 3, 4].map(() => settle(r.client, r.fs.url('/hold')));
          await new Promise((res) => setTimeout(res, 80));
          assert.equal(streams.length, 4);
          assert.equal(live(), 1, 'the streams share one timer');
          assert.equal(armed(), 1, 'and it was armed once');
          return p;
        });
        release();
        for (const s of streams) {
          assert.deepEqual(listeners(s, baseline), { headers: 1, response: 1, data: 1, trailers: 1, end: 1, error: 1, close: 1 });
        }
        for (const p of pending) ok(await p);
      });
    } finally {
      await r.close();
    }
  });

  it('requests one after another on one connection arm no timer each (the last stream ending leaves the shared timer armed)', T, async () => {
    const r = await rig();
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      await countingTimers(100_000, async (_live, armed) => {
        for (let i = 0; i < 20; i++) ok(await settle(r.client, r.fs.url('/ok')));
        assert.ok(armed() <= 1, `20 requests in a row armed ${armed()} long timers`);
      });
    } finally {
      await r.close();
    }
  });

  it('small bodies read whole in the turn of their head cost no FinalizationRegistry cell; a body still open at the turn\'s end is watched', T, async () => {
    const r = await rig();
    const proto = FinalizationRegistry.prototype as { register: (...a: unknown[]) => void };
    const register = proto.register;
    let cells = 0;
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      proto.register = function (this: unknown, ...a: unknown[]) {
        cells++;
        return register.apply(this, a);
      };
      for (let i = 0; i < 20; i++) ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(cells, 0, `${cells} cells for 20 small bodies`);
      const res = await r.client.request(r.fs.url('/stall-body?after=3&length=10'));
      await new Promise((done) => setImmediate(done));
      assert.equal(cells, 1, 'the stalled body is watched');
      await res.dump(0, 0);
    } finally {
      proto.register = register;
      await r.close();
    }
  });

  it('a PUT: the upload adds no listener (it waits on its pieces\' write callbacks); with Expect: 100-continue a continue listener', T, async () => {
    const r = await rig();
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const release = holdRoute(r.fs);
      await capturingStreams(async (streams) => {
        const a = settle(r.client, r.fs.url('/hold'), { method: 'PUT', body: 'x'.repeat(100) });
        const b = settle(r.client, r.fs.url('/hold'), { method: 'PUT', body: 'x'.repeat(100), headers: { expect: '100-continue' }, timeouts: { expectContinueTimeout: 0 } });
        await new Promise((res) => setTimeout(res, 80));
        assert.equal(streams.length, 2);
        const base = { headers: 1, response: 1, data: 1, trailers: 1, end: 1, error: 1, close: 1 };
        assert.deepEqual(listeners(streams[0]!, baseline), base);
        assert.deepEqual(listeners(streams[1]!, baseline), { ...base, continue: 1 });
        release();
        ok(await a);
        ok(await b);
      });
    } finally {
      await r.close();
    }
  });

  it('a 100 Continue after expectContinueTimeout sent the body does not start it again', T, async () => {
    const r = await rig({ h2: true }, { expectContinueTimeout: 30 });
    try {
      r.fs.h2Route('/late100', async (s) => {
        const body = await s.readBody();
        await s.headers(100);
        await s.sleep(30);
        await s.respond(200, {}, `n=${body.length}`);
      });
      const g = await settle(r.client, r.fs.url('/late100'), { method: 'POST', body: 'y'.repeat(1000), headers: { expect: '100-continue' } });
      assert.equal(ok(g), 'n=1000');
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('a response head is converted once, as headersObject(rawPairs(h)) made it', () => {
    const blocks: http2.IncomingHttpHeaders[] = [
      { ':status': 200, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-joined': 'p, q', age: '3' } as unknown as http2.IncomingHttpHeaders,
      { ':status': 204 } as unknown as http2.IncomingHttpHeaders,
      { 'set-cookie': 'single=1' } as unknown as http2.IncomingHttpHeaders,
      { 'x-list': ['one', 'two'], 'x-num': 5 } as unknown as http2.IncomingHttpHeaders,
    ];
    for (const h of blocks) {
      for (const check of [undefined, { maxBytes: 65_536, trailers: false }]) {
        const raw: string[] = [];
        const flat = Object.entries(h).flatMap(([n, v]) => (Array.isArray(v) ? v : [v]).flatMap((one) => [n, String(one)]));
        const got = check === undefined ? readFields(flat, raw) : readFields(flat, raw, check);
        assert.deepEqual(raw, rawPairs(h));
        assert.deepEqual({ ...got }, { ...headersObject(rawPairs(h)) });
        assert.equal(Object.getPrototypeOf(got), null);
      }
    }
  });
});
