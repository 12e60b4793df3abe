// `node bench/otel.mjs` — what hourglass/otel costs (SPEC §14): GET /small at 10 in flight
// against the bench load server (its own process), hourglass with instrument() off, on with
// the no-op global providers, and on with SDK providers (BasicTracerProvider +
// BatchSpanProcessor into a discarding exporter, MeterProvider with a reader); undici
// without and with @opentelemetry/instrumentation-undici on the same SDK, for reference.
//
//   node bench/otel.mjs [--quick]      BENCH_DURATION=2 (s per run), BENCH_REPS=3
//
// Method: one process; conditions are interleaved round by round (off, noop, sdk, undici,
// undici+sdk, then again) so machine drift spreads over all of them; each run warms up
// briefly first; the median req/s per condition and its ratio to `off` are printed, and
// written to bench/results/otel.json. Build first (`npm run build`): it loads dist/.

import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { metrics, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Agent, request as undiciRequest } from 'undici';
import { Client } from '../dist/index.js';
import { instrument } from '../dist/otel/index.js';
import { BENCH_DIR, median, startNodeServer } from './lib.mjs';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const durationMs = Number(process.env.BENCH_DURATION ?? (quick ? 1 : 2)) * 1000;
const reps = Number(process.env.BENCH_REPS ?? (quick ? 2 : 3));
const warmupMs = quick ? 200 : 400;
const INFLIGHT = 10;

class DiscardExporter {
  export(_spans, done) {
    done({ code: 0 });
  }
  shutdown() {
    return Promise.resolve();
  }
}
class PullReader extends MetricReader {
  onShutdown() {
    return Promise.resolve();
  }
  onForceFlush() {
    return Promise.resolve();
  }
}

const server = await startNodeServer();
const url = `http://127.0.0.1:${server.port}/small`;
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(new DiscardExporter(), { maxQueueSize: 4096, scheduledDelayMillis: 200 })],
});
const meterProvider = new MeterProvider({ readers: [new PullReader()] });
const client = new Client();
const agent = new Agent({ connections: INFLIGHT });
const undiciInst = new UndiciInstrumentation();
undiciInst.setTracerProvider(tracerProvider);
undiciInst.setMeterProvider(meterProvider);
undiciInst.disable();

/** Runs `one()` with INFLIGHT loops for `ms`; returns { rps, cpuUs: client CPU µs per request }. */
async function load(one, ms) {
  let n = 0;
  const until = performance.now() + ms;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (performance.now() < until) {
        await one();
        n++;
      }
    }),
  );
  const c = process.cpuUsage(c0);
  return { rps: n / ((performance.now() - t0) / 1000), cpuUs: (c.user + c.system) / n };
}

const hourglassGet = async () => {
  const res = await client.request(url);
  await res.text();
};
const undiciGet = async () => {
  const res = await undiciRequest(url, { dispatcher: agent });
  await res.body.text();
};

const CONDITIONS = {
  off: { get: hourglassGet, on: () => () => {} },
  'noop-provider': {
    get: hourglassGet,
    on: () => {
      const i = instrument({ tracerProvider: trace.getTracerProvider(), meterProvider: metrics.getMeterProvider() });
      return () => i.disable();
    },
  },
  'sdk-provider': {
    get: hourglassGet,
    on: () => {
      const i = instrument({ tracerProvider, meterProvider });
      return () => i.disable();
    },
  },
  undici: { get: undiciGet, on: () => () => {} },
  'undici+sdk': {
    get: undiciGet,
    on: () => {
      undiciInst.enable();
      return () => undiciInst.disable();
    },
  },
};

const runs = Object.fromEntries(Object.keys(CONDITIONS).map((k) => [k, []]));
for (let r = 0; r < reps; r++) {
  for (const [name, c] of Object.entries(CONDITIONS)) {
    const off = c.on();
    await load(c.get, warmupMs);
    runs[name].push(await load(c.get, durationMs));
    off();
    const last = runs[name].at(-1);
    process.stderr.write(`[otel] round ${r + 1} ${name}: ${Math.round(last.rps)} req/s, ${last.cpuUs.toFixed(1)} CPU µs/req\n`);
  }
}

// Throughput swings with the machine's other load; client CPU per request much less so.
const med = Object.fromEntries(
  Object.entries(runs).map(([k, v]) => [k, { rps: median(v.map((x) => x.rps)), cpuUs: median(v.map((x) => x.cpuUs)) }]),
);
const lines = [
  `### hourglass/otel overhead: GET /small, ${INFLIGHT} in flight, ${reps} × ${durationMs / 1000} s interleaved, median`,
  '',
  '| condition | req/s | req/s vs its off | client CPU µs/req | CPU vs its off | req/s runs |',
  '|---|---|---|---|---|---|',
];
for (const [k, v] of Object.entries(med)) {
  const base = k.startsWith('undici') ? med.undici : med.off;
  lines.push(
    `| ${k} | ${Math.round(v.rps)} | ${(v.rps / base.rps).toFixed(3)} | ${v.cpuUs.toFixed(1)} | ${(v.cpuUs / base.cpuUs).toFixed(3)} | ${runs[k].map((x) => Math.round(x.rps)).join(', ')} |`,
  );
}
console.log(lines.join('\n'));
const out = path.join(BENCH_DIR, 'results', 'otel.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, durationMs, reps, runs, median: med }, null, 2)}\n`);

await client.close();
await agent.close();
await tracerProvider.shutdown();
await meterProvider.shutdown();
await server.stop();
