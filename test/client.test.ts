/**
 * client.test — the Client's overall deadline and request plumbing (SPEC §2, §3, §4,
 * §11 "Client"), against the project's FaultServer on loopback.
 *
 * The overall `timeout` (client-wide or per request) is one budget from `request()` to
 * the end of the body: it fires with `phase: 'request'` while the request waits for a
 * pooled connection, while dialing, on a redirect hop, and while the caller reads the
 * body after the Response was handed out; `activePhase` names what was running. It
 * composes with the caller's AbortSignal, and no timer outlives a request. Also here:
 * userinfo → Basic auth and its redaction from every error, argument validation,
 * default headers, and a closed client.
 *
 * Scenarios: GO-14, GO-15, PF-05 (SCENARIOS.md). Timing bounds are generous: the
 * lower bound is the configured time, the upper one leaves room for a loaded machine.
 */

import * as assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { inspect } from 'node:util';
import { Client } from '../src/client.js';
import { AbortError, ConnectError, HourglassError, isTimeout, TimeoutError } from '../src/errors.js';
import type { Response } from '../src/response.js';
import { FaultServer } from '../src/testing/index.js';
import { Transport } from '../src/transport.js';
import { newClient, rejection } from './helpers/setup.js';

// ---------------------------------------------------------------------------------
// Harness

/** A FaultServer closed when the test ends, with the scripted routes this file uses. */
async function startServer(t: TestContext): Promise<FaultServer> {
  const fs = await FaultServer.start();
  t.after(() => fs.close());
  fs.route('/ok', (ex) => ex.respond(200, { 'Content-Type': 'text/plain' }, 'ok'));
  // Head, 10 of 100 announced bytes, then silence (the connection stays open).
  fs.route('/stall-body', async (ex) => {
    await ex.writeHead(200, { 'Content-Length': '100' });
    await ex.write('0123456789');
    await ex.stall();
  });
  // Never answers.
  fs.route('/never', (ex) => ex.stall());
  fs.route('/echo', (ex) =>
    ex.respond(
      200,
      { 'Content-Type': 'application/json' },
      JSON.stringify({
        method: ex.request.method,
        headers: ex.request.headers,
        body: ex.request.body.toString(),
      }),
    ),
  );
  return fs;
}

function assertRequestTimeout(
  err: unknown,
  timeout: number,
  activePhase?: string,
): asserts err is TimeoutError {
  assert.ok(err instanceof TimeoutError, `expected TimeoutError, got ${inspect(err)}`);
  assert.equal(err.name, 'TimeoutError');
  assert.equal(err.code, 'ETIMEDOUT');
  assert.equal(err.phase, 'request');
  assert.equal(err.timeout, timeout);
  assert.ok(err.elapsed >= timeout - 1, `elapsed ${err.elapsed} < timeout ${timeout}`);
  assert.ok(isTimeout(err));
  if (activePhase !== undefined) assert.equal(err.activePhase, activePhase);
}

/** Ref'd timers keeping the loop alive (unref'd idle-connection timers do not count). */
const liveTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Reads a body stream until it ends or fails; returns what arrived and the error. */
async function drain(res: Response): Promise<{ text: string; err: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of res.body) chunks.push(c as Buffer);
    return { text: Buffer.concat(chunks).toString(), err: undefined };
  } catch (err) {
    return { text: Buffer.concat(chunks).toString(), err };
  }
}

// ---------------------------------------------------------------------------------

