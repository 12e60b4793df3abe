// Sixth outside attack (issue #16), M1: an upload held back for `Expect: 100-continue`
// hands nothing of its body to node, so no write-idle clock runs for it while it waits
// for the 100 (SPEC §11/§13), even while a sibling upload on its connection writes.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { TimeoutError } from '../../src/index.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 6): write-idle and 100-continue (M1)', () => {
  it('an upload waiting 1 s for its 100 beside a sibling upload (windows open) is not named write-idle', T, async () => {
    const limit = 300;
    const r = await rig({ h2: true, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: limit, expectContinueTimeout: 3000 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      // The sibling: 200 B every 100 ms for 1.5 s (its clock runs and restarts meanwhile).
      let i = 0;
      const slow = new Readable({
        read() {
          if (i++ >= 15) return void this.push(null);
          setTimeout(() => this.push(Buffer.alloc(200, 98)), 100);
        },
      });
      const [a, b] = await Promise.all([
        settle(r.client, r.fs.url('/h2/continue?delay=1000'), { method: 'POST', body: 'z'.repeat(2000), headers: { expect: '100-continue' }, timeout: 5000 }),
        settle(r.client, r.fs.url('/echo'), { method: 'POST', body: slow, timeout: 5000 }),
      ]);
      assert.equal(ok(a), 'received 2000');
      ok(b);
      assert.ok(a.ms >= 995, `the 100 came 1 s in, settled after ${Math.round(a.ms)} ms`);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});

// Seventh attack, P2: writeTimeout expiring while the body is held back for the 100 said
// `flowControl: false` ("the socket accepted no byte") though nothing was offered to it.
describe('h2 adversarial (round 7): what a write timeout waited on (P2)', () => {
  it('writeTimeout during the 100-continue wait: phase write, flowControl undefined', T, async () => {
    const r = await rig({ h2: true, tls: false }, { writeTimeout: 300, expectContinueTimeout: 2000 });
    try {
      const g = await settle(r.client, r.fs.url('/h2/continue?delay=1500'), { method: 'POST', body: 'z'.repeat(2000), headers: { expect: '100-continue' }, timeout: 5000 });
      assert.ok(g.err instanceof TimeoutError, String(g.err));
      assert.equal(g.err.phase, 'write');
      assert.equal(g.err.flowControl, undefined);
      assert.ok(g.ms >= 295 && g.ms < 800, `settled after ${Math.round(g.ms)} ms`);
    } finally {
      await r.close();
    }
  });
});
