// `npm run bench` — hourglass against undici, node:http, got, axios, fetch and a raw-socket
// floor, on loopback, against real servers in their own processes: nginx (scripts/nginx.mjs,
// when installed: minimal and realistic header sets, http and https, 1,000 origins) and the
// raw node:net load server (bench/server.mjs, the floor). Prints markdown tables and writes
// bench/results/latest.json (and latest.md) — partial.json/.md for a --quick, --scenarios
// or --clients run. The headline per row is client CPU per request
// (µs) beside req/s, both as ratios to undici.request in the same run.
//
//   node bench/run.mjs [--quick] [--scenarios=a,b] [--clients=x,y] [--out=FILE] [--list]
//
//   --quick / BENCH_QUICK=1     1 repetition, 1 s runs, short warm-up
//   --scenarios=ID,...          scenarios to run (ids or prefixes; --list shows them)
//   --clients=NAME,...          clients to run (names or prefixes); the raw floor and undici
//                               request are added when a ratio needs them
//   BENCH_DURATION=3            seconds per timed run (also "500ms"); BENCH_WARMUP=1; BENCH_REPS=3
//   NGINX_BIN=/path/nginx       the nginx to use (else on PATH or /usr/sbin); nginx scenarios
//                               are skipped, with a message, when there is none
//
// Method: every client runs in a fresh process per scenario (clean heap and RSS). All the
// clients of a scenario are started together and their timed runs are interleaved — run 1
// of every client, then run 2 of every client... — so a slow patch of the machine does
// not land on one client only. Each client warms up before its first run and re-warms
// briefly before later ones; the median of the runs is reported — peak RSS growth too: each
// timed run's own peak above the process's RSS before it started (the JSON also keeps the
// whole process's peak, warm-up included). A 64 MiB download's is measured again in fresh
// processes (RSS_PROCS below): that median is the figure shown, the run's beside it.

import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLIENT_LABELS, CLIENT_NAMES } from './clients.mjs';
import { BENCH_DIR, median, openWorker, runWorker, startNodeServer, waitForQuiet } from './lib.mjs';
import { nginxPath, nginxSkipReason, startNginx } from '../scripts/nginx.mjs';

const MIB = 1024 * 1024;
/** Downloads also measure hourglass's caller-owned-buffer read (res.readInto). */
const DOWNLOAD_CLIENTS = ['hourglass', 'hourglass-readinto', ...CLIENT_NAMES.slice(1)];

// --- options -------------------------------------------------------------------------------

function parseDuration(text, fallbackMs) {
  if (text === undefined || text === '') return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(text).trim());
  if (m === null) throw new Error(`bad duration ${text} (use 3, 2.5s or 500ms)`);
  return m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
}

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.slice(name.length + 3);
};
for (const a of argv) {
  if (!/^--(quick|list|help|scenarios=.*|clients=.*|out=.*)$/.test(a)) {
    console.error(`unknown argument ${a}; see --help`);
    process.exit(2);
  }
}

const quick = flag('quick') || process.env.BENCH_QUICK === '1';
const durationMs = parseDuration(process.env.BENCH_DURATION, quick ? 1000 : 3000);
const warmupMs = parseDuration(process.env.BENCH_WARMUP, quick ? 300 : 1000);
const reps = Number(process.env.BENCH_REPS ?? (quick ? 1 : 3));
const rewarmMs = Math.min(100, warmupMs);
if (!(reps >= 1 && reps <= 20)) throw new Error('BENCH_REPS must be 1..20');

/**
 * A 64 MiB download's memory, measured in fresh processes (bench/worker.mjs `rss`): each
 * makes its client, then downloads `rssDownloads` times; the figure is the median over
 * `rssProcs` processes per client, interleaved, of the peak RSS growth from just before the
 * first download. Beside it the load run's own figure (warm-up included, then seconds of
 * back-to-back downloads): V8's steady state, which every client that allocates a fresh
 * chunk per read reaches alike, and which varies a few MiB from run to run.
 */
const RSS_PROCS = { rssProcs: quick ? 1 : 5, rssDownloads: 3 };

/** Clients of the nginx small-request rows: hourglass as the issue measures it (every timeout on). */
const NGINX_CLIENTS = ['hourglass-on', 'hourglass', 'undici-request', 'undici-fetch', 'node-http', 'raw'];
const NGINX_TLS_CLIENTS = ['hourglass-on', 'hourglass', 'undici-request', 'undici-fetch', 'node-http'];
const NGINX_DOWNLOAD_CLIENTS = ['hourglass-on', 'hourglass-readinto', 'undici-request', 'node-http', 'raw'];
const nginxSmall = (server, n, clients = NGINX_CLIENTS) => ({
  id: `${server}-small-${n}`,
  server,
  mode: 'load',
  kind: 'text',
  path: '/small',
  inflight: n,
  expect: 13,
  metric: 'req/s',
  minReps: 5,
  clients,
});

