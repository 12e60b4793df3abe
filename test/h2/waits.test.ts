// Every HTTP/2 wait with its name (SPEC §13): class, phase, requestSent and elapsed bounds,
// on a fresh connection and with many streams multiplexed. Raw node:http2 servers, a raw
// TLS peer that never speaks HTTP/2, and a relay that blackholes a live connection.
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Client } from '../../src/client.js';
import { ProtocolError, TimeoutError } from '../../src/errors.js';
import { SERVER_CERT, SERVER_KEY } from '../../src/testing/certs.js';
import { h2Server, h2Transport, relay, sleep } from './helpers.js';

const MARGIN = 250;

function within(ms: number, lo: number, hi: number): void {
  assert.ok(ms >= lo - 2 && ms <= hi, `elapsed ${ms} ms not within [${lo}, ${hi}]`);
}

describe('HTTP/2 waits', { timeout: 30_000 }, () => {
  it('H2-18/11 responseHeaderTimeout resets only its stream, pings at once; the connection serves the next request', { timeout: 10_000 }, async () => {
    const resets: number[] = [];
    let pings = 0;
    const srv = await h2Server((stream, h) => {
      stream.on('close', () => resets.push(stream.rstCode));
      if (h[':path'] === '/slow') return;
      stream.respond({ ':status': 200 });
      stream.end('fast');
    });
    srv.server.on('session', (s) => s.on('ping', () => pings++));
    const c = new Client({ transport: h2Transport({ responseHeaderTimeout: 200, readIdleTimeout: 5_000 }) });
    try {
      const t0 = Date.now();
      const err = await c.request(srv.url('/slow')).then(() => assert.fail('no timeout'), (e: unknown) => e);
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'response-headers');
      assert.equal(err.requestSent, true);
      within(Date.now() - t0, 200, 200 + MARGIN);
      const r = await c.request(srv.url('/fast'));
      assert.equal(await r.text(), 'fast');
      assert.equal(srv.sessions, 1);
      assert.ok(resets.includes(http2.constants.NGHTTP2_CANCEL), `resets ${resets}`);
      assert.equal(pings, 1);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-10 a dead connection with 10 streams in flight: all fail h2-ping within pingInterval+pingTimeout; the next request dials anew', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/hold') return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const rl = await relay(Number(new URL(srv.url('/')).port));
    const tr = h2Transport({ h2: { pingInterval: 200, pingTimeout: 200 }, responseHeaderTimeout: 10_000, readIdleTimeout: 10_000 });
    const c = new Client({ transport: tr });
    const url = (p: string): string => `https://localhost:${rl.port}${p}`;
    try {
      assert.equal(await (await c.request(url('/'))).text(), 'ok');
      const t0 = Date.now();
      const ps = Array.from({ length: 10 }, () => c.request(url('/hold')).then(() => assert.fail('no error'), (e: unknown) => e));
      await sleep(20);
      rl.blackhole();
      const errs = await Promise.all(ps);
      const took = Date.now() - t0;
      for (const e of errs) {
        assert.ok(e instanceof TimeoutError, String(e));
        assert.equal(e.phase, 'h2-ping');
        assert.equal(e.requestSent, true);
        assert.equal(e.timeout, 200);
        assert.match(e.message, /h2\.pingTimeout/);
      }
      within(took, 400, 400 + 20 + MARGIN);
      assert.equal(tr.stats().totals.active + tr.stats().totals.idle, 0);
      const r = await c.request(url('/'));
      assert.equal(await r.text(), 'ok');
      assert.equal(rl.conns, 2);
    } finally {
      await c.close();
      await rl.close();
      await srv.close();
    }
  });

  it('H2-08 a peer that never sends SETTINGS: every stream fails h2-settings at settingsTimeout, requestSent true', { timeout: 10_000 }, async () => {
    const server = tls.createServer({ cert: SERVER_CERT, key: SERVER_KEY, ALPNProtocols: ['h2'] }, (s) => {
      s.on('data', () => {});
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const c = new Client({ transport: h2Transport({ h2: { settingsTimeout: 300 } }) });
    try {
      const t0 = Date.now();
      const errs = await Promise.all(
        [c.request(`https://localhost:${port}/a`), c.request(`https://localhost:${port}/b`, { method: 'POST', body: 'hello' })].map((p) =>
          p.then(() => assert.fail('no error'), (e: unknown) => e),
        ),
      );
      within(Date.now() - t0, 300, 300 + MARGIN);
      for (const e of errs) {
        assert.ok(e instanceof TimeoutError, String(e));
        assert.equal(e.phase, 'h2-settings');
        assert.equal(e.requestSent, true);
        assert.equal(e.timeout, 300);
      }
      assert.match((errs[1] as TimeoutError).url!, /\/b$/);
    } finally {
      await c.close();
      server.close();
    }
  });

  it('H2-14 a window that never opens: write-idle on flow control, the stream alone is reset, the connection serves a GET', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':method'] === 'PUT') return; // never reads: with a zero window, nothing can come
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }, { settings: { initialWindowSize: 0 } });
    const c = new Client({ transport: h2Transport({ writeIdleTimeout: 300 }) });
    try {
      // Warm-up: the peer's SETTINGS (window 0) are known before the upload starts.
      assert.equal(await (await c.request(srv.url('/warm'))).text(), 'ok');
      const t0 = Date.now();
      const err = await c.request(srv.url('/up'), { method: 'PUT', body: 'x'.repeat(1024) }).then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'write-idle');
      assert.equal(err.flowControl, true);
      assert.equal(err.requestSent, true);
      assert.match(err.message, /flow-control window/);
      within(Date.now() - t0, 300, 300 + MARGIN);
      assert.equal(await (await c.request(srv.url('/get'))).text(), 'ok');
      assert.equal(srv.sessions, 1);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('overall timeout and abort reset only their stream (not suspect)', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/hold') return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const c = new Client({ transport: h2Transport() });
    try {
      const t0 = Date.now();
      const err = await c.request(srv.url('/hold'), { timeout: 200 }).then(() => assert.fail('no error'), (e: unknown) => e);
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.phase, 'request');
      assert.equal(err.requestSent, true);
      within(Date.now() - t0, 200, 200 + MARGIN);
      const ac = new AbortController();
      const p = c.request(srv.url('/hold'), { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(p, { name: 'AbortError' });
      assert.equal(await (await c.request(srv.url('/'))).text(), 'ok');
      assert.equal(srv.sessions, 1);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-01 h2c against an HTTP/1.1 server fails at once with h2-protocol-error', { timeout: 10_000 }, async () => {
    const net = await import('node:net');
    const server = net.createServer((s) => {
      s.once('data', () => s.write('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const c = new Client({ transport: h2Transport({ h2c: true }) });
    try {
      const t0 = Date.now();
      const err = await c.request(`http://127.0.0.1:${port}/`).then(() => assert.fail('no error'), (e: unknown) => e);
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.reason, 'h2-protocol-error');
      assert.equal(err.h2Code, 1);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      await c.close();
      server.close();
    }
  });
});
