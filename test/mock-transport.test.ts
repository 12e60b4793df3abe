// MockTransport (SPEC §12): every verb — reply static and computed, JSON values, once by
// default, times(n), persist(), RegExp/predicate/'*' routes, delay, stall (cut by the
// deadline, the signal and responseHeaderTimeout with the real transport's TimeoutError
// fields), error, recorded calls (a stream body read fully), HG_MOCK_UNMATCHED naming the
// closest route, assertAllUsed, close, and no timer left behind. First straight through
// `mock.roundTrip(outgoingRequest(...))`, then through `new Client({ transport: mock })`
// (those need the chain branch's Client, which takes any RoundTripper; skipped before).
import * as assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  AbortError,
  Client,
  type ClientOptions,
  HourglassError,
  outgoingRequest,
  TimeoutError,
} from '../src/index.js';
import { MockTransport } from '../src/testing/index.js';

const T = { timeout: 5_000 };
const BASE = 'http://api.test';

function isCode(code: string, msg?: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof HourglassError && err.code === code && (msg === undefined || msg.test(err.message));
}

/** Ref'd timers alive now (what would keep the process running). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('MockTransport.roundTrip', () => {
  it('reply(status, body, headers) answers and the call is recorded', T, async () => {
    const mock = new MockTransport();
    mock.on('POST', `${BASE}/items`).reply(201, 'created', { 'X-Id': '7', 'Set-Cookie': ['a=1', 'b=2'] });
    const req = outgoingRequest(`${BASE}/items`, { method: 'POST', headers: { 'X-Trace': 'abc' }, body: 'payload' });
    const res = await mock.roundTrip(req);
    assert.equal(res.status, 201);
    assert.equal(res.url, `${BASE}/items`);
    assert.equal(res.method, 'POST');
    assert.equal(res.headers['x-id'], '7');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(await res.text(), 'created');
    assert.equal(mock.calls.length, 1);
    const call = mock.calls[0]!;
    assert.equal(call.method, 'POST');
    assert.equal(call.url, `${BASE}/items`);
    assert.equal(call.headers['x-trace'], 'abc');
    assert.equal(call.body?.toString(), 'payload');
    assert.match(call.route ?? '', /POST http:\/\/api\.test\/items/);
  });

  it('a plain value is sent as JSON; HEAD gets no body', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/u`).reply(200, { name: 'ada', tags: [1] });
    mock.on('HEAD', `${BASE}/u`).reply(200, 'ignored');
    const res = await mock.roundTrip(outgoingRequest(`${BASE}/u`));
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual(await res.json(), { name: 'ada', tags: [1] });
    const head = await mock.roundTrip(outgoingRequest(`${BASE}/u`, { method: 'HEAD' }));
    assert.equal(await head.text(), '');
  });

  it('reply(fn) computes the answer from the request (async allowed)', T, async () => {
    const mock = new MockTransport();
    mock.on('PUT', /\/echo\/\d+$/).persist().reply(async (req) => ({
      status: 200,
      body: `${req.method} ${req.url.pathname} ${req.headers['x-a']} ${req.body?.toString()}`,
      headers: { 'content-type': 'text/plain' },
    }));
    const res = await mock.roundTrip(outgoingRequest(`${BASE}/echo/42`, { method: 'PUT', headers: { 'x-a': '1' }, body: 'b' }));
    assert.equal(await res.text(), 'PUT /echo/42 1 b');
  });

  it('a route answers once by default; times(n) and persist() answer more', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/once`).reply(200, 'x');
    mock.on('GET', `${BASE}/twice`).reply(200, 'y').times(2);
    mock.on('GET', `${BASE}/always`).persist().reply(204);
    await mock.roundTrip(outgoingRequest(`${BASE}/once`));
    await assert.rejects(mock.roundTrip(outgoingRequest(`${BASE}/once`)), isCode('HG_MOCK_UNMATCHED', /once \(1\/1 used\)/));
    for (let i = 0; i < 2; i++) assert.equal((await mock.roundTrip(outgoingRequest(`${BASE}/twice`))).status, 200);
    await assert.rejects(mock.roundTrip(outgoingRequest(`${BASE}/twice`)), isCode('HG_MOCK_UNMATCHED'));
    for (let i = 0; i < 5; i++) assert.equal((await mock.roundTrip(outgoingRequest(`${BASE}/always`))).status, 204);
  });

  it('HG_MOCK_UNMATCHED never shows a URL password (route or request)', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://admin:hunter2@a.test/z').reply(200);
    mock.on('GET', new URL('http://u:s3cret@c.test/z')).reply(200);
    const err = await mock.roundTrip(outgoingRequest('http://me:pw1234@b.test/z')).then(
      () => assert.fail('matched'),
      (e: unknown) => e as Error,
    );
    assert.equal((err as { code?: string }).code, 'HG_MOCK_UNMATCHED');
    assert.match(err.message, /closest route: GET http:\/\/(a|c)\.test\/z/);
    for (const secret of ['hunter2', 's3cret', 'pw1234']) assert.ok(!err.message.includes(secret), err.message);
  });

  it("RegExp, predicate and '*' routes match; routes are tried in order", T, async () => {
    const mock = new MockTransport();
    mock.on('*', (u) => u.searchParams.get('v') === '2').reply(200, 'pred');
    mock.on('GET', /\/re\//).reply(200, 're');
    mock.on('*', `${BASE}/any`).reply(200, 'first').persist();
    mock.on('DELETE', `${BASE}/any`).reply(200, 'never');
    assert.equal(await (await mock.roundTrip(outgoingRequest(`${BASE}/x?v=2`, { method: 'PATCH' }))).text(), 'pred');
    assert.equal(await (await mock.roundTrip(outgoingRequest(`${BASE}/re/1`))).text(), 're');
    assert.equal(await (await mock.roundTrip(outgoingRequest(`${BASE}/any`, { method: 'DELETE' }))).text(), 'first');
  });

  it('an unmatched request is HG_MOCK_UNMATCHED naming the closest route', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/orders`).reply(200);
    mock.on('GET', `${BASE}/users`).reply(200);
    mock.on('POST', `${BASE}/user`).reply(200);
    const err = await mock.roundTrip(outgoingRequest(`${BASE}/user`)).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HourglassError);
    assert.equal(err.code, 'HG_MOCK_UNMATCHED');
    assert.match(err.message, /no route for GET http:\/\/api\.test\/user;/);
    assert.match(err.message, /closest route: GET http:\/\/api\.test\/users /);
    assert.equal(err.method, 'GET');
    assert.equal(mock.calls.length, 1, 'an unmatched request is recorded too');
    assert.equal(mock.calls[0]!.route, undefined);
    await assert.rejects(new MockTransport().roundTrip(outgoingRequest(BASE)), isCode('HG_MOCK_UNMATCHED', /no routes/));
  });

  it('error(err) fails the request with that error', T, async () => {
    const mock = new MockTransport();
    const boom = new Error('connection reset');
    mock.on('GET', `${BASE}/e`).error(boom);
    await assert.rejects(mock.roundTrip(outgoingRequest(`${BASE}/e`)), (e) => e === boom);
  });

  it('a stream body is read fully into the record', T, async () => {
    const mock = new MockTransport();
    mock.on('POST', `${BASE}/up`).reply(200);
    const body = Readable.from([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]);
    await mock.roundTrip(outgoingRequest(`${BASE}/up`, { method: 'POST', body }));
    assert.equal(mock.calls[0]!.body?.toString(), 'abcdef');
  });

  it('delay(ms) answers after the delay; the signal cuts it short', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/slow`).delay(80).reply(200, 'late').times(2);
    const t0 = Date.now();
    const res = await mock.roundTrip(outgoingRequest(`${BASE}/slow`));
    assert.ok(Date.now() - t0 >= 75, `answered after ${Date.now() - t0} ms`);
    assert.equal(await res.text(), 'late');
    const before = timers();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 10);
    const t1 = Date.now();
    await assert.rejects(mock.roundTrip(outgoingRequest(`${BASE}/slow`, { signal: ac.signal })), (e) => e instanceof AbortError);
    assert.ok(Date.now() - t1 < 70, 'the abort ends the delay');
    assert.equal(timers(), before, 'no timer left behind');
  });

  it('stall() ends by the deadline: TimeoutError phase request, fields as the transport', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/stall`).stall();
    const before = timers();
    const t0 = Date.now();
    const err = await mock.roundTrip(outgoingRequest(`${BASE}/stall`, { timeout: 100 })).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'request');
    assert.equal(err.requestSent, true);
    assert.equal(err.activePhase, 'response-headers');
    assert.equal(err.method, 'GET');
    assert.equal(err.url, `${BASE}/stall`);
    assert.ok(err.elapsed >= 90 && err.elapsed < 1000, `elapsed ${err.elapsed}`);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(timers(), before, 'no timer left behind');
  });

  it('stall() ends by responseHeaderTimeout (the request’s, else the mock’s)', T, async () => {
    const mock = new MockTransport({ responseHeaderTimeout: 60 });
    mock.on('GET', `${BASE}/stall`).stall().persist();
    const own = await mock
      .roundTrip(outgoingRequest(`${BASE}/stall`, { timeouts: { responseHeaderTimeout: 30 } }))
      .then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(own instanceof TimeoutError);
    assert.equal(own.phase, 'response-headers');
    assert.equal(own.timeout, 30);
    assert.equal(own.requestSent, true);
    assert.ok(own.elapsed >= 25, `elapsed ${own.elapsed}`);
    assert.equal(own.url, `${BASE}/stall`);
    assert.match(own.message, /responseHeaderTimeout/);
    const dflt = await mock.roundTrip(outgoingRequest(`${BASE}/stall`)).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(dflt instanceof TimeoutError);
    assert.equal(dflt.timeout, 60);
  });

  it('stall() ends by the signal; close() fails stalled and later requests', T, async () => {
    const mock = new MockTransport();
    mock.on('*', /stall/).stall().persist();
    const ac = new AbortController();
    const p = mock.roundTrip(outgoingRequest(`${BASE}/stall`, { signal: ac.signal }));
    setTimeout(() => ac.abort(), 10);
    await assert.rejects(p, (e) => e instanceof AbortError);
    const pending = mock.roundTrip(outgoingRequest(`${BASE}/stall2`));
    await new Promise((r) => setTimeout(r, 10));
    await mock.close();
    await assert.rejects(pending, isCode('HG_CLOSED'));
    await assert.rejects(mock.roundTrip(outgoingRequest(`${BASE}/stall`)), isCode('HG_CLOSED'));
  });

  it('assertAllUsed() lists the routes not used up', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/a`).reply(200);
    mock.on('GET', `${BASE}/b`).reply(200).times(2);
    mock.on('GET', `${BASE}/c`).reply(200).persist();
    assert.throws(() => mock.assertAllUsed(), (e) => e instanceof AssertionError && /3 route/.test(e.message));
    await mock.roundTrip(outgoingRequest(`${BASE}/a`));
    await mock.roundTrip(outgoingRequest(`${BASE}/b`));
    await mock.roundTrip(outgoingRequest(`${BASE}/c`));
    assert.throws(() => mock.assertAllUsed(), (e) => e instanceof AssertionError && /1 route.*\n.*\/b \(1\/2 used\)/.test(e.message));
    await mock.roundTrip(outgoingRequest(`${BASE}/b`));
    mock.assertAllUsed();
  });

  it('bad routes are HG_INVALID_ARG', T, () => {
    const mock = new MockTransport();
    assert.throws(() => mock.on('GET', '/relative'), isCode('HG_INVALID_ARG'));
    assert.throws(() => mock.on('G T', BASE), isCode('HG_INVALID_ARG'));
    assert.throws(() => mock.on('GET', BASE).reply(42), isCode('HG_INVALID_ARG'));
    assert.throws(() => mock.on('GET', BASE).times(0), isCode('HG_INVALID_ARG'));
    assert.throws(() => mock.on('GET', BASE).delay(-1), isCode('HG_INVALID_ARG'));
    assert.throws(() => new MockTransport({ responseHeaderTimeout: -5 }), isCode('HG_INVALID_ARG'));
  });
});

/**
 * Whether this branch's Client hands its transport a public OutgoingRequest (the chain
 * branch's Client does; before it, the Client passes an internal request shape).
 */
