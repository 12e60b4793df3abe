// Adversarial suite, durations beyond Node's timer range (issue 13, item 11; SPEC §11
// "Timeouts"): every duration up to Number.MAX_SAFE_INTEGER ms means what it says (a
// setTimeout above 2^31−1 ms would fire after ~1 ms with a TimeoutOverflowWarning);
// Infinity and 0 disable; anything else is HG_INVALID_ARG. Healthy loopback servers only;
// every test is bounded in seconds.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import type { TestContext } from 'node:test';
import { after, beforeEach, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { AbortError, Client, Dialer, Transport, type TransportOptions } from '../../src/index.js';
import { Budget, LongTimer, sleep as budgetSleep } from '../../src/deadline.js';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from '../../src/testing/certs.js';
import { rejection, sleep } from '../helpers/setup.js';

const HUGE = 1e12;
const TOO_BIG = Number.MAX_SAFE_INTEGER + 1;
const isInvalidArg = (e: unknown): boolean => (e as { code?: string }).code === 'HG_INVALID_ARG';

const overflowWarnings: Error[] = [];
const onWarning = (w: Error): void => {
  if (w.name === 'TimeoutOverflowWarning') overflowWarnings.push(w);
};
process.on('warning', onWarning);
after(() => process.off('warning', onWarning));
beforeEach(() => {
  overflowWarnings.length = 0;
});

/** Lets queued process warnings be emitted, then asserts none was a timer overflow. */
async function assertNoOverflowWarning(): Promise<void> {
  await sleep(10);
  assert.equal(overflowWarnings.length, 0, `TimeoutOverflowWarning: ${overflowWarnings[0]?.message ?? ''}`);
}

/** A node:http server answering `ok` after `delayMs`; counts requests. */
async function httpServer(
  t: TestContext,
  delayMs = 0,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (handler !== undefined) return handler(req, res);
    setTimeout(() => res.end('ok'), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, requests: () => requests };
}

function client(t: TestContext, opts: TransportOptions, timeout?: number): { client: Client; transport: Transport } {
  const transport = new Transport(opts);
  const c = new Client({ transport, ...(timeout !== undefined ? { timeout } : {}) });
  t.after(() => c.close());
  return { client: c, transport };
}

/** A `lookup` answering 127.0.0.1 after `ms` (so a dial lasts longer than a 1 ms timer). */
function slowLookup(ms: number): net.LookupFunction {
  return ((_h: string, _o: unknown, cb: (e: Error | null, a: { address: string; family: number }[]) => void) => {
    setTimeout(() => cb(null, [{ address: '127.0.0.1', family: 4 }]), ms);
  }) as unknown as net.LookupFunction;
}

describe('adversarial: durations above 2^31−1 ms mean what they say', () => {
  it('dialTimeout 1e12 (and dialer.fallbackDelay 1e12) dials a healthy server', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t);
    const { client: c } = client(t, { dialTimeout: HUGE, dialer: { lookup: slowLookup(30), fallbackDelay: HUGE } });
    const res = await c.request(srv.url.replace('127.0.0.1', 'slow.test'));
    assert.equal(await res.text(), 'ok');
    await assertNoOverflowWarning();
  });

  it('tlsHandshakeTimeout 1e12 completes a slow handshake', { timeout: 5_000 }, async (t) => {
    const ctx = tls.createSecureContext({ cert: SERVER_CERT, key: SERVER_KEY });
    // The server picks its certificate 30 ms late: the handshake outlasts a 1 ms timer.
    const server = https.createServer(
      { SNICallback: (_name, cb) => setTimeout(() => cb(null, ctx), 30) },
      (_req, res) => res.end('secure'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const port = (server.address() as net.AddressInfo).port;
    const { client: c } = client(t, { tlsHandshakeTimeout: HUGE, tls: { ca: CA_CERT, servername: 'localhost' } });
    const res = await c.request(`https://127.0.0.1:${port}/`);
    assert.equal(await res.text(), 'secure');
    await assertNoOverflowWarning();
  });

  it('poolTimeout 1e12: a request queued behind maxConnsPerHost waits for the connection', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 40);
    const { client: c } = client(t, { poolTimeout: HUGE, maxConnsPerHost: 1 });
    const get = async (): Promise<string> => (await c.request(srv.url)).text();
    assert.deepEqual(await Promise.all([get(), get()]), ['ok', 'ok']);
    await assertNoOverflowWarning();
  });

  it('every phase timeout and the overall timeout at 1e12 (transport and per request) serve a healthy request', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 20);
    const all = {
      dialTimeout: HUGE,
      tlsHandshakeTimeout: HUGE,
      poolTimeout: HUGE,
      writeTimeout: HUGE,
      writeIdleTimeout: HUGE,
      expectContinueTimeout: HUGE,
      responseHeaderTimeout: HUGE,
      readIdleTimeout: HUGE,
    };
    const { client: c } = client(t, { ...all, idleConnTimeout: HUGE }, HUGE);
    assert.equal(await (await c.request(srv.url)).text(), 'ok');
    const res = await c.request(srv.url, { timeout: HUGE, timeouts: all, method: 'POST', body: 'x', headers: { expect: '100-continue' } });
    assert.equal(await res.text(), 'ok');
    await assertNoOverflowWarning();
  });

  it('idleConnTimeout 1e12 with an idle connection does not spin a timer loop', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t);
    const { client: c, transport } = client(t, { idleConnTimeout: HUGE });
    assert.equal(await (await c.request(srv.url)).text(), 'ok');
    assert.equal(transport.stats().totals.idle, 1);
    // Count every timer armed in the process while the connection sits idle for 300 ms.
    const real = globalThis.setTimeout;
    let armed = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      armed++;
      return real(...args);
    }) as typeof setTimeout;
    const cpu0 = process.cpuUsage();
    try {
      await new Promise<void>((r) => real(r, 300));
    } finally {
      globalThis.setTimeout = real;
    }
    const cpu = process.cpuUsage(cpu0);
    assert.ok(armed <= 5, `${armed} timers armed in 300 ms of idleness`);
    assert.ok(cpu.user + cpu.system < 150_000, `CPU while idle: ${cpu.user + cpu.system} µs`);
    assert.equal(transport.stats().totals.idle, 1, 'the connection is still idle (not expired)');
    // And it is reused.
    assert.equal((await c.request(srv.url)).reused, true);
    await assertNoOverflowWarning();
  });

  it('a retry backoff of 3e9 ms waits (cut by the abort signal), it does not retry at once', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 0, (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const { client: c } = client(t, {});
    const { err, ms } = await rejection(
      c.request(srv.url, { retry: { limit: 3, backoff: () => 3e9 }, signal: AbortSignal.timeout(300) }),
    );
    assert.ok(err instanceof AbortError, String(err));
    assert.equal(srv.requests(), 1, 'no retry happened before the abort');
    assert.ok(ms >= 250, `aborted after ${Math.round(ms)} ms`);
    await assertNoOverflowWarning();
  });

  it('a Retry-After of 3 000 000 s waits (cut by the abort signal), it does not retry at once', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 0, (_req, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '3000000');
      res.end('busy');
    });
    const { client: c } = client(t, {});
    const { err } = await rejection(
      c.request(srv.url, {
        retry: { limit: 3, maxRetryAfter: Number.POSITIVE_INFINITY },
        signal: AbortSignal.timeout(300),
      }),
    );
    assert.ok(err instanceof AbortError, String(err));
    assert.equal(srv.requests(), 1);
    await assertNoOverflowWarning();
  });

  it('a retry backoff of 3e9 ms under an overall timeout stops at once (no pointless wait, no instant retry)', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 0, (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const { client: c } = client(t, {}, 2_000);
    const t0 = performance.now();
    const res = await c.request(srv.url, { retry: { limit: 3, backoff: () => 3e9 } });
    assert.equal(res.status, 503);
    assert.equal(srv.requests(), 1);
    assert.ok(performance.now() - t0 < 1_000);
    await res.dump();
  });

  it('sleep() and LongTimer wait in steps beyond 2^31−1 ms', { timeout: 5_000 }, async () => {
    const b = new Budget(undefined, undefined, 'GET', 'http://x/');
    let slept = false;
    void budgetSleep(3e9, b).then(
      () => (slept = true),
      () => {},
    );
    let fired = false;
    const lt = new LongTimer(() => (fired = true));
    lt.start(2 ** 31);
    await sleep(50);
    assert.equal(slept, false);
    assert.equal(fired, false);
    assert.equal(lt.armed, true);
    lt.cancel();
    b.abort(new AbortError('stop'));
    await assertNoOverflowWarning();
  });
});

