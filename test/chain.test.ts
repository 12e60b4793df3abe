/**
 * chain.test — the client as one chain (SPEC §12): interceptors → redirect → retry →
 * cookies → networkInterceptors → transport, against a plain node:http server on
 * loopback. An interceptor sees a call once, with its final response; a network
 * interceptor sees every request on the wire with its `attempt`; user code in the chain
 * never outlives the overall deadline or the signal; results that are not a Response,
 * replays of one-shot bodies and transports that are no RoundTripper are refused.
 */

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import {
  AbortError,
  Client,
  HeaderList,
  HourglassError,
  type Interceptor,
  type OutgoingRequest,
  outgoingRequest,
  type RoundTripper,
  TimeoutError,
  Transport,
} from '../src/index.js';
import type { Response } from '../src/response.js';

/** A loopback server: /a → 302 /b; /b answers 503 on its first hit, then 200; /echo echoes. */
async function server(t: TestContext): Promise<{ base: string; hits: string[] }> {
  const hits: string[] = [];
  let bHits = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      if (req.url === '/a') {
        res.writeHead(302, { location: '/b', 'content-length': '0' }).end();
      } else if (req.url === '/b') {
        bHits++;
        if (bHits === 1) res.writeHead(503, { 'content-length': '4' }).end('busy');
        else res.writeHead(200, { 'content-length': '4' }).end('done');
      } else {
        const body = JSON.stringify({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return { base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, hits };
}

function client(t: TestContext, opts: ConstructorParameters<typeof Client<RoundTripper>>[0] = {}): Client<RoundTripper> {
  const c = new Client<RoundTripper>({ timeout: 5_000, ...opts });
  t.after(() => c.close());
  return c;
}

test('an interceptor sees the call once with the final response; a network interceptor sees every hop and retry', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const outer: string[] = [];
  const wire: string[] = [];
  const c = client(t, {
    retry: { limit: 1, backoff: () => 1 },
    interceptors: [
      async (req, next) => {
        outer.push(`> ${req.method} ${req.url.pathname} #${req.attempt}`);
        const res = await next(req);
        outer.push(`< ${res.status} ${new URL(res.url).pathname}`);
        return res;
      },
    ],
    networkInterceptors: [
      async (req, next) => {
        const res = await next(req);
        wire.push(`${req.url.pathname} #${req.attempt} ${res.status}`);
        return res;
      },
    ],
  });
  const res = await c.request(`${base}/a`);
  assert.equal(await res.text(), 'done');
  assert.deepEqual(outer, ['> GET /a #0', '< 200 /b']);
  assert.deepEqual(wire, ['/a #0 302', '/b #1 503', '/b #2 200']);
  assert.deepEqual(res.redirects, [`${base}/b`]);
});

test('interceptors run in array order, the first outermost, and may rewrite the request', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const order: string[] = [];
  const tag =
    (name: string): Interceptor =>
    async (req, next) => {
      order.push(`in ${name}`);
      req.headers.append('x-chain', name);
      const res = await next(req);
      order.push(`out ${name}`);
      return res;
    };
  const c = client(t, { interceptors: [tag('one'), tag('two')], networkInterceptors: [tag('net')] });
  const res = await c.request(`${base}/echo`);
  const seen = (await res.json()) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-chain'], 'one, two, net');
  assert.deepEqual(order, ['in one', 'in two', 'in net', 'out net', 'out two', 'out one']);
});

test('an interceptor that never settles is cut by the overall deadline', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const c = client(t, { timeout: 150, interceptors: [() => new Promise<Response>(() => {})] });
  const t0 = Date.now();
  const err = await c.request(`${base}/echo`).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.equal(err.phase, 'request');
  assert.equal(err.requestSent, false);
  assert.ok(Date.now() - t0 < 2_000);
});

test('a network interceptor that never settles is cut by the deadline; one stalled after next() too', { timeout: 5_000 }, async (t) => {
  const { base, hits } = await server(t);
  const c = client(t, {
    timeout: 200,
    networkInterceptors: [
      async (req, next) => {
        const res = await next(req);
        await res.dump();
        return new Promise<Response>(() => {});
      },
    ],
  });
  await assert.rejects(c.request(`${base}/echo`), (e: unknown) => e instanceof TimeoutError && e.phase === 'request');
  assert.equal(hits.length, 1);
});

test('an interceptor that never settles is cut by the signal', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const c = client(t, { timeout: 0, interceptors: [() => new Promise<Response>(() => {})] });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(c.request(`${base}/echo`, { signal: ac.signal }), (e: unknown) => e instanceof AbortError);
});

test('an interceptor may answer without calling next (short-circuit)', { timeout: 5_000 }, async (t) => {
  const { base, hits } = await server(t);
  const other = client(t);
  const c = client(t, { interceptors: [() => other.request(`${base}/echo?cached`)] });
  const res = await c.request(`${base}/b`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /headers/);
  assert.deepEqual(hits.map((h) => h.split(' ')[1]), ['/echo?cached']);
});

