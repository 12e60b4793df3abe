// hourglass/otel metrics (SPEC §14): http.client.request.duration (seconds, convention
// buckets and attributes), http.client.open_connections (active/idle, back to 0 when the
// connections close), hourglass.client.pool.wait.duration and hourglass.client.timeouts
// by phase (once per timeout); disable() unsubscribes (no span, no data point afterwards).
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { Client, Transport } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter, startInstrumented, stopInstrumented } from './sdk.js';

const T = { timeout: 15_000 };

describe('hourglass/otel metrics', () => {
  let fs: FaultServer;
  let sdk: Sdk;
  let inst: Instrumentation;

  before(async () => {
    ({ fs, sdk, inst } = await startInstrumented());
  });
  after(() => stopInstrumented({ fs, sdk, inst }));

  it('request duration: one data point per request on the wire, convention attributes and buckets', T, async () => {
    const c = new Client({ transport: new Transport() });
    await (await c.request(fs.url('/ok'))).text();
    await (await c.request(fs.url('/status/404'))).dump();
    await spansAfter(sdk, 2);
    const m = await sdk.metric('http.client.request.duration');
    assert.ok(m);
    assert.equal(m.descriptor.unit, 's');
    const port = Number(new URL(fs.origin).port);
    const byStatus = new Map(m.dataPoints.map((p) => [p.attributes['http.response.status_code'], p]));
    assert.deepEqual(byStatus.get(200)!.attributes, {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
    });
    assert.equal(byStatus.get(404)!.attributes['error.type'], '404');
    const h = byStatus.get(200)!.value as Histogram;
    assert.equal(h.count, 1);
    assert.ok(h.sum! > 0 && h.sum! < 5, `seconds, got ${h.sum}`);
    assert.deepEqual(h.buckets.boundaries, [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
    await c.close();
  });

  it('open connections: idle after a request, active during one, none after close', T, async () => {
    const c = new Client({ transport: new Transport() });
    const state = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = { active: 0, idle: 0 };
      for (const p of await sdk.points('http.client.open_connections')) {
        if (p.attributes['server.port'] === Number(new URL(fs.origin).port)) {
          out[p.attributes['http.connection.state'] as string] += p.value as number;
        }
      }
      return out;
    };
    const base = await state();
    fs.route('/slow', async (ex) => {
      await ex.sleep(150);
      await ex.respond(200, {}, 'ok');
    });
    const pending = c.request(fs.url('/slow'));
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(await state(), { active: base.active + 1, idle: base.idle });
    await (await pending).text();
    assert.deepEqual(await state(), { active: base.active, idle: base.idle + 1 });
    await c.close();
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(await state(), base);
  });

  it('pool wait and timeouts by phase', T, async () => {
    const c = new Client({ transport: new Transport({ maxConnsPerHost: 1, poolTimeout: 80, responseHeaderTimeout: 200 }) });
    const holder = c.request(fs.url('/never'));
    holder.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(c.request(fs.url('/ok')), { phase: 'pool' });
    await assert.rejects(holder, { phase: 'response-headers' });
    await (await c.request(fs.url('/ok'))).text();
    const timeouts = await sdk.points('hourglass.client.timeouts');
    const byPhase = Object.fromEntries(timeouts.map((p) => [p.attributes['hourglass.timeout.phase'], p.value]));
    assert.equal(byPhase.pool, 1);
    assert.equal(byPhase['response-headers'], 1);
    const wait = await sdk.metric('hourglass.client.pool.wait.duration');
    assert.ok(wait);
    const count = wait.dataPoints.reduce((n, p) => n + (p.value as Histogram).count, 0);
    assert.ok(count >= 2, `pool waits recorded: ${count}`);
    await c.close();
  });

  it('a pool wait that ends in a pool timeout is recorded in pool.wait.duration (t34)', T, async () => {
    const own = makeSdk();
    const inst2 = instrument({ tracerProvider: own.tracerProvider, meterProvider: own.meterProvider });
    const c = new Client({ transport: new Transport({ maxConnsPerHost: 1, poolTimeout: 80, responseHeaderTimeout: 300 }) });
    try {
      const holder = c.request(fs.url('/never'));
      holder.catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
      await assert.rejects(c.request(fs.url('/ok')), { phase: 'pool' });
      await assert.rejects(holder, { phase: 'response-headers' });
      const wait = await own.metric('hourglass.client.pool.wait.duration');
      assert.ok(wait);
      const h = wait.dataPoints.map((p) => p.value as Histogram);
      assert.equal(h.reduce((n, v) => n + v.count, 0), 2, 'the holder (no wait) and the waiter that timed out');
      assert.ok(h.reduce((n, v) => n + (v.sum ?? 0), 0) >= 0.075, JSON.stringify(h));
    } finally {
      inst2.disable();
      await c.close();
      await own.shutdown();
    }
  });

  it('an overall-budget timeout during a request on the wire is counted once, by phase request', T, async () => {
    const c = new Client({ timeout: 80 });
    await assert.rejects(c.request(fs.url('/never')), { phase: 'request' });
    await assert.rejects(c.request(fs.url('/never')), { phase: 'request' });
    const timeouts = await sdk.points('hourglass.client.timeouts');
    const p = timeouts.find((x) => x.attributes['hourglass.timeout.phase'] === 'request');
    assert.equal(p?.value, 2);
    assert.equal(p?.attributes['server.address'], '127.0.0.1');
    await c.close();
  });

  it('disable(): nothing is subscribed afterwards and no span is made', T, async () => {
    const other = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    other.disable();
    other.disable();
    inst.disable();
    assert.equal(diagnostics.channel('hourglass:wire:start').hasSubscribers, false);
    assert.equal(diagnostics.channel('hourglass:connection:active').hasSubscribers, false);
    sdk.exporter.reset();
    const c = new Client();
    await (await c.request(fs.url('/ok'))).text();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sdk.spans().length, 0);
    await c.close();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  });
});
