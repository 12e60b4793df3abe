// One measurement in a fresh process (started by run.mjs / profile.mjs through lib.runWorker).
// It receives its configuration as the first IPC message, answers { type: 'result' } or
// { type: 'error' }, and exits. Modes:
//   load    one client, one scenario: warm-up, then `reps` timed runs of `durationMs`
//   pair    hourglass with all timeouts on vs all off, alternating in one process
//   timer   lateness of response-header timeouts against /never, idle and under load
//   queued  memory per request waiting behind maxConnsPerHost (needs --expose-gc)

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOURGLASS_TIMEOUTS_OFF, HOURGLASS_TIMEOUTS_ON, makeClient } from './clients.mjs';
import { machineBusySeconds, percentile, procCpuSeconds, procCounters } from './lib.mjs';

const LAT_CAP = 1 << 20;
const MAX_OPS_PER_LANE = 50_000_000;
const MAX_ERRORS = 1000;

function gcNow() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

/**
 * Runs `op` in `inflight` concurrent loops until `ms` elapsed (or `stop.stopped`).
 * Every loop is bounded by time, by MAX_OPS_PER_LANE, and stops after MAX_ERRORS errors.
 */
async function drive(op, { inflight, expect }, ms, { stop, serverPid, latencies = true } = {}) {
  const lat = latencies ? new Float32Array(LAT_CAP) : undefined;
  let nLat = 0;
  let count = 0;
  let bytes = 0;
  let errors = 0;
  let mismatches = 0;
  let firstError;
  const cpu0 = process.cpuUsage();
  const srv0 = procCpuSeconds(serverPid);
  const all0 = machineBusySeconds();
  const me0 = procCounters(process.pid);
  const sv0 = procCounters(serverPid);
  const t0 = performance.now();
  const end = t0 + ms;
  const lane = async (i) => {
    for (let k = 0; k < MAX_OPS_PER_LANE; k++) {
      const s = performance.now();
      if (s >= end || stop?.stopped || errors >= MAX_ERRORS) return;
      try {
        const n = await op(i);
        if (expect >= 0 && n !== expect) {
          mismatches++;
          firstError ??= `body of ${n} bytes, expected ${expect}`;
        }
        bytes += n;
        count++;
        if (lat !== undefined && nLat < LAT_CAP) lat[nLat++] = performance.now() - s;
      } catch (err) {
        errors++;
        firstError ??= `${err?.name ?? 'Error'}: ${err?.message ?? err}${err?.code ? ` (${err.code})` : ''}`;
        await sleep(1);
      }
    }
  };
  const lanes = [];
  for (let i = 0; i < inflight; i++) lanes.push(lane(i));
  await Promise.all(lanes);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const srv1 = procCpuSeconds(serverPid);
  const all1 = machineBusySeconds();
  const me1 = procCounters(process.pid);
  const sv1 = procCounters(serverPid);
  const sec = elapsedMs / 1000;
  const per = (a, b, k) => (count > 0 ? (b[k] - a[k]) / count : Number.NaN);
  const clientCpu = (cpu.user + cpu.system) / 1e6 / sec;
  const serverCpu = (srv1 - srv0) / sec;
  const sorted = lat === undefined ? [] : Array.from(lat.subarray(0, nLat)).sort((a, b) => a - b);
  const pick = (p) =>
    sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return {
    count,
    bytes,
    errors,
    mismatches,
    firstError,
    elapsedMs,
    reqPerSec: count / sec,
    mbPerSec: bytes / 1e6 / sec,
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
    clientCpu,
    serverCpu,
    // CPU used by every other process on the machine meanwhile (other work skews results).
    otherCpu: Math.max(0, (all1 - all0) / sec - clientCpu - (Number.isFinite(serverCpu) ? serverCpu : 0)),
    // Per request, from /proc (Linux; NaN elsewhere): the client's write and read syscalls
    // and bytes per write, the server's wake-ups (voluntary context switches) and reads.
    clientWrites: per(me0, me1, 'syscw'),
    clientReads: per(me0, me1, 'syscr'),
    bytesPerWrite: (me1.wchar - me0.wchar) / (me1.syscw - me0.syscw),
    serverWakeups: per(sv0, sv1, 'vcsw'),
    serverReads: per(sv0, sv1, 'syscr'),
  };
}

