// Eleventh outside attack (issue #16 and the body-source changes): findings of a tester who
// saw only the spec and the packed build, turned into tests.
import * as assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, fetch, HourglassError, ProtocolError, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { partialServer, settleWithin } from '../helpers/partial-server.js';

const T = { timeout: 20_000 };

async function ok(res: { status: number; text(): Promise<string> }): Promise<void> {
  assert.equal(res.status, 200);
  await res.text();
}

async function* slowSource(pieces: number, gapMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < pieces; i++) {
    yield Buffer.alloc(1000, 65 + i);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

/** A source that yields nothing and fails `ms` after it is made. */
function failingSource(ms: number): { body: Readable; cause: Error } {
  const cause = new Error('boom-src');
  const body = new Readable({ read() {} });
  setTimeout(() => body.destroy(cause), ms).unref();
  return { body, cause };
}

function assertBodyFailure(got: { err: unknown; ms: number }, cause: Error, label: string): void {
  assert.ok(got.err instanceof HourglassError && got.err.code === 'HG_REQUEST_BODY', `${label}: ${String(got.err)}`);
  assert.equal(got.err.cause, cause, label);
  assert.ok(got.ms < 1000, `${label}: settled after ${Math.round(got.ms)} ms (the source failed at 200 ms; the limits are seconds)`);
}

describe('adv11', () => {
  // F3: a stream body that failed before any uploader read it — while the request waited
  // for 100 Continue or for a connection / stream slot — had no 'error' listener: an
  // uncaught exception (a crash), and the request ended at expectContinueTimeout, the
  // response-header timeout or when a connection came.
  it('F3 a body source failing while the request waits (100 Continue, a connection, a stream slot): HG_REQUEST_BODY at once, nothing uncaught', T, async () => {
    const fs = await FaultServer.start({ h2: { maxConcurrentStreams: 1 }, tls: false });
    fs.route('/never-continue', async () => {
      await new Promise(() => {});
    }, { readBody: false });
    fs.route('/slow', async (ex) => {
      await ex.sleep(2500);
      await ex.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    }, { readBody: false });
    const h1 = new Client({ transport: new Transport({ maxConnsPerHost: 1, responseHeaderTimeout: 5000 }) });
    const h2 = new Client({ transport: new Transport({ h2c: true, maxConnsPerHost: 1 }) });
    try {
      const post = (c: Client, path: string, extra: object) => {
        const { body, cause } = failingSource(200);
        return settleWithin(c.request(fs.url(path), { method: 'POST', body, ...extra }).then((r) => r.text())).then((g) => ({ g, cause }));
      };
      const cont = { headers: { expect: '100-continue' } };
      for (const ect of [2000, Number.POSITIVE_INFINITY]) {
        const { g, cause } = await post(h1, '/never-continue', { ...cont, timeouts: { expectContinueTimeout: ect } });
        assertBodyFailure(g, cause, `h1 waiting for 100 Continue (expectContinueTimeout ${ect})`);
      }
      {
        const slow = h1.request(fs.url('/slow')).then((r) => r.text());
        await new Promise((r) => setTimeout(r, 50));
        const { g, cause } = await post(h1, '/ok', {});
        assertBodyFailure(g, cause, 'h1 queued for the only connection');
        assert.equal(await slow, 'ok');
      }
      await ok(await h2.request(fs.url('/ok')));
      {
        const { g, cause } = await post(h2, '/h2/continue?delay=3000', { ...cont, timeouts: { expectContinueTimeout: 2000 } });
        assertBodyFailure(g, cause, 'h2 waiting for 100 Continue');
      }
      {
        const slow = h2.request(fs.url('/delay-headers?ms=2500')).then((r) => r.text());
        await new Promise((r) => setTimeout(r, 50));
        const { g, cause } = await post(h2, '/ok', {});
        assertBodyFailure(g, cause, 'h2 queued for the only stream slot');
        await slow;
      }
    } finally {
      await h1.close();
      await h2.close();
      await fs.close();
    }
  });

  // F4: a stream body of a request that never got a connection (refused, dial timeout,
  // pool timeout) or that was aborted before it started stayed open: a file stream's
  // descriptor per request.
  it('F4 a stream body is destroyed when its request fails before a connection or before it starts', T, async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const client = new Client({ transport: new Transport() });
    try {
      const refused = new Readable({ read() {} });
      await assert.rejects(client.request(`http://127.0.0.1:${port}/`, { method: 'PUT', body: refused }));
      assert.equal(refused.destroyed, true, 'refused: the source was destroyed');
      const aborted = new Readable({ read() {} });
      await assert.rejects(client.request(`http://127.0.0.1:${port}/`, { method: 'PUT', body: aborted, signal: AbortSignal.abort() }));
      assert.equal(aborted.destroyed, true, 'aborted before it started: the source was destroyed');
    } finally {
      await client.close();
    }
    const fs = await FaultServer.start();
    fs.route('/hold', async (ex) => {
      await ex.sleep(1000);
      await ex.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    const pooled = new Client({ transport: new Transport({ maxConnsPerHost: 1, poolTimeout: 100 }) });
    try {
      const hold = pooled.request(fs.url('/hold'));
      const src = new Readable({ read() {} });
      await assert.rejects(pooled.request(fs.url('/ok'), { method: 'PUT', body: src }), /pool/);
      assert.equal(src.destroyed, true, 'pool timeout: the source was destroyed');
      await (await hold).text();
    } finally {
      await pooled.close();
      await fs.close();
    }
  });

  // F6: a body source failing after the final response head while the upload still ran:
  // HTTP/1.1 ignored it (the connection kept a truncated chunked upload, and the body read
  // ended only at readIdleTimeout); HTTP/2 reset the stream and then said the server did.
  for (const proto of ['h1', 'h2'] as const) {
    it(`F6 ${proto}: a body source failing after the response head fails the body read with HG_REQUEST_BODY at once`, T, async () => {
      const fs = await partialServer(proto);
      const client = new Client({ transport: new Transport({ readIdleTimeout: 5000, ...(proto === 'h2' ? { h2c: true } : {}) }) });
      try {
        let n = 0;
        const cause = new Error('boom-late');
        const body = new Readable({
          read() {
            if (n++ < 3) this.push(Buffer.alloc(100, 0x61));
            else setTimeout(() => this.destroy(cause), 300).unref();
          },
        });
        const res = await client.request(fs.url('/partial'), { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
        assert.equal(res.status, 200);
        const g = await settleWithin(res.text());
        assertBodyFailure(g, cause, `${proto} body read`);
        if (proto === 'h2') await ok(await client.request(fs.url('/ok')));
      } finally {
        await client.close();
        await fs.close();
      }
    });
  }

  // F5: on a reused plain-TCP connection (out of the kernel's quick-ACK start), the peer's
  // delayed ACK held a piece's bytes in the kernel's send queue when the write-idle clock
  // looked, and the clock counted from its previous look (made while the source was slow,
  // nothing waiting) — write-idle at ~430 ms for a source pausing 400 ms, limit 200.
  it('F5 HTTP/1.1, reused connection: a source pausing longer than writeIdleTimeout is not a write stall', T, async () => {
    const fs = await FaultServer.start();
    const client = new Client({ transport: new Transport({ writeIdleTimeout: 200 }) });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.request(fs.url('/echo'), { method: 'POST', body: slowSource(3, 400) });
        const echo = JSON.parse(await res.text()) as { bodyLength: number };
        assert.equal(echo.bodyLength, 3000);
        assert.equal(res.reused, i > 0);
      }
    } finally {
      await client.close();
      await fs.close();
    }
  });

  // F1: a complete response (END_STREAM), then RST_STREAM(NO_ERROR) to stop our upload
  // (RFC 9113 §8.1), with the body not yet read: node's stream held the rest paused behind
  // our backpressure and the reset dropped it — 81 920 of 200 000 bytes, then nothing until
  // readIdleTimeout (300 s by default).
  it('F1 h2: complete response then RST_STREAM(NO_ERROR) during an upload, body read late: every byte', T, async () => {
    const fs = await FaultServer.start({ h2: true, tls: false });
    fs.h2Route('/stop-upload', async (s) => {
      await s.waitForBody(300);
      await s.respond(200, {}, FaultServer.rangeContent(200_000));
      await s.rst(0);
    });
    const client = new Client({ transport: new Transport({ h2c: true, readIdleTimeout: 2000 }) });
    try {
      for (let i = 0; i < 3; i++) {
        const src = new Readable({
          read() {
            setTimeout(() => this.push(Buffer.alloc(1000)), 20).unref();
          },
        });
        const res = await client.request(fs.url('/stop-upload'), { method: 'POST', body: src });
        await new Promise((r) => setTimeout(r, 300));
        const t0 = performance.now();
        const body = await res.bytes();
        assert.equal(body.length, 200_000);
        assert.ok(Buffer.from(body).equals(FaultServer.rangeContent(200_000)), 'the bytes the server sent');
        assert.ok(performance.now() - t0 < 1000, 'read at once');
        assert.equal(src.destroyed, true, 'the upload stopped');
      }
    } finally {
      await client.close();
      await fs.close();
    }
  });

  // F2: a peer allowing 0 streams: each new connection had no slot either, so the waiter
  // dialed another at once — over a thousand connections a second, idle ones kept past
  // maxIdleConns, EMFILE after ~10 000; with maxConnsPerHost 1 and defaults the request
  // never settled (one connection per settingsTimeout, forever).
  for (const maxConnsPerHost of [0, 1]) {
    it(`F2 a peer allowing 0 streams (maxConnsPerHost ${maxConnsPerHost || 'unlimited'}): one connection per settingsTimeout, then stream-refused after the second`, T, async () => {
      const fs = await FaultServer.start({ h2: { maxConcurrentStreams: 0 }, tls: false });
      const transport = new Transport({ h2c: true, maxConnsPerHost, h2: { settingsTimeout: 300 } });
      const client = new Client({ transport });
      try {
        const t0 = performance.now();
        const err = await client.request(fs.url('/ok')).then(() => undefined, (e: unknown) => e);
        const ms = performance.now() - t0;
        assert.ok(err instanceof ProtocolError && err.reason === 'stream-refused', String(err));
        assert.equal(err.requestSent, false);
        assert.match(err.message, /allowed no HTTP\/2 stream/);
        assert.ok(ms >= 550 && ms < 1500, `failed after ${Math.round(ms)} ms (2 × settingsTimeout 300)`);
        assert.equal(fs.h2Connections.length, 2, 'two connections, not one per dial turn');
        await new Promise((r) => setTimeout(r, 100));
        const totals = transport.stats().totals;
        assert.deepEqual([totals.active, totals.idle, totals.dialing, totals.waiting], [0, 0, 0, 0], JSON.stringify(totals));
      } finally {
        await client.close();
        await fs.close();
      }
    });
  }

  // F8: fetch() took credentials in the URL and sent them as Authorization; WHATWG fetch
  // (and Node's) refuses such a URL with a TypeError.
  it('F8 fetch() refuses a URL with credentials (TypeError, nothing sent); request() still moves them to Authorization', T, async () => {
    const fs = await FaultServer.start();
    try {
      const url = fs.url('/echo').replace('http://', 'http://alice:s3cret@');
      await assert.rejects(fetch(url), (e: unknown) => e instanceof TypeError && !String((e as Error).message).includes('s3cret'));
      await assert.rejects(fetch(new URL(url)), TypeError);
      assert.equal(fs.requests.length, 0, 'nothing was sent');
      const client = new Client({ transport: new Transport() });
      try {
        const echo = JSON.parse(await (await client.request(url)).text()) as { headers: Record<string, string> };
        assert.equal(echo.headers.authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
      } finally {
        await client.close();
      }
    } finally {
      await fs.close();
    }
  });
});
