// hourglass/otel spans (SPEC §14): one CLIENT span per request on the wire with the stable
// HTTP client convention's attributes — success, reuse, redirect hops and retries
// (resend_count), 4xx/5xx (ERROR on client spans), every timeout phase
// (`hourglass.timeout.phase`, error.type `timeout`), abort (not an error), network errors,
// TLS, and W3C traceparent from the active context reaching the server.
import * as assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { bearerAuth, Client, type ClientOptions, Transport, type TransportOptions } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter } from './sdk.js';

const T = { timeout: 15_000 };

describe('hourglass/otel spans', () => {
  let fs: FaultServer;
  let tlsFs: FaultServer;
  let sdk: Sdk;
  let inst: Instrumentation;
  const clients: Client[] = [];
  const mk = (t: TransportOptions = {}, c: ClientOptions = {}): Client => {
    const x = new Client({ ...c, transport: new Transport(t) });
    clients.push(x);
    return x;
  };

  before(async () => {
    fs = await FaultServer.start();
    tlsFs = await FaultServer.start({ tls: true });
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  });
  beforeEach(() => sdk.exporter.reset());
  after(async () => {
    inst.disable();
    for (const c of clients) await c.close();
    await fs.close();
    await tlsFs.close();
    await sdk.shutdown();
  });

  it('success: a GET is one CLIENT span named GET with the convention attributes; the next one reuses', T, async () => {
    const c = mk();
    assert.equal(await (await c.request(fs.url('/ok?x=1'))).text(), 'ok');
    assert.equal(await (await c.request(fs.url('/ok'))).text(), 'ok');
    const spans = await spansAfter(sdk, 2);
    assert.equal(spans.length, 2);
    const [a, b] = spans;
    assert.equal(a.name, 'GET');
    assert.equal(a.kind, SpanKind.CLIENT);
    assert.equal(a.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(a.attributes, {
      'http.request.method': 'GET',
      'url.full': fs.url('/ok?x=1'),
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(fs.origin).port),
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': Number(new URL(fs.origin).port),
      'hourglass.connection.reused': false,
      'http.response.status_code': 200,
    });
    assert.deepEqual(
      a.events.map((e) => e.name),
      ['hourglass.connect', 'hourglass.first_byte'],
    );
    assert.equal(b.attributes['hourglass.connection.reused'], true);
    assert.deepEqual(b.events.map((e) => e.name), ['hourglass.first_byte']);
    assert.equal(b.attributes['http.request.resend_count'], undefined);
  });

  it('redirect: one span per hop, resend_count 1 and 2 on the hops after the first', T, async () => {
    const c = mk();
    const res = await c.request(fs.url('/redirect-chain?n=2'));
    assert.equal(await res.text(), 'done');
    const spans = await spansAfter(sdk, 3);
    assert.deepEqual(
      spans.map((s) => [s.attributes['http.response.status_code'], s.attributes['http.request.resend_count'], s.status.code]),
      [
        [302, undefined, SpanStatusCode.UNSET],
        [302, 1, SpanStatusCode.UNSET],
        [200, 2, SpanStatusCode.UNSET],
      ],
    );
    assert.equal(spans[2].attributes['url.full'], fs.url('/redirect-chain?n=0&status=302'));
  });

  it('retry: a 503 then a 200 are two spans; the 503 is ERROR with error.type "503"', T, async () => {
    fs.route('/once-503', (ex) => (ex.hit === 1 ? ex.respond(503, {}, 'busy') : ex.respond(200, {}, 'fine')));
    const c = mk({}, { retry: { limit: 2, backoff: () => 0 } });
    assert.equal(await (await c.request(fs.url('/once-503'))).text(), 'fine');
    const [first, second] = await spansAfter(sdk, 2);
    assert.equal(first.status.code, SpanStatusCode.ERROR);
    assert.equal(first.attributes['error.type'], '503');
    assert.equal(first.attributes['http.response.status_code'], 503);
    assert.equal(second.status.code, SpanStatusCode.UNSET);
    assert.equal(second.attributes['http.request.resend_count'], 1);
    assert.equal(second.attributes['error.type'], undefined);
  });

  it('4xx and 5xx: client spans are ERROR with the status as error.type (the convention for CLIENT)', T, async () => {
    const c = mk();
    await (await c.request(fs.url('/status/404'))).dump();
    await (await c.request(fs.url('/status/500'))).dump();
    const spans = await spansAfter(sdk, 2);
    assert.deepEqual(
      spans.map((s) => [s.status.code, s.attributes['error.type']]),
      [
        [SpanStatusCode.ERROR, '404'],
        [SpanStatusCode.ERROR, '500'],
      ],
    );
  });

  /** Runs `fn`, expects it to fail with a timeout in `phase`, and returns the one span it made. */
  async function timeoutSpan(phase: string, fn: () => Promise<unknown>): Promise<ReadableSpan> {
    await assert.rejects(fn(), (err: Error & { phase?: string }) => err.phase === phase);
    const spans = await spansAfter(sdk, 1);
    const s = spans.find((x) => x.attributes['hourglass.timeout.phase'] !== undefined);
    assert.ok(s, `a span with hourglass.timeout.phase among ${spans.length}`);
    assert.equal(s.attributes['hourglass.timeout.phase'], phase);
    assert.equal(s.attributes['error.type'], 'timeout');
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    assert.ok(s.events.some((e) => e.name === 'exception'));
    return s;
  }

  it('timeout phase dns', T, async () => {
    const c = mk({ dialer: { timeout: 100, lookup: () => {} } });
    const s = await timeoutSpan('dns', () => c.request('http://never-resolves.test/'));
    assert.equal(s.attributes['server.address'], 'never-resolves.test');
  });

  it('timeout phase connect', T, async () => {
    const bh = await fs.blackhole();
    const c = mk({ dialTimeout: 100 });
    await timeoutSpan('connect', () => c.request(`http://${bh.host}:${bh.port}/`));
  });

  it('timeout phase tls', T, async () => {
    const hang = await tlsFs.tlsHang();
    const c = mk({ tlsHandshakeTimeout: 100, tls: { ca: tlsFs.ca } });
    const s = await timeoutSpan('tls', () => c.request(`https://localhost:${hang.port}/`));
    assert.equal(s.attributes['url.scheme'], 'https');
  });

  it('timeout phase pool', T, async () => {
    const c = mk({ maxConnsPerHost: 1, poolTimeout: 100 });
    const holder = c.request(fs.url('/never'), { timeouts: { responseHeaderTimeout: 400 } });
    holder.catch(() => {});
    await new Promise((r) => setTimeout(r, 30));
    await timeoutSpan('pool', () => c.request(fs.url('/ok')));
    await holder.catch(() => {});
  });

  it('timeout phase response-headers', T, async () => {
    const c = mk({ responseHeaderTimeout: 100 });
    const s = await timeoutSpan('response-headers', () => c.request(fs.url('/never')));
    assert.equal(s.attributes['hourglass.connection.reused'], false);
  });

  it('timeout phase read-idle (in the body: the span ends with the body)', T, async () => {
    const c = mk({ readIdleTimeout: 100 });
    const s = await timeoutSpan('read-idle', async () => {
      const res = await c.request(fs.url('/stall-body?after=3&length=100'));
      return res.text();
    });
    assert.equal(s.attributes['http.response.status_code'], 200);
  });

  it('timeout phase request (the overall budget)', T, async () => {
    const c = mk({}, { timeout: 100 });
    await timeoutSpan('request', () => c.request(fs.url('/never')));
  });

  it('abort: not an error — status UNSET, no error.type (as instrumentation-undici)', T, async () => {
    const c = mk();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(c.request(fs.url('/never'), { signal: ac.signal }), { name: 'AbortError' });
    const [s] = await spansAfter(sdk, 1);
    assert.equal(s.status.code, SpanStatusCode.UNSET);
    assert.equal(s.attributes['error.type'], undefined);
    assert.ok(s.endTime[0] > 0);
  });

  it('a fresh connection that fails before the head keeps its dial events (t08, t31)', T, async () => {
    const cases: [string, (c: Client) => Promise<unknown>][] = [
      ['response-headers timeout', (c) => c.request(fs.url('/never'), { timeouts: { responseHeaderTimeout: 80 } })],
      ['close without reply', (c) => c.request(fs.url('/close-before-headers'))],
      [
        'abort',
        (c) => {
          const ac = new AbortController();
          setTimeout(() => ac.abort(), 80);
          return c.request(fs.url('/never'), { signal: ac.signal });
        },
      ],
    ];
    for (const [name, run] of cases) {
      sdk.exporter.reset();
      await assert.rejects(run(mk({}, { retry: { limit: 0 } } as ClientOptions)));
      const [s] = await spansAfter(sdk, 1);
      assert.equal(s.attributes['hourglass.connection.reused'], false, name);
      assert.deepEqual(
        s.events.map((e) => e.name).filter((n) => n.startsWith('hourglass.')),
        ['hourglass.connect'],
        name,
      );
    }
  });

  it('Unix socket: network.transport unix and network.peer.address the socket path (t30)', T, async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const http = await import('node:http');
    const dir = mkdtempSync(join(tmpdir(), 'hg-otel-unix-'));
    const sock = join(dir, 's.sock');
    const srv = http.createServer((_q, r) => r.end('ok'));
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const c = mk({ socketPath: sock });
      await (await c.request('http://localhost/x')).text();
      const [s] = await spansAfter(sdk, 1);
      assert.equal(s.attributes['network.transport'], 'unix');
      assert.equal(s.attributes['network.peer.address'], sock);
      assert.equal(s.attributes['network.peer.port'], undefined);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resend_count counts every request of a call on the wire: interceptor replays and bearerAuth 401 replays (t24)', T, async () => {
    const http = await import('node:http');
    const srv = http.createServer((q, r) => {
      if (q.url === '/r') return void r.writeHead(302, { Location: '/auth' }).end();
      if (!/^Bearer t0k$/.test(q.headers.authorization ?? '')) {
        return void r.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="http://127.0.0.1/token",service="s"' }).end();
      }
      r.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}`;
    const replay: ClientOptions['interceptors'] = [
      async (req, next) => {
        const r = await next(req);
        if (r.status !== 401) return r;
        await r.dump();
        req.headers.set('authorization', 'Bearer t0k');
        return next(req);
      },
    ];
    const cases: [string, ClientOptions, string, number[]][] = [
      ['custom replay', { interceptors: replay }, '/auth', [0, 1]],
      // The replay starts over from /r: 302, 401, then 302, 200.
      ['redirect then replay', { interceptors: replay }, '/r', [0, 1, 2, 3]],
      ['bearerAuth interceptor', { interceptors: [bearerAuth({ token: () => 't0k' })] }, '/auth', [0, 1]],
      ['bearerAuth network interceptor', { networkInterceptors: [bearerAuth({ token: () => 't0k' })] }, '/auth', [0, 1]],
    ];
    try {
      for (const [name, opts, path, want] of cases) {
        sdk.exporter.reset();
        const res = await mk({}, opts).request(base + path);
        assert.equal(await res.text(), 'ok', name);
        const spans = await spansAfter(sdk, want.length);
        assert.deepEqual(
          spans.map((x) => x.attributes['http.request.resend_count'] ?? 0),
          want,
          name,
        );
      }
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('connection refused: error.type is the code', T, async () => {
    const probe = await FaultServer.start();
    const url = probe.url('/ok');
    await probe.close();
    const c = mk();
    await assert.rejects(c.request(url), { code: 'ECONNREFUSED' });
    const [s] = await spansAfter(sdk, 1);
    assert.equal(s.attributes['error.type'], 'ECONNREFUSED');
    assert.equal(s.status.code, SpanStatusCode.ERROR);
  });

  it('TLS: https attributes and a tls event on a fresh connection', T, async () => {
    const c = mk({ tls: { ca: tlsFs.ca } });
    assert.equal(await (await c.request(tlsFs.url('/ok'))).text(), 'ok');
    const [s] = await spansAfter(sdk, 1);
    assert.equal(s.attributes['url.scheme'], 'https');
    assert.equal(s.attributes['url.full'], tlsFs.url('/ok'));
    assert.deepEqual(
      s.events.map((e) => e.name),
      ['hourglass.connect', 'hourglass.tls', 'hourglass.first_byte'],
    );
  });

  it('context propagation: the server receives traceparent with the parent span trace id', T, async () => {
    const c = mk();
    const tracer = sdk.tracerProvider.getTracer('test');
    let tp = '';
    fs.route('/tp', (ex) => {
      tp = ex.request.headers.traceparent ?? '';
      return ex.respond(200, {}, 'ok');
    });
    await tracer.startActiveSpan('parent', async (parent) => {
      await (await c.request(fs.url('/tp'))).text();
      parent.end();
    });
    const spans = await spansAfter(sdk, 2);
    const parent = spans.find((s) => s.name === 'parent')!;
    const child = spans.find((s) => s.name === 'GET')!;
    assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const [, traceId, spanId] = tp.split('-');
    assert.equal(traceId, parent.spanContext().traceId);
    assert.equal(spanId, child.spanContext().spanId);
    assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.equal(trace.getActiveSpan(), undefined);
  });

  it('redirect hops: each hop carries its own span id in traceparent, all under one trace', T, async () => {
    const c = mk();
    const seen: string[] = [];
    fs.route('/hop-a', (ex) => {
      seen.push(ex.request.headers.traceparent ?? '');
      return ex.respond(302, { location: '/hop-b' }, '');
    });
    fs.route('/hop-b', (ex) => {
      seen.push(ex.request.headers.traceparent ?? '');
      return ex.respond(200, {}, 'b');
    });
    const tracer = sdk.tracerProvider.getTracer('test');
    await tracer.startActiveSpan('parent', async (parent) => {
      assert.equal(await (await c.request(fs.url('/hop-a'))).text(), 'b');
      parent.end();
    });
    const spans = (await spansAfter(sdk, 3)).filter((s) => s.name === 'GET');
    assert.equal(seen.length, 2);
    assert.deepEqual(
      seen.map((tp) => tp.split('-')[2]),
      spans.map((s) => s.spanContext().spanId),
    );
    assert.equal(new Set(seen.map((tp) => tp.split('-')[1])).size, 1);
  });

  it('a caller-set traceparent is replaced by the span context (one traceparent on the wire)', T, async () => {
    const c = mk();
    let raw: readonly string[] = [];
    fs.route('/tp2', (ex) => {
      raw = ex.request.rawHeaders;
      return ex.respond(200, {}, 'ok');
    });
    const bogus = '00-11111111111111111111111111111111-2222222222222222-01';
    await (await c.request(fs.url('/tp2'), { headers: { traceparent: bogus } })).text();
    const values = raw.filter((_, i) => i % 2 === 1 && raw[i - 1].toLowerCase() === 'traceparent');
    assert.equal(values.length, 1);
    assert.notEqual(values[0], bogus);
    const [s] = await spansAfter(sdk, 1);
    assert.equal(values[0].split('-')[2], s.spanContext().spanId);
  });
});