describe('adversarial: durations that are not durations are HG_INVALID_ARG', () => {
  const names = [
    'dialTimeout',
    'tlsHandshakeTimeout',
    'poolTimeout',
    'writeTimeout',
    'writeIdleTimeout',
    'expectContinueTimeout',
    'responseHeaderTimeout',
    'readIdleTimeout',
  ] as const;
  const bad = [TOO_BIG, -1, Number.NaN, Number.NEGATIVE_INFINITY];

  it('Transport options', { timeout: 5_000 }, () => {
    for (const name of [...names, 'idleConnTimeout'] as const) {
      for (const v of bad) assert.throws(() => new Transport({ [name]: v }), isInvalidArg, `${name}: ${v}`);
      for (const v of [0, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, HUGE]) new Transport({ [name]: v });
    }
  });

  it('Dialer options, minThroughput.window, the client timeout and maxRetryAfter', { timeout: 5_000 }, () => {
    for (const v of bad) {
      for (const name of ['timeout', 'keepAlive', 'fallbackDelay'] as const) {
        assert.throws(() => new Dialer({ [name]: v }), isInvalidArg, `dialer.${name}: ${v}`);
      }
      assert.throws(() => new Transport({ minThroughput: { bytesPerSecond: 1, window: v } }), isInvalidArg);
      assert.throws(() => new Client({ timeout: v }), isInvalidArg, `client timeout ${v}`);
      assert.throws(() => new Client({ retry: { limit: 1, maxRetryAfter: v } }), isInvalidArg, `maxRetryAfter ${v}`);
    }
  });

  it('per-request timeouts and timeout', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t);
    const { client: c } = client(t, {});
    for (const v of bad) {
      await assert.rejects(c.request(srv.url, { timeout: v }), isInvalidArg, `timeout ${v}`);
      for (const name of names) {
        await assert.rejects(c.request(srv.url, { timeouts: { [name]: v } }), isInvalidArg, `${name}: ${v}`);
      }
    }
    assert.equal(srv.requests(), 0, 'nothing was sent');
  });

  it('a backoff function returning a non-duration fails the request with HG_INVALID_ARG', { timeout: 5_000 }, async (t) => {
    const srv = await httpServer(t, 0, (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const { client: c } = client(t, {});
    for (const v of [Number.NaN, -5, TOO_BIG]) {
      await assert.rejects(c.request(srv.url, { retry: { limit: 1, backoff: () => v } }), isInvalidArg, `backoff ${v}`);
    }
  });
});