async function clientSpeaksOutgoingRequest(): Promise<boolean> {
  let seen = false;
  const probe = {
    roundTrip(req: { headers?: { entries?: unknown }; deadline?: { remaining?: unknown } }): Promise<never> {
      seen = typeof req.headers?.entries === 'function' && typeof req.deadline?.remaining === 'function';
      return Promise.reject(new Error('probe'));
    },
  };
  try {
    const c = new Client({ transport: probe as unknown as ClientOptions['transport'], retry: 0 });
    await c.request('http://probe.test/').catch(() => undefined);
    await c.close();
  } catch {
    return false;
  }
  return seen;
}

const chain = await clientSpeaksOutgoingRequest();
const C = { ...T, skip: chain ? false : 'needs the chain branch (h1-chain): Client over any RoundTripper' };

function clientOn(mock: MockTransport, opts: ClientOptions = {}): Client {
  return new Client({ ...opts, transport: mock as unknown as ClientOptions['transport'] });
}

describe('MockTransport through a Client', () => {
  it('answers client.request() and records the call', C, async () => {
    const mock = new MockTransport();
    mock.on('POST', `${BASE}/items`).reply(201, { id: 1 });
    const client = clientOn(mock);
    const res = await client.request(`${BASE}/items`, { method: 'POST', body: 'x', headers: { 'x-a': 'b' } });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { id: 1 });
    assert.equal(mock.calls[0]!.headers['x-a'], 'b');
    assert.equal(mock.calls[0]!.body?.toString(), 'x');
    mock.assertAllUsed();
    await client.close();
  });

  it('a stall is cut by the client timeout with TimeoutError phase request', C, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/stall`).stall();
    const client = clientOn(mock, { timeout: 100 });
    const t0 = Date.now();
    const err = await client.request(`${BASE}/stall`).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'request');
    assert.equal(err.method, 'GET');
    assert.equal(err.url, `${BASE}/stall`);
    assert.ok(Date.now() - t0 < 1000);
    await client.close();
  });

  it('a stall is cut by the request’s responseHeaderTimeout and by its signal', C, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/stall`).stall().persist();
    const client = clientOn(mock);
    const err = await client
      .request(`${BASE}/stall`, { timeouts: { responseHeaderTimeout: 40 }, retry: 0 })
      .then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'response-headers');
    assert.equal(err.requestSent, true);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(client.request(`${BASE}/stall`, { signal: ac.signal }), (e) => e instanceof AbortError);
    await client.close();
  });

  it('redirects followed by the client are answered by the mock', C, async () => {
    const mock = new MockTransport();
    mock.on('GET', `${BASE}/old`).reply(301, '', { location: '/new' });
    mock.on('GET', `${BASE}/new`).reply(200, 'moved');
    const client = clientOn(mock);
    const res = await client.request(`${BASE}/old`);
    assert.equal(await res.text(), 'moved');
    assert.deepEqual(
      mock.calls.map((c) => c.url),
      [`${BASE}/old`, `${BASE}/new`],
    );
    await client.close();
  });
});