describe('overall timeout: one budget, phase "request"', () => {
  for (const where of ['client', 'request'] as const) {
    it(`fires while waiting in the pool (maxConnsPerHost 1 held by another request) — ${where} timeout`, async (t) => {
      const fs = await startServer(t);
      const transport = new Transport({ maxConnsPerHost: 1 });
      const c = newClient(t, { transport, timeout: where === 'client' ? 200 : undefined });
      const holder = await c.request(fs.url('/stall-body'), { timeout: 0 });
      const { err, ms } = await rejection(
        c.request(fs.url('/ok'), where === 'request' ? { timeout: 200 } : {}),
      );
      assertRequestTimeout(err, 200, 'pool');
      assert.equal(err.requestSent, false);
      assert.ok(ms >= 195 && ms < 1500, `took ${ms} ms`);
      assert.equal(fs.connections, 1, 'the queued request never dialed');
      assert.equal(transport.stats().totals.waiting, 0, 'the timed-out waiter left the queue');
      holder.body.destroy();
    });
  }

  it('GO-14: spans a redirect — the 200 is returned, its body yields "Hello", then fails at T from the *first* request', async (t) => {
    const fs = await startServer(t);
    fs.route('/', async (ex) => {
      await ex.sleep(200);
      await ex.respond(302, { Location: '/slow' });
    });
    fs.route('/slow', async (ex) => {
      await ex.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
      await ex.write('Hello');
      await ex.stall();
    });
    const T = 600;
    const c = newClient(t, { timeout: T });
    const start = performance.now();
    const res = await c.request(fs.url('/'));
    assert.equal(res.status, 200);
    assert.equal(res.redirected, true);
    const { text, err } = await drain(res);
    const ms = performance.now() - start;
    assert.equal(text, 'Hello');
    assertRequestTimeout(err, T, 'body');
    // Restarting the clock on the second hop would make this ≥ T + 200.
    assert.ok(ms >= T - 5 && ms < T + 150, `failed after ${ms} ms, want ≈ ${T}`);
    assert.ok(err.elapsed < T + 150, `elapsed ${err.elapsed}`);
    assert.equal(err.url, fs.url('/slow'));
  });

  it('covers draining an intermediate 3xx or retried 503 whose body stalls (no overrun past T)', async (t) => {
    const fs = await startServer(t);
    for (const status of [302, 503]) {
      fs.route(`/stall-${status}`, async (ex) => {
        await ex.writeHead(status, { Location: '/ok', 'Content-Length': '100' });
        await ex.write('abc');
        await ex.stall();
      });
    }
    const c = newClient(t, { timeout: 200, retry: { limit: 1, backoff: () => 10 } });
    for (const status of [302, 503]) {
      const { err, ms } = await rejection(c.request(fs.url(`/stall-${status}`)));
      assertRequestTimeout(err, 200);
      assert.ok(ms < 600, `${status}: took ${ms} ms`);
    }
  });

  it('fires on a redirect hop whose response never comes (activePhase response-headers, url of that hop)', async (t) => {
    const fs = await startServer(t);
    fs.route('/to-never', (ex) => ex.respond(302, { Location: '/never' }));
    const c = newClient(t, { timeout: 250 });
    const { err, ms } = await rejection(c.request(fs.url('/to-never')));
    assertRequestTimeout(err, 250, 'response-headers');
    assert.equal(err.url, fs.url('/never'));
    assert.equal(err.requestSent, true);
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.equal(fs.requests.length, 2);
  });

  it('GO-15 a: a 5 ms timeout while awaiting headers fails at ≈ 5 ms and closes the exchange (GO-16)', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 5 });
    const { err, ms } = await rejection(c.request(fs.url('/never')));
    assertRequestTimeout(err, 5);
    assert.ok(ms < 500, `took ${ms} ms`);
    await fs.waitForRequests(1);
    // The server keeps its half open (allowHalfOpen); what matters is that the client ended its side.
    const deadline = performance.now() + 2000;
    while (fs.connectionLog[0]!.clientEnded === null && performance.now() < deadline) await sleep(10);
    assert.notEqual(fs.connectionLog[0]!.clientEnded, null, 'the timed-out connection is closed, not pooled');
    assert.equal(c.transport.stats().totals.idle, 0);
  });

  it('fires while dialing a host whose TCP connect hangs (activePhase connect)', async (t) => {
    const fs = await startServer(t);
    const bh = await fs.blackhole();
    const c = newClient(t, { timeout: 200 });
    const { err, ms } = await rejection(c.request(`http://${bh.host}:${bh.port}/`));
    assertRequestTimeout(err, 200, 'connect');
    assert.equal(err.requestSent, false);
    assert.ok(ms < 1500, `took ${ms} ms`);
  });

  it('PF-05: covers reading the body after the Response was returned — text() rejects with phase request', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 300 });
    const start = performance.now();
    const res = await c.request(fs.url('/stall-body'));
    assert.equal(res.status, 200);
    const { err, ms } = await rejection(res.text(), start);
    assertRequestTimeout(err, 300, 'body');
    assert.equal(err.requestSent, true);
    assert.ok(ms >= 295 && ms < 1500, `took ${ms} ms`);
  });

  it('PF-05: responseHeaderTimeout alone does not cover a body stall; readIdleTimeout catches it', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, {
      transport: new Transport({ responseHeaderTimeout: 100, readIdleTimeout: 600 }),
    });
    const start = performance.now();
    const res = await c.request(fs.url('/stall-body'));
    const { err, ms } = await rejection(res.text(), start);
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'read-idle', 'the header timer stopped when the head arrived');
    assert.ok(ms >= 590, `read-idle fired after ${ms} ms, before its 600 ms`);
  });

  it('a per-request timeout overrides the client timeout, both ways', async (t) => {
    const fs = await startServer(t);
    fs.route('/slow-ok', async (ex) => {
      await ex.sleep(300);
      await ex.respond(200, {}, 'late');
    });
    const strict = newClient(t, { timeout: 100 });
    const res = await strict.request(fs.url('/slow-ok'), { timeout: 5000 });
    assert.equal(await res.text(), 'late');
    const lax = newClient(t, { timeout: 5000 });
    const { err } = await rejection(lax.request(fs.url('/slow-ok'), { timeout: 100 }));
    assertRequestTimeout(err, 100, 'response-headers');
  });

  it('timeout 0 or Infinity means no overall limit', async (t) => {
    const fs = await startServer(t);
    fs.route('/slow-ok', async (ex) => {
      await ex.sleep(150);
      await ex.respond(200, {}, 'late');
    });
    const c = newClient(t, { timeout: 50 });
    for (const timeout of [0, Number.POSITIVE_INFINITY]) {
      const res = await c.request(fs.url('/slow-ok'), { timeout });
      assert.equal(await res.text(), 'late');
    }
  });

  it('rejects a negative or non-numeric timeout with HG_INVALID_ARG before anything is sent', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    for (const timeout of [-1, Number.NaN, '100' as unknown as number]) {
      const { err } = await rejection(c.request(fs.url('/ok'), { timeout }));
      assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG', inspect(err));
    }
    assert.throws(
      () => new Client({ timeout: -5 }),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
    );
    assert.equal(fs.connections, 0);
  });
});