test('a replay by an interceptor: a replayable body goes twice, a stream body is HG_BODY_NOT_REPLAYABLE', { timeout: 5_000 }, async (t) => {
  const { base, hits } = await server(t);
  const twice: Interceptor = async (req, next) => {
    const first = await next(req);
    await first.dump();
    return next(req);
  };
  const c = client(t, { interceptors: [twice] });
  const res = await c.request(`${base}/echo`, { method: 'POST', body: 'hello' });
  assert.equal(((await res.json()) as { body: string }).body, 'hello');
  assert.deepEqual(hits, ['POST /echo hello', 'POST /echo hello']);

  await assert.rejects(
    c.request(`${base}/echo`, { method: 'POST', body: Readable.from([Buffer.from('once')]) }),
    (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_NOT_REPLAYABLE',
  );
});

test('an interceptor or RoundTripper resolving with a non-Response is HG_BAD_RESPONSE', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const bad = (() => Promise.resolve({ status: 200 })) as unknown as Interceptor;
  const c = client(t, { interceptors: [bad] });
  await assert.rejects(c.request(`${base}/echo`), (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_RESPONSE');
  const rt = { roundTrip: () => Promise.resolve('nope') } as unknown as RoundTripper;
  await assert.rejects(
    client(t, { transport: rt }).request(`${base}/echo`),
    (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_RESPONSE',
  );
});

test('a plain object RoundTripper is a transport; a stalled one is cut by the deadline', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const inner = new Transport();
  t.after(() => inner.close());
  const seen: OutgoingRequest[] = [];
  const rt: RoundTripper = {
    roundTrip(req) {
      seen.push(req);
      return inner.roundTrip(req);
    },
  };
  const c = client(t, { transport: rt, retry: { limit: 1, backoff: () => 1 } });
  assert.equal(c.transport, rt);
  const res = await c.request(`${base}/a`);
  assert.equal(await res.text(), 'done');
  assert.deepEqual(seen.map((r) => `${r.url.pathname} #${r.attempt}`), ['/a #0', '/b #1', '/b #2']);
  assert.ok(seen[0]!.headers instanceof HeaderList);
  assert.ok(seen[0]!.deadline.expiresAt! > Date.now());
  assert.ok(seen[0]!.deadline.remaining() <= 5_000);

  const stalled = client(t, { timeout: 100, transport: { roundTrip: () => new Promise<Response>(() => {}) } });
  await assert.rejects(stalled.request(`${base}/echo`), (e: unknown) => e instanceof TimeoutError && e.phase === 'request');
});

test('a transport that is no RoundTripper is HG_INVALID_ARG at construction', { timeout: 5_000 }, () => {
  for (const bad of [{}, { roundTrip: 1 }, 'http', null]) {
    assert.throws(
      () => new Client({ transport: bad as never }),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
    );
  }
  assert.throws(() => new Client({ interceptors: [1] as never }), (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG');
});

test('Transport.roundTrip takes a request built by hand (outgoingRequest) with its own deadline', { timeout: 5_000 }, async (t) => {
  const { base } = await server(t);
  const tr = new Transport();
  t.after(() => tr.close());
  const req = outgoingRequest(`${base}/echo`, { method: 'POST', headers: { 'X-One': '1' }, body: 'hi', timeout: 2_000 });
  assert.equal(req.headers.get('x-one'), '1');
  assert.deepEqual([...req.headers.entries()], [['x-one', '1']]);
  const res = await tr.roundTrip(req);
  const seen = (await res.json()) as { headers: Record<string, string>; body: string };
  assert.equal(seen.body, 'hi');
  assert.equal(seen.headers['x-one'], '1');
  assert.equal(tr.stats().totals.active, 0);
});

test('HeaderList: lower-cased names, validated values, set/append/delete', { timeout: 5_000 }, () => {
  const h = new HeaderList({ 'Content-Type': 'a', accept: ['x', 'y'] });
  assert.equal(h.get('content-type'), 'a');
  assert.equal(h.get('ACCEPT'), 'x, y');
  h.set('Accept', 'z');
  assert.deepEqual(h.getAll('accept'), ['z']);
  h.append('x-a', '1');
  assert.equal(h.delete('X-A'), true);
  assert.equal(h.has('x-a'), false);
  assert.deepEqual([...h], [['content-type', 'a'], ['accept', 'z']]);
  assert.throws(() => h.set('x-bad', 'a\r\nb'), (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG');
  assert.throws(() => h.append('bad name', 'v'), (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG');
  const copy = h.clone();
  copy.set('x-b', '2');
  assert.equal(h.has('x-b'), false);
});
