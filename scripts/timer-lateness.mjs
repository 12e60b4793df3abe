// Measures how late response-header timeouts fire: N requests to a route that never
// answers, each with responseHeaderTimeout T; lateness = elapsed - T (SPEC §3 goal: 15 ms).
// Usage: node scripts/timer-lateness.mjs [count=200] [timeoutMs=100] [concurrency=20]
import { Client, Transport } from '../dist/index.js';
import { FaultServer } from '../dist/testing/index.js';

const count = Number(process.argv[2] ?? 200);
const T = Number(process.argv[3] ?? 100);
const conc = Number(process.argv[4] ?? 20);
const fs = await FaultServer.start();
const client = new Client({ transport: new Transport({ responseHeaderTimeout: T }) });
const late = [];
let next = 0;
async function worker() {
  while (next < count) {
    next++;
    const t0 = performance.now();
    try {
      await client.request(fs.url('/never'));
    } catch (err) {
      if (err.phase !== 'response-headers') throw err;
      late.push(performance.now() - t0 - T);
    }
  }
}
await Promise.all(Array.from({ length: conc }, worker));
late.sort((a, b) => a - b);
const q = (p) => late[Math.min(late.length - 1, Math.floor(p * late.length))].toFixed(1);
console.log(`${late.length} response-header timeouts of ${T} ms (${conc} concurrent): lateness p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${late[late.length - 1].toFixed(1)} ms (measured from request() call, includes connect + write)`);
await client.close();
await fs.close();
