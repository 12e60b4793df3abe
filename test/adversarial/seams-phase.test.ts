// Adversarial suite, seams (issue 15, outside attack, round 2): the overall deadline
// firing while the chain waits outside the wire names what is waited on. Between two
// requests of a call — a redirect policy deciding the next hop, a network interceptor
// stalling before hop 2 or a retry is sent, bearerAuth's token() before its replay —
// the next request has not started: activePhase `start`, requestSent false (it describes
// the current request, not the earlier one whose body phase was reported before).
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { bearerAuth, Client, type ClientOptions, type RoundTripper, TimeoutError } from '../../src/index.js';

const T = { timeout: 10_000 };
const DEADLINE = 200;
const never = (): Promise<never> => new Promise(() => undefined);

describe('seams: the phase of a wait between the requests of a call', () => {
  let server: http.Server;
  let base = '';
  let hits = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      hits++;
      if (req.url === '/r') return void res.writeHead(302, { location: '/ok' }).end();
      if (req.url === '/503') return void res.writeHead(503, { 'retry-after': '0' }).end('busy');
      if (req.url === '/auth' && req.headers.authorization === undefined) {
        return void res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="s"' }).end('no');
      }
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  async function timeoutOf(opts: ClientOptions<RoundTripper>, path: string): Promise<TimeoutError> {
    const client = new Client({ timeout: DEADLINE, ...opts });
    try {
      const err = await client.request(base + path).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'request');
      return err;
    } finally {
      await client.close();
    }
  }

  it('a network interceptor stalling on a redirect\'s hop 2 (hop 1 was sent): start, nothing sent', T, async () => {
    const err = await timeoutOf({ networkInterceptors: [async (req, next) => (req.url.pathname === '/ok' ? never() : next(req))] }, '/r');
    assert.equal(err.activePhase, 'start');
    assert.equal(err.requestSent, false);
  });

  it('an async checkRedirect that never answers: start, nothing sent', T, async () => {
    const err = await timeoutOf({ checkRedirect: () => never() }, '/r');
    assert.equal(err.activePhase, 'start');
    assert.equal(err.requestSent, false);
  });

  it('a network interceptor stalling on a retry after a 503 (not retry-backoff, not body)', T, async () => {
    let n = 0;
    const err = await timeoutOf(
      { retry: { limit: 1, statusCodes: [503] }, networkInterceptors: [async (req, next) => (n++ === 0 ? next(req) : never())] },
      '/503',
    );
    assert.equal(n, 2);
    assert.equal(err.activePhase, 'start');
    assert.equal(err.requestSent, false);
  });

  it('bearerAuth waiting in token() after a 401: start, the replay not sent', T, async () => {
    const before = hits;
    const err = await timeoutOf({ interceptors: [bearerAuth({ token: () => never() })] }, '/auth');
    assert.equal(hits - before, 1, 'only the first request reached the server');
    assert.equal(err.activePhase, 'start');
    assert.equal(err.requestSent, false);
  });

  it('control: an interceptor holding a response whose body it has not read reports body, sent', T, async () => {
    const err = await timeoutOf({ interceptors: [async (req, next) => (await next(req), never())] }, '/ok');
    assert.equal(err.activePhase, 'body');
    assert.equal(err.requestSent, true);
  });
});
