/**
 * retry.test — the client's retry policy (SPEC §7, §11).
 *
 * Part 1 checks the pure rules of `src/retry.ts`: defaults, the number form, which
 * methods, statuses and errors are retried, `Retry-After` parsing (delta-seconds and
 * HTTP-date, invalid values ignored) and the default backoff curve.
 *
 * Part 2 drives a real `Client` against the project's FaultServer on loopback:
 * 503 → 200, `Retry-After` honoured or refused above `maxRetryAfter`, the overall
 * budget that never sleeps past its deadline ("no pointless wait"), POST only with an
 * idempotency key, refused connections, and stream vs factory bodies.
 *
 * Every server and client is closed after its test.
 */

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import { AbortError, ConnectError, HourglassError, ProtocolError, TimeoutError } from '../src/errors.js';
import { defaultBackoff, parseRetryAfter, RetryPolicy } from '../src/retry.js';
import { FaultServer } from '../src/testing/index.js';
import { newClient, rejection } from './helpers/setup.js';

const flat = (h: Record<string, string>): string[] => Object.entries(h).flat();

describe('RetryPolicy (pure rules)', () => {
  it('defaults to no retries at all (limit 0 allows nothing)', () => {
    const p = new RetryPolicy(undefined);
    assert.equal(p.limit, 0);
    assert.equal(p.allows('GET', [], true), false);
    assert.equal(p.maxRetryAfter, 60_000);
  });

  it('accepts the number form: retry: 2 means limit 2 with default rules', () => {
    const p = new RetryPolicy(2);
    assert.equal(p.limit, 2);
    assert.equal(p.allows('GET', [], true), true);
    assert.equal(p.retriesStatus(503), true);
  });

  it('rejects a negative or NaN limit with HG_INVALID_ARG', () => {
    for (const limit of [-1, Number.NaN]) {
      assert.throws(
        () => new RetryPolicy({ limit }),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
      );
    }
  });

  it('retries the RFC 9110 idempotent methods by default, not POST or PATCH', () => {
    const p = new RetryPolicy(1);
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])
      assert.equal(p.allows(m, [], true), true, m);
    for (const m of ['POST', 'PATCH', 'CONNECT', 'PROPFIND']) assert.equal(p.allows(m, [], true), false, m);
  });

  it('retries any method carrying Idempotency-Key or X-Idempotency-Key (any case)', () => {
    const p = new RetryPolicy(1);
    assert.equal(p.allows('POST', flat({ 'Idempotency-Key': 'k1' }), true), true);
    assert.equal(p.allows('PATCH', flat({ 'x-idempotency-key': 'k2' }), true), true);
    assert.equal(p.allows('POST', flat({ 'X-IDEMPOTENCY-KEY': 'k3' }), true), true);
    assert.equal(p.allows('POST', flat({ 'x-request-id': 'k4' }), true), false);
  });

  it('never retries a request whose body cannot be replayed', () => {
    const p = new RetryPolicy(3);
    assert.equal(p.allows('PUT', [], false), false);
    assert.equal(p.allows('POST', flat({ 'idempotency-key': 'k' }), false), false);
  });

  it('honours custom methods and statusCodes', () => {
    const p = new RetryPolicy({ limit: 1, methods: ['post'], statusCodes: [418] });
    assert.equal(p.allows('POST', [], true), true);
    assert.equal(p.allows('GET', [], true), false);
    assert.equal(p.retriesStatus(418), true);
    assert.equal(p.retriesStatus(503), false);
  });

  it('retries statuses 408, 429, 500, 502, 503, 504 by default and no others', () => {
    const p = new RetryPolicy(1);
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(p.retriesStatus(s), true, String(s));
    for (const s of [200, 301, 400, 401, 404, 501, 505]) assert.equal(p.retriesStatus(s), false, String(s));
  });

  it('retries ConnectError, dns/connect/tls/pool timeouts and connection-closed, nothing else', () => {
    const p = new RetryPolicy(1);
    const timeout = (phase: TimeoutError['phase']) =>
      new TimeoutError({ phase, timeout: 1, elapsed: 1, requestSent: phase !== 'dns' });
    assert.equal(p.retriesError(new ConnectError('refused', 'ECONNREFUSED')), true);
    for (const ph of ['dns', 'connect', 'tls', 'pool'] as const)
      assert.equal(p.retriesError(timeout(ph)), true, ph);
    for (const ph of ['write', 'response-headers', 'read-idle', 'min-throughput', 'request'] as const) {
      assert.equal(p.retriesError(timeout(ph)), false, ph);
    }
    assert.equal(p.retriesError(new ProtocolError('connection-closed', 'closed')), true);
    assert.equal(p.retriesError(new ProtocolError('truncated-body', 'cut')), false);
    assert.equal(p.retriesError(new ProtocolError('bad-status-line', 'bad')), false);
    assert.equal(p.retriesError(new Error('boom')), false);
    assert.equal(p.retriesError(undefined), false);
  });

  it('takes the delay from Retry-After when present (first of repeated values), else from backoff', () => {
    const p = new RetryPolicy({ limit: 3, backoff: (n) => n * 7 });
    assert.deepEqual(p.delay(1, '3'), { ms: 3000, fromHeader: true });
    assert.deepEqual(p.delay(1, ['2', '9']), { ms: 2000, fromHeader: true });
    assert.deepEqual(p.delay(2, undefined), { ms: 14, fromHeader: false });
    assert.deepEqual(p.delay(3, 'not a date'), { ms: 21, fromHeader: false });
  });

  it('a custom backoff returning a non-duration (negative, NaN, above MAX_SAFE_INTEGER) is HG_INVALID_ARG (SPEC §11)', () => {
    for (const bad of [-50, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      const p = new RetryPolicy({ limit: 1, backoff: () => bad });
      assert.throws(() => p.delay(1, undefined), (e: unknown) => (e as { code?: string }).code === 'HG_INVALID_ARG');
    }
    assert.deepEqual(new RetryPolicy({ limit: 1, backoff: () => 3e9 }).delay(1, undefined), { ms: 3e9, fromHeader: false });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0);

  it('parses delta-seconds', () => {
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter(' 120 ', now), 120_000);
  });

  it('parses an IMF-fixdate relative to now, and a past date as 0', () => {
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
  });

  it('parses the obsolete RFC 850 date form (RFC 9110 §5.6.7)', () => {
    assert.equal(parseRetryAfter('Wednesday, 21-Oct-15 07:28:05 GMT', now), 5000);
  });

  it('returns undefined when absent or empty', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  // RFC 9110 §10.2.3: Retry-After is an HTTP-date or delay-seconds; anything else is
  // invalid and must be ignored (fall back to the backoff), not read as "retry now".
  it('ignores values that are neither delta-seconds nor an HTTP-date (-1, 1.5, "abc 2")', () => {
    for (const v of ['-1', '1.5', 'abc 2']) {
      assert.equal(parseRetryAfter(v, now), undefined, `Retry-After: ${v}`);
    }
  });
});

