// A server's CONTINUATION flood (a header block that never ends) must fail the request with
// h2-protocol-error and leave the process alive (SPEC §13; issue #16 N10). Node 20 aborted
// the process (`~Http2Session`: `current_nghttp2_memory_ == 0`) when a minor collection took
// the dead session's native handle while its stream still held part of the header block.
// Each run is a child process (the FaultServer with it), so an abort fails the test instead
// of killing the runner; the child allocates meanwhile so that collections fall in that
// window (before the fix about half of the children aborted), floods 10 connections, and
// collects garbage after close().
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChild } from '../adversarial/child.js';

const T = { timeout: 90_000 };
const RUNS = 8;
const FLOODS = 10;

const CHILD = `const { Client, Transport } = await import(process.env.HG);
const { FaultServer } = await import(process.env.HG.replace(/index\\.js$/, 'testing/index.js'));
const fs = await FaultServer.start({ h2: true, tls: false });
let sink = [];
const churn = setInterval(() => {
  for (let i = 0; i < 200; i++) sink.push(Buffer.concat([Buffer.alloc(9), Buffer.from('x'.repeat(110))]));
  if (sink.length > 4000) sink = [];
}, 1);
const client = new Client({ transport: new Transport({ h2c: true, responseHeaderTimeout: 2000 }) });
const outs = [];
for (let n = 0; n < ${FLOODS}; n++) {
  outs.push(await client.request(fs.url('/h2/continuation-flood'), { timeout: 5000 }).then(
    (r) => 'status ' + r.status,
    (e) => e.name + ' ' + e.reason,
  ));
}
await client.close();
await fs.close();
clearInterval(churn);
sink = [];
for (let i = 0; i < 8; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 5));
}
console.log('RESULT ' + JSON.stringify({ outs: [...new Set(outs)] }));
`;

describe('h2: CONTINUATION flood (issue #16 N10)', () => {
  it(`fails each request with h2-protocol-error and the process survives (${RUNS} child processes, ${FLOODS} floods each)`, T, async () => {
    for (let i = 0; i < RUNS; i++) {
      const out = await runChild(CHILD, {}, 15_000, ['--expose-gc']);
      assert.equal(out.code, 0, `run ${i}: exit code ${out.code}\n${out.stderr.slice(0, 400)}`);
      assert.deepEqual(out.result, { outs: ['ProtocolError h2-protocol-error'] }, `run ${i}`);
    }
  });
});
