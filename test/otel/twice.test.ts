// adv-otel4 F3 (issue #17): a second instrument() with the same providers shares the
// first (one CLIENT span per request on the wire, not two); the instrumentation ends only
// when every handle is disabled, so disabling one leaves the other's spans and gauge whole.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client, Transport } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter } from './sdk.js';

const T = { timeout: 10_000 };

describe('hourglass/otel: instrument() twice', () => {
  let fs: FaultServer;
  let sdk: Sdk;

  before(async () => {
    fs = await FaultServer.start();
    sdk = makeSdk();
  });
  after(async () => {
    await fs.close();
    await sdk.shutdown();
  });

  it('same providers: one span per request; one handle disabled keeps the other working', T, async () => {
    const opts = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider };
    const a = instrument(opts);
    const b = instrument(opts);
    const c = new Client({ transport: new Transport() });
    try {
      await (await c.request(fs.url('/ok'))).text();
      await spansAfter(sdk, 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(sdk.spans().length, 1, 'one CLIENT span for one request');
      b.disable();
      b.disable();
      const idle = (await sdk.points('http.client.open_connections')).find((p) => p.attributes['http.connection.state'] === 'idle');
      assert.equal(idle?.value, 1, 'the idle connection is still counted');
      sdk.exporter.reset();
      await (await c.request(fs.url('/ok'))).text();
      assert.equal((await spansAfter(sdk, 1)).length, 1, 'still instrumented by the other handle');
      a.disable();
      assert.equal(diagnostics.channel('hourglass:wire:start').hasSubscribers, false);
    } finally {
      a.disable();
      b.disable();
      await c.close();
    }
  });

  // adv-otel5 N2: the global provider is a proxy; the provider it stands for is the same one.
  it('the global tracer provider and the SDK provider it delegates to are the same providers: one span', T, async () => {
    trace.setGlobalTracerProvider(sdk.tracerProvider);
    const a = instrument({ meterProvider: sdk.meterProvider });
    const b = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const c = new Client({ transport: new Transport() });
    try {
      sdk.exporter.reset();
      await (await c.request(fs.url('/ok'))).text();
      await spansAfter(sdk, 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(sdk.spans().length, 1, 'one CLIENT span for one request');
      a.disable();
      sdk.exporter.reset();
      await (await c.request(fs.url('/ok'))).text();
      assert.equal((await spansAfter(sdk, 1)).length, 1, 'still instrumented by the other handle');
    } finally {
      a.disable();
      b.disable();
      trace.disable();
      await c.close();
    }
  });

  // adv-otel5 N5: disable() while wire:start is being delivered leaves no span unended.
  for (const where of ['an earlier wire:start subscriber', 'a SpanProcessor\'s onStart'] as const) {
    it(`disable() from ${where}: every span started is ended`, T, async () => {
      const started = new Set<Span>();
      const ended = new Set<ReadableSpan>();
      let handle: { disable(): void } | undefined;
      const proc: SpanProcessor = {
        onStart(s) {
          started.add(s);
          if (where !== 'an earlier wire:start subscriber') handle?.disable();
        },
        onEnd: (s) => void ended.add(s),
        shutdown: async () => {},
        forceFlush: async () => {},
      };
      const tp = new BasicTracerProvider({ spanProcessors: [proc] });
      const early = (): void => handle?.disable();
      if (where === 'an earlier wire:start subscriber') diagnostics.subscribe('hourglass:wire:start', early);
      handle = instrument({ tracerProvider: tp, meterProvider: sdk.meterProvider });
      const c = new Client({ transport: new Transport() });
      try {
        await (await c.request(fs.url('/ok'))).text();
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(ended.size, started.size, `${started.size} started, ${ended.size} ended`);
        assert.equal(diagnostics.channel('hourglass:wire:end').hasSubscribers, false);
      } finally {
        diagnostics.unsubscribe('hourglass:wire:start', early);
        handle.disable();
        await c.close();
      }
    });
  }

  // adv-otel5 (c41): two instrumentations on one meter provider observe the same series.
  it('different tracer providers on one meter: disabling one leaves the other\'s open_connections live', T, async () => {
    const a = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    const b = instrument({ tracerProvider: new BasicTracerProvider(), meterProvider: sdk.meterProvider });
    const c = new Client({ transport: new Transport() });
    const idle = async (): Promise<unknown> =>
      (await sdk.points('http.client.open_connections')).find((p) => p.attributes['http.connection.state'] === 'idle')?.value;
    try {
      await (await c.request(fs.url('/ok'))).text();
      assert.equal(await idle(), 1);
      b.disable();
      assert.equal(await idle(), 1, 'first collection after the other was disabled');
      assert.equal(await idle(), 1, 'and the next');
      a.disable();
      assert.equal(await idle(), 0, 'the last one disabled reports 0');
    } finally {
      a.disable();
      b.disable();
      await c.close();
    }
  });

  it('instrument() before the SDK is registered still traces through the global provider', T, async () => {
    trace.disable();
    const a = instrument({ meterProvider: sdk.meterProvider });
    trace.setGlobalTracerProvider(sdk.tracerProvider);
    const c = new Client({ transport: new Transport() });
    try {
      sdk.exporter.reset();
      await (await c.request(fs.url('/ok'))).text();
      assert.equal((await spansAfter(sdk, 1)).length, 1);
    } finally {
      a.disable();
      trace.disable();
      await c.close();
    }
  });
});