describe('defaultBackoff', () => {
  it('is 100 ms × 2^(attempt−1) with ±20 % jitter', () => {
    for (let i = 0; i < 200; i++) {
      const a1 = defaultBackoff(1);
      const a2 = defaultBackoff(2);
      const a4 = defaultBackoff(4);
      assert.ok(a1 >= 80 && a1 <= 120, `attempt 1: ${a1}`);
      assert.ok(a2 >= 160 && a2 <= 240, `attempt 2: ${a2}`);
      assert.ok(a4 >= 640 && a4 <= 960, `attempt 4: ${a4}`);
    }
  });

  it('is capped at 10 s', () => {
    for (let i = 0; i < 200; i++) {
      for (const n of [8, 15, 40]) {
        const ms = defaultBackoff(n);
        assert.ok(ms >= 8000 && ms <= 10_000, `attempt ${n}: ${ms}`);
      }
    }
  });

  it('actually jitters (not a constant)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(defaultBackoff(3));
    assert.ok(seen.size > 1);
  });
});

// ---------------------------------------------------------------------------------
// Part 2 — end to end against a FaultServer.

/**
 * A FaultServer closed when the test ends, with:
 * - `/flaky?fail=N&status=S&ra=V`: the first N hits answer S (default 503) with
 *   `Retry-After: V` when given, later hits 200 `ok`;
 * - `/busy?ra=V`: always 503 (with `Retry-After: V` when given);
 * - `/echo`: 200 with the request body.
 */