/** Load scenarios run every selected client; the others are hourglass-only or choose their own. */
const SCENARIOS = [
  ...[1, 10, 100].map((n) => nginxSmall('nginx', n)),
  ...[1, 10, 100].map((n) => nginxSmall('nginx-real', n)),
  ...[1, 10, 100].map((n) => nginxSmall('nginx-tls', n, NGINX_TLS_CLIENTS)),
  {
    id: 'nginx-post-10',
    server: 'nginx',
    mode: 'load',
    kind: 'post',
    path: '/echo',
    bodySize: 1024,
    inflight: 10,
    expect: 1024,
    metric: 'req/s',
    clients: NGINX_CLIENTS,
  },
  {
    id: 'nginx-download-1m',
    server: 'nginx',
    mode: 'load',
    kind: 'stream',
    path: '/1m',
    inflight: 1,
    expect: MIB,
    metric: 'MB/s',
    sampleRss: true,
    clients: NGINX_DOWNLOAD_CLIENTS,
  },
  {
    id: 'nginx-download-64m',
    server: 'nginx',
    mode: 'load',
    kind: 'stream',
    path: '/64m',
    inflight: 1,
    expect: 64 * MIB,
    metric: 'MB/s',
    sampleRss: true,
    ...RSS_PROCS,
    clients: NGINX_DOWNLOAD_CLIENTS,
  },
  {
    // The pool's default maxIdleConns (100) keeps 100 of the 1,000 origins' connections:
    // the rest are dialled again on every round. `-idle1000` raises it to see the pool itself.
    id: 'nginx-origins-1000',
    server: 'nginx-origins',
    mode: 'load',
    kind: 'origins',
    path: '/small',
    inflight: 10,
    expect: 13,
    metric: 'req/s',
    clients: ['hourglass-on', 'hourglass-on-idle1000', 'undici-request', 'node-http'],
  },
  { id: 'small-1', mode: 'load', kind: 'text', path: '/small', inflight: 1, expect: 13, metric: 'req/s' },
  { id: 'small-10', mode: 'load', kind: 'text', path: '/small', inflight: 10, expect: 13, metric: 'req/s' },
  { id: 'small-100', mode: 'load', kind: 'text', path: '/small', inflight: 100, expect: 13, metric: 'req/s' },
  {
    id: 'post-10',
    mode: 'load',
    kind: 'post',
    path: '/echo',
    bodySize: 1024,
    inflight: 10,
    expect: 1024,
    metric: 'req/s',
  },
  {
    id: 'chunked-10',
    optional: true,
    mode: 'load',
    kind: 'text',
    path: '/chunked',
    inflight: 10,
    expect: 13,
    metric: 'req/s',
    clients: ['hourglass', 'undici-request', 'node-http'],
  },
  {
    id: 'download-1m',
    mode: 'load',
    kind: 'stream',
    path: '/1m',
    inflight: 1,
    expect: MIB,
    metric: 'MB/s',
    sampleRss: true,
    clients: DOWNLOAD_CLIENTS,
  },
  {
    id: 'download-64m',
    mode: 'load',
    kind: 'stream',
    path: '/64m',
    inflight: 1,
    expect: 64 * MIB,
    metric: 'MB/s',
    sampleRss: true,
    ...RSS_PROCS,
    clients: DOWNLOAD_CLIENTS,
  },
  { id: 'timeouts', mode: 'pair', kind: 'text', path: '/small', inflight: 10, expect: 13, pairs: 7 },
  { id: 'timer', mode: 'timer', inflight: 10, expect: 13, timeoutMs: 50, samples: quick ? 200 : 500 },
  {
    id: 'queued',
    mode: 'queued',
    count: 10_000,
    conns: 16,
    clients: ['hourglass', 'hourglass-on', 'undici-request', 'node-http'],
  },
  {
    id: 'churn-10',
    mode: 'load',
    kind: 'text',
    path: '/close',
    churn: true,
    inflight: 10,
    expect: 13,
    metric: 'conn/s',
    clients: ['hourglass', 'undici-request', 'node-http', 'raw'],
  },
];

const TITLES = {
  'nginx-small-1': 'nginx, minimal headers: GET /small (13 bytes, 5 headers), 1 in flight',
  'nginx-small-10': 'nginx, minimal headers: GET /small (13 bytes, 5 headers), 10 in flight',
  'nginx-small-100': 'nginx, minimal headers: GET /small (13 bytes, 5 headers), 100 in flight',
  'nginx-real-small-1': 'nginx, realistic headers: GET /small (13 bytes, 12 headers), 1 in flight',
  'nginx-real-small-10': 'nginx, realistic headers: GET /small (13 bytes, 12 headers), 10 in flight',
  'nginx-real-small-100': 'nginx, realistic headers: GET /small (13 bytes, 12 headers), 100 in flight',
  'nginx-tls-small-1': 'nginx over TLS (1.3, P-256 cert), minimal headers: GET /small, 1 in flight',
  'nginx-tls-small-10': 'nginx over TLS (1.3, P-256 cert), minimal headers: GET /small, 10 in flight',
  'nginx-tls-small-100': 'nginx over TLS (1.3, P-256 cert), minimal headers: GET /small, 100 in flight',
  'nginx-post-10': 'nginx: POST /echo, 1 KiB body, 1 KiB answer, 10 in flight',
  'nginx-download-1m': 'nginx: GET /1m (1 MiB file), body streamed and discarded, 1 in flight',
  'nginx-download-64m': 'nginx: GET /64m (64 MiB file), body streamed and discarded, 1 in flight',
  'nginx-origins-1000': 'nginx: GET /small round-robin over 1,000 origins (ports), 10 in flight',
  'small-1': 'raw node:net server: GET /small (13-byte body), 1 in flight',
  'small-10': 'raw node:net server: GET /small (13-byte body), 10 in flight',
  'small-100': 'raw node:net server: GET /small (13-byte body), 100 in flight',
  'post-10': 'raw node:net server: POST /echo, 1 KiB body echoed, 10 in flight',
  'chunked-10': 'GET /chunked (small chunked body), 10 in flight',
  'download-1m': 'GET /1m (1 MiB), body streamed and discarded, 1 in flight',
  'download-64m': 'GET /64m (64 MiB), body streamed and discarded, 1 in flight',
  timeouts: 'hourglass: every timeout on vs every timeout off (GET /small, 10 in flight)',
  timer: 'hourglass: lateness of 50 ms response-header timeouts against /never (10 at a time)',
  queued: '10 000 requests queued behind 16 connections (GET /never): memory per request after GC',
  'churn-10': 'GET /close with keep-alive off (a new connection per request), 10 in flight',
};

