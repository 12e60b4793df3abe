// A/B in one process: clients of bench/clients.mjs take turns in bursts against nginx
// (GET /small), and each burst's client CPU per request (process.cpuUsage / requests) is
// kept; the median per client, and its ratio to the last client, are printed. Clients in
// one process share the machine's load at the same moments, burst by burst, which makes
// their ratio steadier than separate runs on a busy machine. For investigating (issue #18),
// not for the results table: the clients share one heap and GC.
//
//   npm run -s build && node bench/ab.mjs [--tls] [--headers=minimal|realistic]
//     [--inflight=10] [--bursts=8] [--ms=1000] [--clients=hourglass-on,hourglass-off,undici-request]
//
// `hourglass-base-on` runs the build in BENCH_BASE_DIST (e.g. a copy of dist/ before a change).

import { makeClient } from './clients.mjs';
import { startNginx } from '../scripts/nginx.mjs';

const arg = (n, d) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const tls = process.argv.includes('--tls');
const inflight = Number(arg('inflight', 10));
const bursts = Number(arg('bursts', 8));
const ms = Number(arg('ms', 1000));
const names = arg('clients', 'hourglass-on,hourglass-off,undici-request').split(',');
if (!(bursts >= 1 && bursts <= 100 && ms >= 100 && ms <= 10_000)) throw new Error('--bursts 1..100, --ms 100..10000');

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const server = await startNginx({ tls, headers: arg('headers', 'minimal'), files: false, ...(arg('keepalive-requests') ? { keepaliveRequests: Number(arg('keepalive-requests')) } : {}) });
const clients = [];
try {
  for (const name of names) {
    const c = await makeClient(name, { origin: server.origin, port: server.port, inflight, ca: server.ca });
    clients.push({ name, c, op: c.op('text', '/small'), us: [], rps: [] });
  }
  const burst = async (x, dur, keep) => {
    let n = 0;
    const end = performance.now() + dur;
    const cpu0 = process.cpuUsage();
    const lane = async () => {
      while (performance.now() < end) {
        await x.op();
        n++;
      }
    };
    await Promise.all(Array.from({ length: inflight }, lane));
    const cpu = process.cpuUsage(cpu0);
    if (keep) {
      x.us.push((cpu.user + cpu.system) / n);
      (x.sys ??= []).push(cpu.system / n);
      x.rps.push(n / (dur / 1000));
    }
  };
  for (const x of clients) await burst(x, 1000, false); // warm-up (JIT, connections)
  // Alternate the order every burst so no client always runs right after another.
  for (let b = 0; b < bursts; b++) for (const x of b % 2 === 0 ? clients : [...clients].reverse()) await burst(x, ms, true);
  const ref = median(clients.at(-1).us);
  console.log(`nginx${tls ? ' tls' : ''} ${arg('headers', 'minimal')} GET /small ×${inflight}, ${bursts} bursts of ${ms} ms each, medians`);
  for (const x of clients) {
    const u = median(x.us);
    console.log(
      `${x.name.padEnd(20)} ${u.toFixed(1).padStart(6)} µs/req  ${(ref / u).toFixed(2)}× ${clients.at(-1).name}  ${Math.round(median(x.rps))} req/s  sys ${median(x.sys).toFixed(1)} µs/req  [${x.us.map((v) => v.toFixed(1)).join(' ')}]`,
    );
  }
} finally {
  for (const x of clients) await x.c.close?.();
  await (server.close?.() ?? server.stop());
}
