// `node bench/h2.mjs` (also the last step of `npm run bench`) — HTTP/2: hourglass against
// undici (`allowH2: true`, one h2 connection) and raw node:http2 (one session, the floor),
// small GETs at 1, 10 and 100 streams in flight; then a 64 MiB download over h2 vs HTTP/1.1
// (hourglass, res.readInto). The server is a real nginx with http2 in its own process
// (scripts/nginx.mjs); without nginx the benchmark says so and exits 0.
//
//   BENCH_DURATION=2 (seconds per timed run, also "500ms")  BENCH_REPS=3  BENCH_QUICK=1
//
// Method: all clients live in this process and their runs are interleaved (run 1 of every
// client, then run 2, ...), the median is reported. CPU/req is this process's user+system
// CPU over a run divided by the requests done: the server's CPU is not counted.

import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';
import { Client, Transport } from '../dist/index.js';
import { nginxSkipReason, startNginx } from '../scripts/nginx.mjs';

const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const durMs = (() => {
  const t = process.env.BENCH_DURATION ?? (quick ? '1' : '2');
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(t);
  if (m === null) throw new Error(`bad BENCH_DURATION ${t}`);
  return m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
})();
const reps = Number(process.env.BENCH_REPS ?? (quick ? 1 : 3));

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/** Keeps `streams` requests in flight for `ms`; returns { rps, cpuUsPerReq }. */
async function timed(get, streams, ms) {
  let n = 0;
  const end = performance.now() + ms;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (performance.now() < end) {
        await get();
        n++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rps: n / secs, cpuUsPerReq: (cpu.user + cpu.system) / n };
}

function makeClients(ngx, undici) {
  const url = ngx.url('/small');
  const hg = new Client({ transport: new Transport({ tls: { ca: ngx.ca } }) });
  const un = new undici.Client(ngx.origin, { allowH2: true, connect: { ca: ngx.ca }, pipelining: 100 });
  const session = http2.connect(ngx.origin, { ca: ngx.ca });
  session.on('error', () => {});
  const raw = () =>
    new Promise((resolve, reject) => {
      const s = session.request({ ':path': '/small' });
      s.on('error', reject);
      s.on('data', () => {});
      s.on('end', resolve);
    });
  return {
    clients: [
      ['hourglass', async () => void (await (await hg.request(url)).text())],
      ['undici', async () => void (await (await un.request({ path: '/small', method: 'GET' })).body.text())],
      ['node:http2', raw],
    ],
    close: async () => {
      await hg.close();
      await un.close();
      session.close();
    },
  };
}

async function download(client, url) {
  const t0 = performance.now();
  const res = await client.request(url);
  const buf = new Uint8Array(256 * 1024);
  const h = createHash('sha256');
  let bytes = 0;
  for (;;) {
    const n = await res.readInto(buf);
    if (n === 0) break;
    bytes += n;
    h.update(buf.subarray(0, n));
  }
  return { mibPerS: bytes / (1024 * 1024) / ((performance.now() - t0) / 1000), version: res.httpVersion, hash: h.digest('hex') };
}

async function main() {
  const skip = nginxSkipReason();
  if (skip !== undefined) {
    console.log(`bench/h2: skipped — ${skip}`);
    return;
  }
  const undici = await import('undici');
  const ngx = await startNginx({ tls: true, http2: true, files: true });
  try {
    const { clients, close } = makeClients(ngx, undici);
    console.log(`\n## HTTP/2 small GET (nginx http2 over TLS, ${reps} × ${durMs} ms per client, median)\n`);
    console.log('| streams | client | req/s | CPU µs/req | req/s vs undici | CPU/req vs undici |');
    console.log('|---|---|---|---|---|---|');
    for (const streams of [1, 10, 100]) {
      // Warm-up: 1 s per client at this concurrency (as `npm run bench`), so the JIT has
      // compiled each client's path before its first timed run; 50 requests left the
      // largest client (hourglass) half-warm in the 1-stream runs, which came first.
      for (const [, get] of clients) await timed(get, streams, 1000);
      const runs = new Map(clients.map(([name]) => [name, []]));
      for (let r = 0; r < reps; r++) for (const [name, get] of clients) runs.get(name).push(await timed(get, streams, durMs));
      const med = new Map([...runs].map(([name, rs]) => [name, { rps: median(rs.map((x) => x.rps)), cpu: median(rs.map((x) => x.cpuUsPerReq)) }]));
      const base = med.get('undici');
      for (const [name, m] of med) {
        console.log(
          `| ${streams} | ${name} | ${Math.round(m.rps)} | ${m.cpu.toFixed(1)} | ${(m.rps / base.rps).toFixed(2)}× | ${(m.cpu / base.cpu).toFixed(2)}× |`,
        );
      }
    }
    await close();
    console.log('\n## 64 MiB download, hourglass readInto: HTTP/2 vs HTTP/1.1 (same nginx, median)\n');
    const h2c = new Client({ transport: new Transport({ tls: { ca: ngx.ca } }) });
    const h1c = new Client({ transport: new Transport({ tls: { ca: ngx.ca }, allowH2: false }) });
    const r2 = [];
    const r1 = [];
    // Warm-up: one download per protocol first (the JIT warms over the first ~200 MiB of
    // either path; as the small GETs, each client warms before its timed runs).
    await download(h2c, ngx.url('/64m'));
    await download(h1c, ngx.url('/64m'));
    const n = Math.max(3, reps);
    for (let i = 0; i < n; i++) {
      r2.push(await download(h2c, ngx.url('/64m')));
      r1.push(await download(h1c, ngx.url('/64m')));
    }
    if (r2[0].hash !== r1[0].hash || r2[0].version !== '2' || r1[0].version !== '1.1') throw new Error('download mismatch');
    const a = median(r2.map((x) => x.mibPerS));
    const b = median(r1.map((x) => x.mibPerS));
    console.log('| protocol | MiB/s | ratio |');
    console.log('|---|---|---|');
    console.log(`| HTTP/2 | ${a.toFixed(0)} | ${(a / b).toFixed(2)}× |`);
    console.log(`| HTTP/1.1 | ${b.toFixed(0)} | 1.00× |`);
    await h2c.close();
    await h1c.close();
  } finally {
    await ngx.close();
  }
}

await main();
