// Black-box HTTP/2 spec suite — writes and flow control (SPEC §13 table, SCENARIOS §6.3,
// §6.8): an upload against a window that never opens (write-idle / write, naming flow
// control), a window opened a few bytes at a time, a server that stops reading, an early
// final response, an unread body that must not stall its neighbours, window settings.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { H2Setting, type H2Stream } from '../../src/testing/index.js';
import { eventually, ok, rig, settle, SLACK, timedOut } from './spec-helpers.js';

const T = { timeout: 20_000 };
const CANCEL = 8;
const KIB = 1024;

describe('spec: flow control', () => {
  it('H2-14a zero window: the PUT fails write-idle at writeIdleTimeout naming flow control; RST CANCEL; the connection stays', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 0, windowUpdates: 'none' } }, { writeIdleTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const g = await settle(r.client, r.fs.url('/echo'), { method: 'PUT', body: 'x'.repeat(KIB) });
      const e = timedOut(g, 'write-idle', true, 300);
      assert.equal((e as unknown as { flowControl?: boolean }).flowControl, true, e.message); // h2-surface
      assert.match(e.message, /flow.control/i);
      assert.equal(r.fs.h2Connections[0]!.dataBytesReceived, 0);
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.resetsReceived.some((x) => x.code === CANCEL)));
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-14b zero window with writeTimeout: phase write', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 0, windowUpdates: 'none' } }, { writeTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      timedOut(await settle(r.client, r.fs.url('/echo'), { method: 'PUT', body: 'x'.repeat(KIB) }), 'write', true, 300);
    } finally {
      await r.close();
    }
  });

  it('H2-14d a window opened 5 bytes every T/3: every flushed byte resets writeIdleTimeout T, the upload succeeds', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 0, windowUpdates: 'connection' } }, { writeIdleTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const g = await settle(r.client, r.fs.url('/h2/hold-window?grant=5&every=100'), { method: 'PUT', body: 'y'.repeat(30) });
      assert.equal(ok(g), 'received 30');
    } finally {
      await r.close();
    }
  });

  it('H2-17a the connection window runs dry: A and B fail write-idle, C (HEADERS only) succeeds on the same connection', T, async () => {
    const r = await rig({ h2: { windowUpdates: 'streams' } }, { writeIdleTimeout: 400 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const a = settle(r.client, r.fs.url('/echo'), { method: 'POST', body: Buffer.alloc(256 * KIB) });
      await r.fs.waitForRequests(2);
      // A's pieces may leave a few bytes of the window between them: B starts once it is dry.
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.dataBytesReceived >= 65_535), 'A used the connection window up');
      const b = settle(r.client, r.fs.url('/echo'), { method: 'POST', body: 'ten bytes!' });
      const c = await settle(r.client, r.fs.url('/ok'));
      ok(c);
      timedOut(await a, 'write-idle', true, 400, 400 + 2 * SLACK);
      timedOut(await b, 'write-idle', true, 300, 400 + 2 * SLACK);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-17b a WINDOW_UPDATE(0, 3) while A is blocked: B gets bytes too (no starvation), then both finish as the window grows', T, async () => {
    const r = await rig({ h2: { windowUpdates: 'streams' } });
    try {
      const got = new Map<string, H2Stream>();
      for (const p of ['/a', '/b']) {
        r.fs.h2Route(p, async (s) => {
          got.set(p, s);
          const body = await s.readBody();
          await s.respond(200, {}, `received ${body.length}`);
        });
      }
      ok(await settle(r.client, r.fs.url('/ok')));
      const conn = r.fs.h2Connections[0]!;
      const a = settle(r.client, r.fs.url('/a'), { method: 'POST', body: Buffer.alloc(1024 * KIB) });
      assert.ok(await eventually(() => conn.dataBytesReceived >= 65_535), 'A used the connection window up');
      const b = settle(r.client, r.fs.url('/b'), { method: 'POST', body: 'ten bytes!' });
      assert.ok(await eventually(() => got.has('/b')), 'B opened');
      assert.equal(got.get('/b')!.bodyBytes, 0);
      await conn.grantWindow(3);
      assert.ok(await eventually(() => conn.dataBytesReceived >= 65_538), 'the 3 bytes were used');
      assert.ok(await eventually(() => got.get('/b')!.bodyBytes === 3), `B got the 3 bytes (B has ${got.get('/b')!.bodyBytes})`);
      await conn.grantWindow(2 * 1024 * KIB);
      assert.equal(ok(await a), `received ${1024 * KIB}`);
      assert.equal(ok(await b), 'received 10');
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-16a an 8 MiB upload through windows that open in drips (256 KiB every 50 ms) completes, sha256 equal', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 16 * KIB, windowUpdates: 'none' } }, { writeIdleTimeout: 400, responseHeaderTimeout: 400 });
    try {
      r.fs.h2Route('/sink', async (s) => {
        const grant = 256 * KIB;
        while (!s.remoteEnded && !s.closed) {
          await s.sleep(50);
          await s.grantWindow(grant);
          await s.conn.grantWindow(grant);
        }
        const body = await s.readBody();
        await s.respond(200, {}, createHash('sha256').update(body).digest('hex'));
      });
      ok(await settle(r.client, r.fs.url('/ok')));
      const payload = randomBytes(8 * 1024 * KIB);
      const g = await settle(r.client, r.fs.url('/sink'), { method: 'POST', body: payload });
      assert.equal(ok(g), createHash('sha256').update(payload).digest('hex'));
      assert.ok(g.ms > 1000, `the drips took ${Math.round(g.ms)} ms (about 32 × 50 ms)`);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-15a the server stops reading: the stuck upload fails write-idle by writeIdleTimeout, never later', T, async () => {
    // Windows wide open (stream and connection), so the socket, not flow control, is what stalls.
    const wide = 16 * 1024 * KIB;
    const r = await rig({ h2: { initialWindowSize: wide, onConnection: (c) => void c.grantWindow(wide) } }, { writeIdleTimeout: 400 });
    try {
      ok(await settle(r.client, r.fs.url('/h2/stop-reading')));
      // The overall timeout only bounds a client that never fires write-idle.
      const g = await settle(r.client, r.fs.url('/echo'), { method: 'POST', body: Buffer.alloc(8 * 1024 * KIB), timeout: 4000 });
      const e = timedOut(g, 'write-idle', true, 400, 4000);
      assert.notEqual((e as unknown as { flowControl?: boolean }).flowControl, true, `not a flow-control wait: ${e.message}`); // h2-surface
      const next = await settle(r.client, r.fs.url('/ok'), { timeout: 3000 });
      ok(next);
      assert.equal(r.fs.connections, 2, 'H2-15b: the next request goes to a new connection');
    } finally {
      await r.close();
    }
  });

  it('H2-16b an early 413 before the upload ends is delivered promptly; the connection serves the next request', T, async () => {
    const r = await rig({ h2: true }, { writeIdleTimeout: 2000, responseHeaderTimeout: 2000 });
    try {
      const slowBody = Readable.from((async function* () {
        yield Buffer.alloc(16 * KIB);
        await new Promise((res) => setTimeout(res, 5000));
        yield Buffer.alloc(16 * KIB);
      })());
      const g = await settle(r.client, r.fs.url('/h2/early?status=413&after=16384&body=too%20big'), { method: 'POST', body: slowBody });
      assert.equal(ok(g, 413), 'too big');
      assert.ok(g.ms < 1000, `413 after ${Math.round(g.ms)} ms`);
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });

  it('H2-16c a 200 without END_STREAM mid-upload: the rest of the body still goes out (full duplex)', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/h2/early?status=200&after=16384&open=1'), { method: 'POST', body: Buffer.alloc(200 * KIB) });
      assert.equal(ok(g), `received ${200 * KIB}`);
    } finally {
      await r.close();
    }
  });

  it('H2-21a/b 100-continue: the body follows the 100; an early 401 without 100 is delivered and no body is sent', T, async () => {
    const r = await rig({ h2: true }, { expectContinueTimeout: 5000 });
    try {
      const got100: boolean[] = [];
      const a = await settle(r.client, r.fs.url('/h2/continue'), {
        method: 'POST', body: 'z'.repeat(KIB), headers: { expect: '100-continue' }, trace: { got100Continue: () => got100.push(true) },
      });
      assert.equal(ok(a), `received ${KIB}`);
      assert.deepEqual(got100, [true]);
      const b = await settle(r.client, r.fs.url('/h2/continue?no100=1&final=401'), { method: 'POST', body: 'z'.repeat(KIB), headers: { expect: '100-continue' } });
      assert.equal(ok(b, 401), 'denied');
      assert.ok(b.ms < 2000);
      assert.equal(r.fs.requests[1]!.body.length, 0, 'no body bytes sent');
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-34a an unread 2 MiB body never stalls another stream of the connection', T, async () => {
    const r = await rig();
    try {
      const big = await r.client.request(r.fs.url('/bytes?n=2097152'));
      const small = await settle(r.client, r.fs.url('/ok'));
      assert.equal(ok(small), 'ok');
      assert.equal(r.fs.connections, 1);
      big.body.destroy();
    } finally {
      await r.close();
    }
  });

  it('H2-35 h2.initialWindowSize and h2.connectionWindowSize reach the preface; defaults 1 MiB per stream', T, async () => {
    const r = await rig({ h2: true }, { h2: { initialWindowSize: 12_345, connectionWindowSize: 77_777 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.h2Connections[0]!.clientSettings.get(H2Setting.INITIAL_WINDOW_SIZE), 12_345);
      assert.equal(r.fs.h2Connections[0]!.clientSettings.get(H2Setting.ENABLE_PUSH), 0);
    } finally {
      await r.close();
    }
    const d = await rig();
    try {
      ok(await settle(d.client, d.fs.url('/ok')));
      assert.equal(d.fs.h2Connections[0]!.clientSettings.get(H2Setting.INITIAL_WINDOW_SIZE), 1024 * KIB);
    } finally {
      await d.close();
    }
  });
});