if (flag('help')) {
  console.log(
    [
      'node bench/run.mjs [--quick] [--scenarios=a,b] [--clients=x,y] [--out=FILE] [--list]',
      'env: BENCH_DURATION (s), BENCH_WARMUP (s), BENCH_REPS, BENCH_QUICK=1, NGINX_BIN',
    ].join('\n'),
  );
  process.exit(0);
}
if (flag('list')) {
  for (const s of SCENARIOS)
    console.log(`${s.id.padEnd(14)} ${TITLES[s.id]}${s.optional ? '  (not run by default)' : ''}`);
  console.log(`\nclients: ${CLIENT_NAMES.join(', ')}`);
  process.exit(0);
}

const splitList = (v) =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
const scenarioFilter = splitList(option('scenarios') ?? process.env.BENCH_SCENARIOS);
const clientFilter = splitList(option('clients') ?? process.env.BENCH_CLIENTS);
// An item matches a name exactly, or a group of names: `small` → small-1, small-10, small-100.
const matches = (name, filter) => filter.some((f) => name === f || name.startsWith(`${f}-`));
const selectedScenarios = SCENARIOS.filter((s) =>
  scenarioFilter === undefined ? !s.optional : matches(s.id, scenarioFilter),
);
if (selectedScenarios.length === 0) {
  console.error('no scenario matches; see --list');
  process.exit(2);
}
function clientsFor(s) {
  const all = s.clients ?? CLIENT_NAMES;
  if (clientFilter === undefined) return all;
  const chosen = all.filter(
    (c) => matches(c, clientFilter) || (c.startsWith('hourglass') && matches('hourglass', clientFilter)),
  );
  // The ratios need their references.
  for (const ref of ['undici-request', 'raw'])
    if (all.includes(ref) && !chosen.includes(ref)) chosen.push(ref);
  return all.filter((c) => chosen.includes(c));
}
const hourglassSelected = clientFilter === undefined || matches('hourglass', clientFilter);

// --- formatting --------------------------------------------------------------------------

