// hourglass/otel and the wire channels over HTTP/2 (SPEC §13, §14): every request on an h2
// stream gets a span that ends — success (network.protocol.version '2'), multiplexed
// streams, header and body timeouts, RST_STREAM, an unread body, GOAWAY and
// REFUSED_STREAM replays (a span per request on the wire: the refused one ends ERROR,
// the replay is a sibling with resend_count and the connection's real reuse, carrying
// its own traceparent) — the wire:* order is start → connected → headers → end/error with
// exactly one end/error, and open_connections counts an h2 session active while it has
// streams, idle between them, and not at all once closed.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Transport, type TransportOptions } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { FaultServer, H2Code } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter } from './sdk.js';

const T = { timeout: 15_000 };
const CHANNELS = ['wire:start', 'wire:connected', 'wire:headers', 'wire:end', 'wire:error', 'connection:active', 'connection:idle'];

describe('hourglass/otel over HTTP/2', () => {
  let fs: FaultServer;
  let sdk: Sdk;
  let inst: Instrumentation;
  let log: { name: string; msg: Record<string, unknown> }[] = [];
  const subs: [string, (m: unknown) => void][] = [];
  const clients: Client[] = [];
  const mk = (server: FaultServer, t: TransportOptions = {}): Client => {
    const c = new Client({ transport: new Transport({ tls: { ca: server.ca }, ...t }) });
    clients.push(c);
    return c;
  };

  before(async () => {
    fs = await FaultServer.start({ h2: true });
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    for (const n of CHANNELS) {
      const fn = (m: unknown): void => void log.push({ name: n, msg: m as Record<string, unknown> });
      diagnostics.subscribe(`hourglass:${n}`, fn);
      subs.push([`hourglass:${n}`, fn]);
    }
  });
  beforeEach(() => {
    sdk.exporter.reset();
    log = [];
  });
  after(async () => {
    for (const [n, fn] of subs) diagnostics.unsubscribe(n, fn);
    inst.disable();
    for (const c of clients) await c.close();
    await fs.close();
    await sdk.shutdown();
  });

  /** Each request's wire:* names in order, one list per WireRequest. */
  const perWire = (): string[][] => {
    const by = new Map<unknown, string[]>();
    for (const e of log) {
      if (!e.name.startsWith('wire:')) continue;
      const w = e.msg.wire;
      if (!by.has(w)) by.set(w, []);
      by.get(w)!.push(e.name);
    }
    return [...by.values()];
  };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

  it('success: 3 multiplexed GETs are 3 ended spans with protocol 2; one session active once, then idle', T, async () => {
    const c = mk(fs);
    const bodies = await Promise.all([1, 2, 3].map(async () => (await c.request(fs.url('/delay-headers?ms=50'))).text()));
    assert.deepEqual(bodies, ['ok', 'ok', 'ok']);
    const spans = await spansAfter(sdk, 3);
    assert.equal(spans.length, 3);
    for (const s of spans) {
      assert.equal(s.attributes['network.protocol.version'], '2');
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.status.code, SpanStatusCode.UNSET);
    }
    await settle();
    assert.deepEqual(perWire(), Array(3).fill(['wire:start', 'wire:connected', 'wire:headers', 'wire:end']));
    const connected = log.filter((e) => e.name === 'wire:connected').map((e) => e.msg);
    assert.ok(connected.every((m) => m.protocol === '2' && m.connection === connected[0]!.connection));
    const conn = log.filter((e) => e.name.startsWith('connection:'));
    assert.deepEqual(conn.map((e) => e.name), ['connection:active', 'connection:idle']);
    assert.equal(conn[0]!.msg.connection, connected[0]!.connection);
    const end = log.find((e) => e.name === 'wire:end')!.msg;
    assert.equal(end.complete, true);
  });

  /** Runs `fn`, expects a timeout in `phase`, and returns the one span (ended, ERROR). */
  async function timeoutSpan(phase: string, fn: () => Promise<unknown>): Promise<ReadableSpan> {
    await assert.rejects(fn(), (err: Error & { phase?: string }) => err.phase === phase);
    const spans = await spansAfter(sdk, 1);
    assert.equal(spans.length, 1);
    const s = spans[0]!;
    assert.equal(s.attributes['hourglass.timeout.phase'], phase);
    assert.equal(s.attributes['error.type'], 'timeout');
    assert.equal(s.attributes['network.protocol.version'], '2');
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    await settle();
    assert.deepEqual(perWire()[0]!.filter((n) => n === 'wire:end' || n === 'wire:error'), ['wire:error']);
    return s;
  }

  it('timeout phase response-headers on a stream: the span ends', T, async () => {
    const c = mk(fs, { responseHeaderTimeout: 100 });
    await timeoutSpan('response-headers', () => c.request(fs.url('/never')));
  });

  it('timeout phase read-idle in an h2 body: the span ends with the body, status 200', T, async () => {
    const c = mk(fs, { readIdleTimeout: 100 });
    const s = await timeoutSpan('read-idle', async () => (await c.request(fs.url('/stall-body?after=3&length=100'))).text());
    assert.equal(s.attributes['http.response.status_code'], 200);
  });

  it('RST_STREAM before the head and mid-body: each span ends ERROR, one wire:error each', T, async () => {
    const c = mk(fs);
    await assert.rejects(c.request(fs.url('/h2/rst?code=2')), { reason: 'stream-reset' });
    await assert.rejects(async () => (await c.request(fs.url('/h2/rst?code=2&after=3&length=10'))).text());
    const spans = await spansAfter(sdk, 2);
    assert.equal(spans.length, 2);
    for (const s of spans) assert.equal(s.status.code, SpanStatusCode.ERROR);
    await settle();
    const w = perWire();
    assert.deepEqual(w[0], ['wire:start', 'wire:connected', 'wire:error']);
    assert.deepEqual(w[1], ['wire:start', 'wire:connected', 'wire:headers', 'wire:error']);
  });

  it('an unread body: wire:end with complete false, the span ends', T, async () => {
    const c = mk(fs);
    const res = await c.request(fs.url('/bytes?n=200000'));
    await res.dump(0, 0);
    const spans = await spansAfter(sdk, 1);
    assert.equal(spans.length, 1);
    await settle();
    const end = log.find((e) => e.name === 'wire:end' || e.name === 'wire:error')!;
    assert.equal(end.name, 'wire:end');
    assert.equal(end.msg.complete, false);
  });

  /** The two spans of a replayed call, in start order: refused (ERROR) then replay (OK). */
  async function replaySpans(parentSpanId: string): Promise<[ReadableSpan, ReadableSpan]> {
    const spans = (await spansAfter(sdk, 3)).filter((s) => s.name === 'GET');
    assert.equal(spans.length, 2, 'one span per request on the wire');
    spans.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    const [refused, replay] = spans as [ReadableSpan, ReadableSpan];
    assert.equal(refused.status.code, SpanStatusCode.ERROR);
    assert.equal(refused.attributes['error.type'], 'HG_PROTOCOL');
    assert.equal(refused.attributes['http.request.resend_count'], undefined);
    assert.equal(replay.status.code, SpanStatusCode.UNSET);
    assert.equal(replay.attributes['http.request.resend_count'], 1);
    assert.equal(replay.attributes['http.response.status_code'], 200);
    assert.equal(replay.attributes['network.protocol.version'], '2');
    // Siblings under the caller's span, though the replay starts from the connection's events.
    for (const s of spans) {
      assert.equal(s.parentSpanContext?.spanId, parentSpanId);
      assert.equal(s.spanContext().traceId, spans[0]!.spanContext().traceId);
    }
    return [refused, replay];
  }

  /** Runs `fn` under a fresh parent span (ended after); returns its result and the parent's span id. */
  async function underParent<T>(name: string, fn: () => Promise<T>): Promise<{ out: T; parentSpanId: string }> {
    const parent = sdk.tracerProvider.getTracer('test').startSpan(name);
    try {
      const out = await context.with(trace.setSpan(context.active(), parent), fn);
      return { out, parentSpanId: parent.spanContext().spanId };
    } finally {
      parent.end();
    }
  }

  it('GOAWAY replay: two spans under the caller (refused ERROR on the reused connection, replay OK with resend_count 1 and reused false on a new one); open_connections back to zero', T, async () => {
    const g = await FaultServer.start({ h2: true });
    const port = Number(new URL(g.origin).port);
    const state = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = { active: 0, idle: 0 };
      for (const p of await sdk.points('http.client.open_connections')) {
        if (p.attributes['server.port'] === port) out[p.attributes['http.connection.state'] as string]! += p.value as number;
      }
      return out;
    };
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((r) => (release = r));
      const traceparents: (string | undefined)[] = [];
      g.h2Route('/first', async (s) => s.respond(200, {}, 'first'));
      g.h2Route('/once', async (s) => {
        traceparents.push(s.request.headers.traceparent);
        if (s.conn.id === 1) {
          await s.conn.goaway(s.id - 2, H2Code.NO_ERROR);
          return;
        }
        await held;
        await s.respond(200, {}, `c${s.conn.id}`);
      });
      const c = mk(g);
      // The first connection is opened under another parent: the replay must not inherit its context.
      assert.equal((await underParent('opener', async () => (await c.request(g.url('/first'))).text())).out, 'first');
      sdk.exporter.reset();
      log = [];
      const { out: body, parentSpanId } = await underParent('caller', async () => {
        const pending = c.request(g.url('/once'));
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(await state(), { active: 1, idle: 0 }, 'the second session is active (the first went away)');
        release();
        return (await pending).text();
      });
      assert.equal(body, 'c2');
      const [refused, replay] = await replaySpans(parentSpanId);
      assert.equal(replay.attributes['hourglass.connection.reused'], false, 'the replay went on a fresh connection');
      assert.equal(refused.attributes['hourglass.connection.reused'], true);
      // Each request on the wire carried its own span as traceparent.
      assert.equal(traceparents.length, 2);
      assert.ok(traceparents[0]!.includes(refused.spanContext().spanId), traceparents[0]);
      assert.ok(traceparents[1]!.includes(replay.spanContext().spanId), traceparents[1]);
      await settle();
      assert.deepEqual(perWire(), [
        ['wire:start', 'wire:connected', 'wire:error'],
        ['wire:start', 'wire:connected', 'wire:headers', 'wire:end'],
      ]);
      assert.deepEqual(await state(), { active: 0, idle: 1 });
      await c.close();
      await settle();
      assert.deepEqual(await state(), { active: 0, idle: 0 });
    } finally {
      await g.close();
    }
  });

  it('a replay of a request that waited for a stream slot is under its own caller, not the one whose stream freed the slot', T, async () => {
    const g = await FaultServer.start({ h2: { maxConcurrentStreams: 1 } });
    try {
      const c = mk(g, { maxConnsPerHost: 1 });
      assert.equal(await (await c.request(g.url('/ok'))).text(), 'ok'); // the peer's limit is known
      sdk.exporter.reset();
      const a = underParent('A', async () => (await c.request(g.url('/delay-headers?ms=150'))).text());
      await new Promise((r) => setTimeout(r, 40));
      const b = underParent('B', async () => (await c.request(g.url('/h2/refuse?times=1'))).text());
      assert.equal((await a).out, 'ok');
      const { out, parentSpanId } = await b;
      assert.equal(out, 'ok 0');
      const bSpans = (await spansAfter(sdk, 5)).filter((s) => s.attributes['url.full'] === g.url('/h2/refuse?times=1'));
      assert.equal(bSpans.length, 2);
      for (const s of bSpans) assert.equal(s.parentSpanContext?.spanId, parentSpanId, 'B\'s spans are children of B');
    } finally {
      await g.close();
    }
  });

  it('REFUSED_STREAM replay: two spans under the caller (the replay on the same connection, reused true), not the parent of the request that opened it', T, async () => {
    const c = mk(fs);
    // The connection is opened under another parent: a replay must not inherit its context.
    const first = await underParent('opener', async () => (await c.request(fs.url('/ok'))).text());
    assert.equal(first.out, 'ok');
    sdk.exporter.reset();
    const u = fs.url(`/h2/refuse?times=1&k=${Math.random()}`);
    const { out, parentSpanId } = await underParent('caller', async () => (await c.request(u)).text());
    assert.equal(out, 'ok 0');
    const [refused, replay] = await replaySpans(parentSpanId);
    assert.equal(refused.attributes['hourglass.connection.reused'], true);
    assert.equal(replay.attributes['hourglass.connection.reused'], true);
  });
  it('a REFUSED_STREAM replay, then a status retry (503, then 200): three spans with resend_count unset, 1, 2 — every earlier send counted once', T, async () => {
    const g = await FaultServer.start({ h2: true });
    try {
      let hits = 0;
      g.h2Route('/seq', async (s) => {
        hits++;
        if (hits === 1) {
          await s.rst(H2Code.REFUSED_STREAM);
          return;
        }
        await s.respond(hits === 2 ? 503 : 200, {}, `hit ${hits}`);
      });
      const c = new Client({ transport: new Transport({ tls: { ca: g.ca } }), retry: { limit: 2, statusCodes: [503], backoff: () => 0 } });
      clients.push(c);
      assert.equal(await (await c.request(g.url('/seq'))).text(), 'hit 3');
      const spans = (await spansAfter(sdk, 3)).filter((x) => x.name === 'GET');
      assert.equal(spans.length, 3, 'one span per request on the wire');
      spans.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
      assert.deepEqual(
        spans.map((x) => [x.attributes['http.request.resend_count'], x.attributes['http.response.status_code'], x.attributes['error.type']]),
        [
          [undefined, undefined, 'HG_PROTOCOL'],
          [1, 503, '503'],
          [2, 200, undefined],
        ],
      );
    } finally {
      await g.close();
    }
  });
});
