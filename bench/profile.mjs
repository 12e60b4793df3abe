// Profiles hourglass on the small-GET hot path: GET /small, 10 in flight, for a few seconds
// in a child under --cpu-prof, then prints the functions with the most self time.
//
//   npm run -s build && node bench/profile.mjs [seconds] [--top=25] [--keep] [--download]
//
// --inflight=N sets the small GET's requests in flight (default 10).
// --nginx[=minimal|realistic] profiles against nginx (scripts/nginx.mjs) instead of the node
// server; --client=NAME profiles another client of bench/clients.mjs (e.g. undici-request).
// --tls profiles against nginx over TLS (implies --nginx).
// --download profiles GET /64m (1 in flight, body streamed) instead; --timeouts-on runs with
// every timeout of SPEC §3 set (as the bench's timeouts scenario does).
//
// The .cpuprofile goes to a temporary directory (removed unless --keep; its path is printed
// either way) and can also be opened in Chrome DevTools. Locations in dist/ are mapped back
// to src/*.ts through the build's source maps.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOURGLASS_TIMEOUTS_ON } from './clients.mjs';
import { BENCH_DIR, runWorker, startNodeServer } from './lib.mjs';
import { startNginx } from '../scripts/nginx.mjs';

const argv = process.argv.slice(2);
const seconds = Number(argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? process.env.BENCH_PROFILE_SECONDS ?? 5);
const top = Number(argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const keep = argv.includes('--keep');
const download = argv.includes('--download');
const timeoutsOn = argv.includes('--timeouts-on');
const inflightArg = argv.find((a) => a.startsWith('--inflight='));
const tls = argv.includes('--tls');
const nginxArg = argv.find((a) => a === '--nginx' || a.startsWith('--nginx=')) ?? (tls ? '--nginx' : undefined);
const clientName = argv.find((a) => a.startsWith('--client='))?.slice(9) ?? 'hourglass';
const what = download
  ? { kind: 'stream', path: '/64m', inflight: 1, expect: 64 * 1024 * 1024 }
  : { kind: 'text', path: '/small', inflight: Number(inflightArg?.slice(11) ?? 10), expect: 13 };
if (!(what.inflight >= 1 && what.inflight <= 1000)) throw new Error('--inflight must be 1..1000');
if (!(seconds > 0 && seconds <= 60)) throw new Error('profile duration must be 0..60 s');

const ROOT = path.dirname(BENCH_DIR);
const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-profile-'));
const server =
  nginxArg === undefined
    ? await startNodeServer()
    : await startNginx({ tls, headers: nginxArg.slice(8) || 'minimal', files: download });
server.stop ??= server.close;
let result;
try {
  result = await runWorker(
    {
      mode: 'load',
      client: clientName,
      ...what,
      ...(timeoutsOn ? { hourglass: HOURGLASS_TIMEOUTS_ON } : {}),
      origin: server.origin ?? `http://127.0.0.1:${server.port}`,
      port: server.port,
      ca: server.ca,
      serverPid: server.pid,
      warmupMs: 500,
      durationMs: seconds * 1000,
      reps: 1,
    },
    {
      execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL ?? 200}`],
      limitMs: 60_000 + seconds * 2000,
    },
  );
} finally {
  await server.stop();
}

const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8'));

// Self time per node: sample i lasts until sample i + 1 (as DevTools counts it).
const selfUs = new Map();
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
  selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

// Source maps of dist/ files, loaded on demand.
const maps = new Map();
async function mapLocation(url, line, column) {
  if (!url.startsWith('file://')) return undefined;
  const jsPath = fileURLToPath(url);
  if (!jsPath.startsWith(path.join(ROOT, 'dist'))) return undefined;
  if (!maps.has(jsPath)) {
    try {
      maps.set(jsPath, new SourceMap(JSON.parse(await readFile(`${jsPath}.map`, 'utf8'))));
    } catch {
      maps.set(jsPath, null);
    }
  }
  const map = maps.get(jsPath);
  const e = map?.findEntry(line, column);
  if (e?.originalSource === undefined) return undefined;
  const src = path.resolve(path.dirname(jsPath), e.originalSource);
  return `${path.relative(ROOT, src)}:${e.originalLine + 1}`;
}

function shortUrl(url, line) {
  if (url === '') return '';
  if (url.startsWith('node:')) return `${url}:${line + 1}`;
  if (url.startsWith('file://')) return `${path.relative(ROOT, fileURLToPath(url))}:${line + 1}`;
  return `${url}:${line + 1}`;
}

// Aggregate by function (name + location), and by area.
const byFunction = new Map();
const byArea = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  const cf = node.callFrame;
  const name = cf.functionName || (cf.url ? '(anonymous)' : '(native)');
  const key = `${name}\u0000${cf.url}\u0000${cf.lineNumber}\u0000${cf.columnNumber}`;
  const entry = byFunction.get(key) ?? {
    name,
    url: cf.url,
    line: cf.lineNumber,
    column: cf.columnNumber,
    us: 0,
  };
  entry.us += us;
  byFunction.set(key, entry);
  let area;
  if (cf.url.includes('/dist/')) area = 'hourglass (dist/)';
  else if (cf.url.includes('/node_modules/')) area = 'node_modules (undici...)';
  else if (cf.url.includes('/bench/')) area = 'bench harness';
  else if (cf.url.startsWith('node:')) area = 'Node internals (node:*)';
  else if (name.startsWith('(')) area = name;
  else if (cf.url === '') area = 'native (socket write syscalls, URL parsing, builtins)';
  else area = 'other';
  byArea.set(area, (byArea.get(area) ?? 0) + us);
}

const rows = [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top);
const ms = (us) => (us / 1000).toFixed(1);
const pct = (us) => `${((us / totalUs) * 100).toFixed(1)} %`;
const r0 = result.reps[0];
console.log(
  `${clientName}${timeoutsOn ? ' (all timeouts on)' : ''} against ${nginxArg === undefined ? 'the node server' : `nginx${tls ? ' over TLS' : ''} (${nginxArg.slice(8) || 'minimal'} headers)`}: GET ${what.path}, ${what.inflight} in flight, ${seconds} s under --cpu-prof (${process.env.BENCH_PROFILE_INTERVAL ?? 200} µs sampling): ` +
    `${Math.round(r0.reqPerSec).toLocaleString('en-US')} req/s, ${Math.round(r0.mbPerSec)} MB/s while profiling, ` +
    `${r0.errors} errors; ` +
    `${ms(totalUs)} ms of samples.`,
);
console.log();
console.log(`| # | self ms | self % | function | location (src via source map) |`);
console.log('|---|---|---|---|---|');
for (const [i, r] of rows.entries()) {
  const mapped = await mapLocation(r.url, r.line, r.column);
  const loc = mapped ?? shortUrl(r.url, r.line);
  console.log(`| ${i + 1} | ${ms(r.us)} | ${pct(r.us)} | \`${r.name}\` | ${loc} |`);
}
console.log();
console.log('| area | self ms | self % |');
console.log('|---|---|---|');
for (const [area, us] of [...byArea.entries()].sort((a, b) => b[1] - a[1])) {
  console.log(`| ${area} | ${ms(us)} | ${pct(us)} |`);
}
console.log();
if (keep) console.log(`profile kept: ${path.join(dir, file)}`);
else {
  await rm(dir, { recursive: true, force: true });
  console.log(`(profile written to ${dir} and removed; --keep keeps it)`);
}
