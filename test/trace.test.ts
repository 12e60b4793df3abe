// Observability (SPEC §5, §11): trace hooks in Go's order, once each per attempt, on a
// fresh and on a reused connection, over http and https; a throwing hook never breaks a
// request; timings marks and phases; diagnostics_channel message shapes.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { Client, type TraceHooks, Transport } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';

function recorder(): { events: string[]; args: Record<string, unknown>; hooks: TraceHooks } {
  const events: string[] = [];
  const args: Record<string, unknown> = {};
  const names = [
    'getConn',
    'dnsStart',
    'dnsDone',
    'connectStart',
    'connectDone',
    'tlsHandshakeStart',
    'tlsHandshakeDone',
    'gotConn',
    'putIdleConn',
    'wroteHeaders',
    'wait100Continue',
    'got100Continue',
    'got1xxResponse',
    'wroteRequest',
    'gotFirstResponseByte',
  ] as const;
  const hooks: Record<string, (a?: unknown) => void> = {};
  for (const n of names) {
    hooks[n] = (a?: unknown) => {
      events.push(n);
      args[n] = a;
    };
  }
  return { events, args, hooks: hooks as TraceHooks };
}

describe('trace hooks, timings and diagnostics', () => {
  let fs: FaultServer;
  let tlsFs: FaultServer;
  const client = new Client({ transport: new Transport() });
  before(async () => {
    fs = await FaultServer.start();
    tlsFs = await FaultServer.start({ tls: true });
  });
  after(async () => {
    await client.close();
    await fs.close();
    await tlsFs.close();
  });

  it('fresh connection by name: hooks in Go order, each once', async () => {
    const r = recorder();
    const res = await client.request(`http://localhost:${fs.port}/ok`, { trace: r.hooks });
    await res.text();
    assert.deepEqual(r.events, [
      'getConn',
      'dnsStart',
      'dnsDone',
      'connectStart',
      'connectDone',
      'gotConn',
      'wroteHeaders',
      'wroteRequest',
      'gotFirstResponseByte',
      'putIdleConn',
    ]);
    assert.deepEqual(r.args.getConn, { hostPort: `localhost:${fs.port}` });
    const got = r.args.gotConn as { reused: boolean; wasIdle: boolean; idleTime: number };
    assert.equal(got.reused, false);
    assert.equal(got.wasIdle, false);
    assert.equal(got.idleTime, 0);
  });

  it('reused connection: no dial hooks, gotConn says reused and idle', async () => {
    const r = recorder();
    await new Promise((res) => setTimeout(res, 20));
    const res = await client.request(`http://localhost:${fs.port}/ok`, { trace: r.hooks });
    await res.text();
    assert.deepEqual(r.events, ['getConn', 'gotConn', 'wroteHeaders', 'wroteRequest', 'gotFirstResponseByte', 'putIdleConn']);
    const got = r.args.gotConn as { reused: boolean; wasIdle: boolean; idleTime: number };
    assert.equal(got.reused, true);
    assert.equal(got.wasIdle, true);
    assert.ok(got.idleTime >= 10);
    assert.equal(res.reused, true);
    assert.equal(res.timings.phases.dns, 0);
    assert.equal(res.timings.phases.tcp, 0);
    assert.equal(res.timings.phases.tls, 0);
  });

  it('https: TLS hooks between connect and gotConn', async () => {
    const c = new Client({ transport: new Transport({ tls: { ca: tlsFs.ca } }) });
    const r = recorder();
    const res = await c.request(tlsFs.url('/ok'), { trace: r.hooks });
    await res.text();
    assert.deepEqual(r.events, [
      'getConn',
      'connectStart',
      'connectDone',
      'tlsHandshakeStart',
      'tlsHandshakeDone',
      'gotConn',
      'wroteHeaders',
      'wroteRequest',
      'gotFirstResponseByte',
      'putIdleConn',
    ]);
    const done = r.args.tlsHandshakeDone as { alpnProtocol: string; error: unknown };
    assert.equal(done.alpnProtocol, 'http/1.1');
    assert.equal(done.error, undefined);
    assert.ok(res.timings.phases.tls >= 0);
    assert.ok(res.timings.secureConnect !== undefined);
    await c.close();
  });

  it('1xx and 100-continue hooks', async () => {
    const r = recorder();
    fs.route('/continue', async (ex) => {
      await ex.readBody();
      await ex.respond(200, { 'content-length': '2' }, 'ok');
    }, { readBody: false });
    const res = await client.request(fs.url('/continue'), {
      method: 'PUT',
      body: 'hello',
      headers: { expect: '100-continue' },
      trace: r.hooks,
    });
    await res.text();
    const i = r.events.indexOf('wait100Continue');
    assert.ok(i > r.events.indexOf('wroteHeaders'));
    assert.ok(r.events.indexOf('got100Continue') > i);
    assert.ok(r.events.indexOf('got1xxResponse') > i);
    assert.ok(r.events.indexOf('wroteRequest') > r.events.indexOf('got100Continue'));
    assert.deepEqual((r.args.got1xxResponse as { status: number }).status, 100);
  });

  it('a throwing hook never breaks the request', async () => {
    const boom = (): void => {
      throw new Error('hook failure');
    };
    const hooks: TraceHooks = { getConn: boom, gotConn: boom, wroteHeaders: boom, gotFirstResponseByte: boom, putIdleConn: boom };
    const res = await client.request(fs.url('/ok'), { trace: hooks });
    assert.equal(await res.text(), 'ok');
  });

  it('timings: marks are ordered and phases add up on a fresh connection', async () => {
    const c = new Client();
    const res = await c.request(`http://localhost:${fs.port}/bytes?n=50000`);
    await res.bytes();
    const t = res.timings;
    for (const k of ['start', 'socket', 'lookup', 'connect', 'upload', 'response', 'end'] as const) {
      assert.equal(typeof t[k], 'number', k);
    }
    assert.ok(t.start <= t.socket! && t.socket! <= t.lookup! && t.lookup! <= t.connect!);
    assert.ok(t.connect! <= t.upload! && t.upload! <= t.response! && t.response! <= t.end!);
    const p = t.phases;
    for (const k of Object.keys(p) as (keyof typeof p)[]) assert.equal(typeof p[k], 'number', k);
    assert.ok(p.total >= p.download);
    assert.equal(p.tls, 0);
    await c.close();
  });

  it('diagnostics_channel: start/headers/end on success, start/error on failure, connection open/close', async () => {
    const seen: Record<string, unknown[]> = {};
    const names = [
      'hourglass:request:start',
      'hourglass:request:headers',
      'hourglass:request:end',
      'hourglass:request:error',
      'hourglass:connection:open',
      'hourglass:connection:close',
    ];
    const subs = names.map((n) => {
      const fn = (msg: unknown): void => {
        (seen[n] ??= []).push(msg);
      };
      diagnostics.subscribe(n, fn);
      return () => diagnostics.unsubscribe(n, fn);
    });
    try {
      const c = new Client({ transport: new Transport({ responseHeaderTimeout: 100 }) });
      const res = await c.request(fs.url('/ok'));
      await res.text();
      await assert.rejects(c.request(fs.url('/never')));
      await c.close();
      const start = seen['hourglass:request:start'] as { request: { method: string; url: string } }[];
      assert.equal(start.length, 2);
      assert.equal(start[0]!.request.method, 'GET');
      assert.equal(start[0]!.request.url, fs.url('/ok'));
      const end = seen['hourglass:request:end'] as { request: unknown; response: { status: number } }[];
      assert.equal(end.length, 1);
      assert.equal(end[0]!.request, start[0]!.request, 'same request object');
      assert.equal(end[0]!.response.status, 200);
      assert.equal((seen['hourglass:request:headers'] ?? []).length, 1);
      const errs = seen['hourglass:request:error'] as { request: unknown; error: { phase: string } }[];
      assert.equal(errs.length, 1);
      assert.equal(errs[0]!.error.phase, 'response-headers');
      const open = seen['hourglass:connection:open'] as { connection: { key: string; remoteAddress: string } }[];
      assert.ok(open.length >= 1);
      assert.match(open[0]!.connection.key, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(open[0]!.connection.remoteAddress, '127.0.0.1');
      assert.ok((seen['hourglass:connection:close'] ?? []).length >= 1);
    } finally {
      for (const u of subs) u();
    }
  });
});
