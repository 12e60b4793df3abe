// Trace propagation may only add ordinary headers (SPEC §14): a `wire:start` subscriber's
// setHeader and the global propagator's setter cannot set or replace framing and routing
// fields (content-length, transfer-encoding, host, connection, upgrade, te, trailer,
// expect, keep-alive, proxy-*, pseudo-headers) — else a body could be smuggled as a second
// request; a propagator that hands a non-string value loses that header, not the request;
// a caller's tracestate goes (or is replaced) together with the traceparent hourglass replaces.
// Raw loopback server: the test reads the bytes of every head it receives.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { propagation, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Client, Transport } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';
import { makeSdk, type Sdk } from './sdk.js';

const T = { timeout: 10_000 };
const TP = '00-11111111111111111111111111111111-2222222222222222-01';

/** A server that answers every request `200 ok` and records each head and body it parsed. */
async function recorder(): Promise<{ url: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const srv = net.createServer((sock) => {
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m === null ? 0 : Number(m[1]);
        if (buf.length < end + 4 + len) return;
        heads.push(head + '\r\n\r\n' + buf.slice(end + 4, end + 4 + len));
        buf = buf.slice(end + 4 + len);
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, heads, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

const FORBIDDEN: [string, string][] = [
  ['content-length', '0'],
  ['Transfer-Encoding', 'chunked'],
  ['host', 'evil.test'],
  ['connection', 'close'],
  ['upgrade', 'h2c'],
  ['te', 'trailers'],
  ['trailer', 'x'],
  ['expect', '100-continue'],
  ['keep-alive', 'timeout=1'],
  ['proxy-authorization', 'Basic eA=='],
  ['Proxy-Connection', 'close'],
  [':authority', 'evil.test'],
];

function assertClean(raw: string, port: string): void {
  const [head, body] = raw.split('\r\n\r\n');
  assert.match(head, /^POST \/up HTTP\/1\.1\r\n/);
  assert.equal(body, 'hello');
  assert.match(head, /\r\ncontent-length: 5(\r\n|$)/i);
  assert.match(head, new RegExp(`\\r\\nhost: 127\\.0\\.0\\.1:${port}(\\r\\n|$)`, 'i'));
  for (const n of ['transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'keep-alive', 'proxy-authorization', 'proxy-connection', ':authority']) {
    assert.doesNotMatch(head, new RegExp(`\\r\\n${n}:`, 'i'), n);
  }
  assert.doesNotMatch(head, /evil/);
  assert.equal(head.match(/\r\ncontent-length:/gi)?.length, 1);
  assert.equal(head.match(/\r\nhost:/gi)?.length, 1);
}

describe('otel propagation: only ordinary headers', () => {
  let srv: Awaited<ReturnType<typeof recorder>>;
  let sdk: Sdk;
  before(async () => {
    srv = await recorder();
    sdk = makeSdk();
  });
  after(async () => {
    await srv.close();
    propagation.disable();
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  const port = (): string => new URL(srv.url).port;

  it('wire.setHeader ignores framing and routing fields; an ordinary header and the body go out intact', T, async () => {
    const sub = (m: unknown): void => {
      const wire = (m as { wire: { setHeader(n: string, v: unknown): void } }).wire;
      for (const [n, v] of FORBIDDEN) wire.setHeader(n, v);
      wire.setHeader('x-b3', 1);
      wire.setHeader('x-ok', 'yes');
    };
    diagnostics.subscribe('hourglass:wire:start', sub);
    const c = new Client({ transport: new Transport() });
    try {
      srv.heads.length = 0;
      const r = await c.request(`${srv.url}/up`, { method: 'POST', body: 'hello' });
      assert.equal(await r.text(), 'ok');
      // A second request on the same connection: the first one's body did not desync it.
      await (await c.request(`${srv.url}/up`, { method: 'POST', body: 'hello' })).text();
    } finally {
      diagnostics.unsubscribe('hourglass:wire:start', sub);
      await c.close();
    }
    assert.equal(srv.heads.length, 2);
    for (const h of srv.heads) {
      assertClean(h, port());
      assert.match(h, /\r\nx-ok: yes\r\n/);
      assert.doesNotMatch(h, /x-b3/i);
    }
  });

  it('the global propagator cannot smuggle through content-length (t20) nor set pseudo/framing fields', T, async () => {
    const inject: TextMapPropagator['inject'] = (_ctx, carrier, setter) => {
      for (const [n, v] of FORBIDDEN) setter.set(carrier, n, v);
      setter.set(carrier, 'x-prop', 'p');
    };
    propagation.disable();
    propagation.setGlobalPropagator({ inject, extract: (ctx) => ctx, fields: () => [] });
    const inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const c = new Client({ transport: new Transport() });
    try {
      srv.heads.length = 0;
      const body = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
      const r = await c.request(`${srv.url}/up`, { method: 'POST', body: 'hello' });
      await r.text();
      await (await c.request(`${srv.url}/up`, { method: 'POST', body })).text();
    } finally {
      inst.disable();
      await c.close();
    }
    assert.equal(srv.heads.length, 2);
    assertClean(srv.heads[0], port());
    assert.match(srv.heads[0], /\r\nx-prop: p\r\n/);
    assert.ok(!srv.heads.some((h) => h.startsWith('GET /smuggled')));
    assert.ok(srv.heads[1].endsWith('GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'));
  });

  it('a propagator that sets a number, undefined or an array loses that header, not the request (t21)', T, async () => {
    const values: unknown[] = [1, undefined, ['1', '2'], null, { a: 1 }];
    const inject: TextMapPropagator['inject'] = (_ctx, carrier, setter) => {
      values.forEach((v, i) => (setter.set as (c: unknown, k: string, v: unknown) => void)(carrier, `x-v${i}`, v));
      setter.set(carrier, 'x-str', 's');
    };
    propagation.disable();
    propagation.setGlobalPropagator({ inject, extract: (ctx) => ctx, fields: () => [] });
    const inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const c = new Client({ transport: new Transport() });
    try {
      srv.heads.length = 0;
      const r = await c.request(`${srv.url}/`);
      assert.equal(r.status, 200);
      await r.text();
    } finally {
      inst.disable();
      await c.close();
    }
    assert.doesNotMatch(srv.heads[0], /x-v\d/);
    assert.match(srv.heads[0], /\r\nx-str: s\r\n/);
  });

  it("a caller's tracestate goes with the traceparent hourglass replaces; ours replaces it when the span has one (t04)", T, async () => {
    propagation.disable();
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const c = new Client({ transport: new Transport() });
    try {
      srv.heads.length = 0;
      await (await c.request(`${srv.url}/a`, { headers: { traceparent: TP, tracestate: 'vendor=caller' } })).text();
      await (await c.request(`${srv.url}/b`, { headers: [['TraceState', 'vendor=caller'], ['TraceParent', TP]] })).text();
      await (await c.request(`${srv.url}/c`, { headers: { 'x-other': '1', tracestate: 'v=1' } })).text();
    } finally {
      inst.disable();
      await c.close();
    }
    assert.equal(srv.heads.length, 3);
    for (const h of srv.heads) {
      assert.equal(h.match(/\r\ntraceparent:/gi)?.length, 1, h);
      assert.doesNotMatch(h, /1111111111/);
      assert.doesNotMatch(h, /\r\ntracestate:/i, h);
    }
  });
});