describe('overall timeout and the AbortSignal compose', () => {
  it('GO-15 c: an abort mid-body under a 1 h timeout is an AbortError with cause = signal.reason, not a timeout', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 3_600_000 });
    const ac = new AbortController();
    const res = await c.request(fs.url('/stall-body'), { signal: ac.signal });
    const reason = new Error('user gave up');
    setTimeout(() => ac.abort(reason), 50);
    const { err, ms } = await rejection(res.text());
    assert.ok(err instanceof AbortError, inspect(err));
    assert.equal(err.name, 'AbortError');
    assert.equal(err.code, 'ABORT_ERR');
    assert.equal(err.cause, reason);
    assert.equal(isTimeout(err), false);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('an abort while waiting for headers rejects at once with AbortError', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const { err, ms } = await rejection(c.request(fs.url('/never'), { signal: ac.signal }));
    assert.ok(err instanceof AbortError);
    assert.ok(err.cause instanceof DOMException && err.cause.name === 'AbortError', 'default reason');
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('an abort while queued for a pooled connection rejects with AbortError', async (t) => {
    const fs = await startServer(t);
    const transport = new Transport({ maxConnsPerHost: 1 });
    const c = newClient(t, { transport, timeout: 10_000 });
    const holder = await c.request(fs.url('/stall-body'));
    const ac = new AbortController();
    setTimeout(() => ac.abort('stop'), 50);
    const { err } = await rejection(c.request(fs.url('/ok'), { signal: ac.signal }));
    assert.ok(err instanceof AbortError);
    assert.equal(err.cause, 'stop');
    assert.equal(transport.stats().totals.waiting, 0);
    holder.body.destroy();
  });

  for (const timeout of [undefined, 1, 10_000]) {
    it(`GO-15 e: an already-aborted signal rejects without dialing (timeout ${timeout})`, async (t) => {
      const fs = await startServer(t);
      const c = newClient(t, { timeout });
      const reason = new Error('before start');
      const { err } = await rejection(c.request(fs.url('/ok'), { signal: AbortSignal.abort(reason) }));
      assert.ok(err instanceof AbortError, 'abort-kind, not timeout-kind');
      assert.equal(err.cause, reason);
      await sleep(20);
      assert.equal(fs.connections, 0);
    });
  }

  it('a timeout that fires first is a TimeoutError even with a signal attached', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const ac = new AbortController();
    const { err } = await rejection(c.request(fs.url('/never'), { signal: ac.signal, timeout: 100 }));
    assertRequestTimeout(err, 100);
    ac.abort();
  });
});

