// Quick evidence against nginx (or the node server): per request, client CPU µs, the
// client's write/read syscalls and bytes per write, the server's wake-ups and reads, for a
// few clients interleaved in one run. For investigating, not for the results table.
//
//   npm run -s build && node bench/probe.mjs [--server=nginx|node] [--headers=minimal|realistic]
//     [--tls] [--inflight=10] [--path=/small] [--kind=text] [--seconds=2] [--reps=3]
//     [--clients=hourglass-on,undici-request]

import { HOURGLASS_TIMEOUTS_ON } from './clients.mjs';
import { median, runWorker, startNodeServer } from './lib.mjs';
import { startNginx } from '../scripts/nginx.mjs';

const arg = (n, d) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const tls = process.argv.includes('--tls');
const serverKind = arg('server', 'nginx');
const inflight = Number(arg('inflight', 10));
const seconds = Number(arg('seconds', 2));
const reps = Number(arg('reps', 3));
const clients = arg('clients', 'hourglass-on,undici-request').split(',');
const pathArg = arg('path', '/small');
const kind = arg('kind', 'text');

const server =
  serverKind === 'nginx'
    ? await startNginx({ tls, headers: arg('headers', 'minimal'), files: pathArg === '/1m' || pathArg === '/64m' })
    : await startNodeServer();
const origin = serverKind === 'nginx' ? server.origin : `http://127.0.0.1:${server.port}`;
const rows = new Map(clients.map((c) => [c, []]));
try {
  for (let r = 0; r < reps; r++) {
    for (const c of clients) {
      const res = await runWorker({
        mode: 'load',
        client: c,
        kind,
        path: pathArg,
        inflight,
        expect: -1,
        origin,
        port: server.port,
        serverPid: server.pid,
        warmupMs: 500,
        durationMs: seconds * 1000,
        reps: 1,
        ca: server.ca,
        ...(c.startsWith('hourglass') && c.endsWith('-on') ? { hourglass: HOURGLASS_TIMEOUTS_ON } : {}),
      });
      const x = res.reps[0];
      if (x.errors > 0) console.error(c, x.errors, x.firstError);
      rows.get(c).push(x);
    }
  }
} finally {
  await (server.close?.() ?? server.stop());
}
const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');
console.log(`${serverKind}${tls ? ' tls' : ''} ${arg('headers', 'minimal')} ${kind} ${pathArg} ×${inflight}, median of ${reps}`);
console.log('client              req/s   cpu µs/req  writes/req  B/write  reads/req  srv wake/req  srv reads/req');
for (const [c, xs] of rows) {
  const m = (k) => median(xs.map((x) => x[k]));
  console.log(
    `${c.padEnd(18)} ${f(m('reqPerSec'), 0).padStart(7)} ${f((m('clientCpu') / m('reqPerSec')) * 1e6, 1).padStart(11)} ${f(m('clientWrites')).padStart(11)} ${f(m('bytesPerWrite'), 0).padStart(8)} ${f(m('clientReads')).padStart(10)} ${f(m('serverWakeups')).padStart(13)} ${f(m('serverReads')).padStart(14)}`,
  );
}
