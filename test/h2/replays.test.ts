// HTTP/2 replay and reset rules (SPEC §13): GOAWAY above in-flight streams, REFUSED_STREAM
// (once on the same connection; a second refusal stands; a stream body is not replayed),
// RST_STREAM codes, plus pool rules: a stream limit with maxConnsPerHost and poolTimeout,
// a shared cold dial failing every waiter under its own URL, idle expiry, backpressure.
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client } from '../../src/client.js';
import { ProtocolError, TimeoutError } from '../../src/errors.js';
import { h2Server, h2Transport, sleep } from './helpers.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

function ok(stream: http2.ServerHttp2Stream, body = 'ok'): void {
  stream.respond({ ':status': 200 });
  stream.end(body);
}

describe('HTTP/2 replays and resets', { timeout: 30_000 }, () => {
  it('H2-25/27 GOAWAY(NO_ERROR, last=1): stream 1 completes, stream 3 is replayed once on a new connection', { timeout: 10_000 }, async () => {
    let first: http2.Http2Session | undefined;
    const srv = await h2Server((stream, h) => {
      first ??= stream.session;
      if (h[':path'] === '/slow') {
        stream.respond({ ':status': 200 });
        stream.write('part-');
        setTimeout(() => stream.end('end'), 200);
        return;
      }
      if (stream.session === first) {
        stream.session!.goaway(NGHTTP2_NO_ERROR, 1);
        return;
      }
      ok(stream, 'b');
    });
    const c = new Client({ transport: h2Transport() });
    try {
      const slow = await c.request(srv.url('/slow'));
      const b = await c.request(srv.url('/b'), { method: 'POST', body: 'x' });
      assert.equal(await b.text(), 'b');
      assert.equal(await slow.text(), 'part-end');
      assert.equal(srv.sessions, 2);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-29 REFUSED_STREAM: GET and POST replayed once on the same connection; the body is read once', { timeout: 10_000 }, async () => {
    let n = 0;
    const bodies: string[] = [];
    const srv = await h2Server((stream) => {
      if (n++ % 2 === 0) {
        stream.close(NGHTTP2_REFUSED_STREAM);
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        ok(stream);
      });
    });
    const c = new Client({ transport: h2Transport() });
    try {
      assert.equal(await (await c.request(srv.url('/g'))).text(), 'ok');
      assert.equal(await (await c.request(srv.url('/p'), { method: 'POST', body: 'payload' })).text(), 'ok');
      assert.equal(srv.sessions, 1);
      assert.equal(srv.streams, 4);
      assert.deepEqual(bodies, ['', 'payload']);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-29 a second refusal stands (stream-refused, h2Code 7); a stream body is never replayed (stream-refused)', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream) => stream.close(NGHTTP2_REFUSED_STREAM));
    const c = new Client({ transport: h2Transport() });
    try {
      const e1 = await c.request(srv.url('/')).then(() => assert.fail('no error'), (e: unknown) => e);
      assert.ok(e1 instanceof ProtocolError, String(e1));
      assert.equal(e1.reason, 'stream-refused');
      assert.equal(e1.h2Code, 7);
      assert.equal(srv.streams, 2);
      const e2 = await c
        .request(srv.url('/'), { method: 'POST', body: Readable.from([Buffer.from('abc')]) })
        .then(() => assert.fail('no error'), (e: unknown) => e);
      assert.ok(e2 instanceof ProtocolError, String(e2));
      assert.equal(e2.reason, 'stream-refused');
      assert.equal(e2.h2Code, 7);
      assert.equal(srv.streams, 3);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-30 RST_STREAM: before the head fails at once (stream-reset with h2Code, not retried); mid-body fails the body read; NO_ERROR after a complete response is success', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/rst') stream.close(NGHTTP2_INTERNAL_ERROR);
      else if (h[':path'] === '/mid') {
        stream.respond({ ':status': 200 });
        stream.write('abc');
        stream.close(NGHTTP2_INTERNAL_ERROR);
      } else {
        stream.respond({ ':status': 200 });
        stream.end('done', () => stream.close(NGHTTP2_NO_ERROR));
      }
    });
    const c = new Client({ transport: h2Transport() });
    try {
      const e = await c.request(srv.url('/rst')).then(() => assert.fail('no error'), (x: unknown) => x);
      assert.ok(e instanceof ProtocolError, String(e));
      assert.equal(e.reason, 'stream-reset');
      assert.equal(e.h2Code, 2);
      assert.equal(e.requestSent, true);
      assert.equal(srv.streams, 1);
      const mid = await c.request(srv.url('/mid'));
      await assert.rejects(mid.text(), (x: unknown) => x instanceof ProtocolError && x.reason === 'stream-reset' && x.h2Code === 2);
      assert.equal(await (await c.request(srv.url('/ok'))).text(), 'done');
      assert.equal(srv.sessions, 1);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-04 stream limit 1 with maxConnsPerHost 1: the second request waits and fails pool at poolTimeout, requestSent false', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/hold') return;
      ok(stream);
    }, { settings: { maxConcurrentStreams: 1 } });
    const tr = h2Transport({ maxConnsPerHost: 1, poolTimeout: 200 });
    const c = new Client({ transport: tr });
    try {
      await (await c.request(srv.url('/'))).text();
      const held = c.request(srv.url('/hold'), { timeout: 3_000 }).catch(() => undefined);
      await sleep(50);
      const t0 = Date.now();
      const e = await c.request(srv.url('/')).then(() => assert.fail('no error'), (x: unknown) => x);
      assert.ok(e instanceof TimeoutError, String(e));
      assert.equal(e.phase, 'pool');
      assert.equal(e.requestSent, false);
      assert.ok(Date.now() - t0 >= 198 && Date.now() - t0 < 450);
      assert.equal(srv.sessions, 1);
      assert.equal(tr.stats().totals.streams, 1);
      void held;
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('a cold dial shared by three requests fails each under its own URL', { timeout: 10_000 }, async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    let dials = 0;
    const c = new Client({ transport: h2Transport({ tlsHandshakeTimeout: 200 }) });
    try {
      const errs = await Promise.all(
        ['/a', '/b', '/c'].map((p) =>
          c.request(`https://localhost:${port}${p}`, { trace: { connectStart: () => dials++ } }).then(() => assert.fail('no error'), (e: unknown) => e),
        ),
      );
      assert.equal(dials, 1);
      errs.forEach((e, i) => {
        assert.ok(e instanceof TimeoutError, String(e));
        assert.equal(e.phase, 'tls');
        assert.equal(e.url, `https://localhost:${port}/${'abc'[i]}`);
        assert.match(e.message, new RegExp(`/${'abc'[i]}$`));
      });
    } finally {
      await c.close();
      silent.close();
    }
  });

  it('H2-34 an unread large body does not stall other streams; H2-12 idleConnTimeout closes the idle session', { timeout: 10_000 }, async () => {
    const big = Buffer.alloc(2 << 20, 7);
    let closedAt = 0;
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/big') {
        stream.respond({ ':status': 200 });
        stream.end(big);
      } else ok(stream, 'abc');
    });
    srv.server.on('session', (s) => s.on('close', () => (closedAt = Date.now())));
    const c = new Client({ transport: h2Transport({ idleConnTimeout: 300 }) });
    try {
      const b = await c.request(srv.url('/big'));
      const t0 = Date.now();
      assert.equal(await (await c.request(srv.url('/small'))).text(), 'abc');
      assert.ok(Date.now() - t0 < 500);
      assert.equal((await b.bytes()).length, big.length);
      const idleFrom = Date.now();
      await sleep(600);
      assert.ok(closedAt > 0, 'the idle session was closed');
      assert.ok(closedAt - idleFrom >= 250 && closedAt - idleFrom < 300 + 250, `closed after ${closedAt - idleFrom} ms`);
      assert.equal(srv.sessions, 1);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});