describe('no timer outlives a request', () => {
  it('GO-15 d: after a successful request with a timeout (body read), no extra Timeout is alive', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 3_600_000 });
    const before = liveTimers();
    const res = await c.request(fs.url('/ok'));
    assert.equal(await res.text(), 'ok');
    await tick();
    assert.ok(liveTimers() <= before, `${liveTimers()} timers alive, ${before} before`);
  });

  it('after dump(), after a timed-out request and after an aborted one, no extra Timeout is alive', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 3_600_000 });
    const before = liveTimers();
    const res = await c.request(fs.url('/ok'));
    await res.dump();
    await rejection(c.request(fs.url('/never'), { timeout: 30 }));
    const ac = new AbortController();
    const p = c.request(fs.url('/never'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await rejection(p);
    await tick();
    assert.ok(liveTimers() <= before, `${liveTimers()} timers alive, ${before} before`);
  });

  it('after a redirect and a retry under a timeout, no extra Timeout is alive', async (t) => {
    const fs = await startServer(t);
    fs.route('/hop', (ex) => ex.respond(302, { Location: '/flaky' }));
    fs.route('/flaky', (ex) => (ex.hit === 1 ? ex.respond(503, {}, 'busy') : ex.respond(200, {}, 'done')));
    const c = newClient(t, { timeout: 10_000, retry: { limit: 1, backoff: () => 10 } });
    const before = liveTimers();
    const res = await c.request(fs.url('/hop'));
    assert.equal(await res.text(), 'done');
    await tick();
    assert.ok(liveTimers() <= before, `${liveTimers()} timers alive, ${before} before`);
  });
});

describe('URL userinfo', () => {
  it('becomes a Basic Authorization header at the server, and leaves the URL', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const res = await c.request(fs.url('/echo').replace('http://', 'http://user:secret@'));
    const echo = (await res.json()) as { headers: Record<string, string> };
    assert.equal(echo.headers.authorization, `Basic ${Buffer.from('user:secret').toString('base64')}`);
    assert.equal(res.url, fs.url('/echo'));
    assert.equal(fs.requests[0]!.target, '/echo');
  });

  it('is percent-decoded before encoding (us%40er:p%3Ass → us@er:p:ss)', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    await (await c.request(fs.url('/echo').replace('http://', 'http://us%40er:p%3Ass@'))).dump();
    assert.equal(
      fs.requests[0]!.headers.authorization,
      `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
    );
  });

  it('does not override an explicit Authorization header', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    await (
      await c.request(fs.url('/echo').replace('http://', 'http://user:secret@'), {
        headers: { Authorization: 'Bearer tok' },
      })
    ).dump();
    assert.equal(fs.requests[0]!.headers.authorization, 'Bearer tok');
  });

  it('never appears in a connect error (message, url, stack, cause chain)', async (t) => {
    const c = newClient(t);
    const { err } = await rejection(c.request('http://user:secret@127.0.0.1:1/path'));
    assert.ok(err instanceof ConnectError, inspect(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.url, 'http://127.0.0.1:1/path');
    const everything = `${err.message}\n${String(err)}\n${err.stack}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}`;
    assert.ok(!everything.includes('secret'), everything);
    assert.ok(!everything.includes('user:'), everything);
  });

  it('never appears in a timeout error', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { timeout: 50 });
    const { err } = await rejection(c.request(fs.url('/never').replace('http://', 'http://user:secret@')));
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.url, fs.url('/never'));
    const everything = `${err.message}\n${inspect(err, { depth: 10 })}`;
    assert.ok(!everything.includes('secret'), everything);
  });

  it('never appears in an invalid-URL error', async (t) => {
    const c = newClient(t);
    const { err } = await rejection(c.request('http://user:secret@[::1/'));
    assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG');
    assert.ok(!`${err.message} ${err.url}`.includes('secret'), err.message);
  });

  it('userinfo in a redirect Location never shows in res.url or res.redirects', async (t) => {
    const fs = await startServer(t);
    fs.route('/to-creds', (ex) =>
      ex.respond(302, { Location: fs.url('/echo').replace('http://', 'http://u2:s2@') }),
    );
    const c = newClient(t);
    const res = await c.request(fs.url('/to-creds'));
    await res.dump();
    assert.equal(res.status, 200);
    assert.ok(!res.url.includes('s2'), res.url);
    assert.ok(!res.redirects.join(' ').includes('s2'), res.redirects.join(' '));
  });
});

describe('request plumbing', () => {
  it('client default headers apply unless the request sets the same name', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { headers: { 'X-Default': 'd', 'User-Agent': 'hg-test' } });
    await (await c.request(fs.url('/echo'), { headers: { 'user-agent': 'mine' } })).dump();
    const h = fs.requests[0]!.headers;
    assert.equal(h['x-default'], 'd');
    assert.equal(h['user-agent'], 'mine');
  });

  it('a closed client rejects new requests with HG_CLOSED', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    await c.close();
    const { err } = await rejection(c.request(fs.url('/ok')));
    assert.ok(err instanceof HourglassError && err.code === 'HG_CLOSED');
    assert.equal(fs.connections, 0);
  });

  it('res.url is the requested URL and redirected is false without redirects', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const res = await c.request(fs.url('/ok?x=1'));
    await res.dump();
    assert.equal(res.url, fs.url('/ok?x=1'));
    assert.equal(res.redirected, false);
    assert.deepEqual(res.redirects, []);
  });
});
