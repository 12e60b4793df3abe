// Black-box HTTP/2 spec suite — negotiation and multiplexing (SPEC §13, SCENARIOS §6.1,
// §6.9): ALPN h2 beside HTTP/1.1, allowH2 false, h2c prior knowledge (and against an
// HTTP/1.1-only server), streams multiplexed on one connection, trailers.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HourglassError, ProtocolError } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { ok, protocol, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('spec: negotiation', () => {
  it('H2-01a ALPN h2: GET and POST are HTTP/2, the POST body intact, tlsHandshakeDone sees h2', T, async () => {
    const r = await rig();
    try {
      const alpn: unknown[] = [];
      const g = await settle(r.client, r.fs.url('/ok'), { trace: { tlsHandshakeDone: (i) => alpn.push(i.alpnProtocol) } });
      assert.equal(ok(g), 'ok');
      assert.equal(g.res?.httpVersion, '2');
      const p = await settle(r.client, r.fs.url('/echo'), { method: 'POST', body: 'payload' });
      assert.equal((JSON.parse(ok(p)) as { body: string }).body, 'payload');
      assert.deepEqual(alpn, ['h2']);
      assert.deepEqual(r.fs.requests.map((q) => q.httpVersion), ['2.0', '2.0']);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it("H2-01a' allowH2 false: the same server answers HTTP/1.1", T, async () => {
    const r = await rig({ h2: true }, { allowH2: false });
    try {
      const g = await settle(r.client, r.fs.url('/ok'));
      ok(g);
      assert.equal(g.res?.httpVersion, '1.1');
      assert.equal(r.fs.h2Stats().connections, 0);
    } finally {
      await r.close();
    }
  });

  it('H2-01c h2c prior knowledge on http://: HTTP/2, one connection for three requests', T, async () => {
    const r = await rig({ h2: true, tls: false });
    try {
      for (let i = 0; i < 3; i++) {
        const g = await settle(r.client, r.fs.url('/ok'));
        ok(g);
        assert.equal(g.res?.httpVersion, '2');
      }
      assert.deepEqual([r.fs.connections, r.fs.h2Stats().streams], [1, 3]);
    } finally {
      await r.close();
    }
  });

  it('H2-01d h2c against an HTTP/1.1-only server fails at once with h2-protocol-error', T, async () => {
    const r = await rig({ tls: false }, { h2c: true });
    try {
      const g = await settle(r.client, r.fs.url('/ok'));
      protocol(g, 'h2-protocol-error', undefined, 2000);
    } finally {
      await r.close();
    }
  });

  it('H2-06a five concurrent GETs share one connection and run at once; gotConn reused after the first', T, async () => {
    const r = await rig();
    try {
      const reused: boolean[] = [];
      const t0 = performance.now();
      const all = await Promise.all(
        Array.from({ length: 5 }, () => settle(r.client, r.fs.url('/delay-headers?ms=200'), { trace: { gotConn: (i) => reused.push(i.reused) } })),
      );
      for (const g of all) ok(g);
      assert.ok(performance.now() - t0 < 1000, 'in parallel, not in turn');
      assert.equal(r.fs.connections, 1);
      assert.deepEqual(reused.filter((x) => !x).length, 1, `gotConn reused: ${reused.join(',')}`);
    } finally {
      await r.close();
    }
  });

  it('H2-36 trailers: body `hello h2!`, res.trailers filled when the body ends (also CONTINUATION-split)', T, async () => {
    const r = await rig();
    try {
      for (const path of ['/trailers', '/trailers?split=2']) {
        const res = await r.client.request(r.fs.url(path), { method: 'PUT', body: 'hello' });
        assert.equal(await res.text(), 'hello h2!');
        assert.equal(res.trailers['x-trailer'], 'hello');
      }
    } finally {
      await r.close();
    }
  });

  it('H2-38 HEAD: no body; GET with an empty END_STREAM DATA completes', T, async () => {
    const r = await rig();
    try {
      r.fs.h2Route('/head', async (s) => {
        await s.headers(200, { 'content-length': '123' });
        await s.end();
      });
      const h = await settle(r.client, r.fs.url('/head'), { method: 'HEAD' });
      assert.equal(ok(h), '');
      assert.equal(h.res?.headers['content-length'], '123');
      const g = await settle(r.client, r.fs.url('/head'));
      assert.ok(g.err === null || g.err instanceof ProtocolError, 'a GET whose length lies either ends or fails, never hangs');
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-37 gzip over h2: accept-encoding sent, the body decoded, content-encoding dropped', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/gzip'));
      assert.equal(ok(g), FaultServer.compressedText);
      assert.equal(g.res?.headers['content-encoding'], undefined);
      assert.match(r.fs.requests[0]!.headers['accept-encoding'] ?? '', /gzip/);
    } finally {
      await r.close();
    }
  });

  it('H2-39 connection-specific request headers are never sent; Upgrade is HG_INVALID_ARG before anything is sent', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/ok'), {
        headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive' },
      });
      ok(g);
      const names = Object.keys(r.fs.requests[0]!.headers);
      for (const n of ['connection', 'keep-alive', 'proxy-connection']) assert.ok(!names.includes(n), `${n} sent: ${names.join(',')}`);
      const u = await settle(r.client, r.fs.url('/ok'), { headers: { upgrade: 'x' } });
      assert.ok(u.err instanceof HourglassError && u.err.code === 'HG_INVALID_ARG', String(u.err));
      assert.equal(r.fs.requests.length, 1);
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });

  it('H2-28 client.close() with two streams in flight: both complete, GOAWAY(NO_ERROR) sent, the connection closed; then HG_CLOSED', T, async () => {
    const r = await rig();
    try {
      const both = Promise.all([settle(r.client, r.fs.url('/delay-headers?ms=200')), settle(r.client, r.fs.url('/delay-headers?ms=200'))]);
      await r.fs.waitForRequests(2);
      const closing = r.client.close();
      for (const g of await both) ok(g);
      await closing;
      await r.fs.waitForClose(1, 2000);
      assert.equal(r.fs.h2Connections[0]!.goawaysReceived[0]?.code, 0);
      const after = await settle(r.client, r.fs.url('/ok'));
      assert.ok(after.err instanceof HourglassError && after.err.code === 'HG_CLOSED', String(after.err));
    } finally {
      await r.close();
    }
  });
});
