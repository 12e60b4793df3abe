// Test harness for hourglass/otel: an SDK tracer provider with the in-memory span
// exporter, a meter provider with a pull reader, and the global context manager and W3C
// propagator a real service registers (without them context does not cross awaits and
// nothing is injected).
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';

let globalsSet = false;
/** Registers the AsyncLocalStorage context manager and the W3C propagator once per process. */
export function setGlobals(): void {
  if (globalsSet) return;
  globalsSet = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** A reader the test pulls from. */
class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Sdk {
  exporter: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  spans(): ReadableSpan[];
  metric(name: string): Promise<MetricData | undefined>;
  /** The instrument `name` of every instrumentation scope that has one. */
  byScope(name: string): Promise<Map<string, MetricData>>;
  /** Data points of a sum / up-down counter as [attributes, value]. */
  points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]>;
  shutdown(): Promise<void>;
}

export function makeSdk(): Sdk {
  setGlobals();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metric = async (name: string): Promise<MetricData | undefined> => {
    const { resourceMetrics } = await reader.collect();
    for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) return m;
    return undefined;
  };
  const byScope = async (name: string): Promise<Map<string, MetricData>> => {
    const { resourceMetrics } = await reader.collect();
    const out = new Map<string, MetricData>();
    for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) out.set(sm.scope.name, m);
    return out;
  };
  return {
    exporter,
    byScope,
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    metric,
    async points(name) {
      const m = await metric(name);
      if (m === undefined) return [];
      return m.dataPoints.map((p) => ({
        attributes: p.attributes as Record<string, unknown>,
        value: m.dataPointType === DataPointType.HISTOGRAM ? p.value : p.value,
      }));
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Waits until `n` spans have ended (spans end when the body settles, a tick after the call). */
export async function spansAfter(sdk: Sdk, n: number, ms = 2000): Promise<ReadableSpan[]> {
  const until = Date.now() + ms;
  while (sdk.spans().length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return sdk.spans();
}

/** A fault server and an SDK that `instrument()` reports to: the fixture of most otel suites. */
export interface Instrumented {
  fs: FaultServer;
  sdk: Sdk;
  inst: Instrumentation;
}

/** Starts an {@link Instrumented} fixture (pair it with {@link stopInstrumented}). */
export async function startInstrumented(): Promise<Instrumented> {
  const fs = await FaultServer.start();
  const sdk = makeSdk();
  return { fs, sdk, inst: instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }) };
}

/** Disables the instrumentation, then closes the server and the SDK. */
export async function stopInstrumented({ fs, sdk, inst }: Instrumented): Promise<void> {
  inst.disable();
  await fs.close();
  await sdk.shutdown();
}
