// hourglass/otel disable() and http.client.open_connections (issue #17): the SDK keeps
// exporting an async series it is no longer told about at its last value (cumulative), so
// disable() has every series observed once more at 0 — a cumulative reader then sees 0,
// not a stale count, a delta reader sees the matching negative delta, and connections
// made after disable() are not counted. Read through the SDK's in-memory exporter.
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { Client, Transport } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';

const T = { timeout: 15_000 };
const NAME = 'http.client.open_connections';

/** A reader that exports only when flushed, into an in-memory exporter. */
function reader(temporality: AggregationTemporality): { exporter: InMemoryMetricExporter; reader: PeriodicExportingMetricReader } {
  const exporter = new InMemoryMetricExporter(temporality);
  return { exporter, reader: new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 }) };
}

describe('hourglass/otel disable(): open_connections', () => {
  let fs: FaultServer;
  before(async () => {
    fs = await FaultServer.start();
  });
  after(() => fs.close());

  /** The last export's open_connections points at the fault server, by state (sums; none → {}). */
  const lastExport = (exporter: InMemoryMetricExporter): Record<string, number> => {
    const all = exporter.getMetrics();
    const last = all[all.length - 1];
    const out: Record<string, number> = {};
    const port = Number(new URL(fs.origin).port);
    for (const sm of last?.scopeMetrics ?? []) {
      for (const m of sm.metrics) {
        if (m.descriptor.name !== NAME) continue;
        for (const p of m.dataPoints) {
          if (p.attributes['server.port'] !== port) continue;
          const state = p.attributes['http.connection.state'] as string;
          out[state] = (out[state] ?? 0) + (p.value as number);
        }
      }
    }
    return out;
  };

  it('after disable() a cumulative reader sees 0 (not the last count), a delta reader the negative delta; later connections are not counted', T, async () => {
    const cum = reader(AggregationTemporality.CUMULATIVE);
    const delta = reader(AggregationTemporality.DELTA);
    const meterProvider = new MeterProvider({ readers: [cum.reader, delta.reader] });
    const inst = instrument({ meterProvider });
    const c = new Client({ transport: new Transport() });
    const ac = new AbortController();
    const flush = (): Promise<void> => meterProvider.forceFlush();
    try {
      const hung = c.request(fs.url('/never'), { signal: ac.signal }); // one active connection
      hung.catch(() => {});
      await new Promise((r) => setTimeout(r, 30));
      await (await c.request(fs.url('/ok'))).text(); // and a second one, idle
      await flush();
      assert.deepEqual(lastExport(cum.exporter), { active: 1, idle: 1 });
      assert.deepEqual(lastExport(delta.exporter), { active: 1, idle: 1 });

      inst.disable();
      await flush();
      assert.deepEqual(lastExport(cum.exporter), { active: 0, idle: 0 }, 'cumulative: no stale count after disable()');
      assert.deepEqual(lastExport(delta.exporter), { active: -1, idle: -1 }, 'delta: the counts leave');
      const deltaExports = delta.exporter.getMetrics().length;

      // Connections opened, used and closed after disable() change nothing.
      const c2 = new Client({ transport: new Transport() });
      await (await c2.request(fs.url('/ok'))).text();
      await flush();
      assert.deepEqual(lastExport(cum.exporter), { active: 0, idle: 0 });
      await c2.close();
      ac.abort();
      await c.close();
      await new Promise((r) => setTimeout(r, 20));
      await flush();
      assert.deepEqual(lastExport(cum.exporter), { active: 0, idle: 0 }, 'the connections open at disable() closed uncounted');
      // The delta reader had nothing more to export (an empty collection is not exported).
      assert.equal(delta.exporter.getMetrics().length, deltaExports);
    } finally {
      ac.abort();
      await c.close();
      await meterProvider.shutdown();
    }
  });

  it('disable() with nothing ever counted, twice, and with no collection afterwards: no error, nothing exported', T, async () => {
    const cum = reader(AggregationTemporality.CUMULATIVE);
    const meterProvider = new MeterProvider({ readers: [cum.reader] });
    const inst = instrument({ meterProvider });
    inst.disable();
    inst.disable();
    await meterProvider.forceFlush();
    assert.deepEqual(lastExport(cum.exporter), {});
    const late = instrument({ meterProvider });
    late.disable(); // a reader that never collects again: the final 0 simply waits
    await meterProvider.shutdown();
  });

  it('requests in flight at disable(): their spans end marked, and no duration is recorded for them (adv-otel4 F8)', T, async () => {
    const cum = reader(AggregationTemporality.CUMULATIVE);
    const meterProvider = new MeterProvider({ readers: [cum.reader] });
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const inst = instrument({ meterProvider, tracerProvider });
    const c = new Client({ transport: new Transport() });
    const ac = new AbortController();
    try {
      await (await c.request(fs.url('/ok'))).text(); // one finished request: one point
      const hung = c.request(fs.url('/never'), { signal: ac.signal });
      hung.catch(() => {});
      await new Promise((r) => setTimeout(r, 30));
      inst.disable();
      await meterProvider.forceFlush();
      const all = cum.exporter.getMetrics();
      let count = 0;
      for (const sm of all[all.length - 1]?.scopeMetrics ?? []) {
        for (const m of sm.metrics) {
          if (m.descriptor.name !== 'http.client.request.duration') continue;
          for (const p of m.dataPoints) count += (p.value as { count: number }).count;
        }
      }
      assert.equal(count, 1, 'only the finished request has a duration point');
      const ended = spans.getFinishedSpans();
      assert.equal(ended.length, 2, 'the span in flight was ended too');
      assert.deepEqual(
        ended.map((sp) => sp.attributes['hourglass.instrumentation.disabled'] ?? false),
        [false, true],
      );
    } finally {
      ac.abort();
      await c.close();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    }
  });
});
