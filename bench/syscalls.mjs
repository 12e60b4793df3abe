// Syscalls per request (strace -c -f), for one client against nginx: the counts do not
// depend on the machine's load, unlike CPU figures. For investigating, not for tables.
//
//   npm run -s build && node bench/syscalls.mjs [--tls] [--headers=minimal|realistic]
//     [--inflight=10] [--requests=20000] [--clients=hourglass-on,undici-request]
//
// Each client runs in its own `strace -c -f node …` child: warm-up requests first, then
// the counted ones; the table is strace's summary divided by the number of requests
// (warm-up included: keep --requests large).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOURGLASS_TIMEOUTS_ON, makeClient } from './clients.mjs';
import { startNginx } from '../scripts/nginx.mjs';

const arg = (n, d) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;

if (process.argv[2] === '--child') {
  const cfg = JSON.parse(process.argv[3]);
  const c = await makeClient(cfg.client, {
    origin: cfg.origin,
    port: cfg.port,
    inflight: cfg.inflight,
    ca: cfg.ca,
    ...(cfg.client.endsWith('-on') ? { hourglass: HOURGLASS_TIMEOUTS_ON } : {}),
  });
  const op = c.op('text', '/small');
  let left = cfg.requests;
  const lane = async () => {
    while (left-- > 0) await op();
  };
  await Promise.all(Array.from({ length: cfg.inflight }, lane));
  await c.close?.();
  process.exit(0);
}

const tls = process.argv.includes('--tls');
const inflight = Number(arg('inflight', 10));
const requests = Number(arg('requests', 20000));
const clients = arg('clients', 'hourglass-on,undici-request').split(',');
const server = await startNginx({ tls, headers: arg('headers', 'minimal'), files: false });
const self = fileURLToPath(import.meta.url);
try {
  for (const client of clients) {
    const cfg = { client, origin: server.origin, port: server.port, inflight, requests, ca: server.ca };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-strace-'));
    const out = path.join(dir, 'summary');
    const r = spawnSync('strace', ['-c', '-f', '-o', out, process.execPath, self, '--child', JSON.stringify(cfg)], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`strace child failed (${r.status}): ${r.stderr}`);
    const summary = readFileSync(out, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const rows = [];
    for (const line of summary.split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$/.exec(line);
      if (m !== null && m[3] !== 'total') rows.push([m[3], Number(m[1]) / requests]);
    }
    rows.sort((a, b) => b[1] - a[1]);
    console.log(`${client}${tls ? ' tls' : ''} ×${inflight}: syscalls per request (${requests} requests)`);
    for (const [name, n] of rows.filter(([, n]) => n >= 0.01)) console.log(`  ${name.padEnd(16)} ${n.toFixed(3)}`);
  }
} finally {
  await (server.close?.() ?? server.stop());
}