const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–');
const mib = (b) => (Number.isFinite(b) ? (b / MIB).toFixed(1) : '–');
const table = (head, rows) =>
  [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

const out = [];
const say = (text = '') => {
  out.push(text);
  console.log(text);
};

// --- running -----------------------------------------------------------------------------

const SERVER_BOUND = 0.85;
const BUSY_OTHERS = 0.25;

// Other work on the machine (builds, tests) skews a run: before each timed run wait, within
// a bounded budget, until other processes use less than a quarter of a core.
const extraServerPids = [];
const gateStats = { waits: 0, waitedMs: 0, budgetMs: 20_000, loads: [] };
async function gate(server) {
  const left = gateStats.budgetMs - gateStats.waitedMs;
  const pids = [server.pid, ...extraServerPids];
  const { load, waitedMs } = await waitForQuiet(pids, {
    maxCores: BUSY_OTHERS,
    maxWaitMs: Math.max(0, Math.min(3000, left)),
  });
  if (waitedMs > 0) gateStats.waits++;
  gateStats.waitedMs += waitedMs;
  gateStats.loads.push(load);
}

async function runLoad(s, server, base) {
  const clients = clientsFor(s);
  process.stderr.write(`[${s.id}] starting ${clients.length} client processes\n`);
  // The nginx small-request rows carry issue #18's targets: at least 5 runs there, since
  // undici's CPU per request at 100 in flight over TLS varies ±15 % from run to run.
  const sReps = quick || process.env.BENCH_REPS !== undefined ? reps : Math.max(reps, s.minReps ?? reps);
  const limitMs = 60_000 + (warmupMs + (durationMs + rewarmMs) * sReps) * clients.length * 2;
  const workers = new Map();
  for (const c of clients) {
    workers.set(
      c,
      openWorker(
        {
          ...base,
          ...s,
          mode: 'load',
          client: c,
          durationMs,
          warmupMs,
          rewarmMs,
          serverPid: server.pid,
        },
        { limitMs },
      ),
    );
  }
  const repsBy = new Map(clients.map((c) => [c, []]));
  const failed = new Map();
  for (const [c, w] of workers) {
    try {
      await w.ready;
    } catch (err) {
      failed.set(c, err.message.split('\n')[0]);
    }
  }
  for (let r = 0; r < sReps; r++) {
    for (const c of clients) {
      if (failed.has(c)) continue;
      process.stderr.write(`[${s.id}] run ${r + 1}/${sReps} ${c}\n`);
      await gate(server);
      try {
        repsBy.get(c).push(await workers.get(c).rep());
      } catch (err) {
        failed.set(c, err.message.split('\n')[0]);
      }
    }
  }
  const fresh = await freshRss(s, server, base, clients, failed);
  const results = {};
  for (const c of clients) {
    const w = workers.get(c);
    let final;
    try {
      final = await w.finish();
    } catch (err) {
      if (!failed.has(c)) failed.set(c, err.message.split('\n')[0]);
      w.kill();
    }
    const rs = repsBy.get(c);
    const value = median(rs.map((x) => (s.metric === 'MB/s' ? x.mbPerSec : x.reqPerSec)));
    results[c] = {
      value,
      unit: s.metric,
      p50Ms: median(rs.map((x) => x.p50Ms)),
      p99Ms: median(rs.map((x) => x.p99Ms)),
      clientCpu: median(rs.map((x) => x.clientCpu)),
      serverCpu: median(rs.map((x) => x.serverCpu)),
      otherCpu: median(rs.map((x) => x.otherCpu)),
      // Work per CPU-second of the client: steadier than throughput when the host lends us
      // anywhere between one and two cores.
      perCpuSecond: median(rs.map((x) => (s.metric === 'MB/s' ? x.mbPerSec : x.reqPerSec) / x.clientCpu)),
      // Client CPU per request (µs; per MB for downloads): the headline, steady on a shared machine.
      cpuUs: median(rs.map((x) => (x.clientCpu / (s.metric === 'MB/s' ? x.mbPerSec : x.reqPerSec)) * 1e6)),
      clientWrites: median(rs.map((x) => x.clientWrites)),
      serverWakeups: median(rs.map((x) => x.serverWakeups)),
      errors: rs.reduce((a, x) => a + x.errors + x.mismatches, 0) + (final?.warm?.errors ?? 0),
      firstError: rs.find((x) => x.firstError)?.firstError ?? final?.warm?.firstError,
      // Peak RSS growth: the median of the timed runs' own peaks (warm-up excluded), like
      // every other figure; the whole process's peak (warm-up included) beside it.
      rssRunGrowth: rs.some((x) => x.rssGrowth !== undefined) ? median(rs.map((x) => x.rssGrowth)) : final?.rssGrowth,
      rssPeakGrowth: final?.rssGrowth,
      // The fresh processes' median where the scenario measures them (RSS_PROCS), else the run's.
      rssFresh: fresh.get(c),
      rssGrowth: fresh.has(c)
        ? median(fresh.get(c))
        : rs.some((x) => x.rssGrowth !== undefined)
          ? median(rs.map((x) => x.rssGrowth))
          : final?.rssGrowth,
      maxRssGrowth: final?.maxRssGrowth,
      failed: failed.get(c),
      reps: rs.map((x) => ({
        value: s.metric === 'MB/s' ? x.mbPerSec : x.reqPerSec,
        count: x.count,
        elapsedMs: x.elapsedMs,
        p50Ms: x.p50Ms,
        p99Ms: x.p99Ms,
        clientCpu: x.clientCpu,
        serverCpu: x.serverCpu,
        otherCpu: x.otherCpu,
        errors: x.errors,
        mismatches: x.mismatches,
        clientWrites: x.clientWrites,
        serverWakeups: x.serverWakeups,
      })),
    };
  }
  const undici = results['undici-request']?.value;
  const raw = results.raw?.value;
  for (const r of Object.values(results)) {
    r.vsUndiciRequest = r.value / undici;
    r.vsRaw = r.value / raw;
    r.perCpuVsUndiciRequest = r.perCpuSecond / results['undici-request']?.perCpuSecond;
    // > 1: less CPU per request than undici.request.
    r.cpuVsUndiciRequest = results['undici-request']?.cpuUs / r.cpuUs;
  }
  return {
    title: TITLES[s.id],
    server: server.note,
    inflight: s.inflight,
    path: s.path,
    metric: s.metric,
    clients: results,
  };
}

/** RSS_PROCS: fresh processes per client, interleaved; client → peak RSS growths (bytes). */
async function freshRss(s, server, base, clients, failed) {
  const out = new Map();
  if (!(s.rssProcs > 0)) return out;
  for (let p = 0; p < s.rssProcs; p++) {
    for (const c of clients) {
      if (failed.has(c)) continue;
      process.stderr.write(`[${s.id}] fresh process ${p + 1}/${s.rssProcs} ${c}\n`);
      await gate(server);
      try {
        const r = await runWorker({ ...base, ...s, mode: 'rss', client: c, downloads: s.rssDownloads }, { limitMs: 60_000 });
        if (!out.has(c)) out.set(c, []);
        out.get(c).push(r.rssGrowth);
      } catch (err) {
        failed.set(c, err.message.split('\n')[0]);
        out.delete(c);
      }
    }
  }
  return out;
}

function printLoad(s, res) {
  const isDownload = s.metric === 'MB/s';
  const per = isDownload ? 'MB' : s.metric === 'conn/s' ? 'conn' : 'req';
  const head = [
    'client',
    `client CPU µs/${per}`,
    'CPU × undici',
    s.metric,
    '× undici request',
    '× raw floor',
    'p50 ms',
    'p99 ms',
  ];
  if (isDownload) head.push('peak RSS growth MiB');
  head.push('writes/req', 'server wake-ups/req', 'client CPU', 'server CPU', 'other CPU', 'errors');
  const rows = [];
  let bound = false;
  let busy = false;
  for (const [c, r] of Object.entries(res.clients)) {
    const warn = r.serverCpu >= SERVER_BOUND ? ' ⚠' : '';
    if (warn) bound = true;
    const noisy = r.otherCpu >= BUSY_OTHERS ? ' ‼' : '';
    if (noisy) busy = true;
    const row = [
      CLIENT_LABELS[c] ?? c,
      fmt(r.cpuUs, 1),
      fmtRatio(r.cpuVsUndiciRequest),
      r.failed !== undefined && !Number.isFinite(r.value)
        ? `failed: ${r.failed}`
        : isDownload
          ? fmt(r.value, 0)
          : fmtInt(r.value),
      fmtRatio(r.vsUndiciRequest),
      fmtRatio(r.vsRaw),
      fmt(r.p50Ms, 3),
      fmt(r.p99Ms, 3),
    ];
    if (isDownload) row.push(r.rssFresh !== undefined ? `${mib(r.rssGrowth)} (run: ${mib(r.rssRunGrowth)})` : mib(r.rssGrowth));
    row.push(
      isDownload ? '–' : fmt(r.clientWrites, 2),
      isDownload ? '–' : fmt(r.serverWakeups, 2),
      pct(r.clientCpu),
      `${pct(r.serverCpu)}${warn}`,
      `${pct(r.otherCpu)}${noisy}`,
      r.errors > 0 ? `${r.errors} (${r.firstError})` : '0',
    );
    rows.push(row);
  }
  say(`### ${res.title}`);
  say();
  say(table(head, rows));
  if (s.rssProcs > 0) {
    say();
    say(
      `Peak RSS growth: median over ${s.rssProcs} fresh process${s.rssProcs === 1 ? '' : 'es'} per client of ${s.rssDownloads} downloads each, from before the first; ` +
        '(run:) the load run’s, warm-up included — V8’s steady state, which every client that allocates a fresh chunk per read reaches alike.',
    );
  }
  if (s.id === 'nginx-origins-1000') {
    say();
    say(
      'hourglass keeps at most `maxIdleConns` (default 100) idle connections across hosts, least recently used evicted: ' +
        'with 1,000 origins in turn most requests dial. The `maxIdleConns: 1000` row shows the pool with room for every origin.',
    );
  }
  if (busy) {
    say();
    say(
      `‼ other processes on the machine used ≥ ${BUSY_OTHERS * 100} % of a core during that run (median): its figures are less trustworthy.`,
    );
  }
  if (bound) {
    say();
    say(
      `⚠ the load server used ≥ ${SERVER_BOUND * 100} % of a core during that run: the figure is bounded by the server, not the client.`,
    );
  }
  say();
}

async function runPair(s, server, base) {
  process.stderr.write(`[${s.id}] timeouts on vs off\n`);
  await gate(server);
  // A ~2 % effect under run-to-run noise of a few %: more on/off pairs than other scenarios.
  const pairs = quick ? reps : Math.max(reps, s.pairs ?? reps);
  const r = await runWorker(
    { ...base, ...s, durationMs, warmupMs, reps: pairs, serverPid: server.pid },
    { limitMs: 60_000 + (warmupMs * 2 + durationMs * 2 * pairs) * 2 },
  );
  const on = r.reps.on.map((x) => x.reqPerSec);
  const off = r.reps.off.map((x) => x.reqPerSec);
  // Overhead from adjacent on/off runs (drift cancels), then the median over the pairs.
  const pairOverhead = on.map((v, i) => 1 - v / off[i]);
  // The same per CPU-second of the client: what the timeouts cost in CPU per request, which
  // holds when the host lends the client less than a core.
  const perCpu = (x) => x.reqPerSec / x.clientCpu;
  const onCpu = r.reps.on.map(perCpu);
  const offCpu = r.reps.off.map(perCpu);
  const pairOverheadCpu = onCpu.map((v, i) => 1 - v / offCpu[i]);
  return {
    title: TITLES[s.id],
    on: { value: median(on), reps: on, perCpuSecond: median(onCpu), p99Ms: median(r.reps.on.map((x) => x.p99Ms)) },
    off: { value: median(off), reps: off, perCpuSecond: median(offCpu), p99Ms: median(r.reps.off.map((x) => x.p99Ms)) },
    overhead: median(pairOverhead),
    overheadOfMedians: 1 - median(on) / median(off),
    overheadPerCpu: median(pairOverheadCpu),
    pairOverhead,
    pairOverheadCpu,
    errors: [...r.reps.on, ...r.reps.off].reduce((a, x) => a + x.errors + x.mismatches, 0),
    serverCpu: median([...r.reps.on, ...r.reps.off].map((x) => x.serverCpu)),
    otherCpu: median([...r.reps.on, ...r.reps.off].map((x) => x.otherCpu)),
  };
}

function printPair(res) {
  say(`### ${res.title}`);
  say();
  say(
    table(
      ['condition', 'req/s (median)', 'runs', 'reqs per client CPU-s', 'p99 ms'],
      ['on', 'off'].map((k) => [
        `all timeouts ${k}`,
        fmtInt(res[k].value),
        res[k].reps.map(fmtInt).join(', '),
        fmtInt(res[k].perCpuSecond),
        fmt(res[k].p99Ms, 3),
      ]),
    ),
  );
  say();
  const list = (xs) => xs.map((x) => `${fmt(x * 100, 1)} %`).join(', ');
  say(
    `Overhead of the timeouts per client CPU-second: **${fmt(res.overheadPerCpu * 100, 1)} %** (adjacent on/off pairs: ${list(res.pairOverheadCpu)}). ` +
      `In throughput: ${fmt(res.overhead * 100, 1)} % (pairs: ${list(res.pairOverhead)}; from the medians: ${fmt(res.overheadOfMedians * 100, 1)} %). ` +
      `Errors: ${res.errors}. Other processes meanwhile: ${pct(res.otherCpu)} of a core.`,
  );
  say();
}

async function runTimer(s, server, base) {
  process.stderr.write(`[${s.id}] timer accuracy\n`);
  await gate(server);
  const r = await runWorker(
    { ...base, ...s, warmupMs, timerConcurrency: 10, serverPid: server.pid },
    { limitMs: 120_000 },
  );
  return { title: TITLES[s.id], timeoutMs: s.timeoutMs, ...r };
}

function printTimer(res) {
  const row = (label, x, load) => [
    label,
    String(x.samples),
    fmt(x.p50Ms, 2),
    fmt(x.p99Ms, 2),
    fmt(x.maxMs, 2),
    fmt(x.reportedElapsedP99Ms, 1),
    fmt(x.loopDelayP99Ms, 2),
    load,
    String(x.wrong),
  ];
  say(`### ${res.title}`);
  say();
  say(
    table(
      [
        'condition',
        'timeouts',
        'late p50 ms',
        'late p99 ms',
        'late max ms',
        'err.elapsed − 50, p99',
        'event-loop delay p99 ms',
        'load req/s',
        'wrong outcome',
      ],
      [
        row('idle event loop', res.idle, '–'),
        row('10-in-flight GET /small load', res.loaded, fmtInt(res.loaded.loadReqPerSec)),
      ],
    ),
  );
  say();
  say(
    'Lateness = rejection seen by the caller − `wroteRequest` trace event − 50 ms (negative: fired early, as Node timers may by < 1 ms).',
  );
  say();
}

async function runQueued(s, server, base) {
  const clients = clientsFor(s);
  const results = {};
  for (const c of clients) {
    process.stderr.write(`[${s.id}] ${c}\n`);
    await gate(server);
    try {
      results[c] = await runWorker({ ...base, ...s, client: c, serverPid: server.pid }, { limitMs: 60_000 });
    } catch (err) {
      results[c] = { failed: err.message.split('\n')[0] };
    }
  }
  const undici = results['undici-request']?.heapPerRequest;
  for (const r of Object.values(results)) r.vsUndiciRequest = r.heapPerRequest / undici;
  return { title: TITLES[s.id], clients: results };
}

function printQueued(res) {
  const label = { ...CLIENT_LABELS, 'hourglass-on': 'hourglass (all timeouts on)' };
  say(`### ${res.title}`);
  say();
  say(
    table(
      ['client', 'heap / request', '× undici request', 'RSS / request', 'waiting', 'time to enqueue 10 000'],
      Object.entries(res.clients).map(([c, r]) =>
        r.failed !== undefined
          ? [label[c] ?? c, `failed: ${r.failed}`, '', '', '', '']
          : [
              label[c] ?? c,
              `${fmt(r.heapPerRequest / 1024, 2)} KiB`,
              fmtRatio(r.vsUndiciRequest),
              `${fmt(r.rssPerRequest / 1024, 2)} KiB`,
              fmtInt(r.waiting),
              `${fmt(r.fireMs, 0)} ms`,
            ],
      ),
    ),
  );
  say();
  say('Heap after two forced GCs; the figure includes the caller’s own `.catch()` promise per request.');
  say();
}

// --- targets -------------------------------------------------------------------------------

function targets(results) {
  const t = [];
  // `noisy`: other processes used a quarter core or more during the runs behind the figure.
  const add = (target, measured, ok, noisy = false) => t.push({ target, measured, ok, noisy });
  const busy = (...rows) => rows.some((r) => r?.otherCpu >= BUSY_OTHERS);
  // Issue #18: against nginx, every timeout on, both header sets (and https).
  for (const server of ['nginx', 'nginx-real', 'nginx-tls']) {
    for (const n of [1, 10, 100]) {
      const c = results[`${server}-small-${n}`]?.clients;
      const r = c?.['hourglass-on'];
      if (r === undefined) continue;
      add(
        `${server} small GET, ${n} in flight, all timeouts on: ≥ 1.15× undici request in CPU/req and ≥ 1.0× in req/s`,
        `CPU ${fmtRatio(r.cpuVsUndiciRequest)} (${fmt(r.cpuUs, 1)} vs ${fmt(c['undici-request']?.cpuUs, 1)} µs), req/s ${fmtRatio(r.vsUndiciRequest)}`,
        r.cpuVsUndiciRequest >= 1.15 && r.vsUndiciRequest >= 1.0,
        busy(r, c['undici-request']),
      );
    }
  }
  const nd = results['nginx-download-64m']?.clients;
  if (nd?.['hourglass-readinto'] !== undefined) {
    add(
      'nginx 64 MiB download with res.readInto: peak RSS growth ≤ 16 MiB',
      `${mib(nd['hourglass-readinto'].rssGrowth)} MiB`,
      nd['hourglass-readinto'].rssGrowth <= 16 * MIB,
    );
  }
  if (nd?.['hourglass-on'] !== undefined && nd.raw !== undefined) {
    add(
      'nginx 64 MiB download with res.body: peak RSS growth ≤ the raw floor’s',
      `${mib(nd['hourglass-on'].rssGrowth)} MiB (raw floor: ${mib(nd.raw.rssGrowth)} MiB)`,
      nd['hourglass-on'].rssGrowth <= nd.raw.rssGrowth,
    );
  }
  for (const n of [1, 10, 100]) {
    const r = results[`small-${n}`]?.clients?.hourglass;
    if (r === undefined) continue;
    const x = r.vsUndiciRequest;
    add(
      `small GET, ${n} in flight: hourglass ≥ 1.0× undici request (aim 1.25×)`,
      `${fmtRatio(x)}${Number.isFinite(x) && x >= 1.25 ? ' (aim reached)' : ''}; per client CPU-s ${fmtRatio(r.perCpuVsUndiciRequest)}`,
      x >= 1.0,
      busy(r, results[`small-${n}`].clients['undici-request']),
    );
  }
  for (const n of [1, 10, 100]) {
    const c = results[`small-${n}`]?.clients;
    if (c?.hourglass === undefined || (c.got === undefined && c.axios === undefined)) continue;
    const vs = ['got', 'axios']
      .filter((k) => c[k] !== undefined)
      .map((k) => [k, c.hourglass.value / c[k].value]);
    // When even the raw floor is not 5× as fast, the loopback round trip bounds every
    // client: say so, and show the cost per request (client CPU) beside it.
    const floorVs = c.raw === undefined ? [] : vs.map(([k]) => [k, c.raw.value / c[k].value]);
    const cpuVs = vs.map(([k]) => [k, c.hourglass.perCpuSecond / c[k].perCpuSecond]);
    const bounded = floorVs.some(([, x]) => x < 5);
    add(
      `small GET, ${n} in flight: hourglass ≥ 5× ${vs.map(([k]) => k).join(' and ')}`,
      vs.map(([k, x]) => `${fmtRatio(x)} ${k}`).join(', ') +
        `; per client CPU-s ${cpuVs.map(([k, x]) => `${fmtRatio(x)} ${k}`).join(', ')}` +
        (bounded
          ? ` (raw floor: ${floorVs.map(([k, x]) => `${fmtRatio(x)} ${k}`).join(', ')} — the round trip bounds throughput here)`
          : ''),
      vs.every(([, x]) => x >= 5),
      busy(c.hourglass, c.got, c.axios),
    );
  }
  const p = results.timeouts;
  if (p !== undefined && p.failed === undefined) {
    const spread = Math.max(...p.pairOverheadCpu) - Math.min(...p.pairOverheadCpu);
    add(
      'timeouts all on vs all off: overhead ≤ 3 % (per client CPU-s)',
      `${fmt(p.overheadPerCpu * 100, 1)} % (throughput: ${fmt(p.overhead * 100, 1)} %)`,
      p.overheadPerCpu <= 0.03,
      p.otherCpu >= BUSY_OTHERS || spread > 0.1,
    );
  }
  const d = results['download-64m']?.clients?.hourglass;
  if (d !== undefined) {
    add(
      '64 MiB download: ≥ 90 % of the raw floor’s MB/s',
      `${pct(d.vsRaw)} (${fmt(d.value, 0)} MB/s); per client CPU-s ${pct(d.perCpuSecond / results['download-64m'].clients.raw?.perCpuSecond)}`,
      d.vsRaw >= 0.9,
      busy(d, results['download-64m'].clients.raw),
    );
    const rawGrowth = results['download-64m'].clients.raw?.rssGrowth;
    const ri = results['download-64m'].clients['hourglass-readinto'];
    if (ri !== undefined) {
      add(
        '64 MiB download with res.readInto: ≥ 90 % of the raw floor’s MB/s',
        `${pct(ri.vsRaw)} (${fmt(ri.value, 0)} MB/s)`,
        ri.vsRaw >= 0.9,
        busy(ri, results['download-64m'].clients.raw),
      );
    }
    add(
      '64 MiB download: peak RSS growth < 32 MiB',
      `${ri === undefined ? '' : `res.readInto: ${mib(ri.rssGrowth)} MiB; `}res.body stream: ${mib(d.rssGrowth)} MiB (raw floor: ${mib(rawGrowth)} MiB)`,
      Math.min(d.rssGrowth, ri?.rssGrowth ?? Number.POSITIVE_INFINITY) < 32 * MIB,
    );
  }
  const tm = results.timer;
  if (tm !== undefined)
    add(
      'timer accuracy under load: p99 lateness ≤ 15 ms',
      `${fmt(tm.loaded.p99Ms, 2)} ms`,
      tm.loaded.p99Ms <= 15,
    );
  const q = results.queued?.clients?.hourglass;
  if (q !== undefined && q.failed === undefined) {
    add(
      '10 000 queued requests: < 2 KiB heap per request',
      `${fmt(q.heapPerRequest / 1024, 2)} KiB`,
      q.heapPerRequest < 2048,
    );
  }
  return t;
}

// --- main ------------------------------------------------------------------------------------

/** Servers by kind, started when a scenario first needs one; all stopped at the end. */
const serverKinds = {
  node: async () => {
    const node = await startNodeServer();
    return { ...node, note: 'bench/server.mjs (raw node:net)', close: () => node.stop() };
  },
  nginx: () => nginxServer({ headers: 'minimal' }, 'minimal headers'),
  'nginx-real': () => nginxServer({ headers: 'realistic', files: false }, 'realistic headers'),
  'nginx-tls': () => nginxServer({ headers: 'minimal', tls: true, files: false }, 'TLS, minimal headers'),
  'nginx-origins': () => nginxServer({ headers: 'minimal', files: false, extraListeners: 999 }, '1,000 listeners'),
};
const servers = new Map();
async function serverFor(kind) {
  if (!servers.has(kind)) servers.set(kind, serverKinds[kind]());
  return servers.get(kind);
}
async function nginxServer(opts, what) {
  const n = await startNginx(opts);
  return {
    kind: 'nginx',
    port: n.port,
    pid: n.pid,
    origin: n.origin,
    origins: n.origins,
    ca: n.ca,
    note: `nginx (${nginxPath()}, 1 worker, ${what})`,
    close: () => n.close(),
  };
}

const started = Date.now();
const cpus = os.cpus();
const nginxMissing = nginxSkipReason();
const meta = {
  date: new Date().toISOString(),
  machine: os.hostname(),
  node: process.version,
  cpu: cpus[0]?.model ?? 'unknown',
  cores: cpus.length,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  server: nginxMissing === undefined ? `nginx ${nginxVersion()} (scripts/nginx.mjs) and bench/server.mjs` : 'bench/server.mjs only',
  mode: quick ? 'quick' : 'full',
  warmupMs,
  durationMs,
  reps,
  scenarios: selectedScenarios.map((s) => s.id),
  clientFilter: clientFilter ?? null,
  partial: scenarioFilter !== undefined || clientFilter !== undefined,
};

function nginxVersion() {
  const r = spawnSync(nginxPath(), ['-v'], { encoding: 'utf8' });
  return /nginx\/([\d.]+)/.exec(`${r.stderr}${r.stdout}`)?.[1] ?? '?';
}

say(`## hourglass bench — ${meta.mode} run`);
say();
say(
  `${meta.date} · machine ${meta.machine} · Node ${meta.node} · ${meta.cpu} × ${meta.cores} cores · ${meta.platform} · servers: ${meta.server} · ` +
    `warm-up ${warmupMs / 1000} s, ${reps} × ${durationMs / 1000} s timed runs interleaved across clients (${quick || process.env.BENCH_REPS !== undefined ? reps : Math.max(reps, 5)} for the nginx small GET rows), median · MB = 10⁶ bytes`,
);
say();

const results = {};
let exitCode = 0;
let nginxSkipSaid = false;
try {
  for (const s of selectedScenarios) {
    try {
      const kind = s.server ?? 'node';
      if (kind.startsWith('nginx') && nginxMissing !== undefined) {
        if (!nginxSkipSaid) say(`**nginx scenarios skipped: ${nginxMissing}.**\n`);
        nginxSkipSaid = true;
        continue;
      }
      const server = await serverFor(kind);
      // /never (timer, queued) lives on the node server.
      const base = {
        origin: server.origin ?? `http://127.0.0.1:${server.port}`,
        port: server.port,
        ca: server.ca,
        origins: server.origins,
      };
      if (s.mode === 'load') {
        results[s.id] = await runLoad(s, server, base);
        printLoad(s, results[s.id]);
      } else if (!hourglassSelected && s.mode !== 'queued') {
        // hourglass-only scenario while hourglass is filtered out: nothing to run.
      } else if (s.mode === 'pair') {
        results[s.id] = await runPair(s, server, base);
        printPair(results[s.id]);
      } else if (s.mode === 'timer') {
        results[s.id] = await runTimer(s, server, base);
        printTimer(results[s.id]);
      } else if (s.mode === 'queued') {
        results[s.id] = await runQueued(s, server, base);
        printQueued(results[s.id]);
      }
    } catch (err) {
      exitCode = 1;
      results[s.id] = { failed: err.message };
      say(`### ${TITLES[s.id]}\n\nFAILED: ${err.message.split('\n')[0]}\n`);
    }
  }
} finally {
  for (const p of servers.values()) await (await p.catch(() => undefined))?.close();
}

const checks = targets(results);
if (checks.length > 0) {
  say('### hourglass hot-path targets');
  say();
  say(
    table(
      ['target', 'measured', '', 'confidence'],
      checks.map((c) => [
        c.target,
        c.measured,
        c.ok ? '✓' : '✗',
        c.noisy ? '‼ machine busy: re-check on a quiet one' : 'ok',
      ]),
    ),
  );
  say();
}
meta.totalSeconds = Math.round((Date.now() - started) / 1000);
meta.quietGate = {
  waits: gateStats.waits,
  waitedSeconds: Math.round(gateStats.waitedMs / 100) / 10,
  otherLoadBeforeRunsMedian: median(gateStats.loads),
  otherLoadBeforeRunsMax: Math.max(...gateStats.loads.filter(Number.isFinite), 0),
};
say(
  `Total time: ${meta.totalSeconds} s. Before the timed runs, other processes used ${pct(meta.quietGate.otherLoadBeforeRunsMedian)} ` +
    `of a core (median; max ${pct(meta.quietGate.otherLoadBeforeRunsMax)}); waited ${meta.quietGate.waitedSeconds} s in ${meta.quietGate.waits} runs for quiet.`,
);

// Only a full run replaces latest.json/.md (what the README table comes from); a partial or
// quick one goes to partial.json/.md unless --out says otherwise.
const partial = quick || scenarioFilter !== undefined || clientFilter !== undefined;
const outFile = option('out') ?? path.join(BENCH_DIR, 'results', partial ? 'partial.json' : 'latest.json');
await mkdir(path.dirname(outFile), { recursive: true });
await writeFile(outFile, `${JSON.stringify({ meta, results, targets: checks }, null, 2)}\n`);
const mdFile = outFile.endsWith('.json') ? outFile.replace(/\.json$/, '.md') : `${outFile}.md`;
await writeFile(mdFile, `${out.join('\n')}\n`);
console.error(`wrote ${path.relative(process.cwd(), outFile)}`);
process.exit(exitCode);