async function startServer(t: TestContext): Promise<FaultServer> {
  const fs = await FaultServer.start();
  t.after(() => fs.close());
  fs.route('/flaky', (ex) => {
    const fail = Number(ex.query.get('fail') ?? 1);
    if (ex.hit > fail) return ex.respond(200, {}, 'ok');
    const ra = ex.query.get('ra');
    return ex.respond(
      Number(ex.query.get('status') ?? 503),
      ra === null ? {} : { 'Retry-After': ra },
      'busy',
    );
  });
  fs.route('/busy', (ex) => {
    const ra = ex.query.get('ra');
    return ex.respond(503, ra === null ? {} : { 'Retry-After': ra }, 'busy');
  });
  fs.route('/echo', (ex) => ex.respond(200, {}, ex.request.body));
  return fs;
}

/** A loopback port nobody listens on (connect → ECONNREFUSED). */
async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const fast = { backoff: () => 10 };

describe('retry end to end: statuses and Retry-After', () => {
  it('503 then 200 succeeds after one retry (two requests)', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/flaky?fail=1'));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    assert.equal(fs.hits('/flaky?fail=1'), 2);
  });

  for (const status of [408, 429, 500, 502, 504]) {
    it(`retries ${status} by default`, async (t) => {
      const fs = await startServer(t);
      const res = await newClient(t, { retry: { limit: 1, ...fast } }).request(
        fs.url(`/flaky?status=${status}`),
      );
      assert.equal(res.status, 200);
      await res.dump();
    });
  }

  it('does not retry 501 or 404', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { retry: { limit: 2, ...fast } });
    for (const status of [501, 404]) {
      const res = await c.request(fs.url(`/flaky?status=${status}`));
      assert.equal(res.status, status);
      await res.dump();
      assert.equal(fs.hits(`/flaky?status=${status}`), 1);
    }
  });

  it('when the limit is reached the last response is returned, body readable', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/busy'));
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'busy');
    assert.equal(fs.hits('/busy'), 3);
  });

  it('the number form retry: 2 means two retries (client option and per-request option)', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t, { retry: 2 }).request(fs.url('/flaky?fail=2'));
    assert.equal(res.status, 200);
    await res.dump();
    assert.equal(fs.hits('/flaky?fail=2'), 3);
    const res2 = await newClient(t).request(fs.url('/flaky?fail=2&x=1'), { retry: 2 });
    assert.equal(res2.status, 200);
    await res2.dump();
    const res3 = await newClient(t, { retry: 5 }).request(fs.url('/busy?x=2'), { retry: 0 });
    assert.equal(res3.status, 503);
    await res3.dump();
    assert.equal(fs.hits('/busy?x=2'), 1, 'a per-request retry overrides the client’s');
  });

  it('honours Retry-After: 1 (delta-seconds): the retry comes ≥ 1 s later', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const res = await newClient(t, { retry: { limit: 1, ...fast } }).request(fs.url('/flaky?ra=1'));
    const ms = performance.now() - start;
    assert.equal(res.status, 200);
    await res.dump();
    assert.ok(ms >= 990 && ms < 3000, `took ${ms} ms`);
    const [a, b] = fs.requests;
    assert.ok(b!.receivedAt - a!.receivedAt >= 990);
  });

  it('honours Retry-After as an HTTP-date', async (t) => {
    const fs = await startServer(t);
    // toUTCString() drops the milliseconds: the wait is 500–1500 ms.
    const date = new Date(Date.now() + 1500).toUTCString();
    const start = performance.now();
    const res = await newClient(t, { retry: { limit: 1, ...fast } }).request(
      fs.url(`/flaky?ra=${encodeURIComponent(date)}`),
    );
    const ms = performance.now() - start;
    assert.equal(res.status, 200);
    await res.dump();
    assert.ok(ms >= 450 && ms < 3000, `took ${ms} ms`);
  });

  it('a Retry-After above maxRetryAfter is not waited for: the 503 is returned at once', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const c = newClient(t, { retry: { limit: 3, maxRetryAfter: 1000, ...fast } });
    const res = await c.request(fs.url('/busy?ra=5'));
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
    await res.dump();
    assert.ok(performance.now() - start < 800);
    assert.equal(fs.hits('/busy?ra=5'), 1);
  });

  it('SPEC §11 no pointless wait: a Retry-After beyond the overall deadline returns the 503 at once', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const res = await newClient(t, { timeout: 400, retry: { limit: 3, ...fast } }).request(
      fs.url('/busy?ra=1'),
    );
    const ms = performance.now() - start;
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'busy');
    assert.ok(ms < 300, `waited ${ms} ms for a retry that could never happen`);
    assert.equal(fs.hits('/busy?ra=1'), 1);
  });

  it('no pointless wait: a slow backoff beyond the per-request deadline returns the last 503 at once', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const c = newClient(t, { retry: { limit: 3, backoff: () => 2000 } });
    const res = await c.request(fs.url('/busy'), { timeout: 400 });
    assert.equal(res.status, 503);
    await res.dump();
    assert.ok(performance.now() - start < 300);
    assert.equal(fs.hits('/busy'), 1);
  });

  it('retries and backoff share the budget: a backoff that fits is waited, the next that does not is not', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const c = newClient(t, { timeout: 700, retry: { limit: 5, backoff: (n) => n * 250 } });
    const res = await c.request(fs.url('/busy'));
    const ms = performance.now() - start;
    // attempt 1, wait 250, attempt 2, (500 ms would reach ≈ 750 > 700) stop.
    assert.equal(res.status, 503);
    await res.dump();
    assert.equal(fs.hits('/busy'), 2);
    assert.ok(ms >= 245 && ms < 650, `took ${ms} ms`);
  });
});

