// Thirteenth outside attack (issue #16): findings of a tester who saw only the spec and the
// packed build, turned into tests.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, ProtocolError, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

const T = { timeout: 20_000 };

describe('adv13', () => {
  // F2: over HTTP/2 an interim (1xx) head skipped maxResponseHeaderBytes: a 103 of any size
  // reached got1xxResponse and the request went on (HTTP/1.1 fails it headers-too-large).
  for (const proto of ['h1', 'h2'] as const) {
    it(`F2 ${proto}: a 103 head over maxResponseHeaderBytes fails headers-too-large and reaches no hook`, T, async () => {
      const fs = await FaultServer.start(proto === 'h2' ? { h2: true, tls: false } : {});
      const link = `<${'x'.repeat(2000)}>; rel=preload`;
      if (proto === 'h1') {
        fs.route('/hints', async (ex) => {
          await ex.write(`HTTP/1.1 103 Early Hints\r\nlink: ${link}\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`);
        });
      } else {
        fs.h2Route('/hints', async (s) => {
          await s.headers([[':status', '103'], ['link', link]]);
          await s.headers(200, { 'content-length': '2' });
          await s.data('ok', { end: true });
        });
      }
      const client = new Client({ transport: new Transport({ maxResponseHeaderBytes: 1000, ...(proto === 'h2' ? { h2c: true } : {}) }) });
      try {
        let hints = 0;
        const err = await client.request(fs.url('/hints'), { trace: { got1xxResponse: () => void hints++ } }).then(
          async (r) => `resolved ${r.status} ${await r.text()}`,
          (e: unknown) => e,
        );
        assert.ok(err instanceof ProtocolError && err.reason === 'headers-too-large', String(err));
        assert.equal(hints, 0);
      } finally {
        await client.close();
        await fs.close();
      }
    });
  }

  // F3: a request head over 16 MiB failing HG_INVALID_ARG before its stream opened kept its
  // slot on the connection: with a server allowing one stream and maxConnsPerHost 1 the next
  // request waited until idleConnTimeout closed the connection (90 s; forever with 0).
  it('F3 h2: a request head too large to send leaves no slot taken; the next request on a 1-stream connection goes at once', T, async () => {
    const fs = await FaultServer.start({ h2: { maxConcurrentStreams: 1 }, tls: false });
    const transport = new Transport({ h2c: true, maxConnsPerHost: 1, idleConnTimeout: 0 });
    const client = new Client({ transport });
    try {
      await (await client.request(fs.url('/ok'))).text();
      for (let i = 0; i < 3; i++) {
        const e = await client.request(fs.url('/ok'), { headers: { 'x-big': 'b'.repeat(16 * 1024 * 1024 + 10) } }).catch((x: unknown) => x);
        assert.ok(e instanceof HourglassError && e.code === 'HG_INVALID_ARG', String(e));
      }
      assert.equal(transport.stats().totals.streams, 0);
      const t0 = performance.now();
      const res = await client.request(fs.url('/ok'), { timeout: 2000 });
      assert.equal(await res.text(), 'ok');
      assert.ok(performance.now() - t0 < 500, `took ${Math.round(performance.now() - t0)} ms`);
      assert.equal(fs.connections, 1);
    } finally {
      await client.close();
      await fs.close();
    }
  });

  // F4: a body factory that threw escaped as the caller's own Error (no HourglassError, no
  // code), on the first call and on a 307 replay. SPEC §4: every error is an HourglassError;
  // the body's failure is HG_REQUEST_BODY with the cause.
  it('F4 a body factory that throws fails HG_REQUEST_BODY with the cause, on the first call and on a 307 replay', T, async () => {
    const fs = await FaultServer.start();
    const client = new Client();
    try {
      const boom = new Error('factory-threw');
      const first = await client.request(fs.url('/echo'), { method: 'POST', body: () => { throw boom; } }).catch((x: unknown) => x);
      assert.ok(first instanceof HourglassError && first.code === 'HG_REQUEST_BODY', String(first));
      assert.equal(first.cause, boom);
      let n = 0;
      const replay = await client
        .request(fs.url('/redirect?status=307&to=/echo'), {
          method: 'POST',
          body: () => {
            if (++n >= 2) throw boom;
            return 'abc';
          },
        })
        .catch((x: unknown) => x);
      assert.ok(replay instanceof HourglassError && replay.code === 'HG_REQUEST_BODY', String(replay));
      assert.equal(replay.cause, boom);
      assert.equal(n, 2);
    } finally {
      await client.close();
      await fs.close();
    }
  });
});
