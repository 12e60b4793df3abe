// Adversarial suite, seams (issue 15, outside attack, round 2): a logger whose async sink
// rejects crashes nothing and fails nothing; a malformed request handed over at a seam
// (an interceptor's next(), Transport.roundTrip, MockTransport.roundTrip) fails with
// HG_INVALID_ARG before a byte reaches the wire.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, HourglassError, logger, type OutgoingRequest, outgoingRequest, Transport } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 10_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('seams: logger with an async sink', () => {
  it('a sink returning a rejected promise: the request succeeds, nothing is left unhandled', T, async () => {
    const seen: unknown[] = [];
    const on = (e: unknown): void => void seen.push(e);
    process.on('unhandledRejection', on);
    try {
      const mock = new MockTransport();
      mock.on('GET', /x/).reply(200, 'ok');
      let calls = 0;
      const sink = async (): Promise<void> => {
        calls++;
        throw new Error('log sink down');
      };
      const res = await new Client({ transport: mock, interceptors: [logger(sink)] }).request('http://a.test/x');
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
      await sleep(100);
      assert.equal(calls, 1);
    } finally {
      process.off('unhandledRejection', on);
    }
    assert.deepEqual(seen, []);
  });
});

describe('seams: a malformed request at a seam fails before the wire', () => {
  let server: net.Server;
  let base = '';
  let bytes = 0;
  before(async () => {
    server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', (d) => {
        bytes += d.length;
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(() => server.close());

  const rewrites: Record<string, (r: OutgoingRequest) => unknown> = {
    'an ftp: URL': (r) => ({ ...r, url: new URL(`ftp://${r.url.host}/`) }),
    'a file: URL': (r) => ({ ...r, url: new URL('file:///etc/passwd') }),
    'a URL as a string': (r) => ({ ...r, url: r.url.href }),
    'a signal that is not an AbortSignal': (r) => ({ ...r, signal: {} }),
    'body null': (r) => ({ ...r, method: 'POST', body: null }),
    'a body as a raw string': (r) => ({ ...r, method: 'POST', body: 'raw' }),
    'a body without open()': (r) => ({ ...r, method: 'POST', body: { replayable: true } }),
    'headers as a plain object': (r) => ({ ...r, headers: { 'x-a': 'b' } }),
    'a method with a space': (r) => ({ ...r, method: 'GET /evil HTTP/1.1\r\nX: 1\r\n\r\nGET' }),
    'timeouts as a number': (r) => ({ ...r, timeouts: 5 }),
    'a negative timeout': (r) => ({ ...r, timeouts: { responseHeaderTimeout: -1 } }),
    'a misspelt timeout': (r) => ({ ...r, timeouts: { responseHeadersTimeout: 5 } }),
  };
  for (const [name, rewrite] of Object.entries(rewrites)) {
    it(`next() with ${name}: HG_INVALID_ARG, nothing on the wire`, T, async () => {
      bytes = 0;
      const c = new Client({ timeout: 2000, interceptors: [async (req, next) => next(rewrite(req) as OutgoingRequest)] });
      const err = await c.request(`${base}/x`).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG', String(err));
      await sleep(20);
      assert.equal(bytes, 0);
    });
    it(`Transport.roundTrip and MockTransport.roundTrip with ${name}: HG_INVALID_ARG`, T, async () => {
      bytes = 0;
      const bad = rewrite(outgoingRequest(`${base}/x`, { timeout: 2000 })) as OutgoingRequest;
      const t = new Transport();
      const mock = new MockTransport();
      mock.on('*', /.*/).reply(200).persist();
      try {
        for (const rt of [t, mock]) {
          const err = await rt.roundTrip(bad).then(
            () => assert.fail('resolved'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG', String(err));
        }
        assert.equal(mock.calls.length, 0);
        await sleep(20);
        assert.equal(bytes, 0);
      } finally {
        t.close();
      }
    });
  }
});