/**
 * Samples RSS every `everyMs`: the peak since the last `rep()` (one timed run's, so the run
 * can report the median of its reps like every other figure) and over the whole process.
 */
function rssSampler(everyMs) {
  let peak = process.memoryUsage.rss();
  let repPeak = peak;
  const t = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
    if (r > repPeak) repPeak = r;
  }, everyMs);
  return {
    /** The peak since the last call (or since the start), and starts a new one. */
    rep() {
      const r = Math.max(process.memoryUsage.rss(), repPeak);
      repPeak = process.memoryUsage.rss();
      return r;
    },
    stop() {
      clearInterval(t);
      const r = process.memoryUsage.rss();
      return Math.max(r, peak);
    },
  };
}

function clientArgs(cfg, extra = {}) {
  return {
    origin: cfg.origin,
    port: cfg.port,
    inflight: cfg.inflight,
    churn: cfg.churn === true,
    hourglass: cfg.hourglass ?? {},
    ca: cfg.ca,
    origins: cfg.origins,
    ...extra,
  };
}

/**
 * One client, one scenario. Interactive (run.mjs): after set-up it says 'ready', then runs
 * one timed run per { type: 'rep' } message (warm-up before the first, a short re-warm
 * before the others, since other clients ran in between) and answers 'rep-result';
 * { type: 'finish' } ends it. Otherwise it runs warm-up + `reps` runs by itself.
 */
async function modeLoad(cfg) {
  const client = await makeClient(cfg.client, clientArgs(cfg));
  const body = cfg.bodySize > 0 ? Buffer.alloc(cfg.bodySize, 0x62) : undefined;
  const op = client.op(cfg.kind, cfg.path, body);
  gcNow();
  const baseRss = process.memoryUsage.rss();
  const sampler = cfg.sampleRss ? rssSampler(5) : undefined;
  const opts = { serverPid: cfg.serverPid };
  let warm;
  const runOne = async (first) => {
    if (first) warm = await drive(op, cfg, cfg.warmupMs, opts);
    else if (cfg.rewarmMs > 0) await drive(op, cfg, cfg.rewarmMs, opts);
    sampler?.rep();
    const r = await drive(op, cfg, cfg.durationMs, opts);
    // This timed run's own peak RSS growth: the run reports the median over its reps.
    if (sampler !== undefined) r.rssGrowth = sampler.rep() - baseRss;
    return r;
  };
  const reps = [];
  if (cfg.interactive) {
    process.send({ type: 'ready' });
    for (let k = 0; k < 1000; k++) {
      const m = await nextMessage();
      if (m?.type === 'finish') break;
      if (m?.type !== 'rep') continue;
      const r = await runOne(reps.length === 0);
      reps.push(r);
      process.send({ type: 'rep-result', result: r });
    }
  } else {
    for (let r = 0; r < cfg.reps; r++) reps.push(await runOne(r === 0));
  }
  const peakRss = sampler?.stop();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  await client.close();
  return {
    warm:
      warm === undefined
        ? undefined
        : { count: warm.count, errors: warm.errors, firstError: warm.firstError },
    reps,
    baseRss,
    rssGrowth: peakRss === undefined ? undefined : peakRss - baseRss,
    maxRssGrowth: maxRss - baseRss,
  };
}

/** Timeouts all on vs all off, alternating on/off/off/on/on/off... so drift cancels out. */
async function modePair(cfg) {
  const on = await makeClient('hourglass-on', clientArgs(cfg, { hourglass: HOURGLASS_TIMEOUTS_ON }));
  const off = await makeClient('hourglass-off', clientArgs(cfg, { hourglass: HOURGLASS_TIMEOUTS_OFF }));
  const ops = { on: on.op(cfg.kind, cfg.path), off: off.op(cfg.kind, cfg.path) };
  const opts = { serverPid: cfg.serverPid };
  await drive(ops.on, cfg, cfg.warmupMs, opts);
  await drive(ops.off, cfg, cfg.warmupMs, opts);
  const reps = { on: [], off: [] };
  for (let r = 0; r < cfg.reps; r++) {
    const order = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const k of order) reps[k].push(await drive(ops[k], cfg, cfg.durationMs, opts));
  }
  await on.close();
  await off.close();
  return { reps };
}