describe('retry end to end: which requests', () => {
  it('POST is not retried by default', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/busy'), {
      method: 'POST',
      body: 'x',
    });
    assert.equal(res.status, 503);
    await res.dump();
    assert.equal(fs.hits('/busy'), 1);
  });

  for (const header of ['Idempotency-Key', 'X-Idempotency-Key']) {
    it(`POST with ${header} is retried and resends the same body`, async (t) => {
      const fs = await startServer(t);
      const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/flaky'), {
        method: 'POST',
        headers: { [header]: 'k-1' },
        body: 'payload',
      });
      assert.equal(res.status, 200);
      await res.dump();
      assert.equal(fs.requests.length, 2);
      for (const q of fs.requests) {
        assert.equal(q.method, 'POST');
        assert.equal(q.body.toString(), 'payload');
        assert.equal(q.headers[header.toLowerCase()], 'k-1');
      }
    });
  }

  it('a stream body is not retried: the 503 is returned after one attempt', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/busy'), {
      method: 'PUT',
      body: Readable.from([Buffer.from('stream')]),
    });
    assert.equal(res.status, 503);
    await res.dump();
    assert.equal(fs.hits('/busy'), 1);
    assert.equal(fs.requests[0]!.body.toString(), 'stream');
  });

  it('a body factory is retried, called once per attempt', async (t) => {
    const fs = await startServer(t);
    let calls = 0;
    const res = await newClient(t, { retry: { limit: 2, ...fast } }).request(fs.url('/flaky'), {
      method: 'PUT',
      body: () => {
        calls++;
        return Readable.from([Buffer.from(`attempt ${calls}`)]);
      },
    });
    assert.equal(res.status, 200);
    await res.dump();
    assert.equal(calls, 2);
    assert.deepEqual(
      fs.requests.map((q) => q.body.toString()),
      ['attempt 1', 'attempt 2'],
    );
  });
});

