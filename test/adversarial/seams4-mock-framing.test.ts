// Adversarial suite, seams 4 (issue 15, third outside attack F2, F3, F7): MockTransport
// refuses the request framing the real Transport refuses, with the same code and message
// (one implementation: transport-head's requestHead and the writers' length rules); it
// works on the request as handed over (a caller mutating it after next() changes neither
// the route, nor `calls`, nor error URLs); `calls[i].route` names a route only once it
// answered (a delay() cut first leaves it undefined, as pending() says).
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, HourglassError, type RequestOptions, Transport } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const CASES: [string, () => RequestOptions][] = [
  ['string body, content-length too big', () => ({ method: 'POST', body: 'abc', headers: { 'content-length': '5' } })],
  ['stream body short of its content-length', () => ({ method: 'POST', body: Readable.from([Buffer.from('abc')]), headers: { 'content-length': '5' } })],
  ['stream body past its content-length', () => ({ method: 'POST', body: Readable.from([Buffer.from('abcdefg')]), headers: { 'content-length': '5' } })],
  // Was HG_BODY_NOT_REPLAYABLE: a stream's first open that failed its framing check was taken for a second open.
  ['stream body with a content-length that is no number', () => ({ method: 'POST', body: Readable.from([Buffer.from('abc')]), headers: { 'content-length': 'x' } })],
    ['transfer-encoding gzip', () => ({ method: 'POST', body: 'abc', headers: { 'transfer-encoding': 'gzip' } })],
  ['content-length on a request without a body', () => ({ headers: { 'content-length': '0' } })],
  ['transfer-encoding on a request without a body', () => ({ headers: { 'transfer-encoding': 'chunked' } })],
  ['content-length and transfer-encoding', () => ({ method: 'POST', body: 'abc', headers: { 'content-length': '3', 'transfer-encoding': 'chunked' } })],
];

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof HourglassError ? `${e.code} ${e.message}` : `raw ${String(e)}`;
  }
}

describe('seams4: MockTransport framing is the Transport framing', () => {
  it('the mock refuses what the real transport refuses, with the same code and message', { timeout: 10_000 }, async (t) => {
    const srv = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => {
      srv.closeAllConnections();
      srv.close();
    });
    const port = (srv.address() as AddressInfo).port;
    const real = new Client({ transport: new Transport(), timeout: 3000, retry: { limit: 0 } });
    const mock = new MockTransport();
    mock.on('*', /./).reply(200, 'ok').persist();
    const mc = new Client({ transport: mock, timeout: 3000, retry: { limit: 0 } });
    t.after(() => real.close());
    for (const [name, opts] of CASES) {
      const w = await outcome(real.request(`http://127.0.0.1:${port}/x`, opts()));
      const m = await outcome(mc.request('http://api.test/x', opts()));
      assert.match(w, /^HG_INVALID_ARG /, `real: ${name}`);
      assert.equal(m, w, `mock: ${name}`);
    }
  });

  it('chunked and exact framing still pass; calls record the body bytes', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('POST', 'http://api.test/x').reply(200, 'ok').persist();
    const c = new Client({ transport: mock, timeout: 2000 });
    await (await c.request('http://api.test/x', { method: 'POST', body: 'abc', headers: { 'transfer-encoding': 'chunked' } })).text();
    await (await c.request('http://api.test/x', { method: 'POST', body: Readable.from(['ab', 'c']), headers: { 'content-length': '3' } })).text();
    assert.deepEqual(mock.calls.map((x) => x.body?.toString()), ['abc', 'abc']);
  });
});

describe('seams4: MockTransport works on a snapshot of the request', () => {
  it('mutating req after next() changes neither routing, calls nor error URLs', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('POST', 'http://api.test/x').reply((r) => ({ status: 200, body: `${r.url.pathname} ${r.headers['x-late'] ?? '-'}` }));
    const c = new Client({
      transport: mock,
      timeout: 2000,
      networkInterceptors: [
        (req, next) => {
          const p = next(req);
          req.url.pathname = '/late';
          req.headers.set('x-late', '1');
          req.method = 'PUT';
          return p;
        },
      ],
    });
    const res = await c.request('http://api.test/x', { method: 'POST', body: Readable.from(['abc']) });
    assert.equal(await res.text(), '/x -');
    assert.equal(mock.calls[0]!.url, 'http://api.test/x');
    assert.equal(mock.calls[0]!.method, 'POST');
    assert.equal(mock.calls[0]!.headers['x-late'], undefined);
    // An unmatched request names the URL it was handed, not the mutated one.
    const err = await c.request('http://api.test/x', { method: 'POST', body: Readable.from(['abc']) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof HourglassError && err.code === 'HG_MOCK_UNMATCHED', String(err));
    assert.match(err.message, /no route for POST http:\/\/api\.test\/x;/);
  });
});

describe('seams4: calls[i].route and a cut delay()', () => {
  it('a delay cut by the timeout leaves calls[i].route undefined, as pending() says', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/x').delay(200).reply(200, 'late');
    const c = new Client({ transport: mock, timeout: 50 });
    await assert.rejects(c.request('http://api.test/x'), { name: 'TimeoutError' });
    assert.equal(mock.pending().length, 1);
    assert.equal(mock.calls[0]!.route, undefined);
    mock.on('GET', 'http://api.test/y').delay(5).reply(200, 'ok');
    await (await c.request('http://api.test/y')).text();
    assert.equal(mock.calls[1]!.route, 'GET http://api.test/y (1/1 used)');
  });
});