/** `n` response-header timeouts of `timeoutMs` against /never, `conc` at a time. */
async function timeoutSamples(client, url, n, conc, timeoutMs) {
  const late = [];
  const libLate = [];
  let wrong = 0;
  let firstWrong;
  let started = 0;
  const lane = async (i) => {
    await sleep(i * 3);
    while (started < n) {
      started++;
      let t0;
      const trace = {
        wroteRequest: () => {
          t0 = performance.now();
        },
      };
      try {
        const res = await client.request(url, { trace });
        wrong++;
        firstWrong ??= `unexpected response ${res.status}`;
        await res.dump();
      } catch (err) {
        const t1 = performance.now();
        if (err?.name === 'TimeoutError' && err.phase === 'response-headers' && t0 !== undefined) {
          late.push(t1 - t0 - timeoutMs);
          libLate.push(err.elapsed - timeoutMs);
        } else {
          wrong++;
          firstWrong ??= `${err?.name}: ${err?.message} (phase ${err?.phase})`;
        }
      }
    }
  };
  const lanes = [];
  for (let i = 0; i < conc; i++) lanes.push(lane(i));
  await Promise.all(lanes);
  return {
    samples: late.length,
    wrong,
    firstWrong,
    p50Ms: percentile(late, 50),
    p99Ms: percentile(late, 99),
    maxMs: late.length ? Math.max(...late) : Number.NaN,
    minMs: late.length ? Math.min(...late) : Number.NaN,
    reportedElapsedP99Ms: percentile(libLate, 99),
  };
}

async function modeTimer(cfg) {
  const { Client, Transport } = await import('../dist/index.js');
  const load = await makeClient('hourglass', clientArgs(cfg));
  const op = load.op('text', '/small');
  const tc = new Client({ transport: new Transport({ responseHeaderTimeout: cfg.timeoutMs }) });
  const url = `${cfg.origin}/never`;
  const opts = { serverPid: cfg.serverPid, latencies: false };
  // Warm both paths first.
  await drive(op, cfg, cfg.warmupMs, opts);
  await timeoutSamples(tc, url, 20, cfg.timerConcurrency, cfg.timeoutMs);

  const loopIdle = monitorEventLoopDelay({ resolution: 1 });
  loopIdle.enable();
  const idle = await timeoutSamples(tc, url, cfg.samples, cfg.timerConcurrency, cfg.timeoutMs);
  loopIdle.disable();

  const stop = { stopped: false };
  const loadRun = drive(op, cfg, 120_000, { ...opts, stop });
  await sleep(200);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const loaded = await timeoutSamples(tc, url, cfg.samples, cfg.timerConcurrency, cfg.timeoutMs);
  loop.disable();
  stop.stopped = true;
  const loadResult = await loadRun;
  await load.close();
  await tc.close();
  return {
    idle: { ...idle, loopDelayP99Ms: loopIdle.percentile(99) / 1e6 },
    loaded: {
      ...loaded,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loadReqPerSec: loadResult.reqPerSec,
      loadErrors: loadResult.errors,
    },
  };
}