describe('retry end to end: errors', () => {
  it('connection refused is retried up to the limit, then the last ConnectError is thrown', async (t) => {
    const port = await refusedPort();
    let dials = 0;
    const c = newClient(t, { retry: { limit: 2, ...fast } });
    const { err } = await rejection(
      c.request(`http://127.0.0.1:${port}/`, {
        trace: {
          connectStart: () => {
            dials++;
          },
        },
      }),
    );
    assert.ok(err instanceof ConnectError, inspect(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(dials, 3);
  });

  it('without retry, connection refused is one attempt', async (t) => {
    const port = await refusedPort();
    let dials = 0;
    const { err } = await rejection(
      newClient(t).request(`http://127.0.0.1:${port}/`, { trace: { connectStart: () => void dials++ } }),
    );
    assert.ok(err instanceof ConnectError);
    assert.equal(dials, 1);
  });

  it('no pointless wait: a backoff beyond the deadline after a refused connect fails at once with TimeoutError(request), cause = the ConnectError', async (t) => {
    const port = await refusedPort();
    const c = newClient(t, { timeout: 500, retry: { limit: 3, backoff: () => 2000 } });
    const { err, ms } = await rejection(c.request(`http://127.0.0.1:${port}/`));
    assert.ok(err instanceof TimeoutError, inspect(err));
    assert.equal(err.phase, 'request');
    assert.equal(err.timeout, 500);
    assert.ok(err.cause instanceof ConnectError, inspect(err.cause));
    assert.equal((err.cause as ConnectError).code, 'ECONNREFUSED');
    assert.ok(ms < 300, `failed after ${ms} ms: it waited for a backoff that could never complete`);
  });

  it('a connection closed before any response (connection-closed) is retried for GET', async (t) => {
    const fs = await startServer(t);
    fs.route('/drop-once', (ex) => (ex.hit === 1 ? ex.end() : ex.respond(200, {}, 'second')));
    const res = await newClient(t, { retry: { limit: 1, ...fast } }).request(fs.url('/drop-once'));
    assert.equal(await res.text(), 'second');
    assert.equal(fs.hits('/drop-once'), 2);
  });

  it('a response-headers timeout is not retried (the request may have been processed)', async (t) => {
    const fs = await startServer(t);
    fs.route('/slow-once', async (ex) => {
      if (ex.hit === 1) await ex.stall();
      else await ex.respond(200, {}, 'ok');
    });
    const c = newClient(t, { retry: { limit: 2, ...fast } });
    const { err } = await rejection(
      c.request(fs.url('/slow-once'), { timeouts: { responseHeaderTimeout: 100 } }),
    );
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'response-headers');
    assert.equal(fs.hits('/slow-once'), 1);
  });

  it('an abort during a retry backoff rejects at once with AbortError', async (t) => {
    const fs = await startServer(t);
    const ac = new AbortController();
    const c = newClient(t, { retry: { limit: 2, backoff: () => 5000 } });
    setTimeout(() => ac.abort('enough'), 100);
    const { err, ms } = await rejection(c.request(fs.url('/busy'), { signal: ac.signal }));
    assert.ok(err instanceof AbortError, inspect(err));
    assert.equal(err.cause, 'enough');
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.equal(fs.hits('/busy'), 1);
  });
});