/** Fires `count` requests at /never behind a 16-connection limit; memory per request after GC. */
async function modeQueued(cfg) {
  if (typeof globalThis.gc !== 'function') throw new Error('queued mode needs --expose-gc');
  const conns = cfg.conns;
  const hourglass = {
    transport: {
      maxConnsPerHost: conns,
      ...(cfg.client === 'hourglass-on' ? HOURGLASS_TIMEOUTS_ON.transport : {}),
    },
    ...(cfg.client === 'hourglass-on' ? { timeout: HOURGLASS_TIMEOUTS_ON.timeout } : {}),
  };
  const client = await makeClient(cfg.client, clientArgs(cfg, { inflight: conns, hourglass }));
  const noop = () => {};
  let fire;
  let queued;
  if (cfg.client.startsWith('hourglass')) {
    const url = `${cfg.origin}/never`;
    fire = () => client.client.request(url).catch(noop);
    queued = client.queued;
  } else if (cfg.client === 'undici-request') {
    const o = { path: '/never', method: 'GET' };
    fire = () => client.pool.request(o).catch(noop);
    queued = client.queued;
  } else if (cfg.client === 'node-http') {
    const http = await import('node:http');
    const o = { agent: client.agent, host: '127.0.0.1', port: cfg.port, path: '/never' };
    fire = () => {
      const req = http.request(o);
      req.on('error', noop);
      req.end();
    };
    queued = client.queued;
  } else throw new Error(`queued: unsupported client ${cfg.client}`);

  // Load the code paths once (a few real requests), so compiled code is not counted.
  const warm = client.op('text', '/small');
  await drive(warm, { inflight: conns, expect: 13 }, 300, { latencies: false });
  await sleep(50);
  gcNow();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  for (let i = 0; i < cfg.count; i++) fire();
  const fireMs = performance.now() - t0;
  let waiting = 0;
  for (let k = 0; k < 1000; k++) {
    waiting = queued();
    if (waiting >= cfg.count - conns) break;
    await sleep(10);
  }
  await sleep(100);
  gcNow();
  const m1 = process.memoryUsage();
  const result = {
    count: cfg.count,
    conns,
    waiting,
    fireMs,
    heapPerRequest: (m1.heapUsed - m0.heapUsed) / cfg.count,
    rssPerRequest: (m1.rss - m0.rss) / cfg.count,
    externalPerRequest: (m1.external - m0.external) / cfg.count,
  };
  // Not awaited: the active requests hang on /never by design; the process exits next.
  client.close();
  return result;
}

/**
 * One fresh process, `cfg.downloads` downloads one after the other: the peak RSS growth
 * over them, from just before the first (after GC). What one download costs a process,
 * its first included — where a long load run only shows V8's steady state, set by its
 * young-generation ArrayBuffer limit (32 MiB of dead chunks before a scavenge), which
 * every client that allocates a fresh 64 KiB chunk per read shares.
 */
async function modeRss(cfg) {
  const client = await makeClient(cfg.client, clientArgs(cfg));
  const op = client.op(cfg.kind, cfg.path);
  gcNow();
  const baseRss = process.memoryUsage.rss();
  const sampler = rssSampler(2);
  let bytes = 0;
  for (let i = 0; i < cfg.downloads; i++) bytes += await op(0);
  const peak = sampler.stop();
  await client.close();
  if (bytes !== cfg.expect * cfg.downloads) throw new Error(`rss: ${bytes} bytes, expected ${cfg.expect * cfg.downloads}`);
  return { rssGrowth: peak - baseRss };
}

const MODES = { load: modeLoad, pair: modePair, timer: modeTimer, queued: modeQueued, rss: modeRss };

const inbox = [];
let wake;
function nextMessage() {
  if (inbox.length > 0) return Promise.resolve(inbox.shift());
  return new Promise((resolve) => {
    wake = resolve;
  });
}
process.on('message', (m) => {
  if (wake !== undefined) {
    const w = wake;
    wake = undefined;
    w(m);
  } else inbox.push(m);
});
process.on('disconnect', () => process.exit(2));

const cfg = await nextMessage();
setTimeout(() => process.exit(3), cfg.limitMs ?? 300_000).unref();
let msg;
try {
  const mode = MODES[cfg.mode];
  if (mode === undefined) throw new Error(`unknown mode ${cfg.mode}`);
  msg = { type: 'result', result: await mode(cfg) };
} catch (err) {
  msg = { type: 'error', error: err?.stack ?? String(err) };
}
process.send(msg, () => process.exit(msg.type === 'result' ? 0 : 1));
