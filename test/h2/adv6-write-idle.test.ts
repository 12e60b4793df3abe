// Sixth outside attack (issue #16): write-idle of an upload whatever its sibling uploads do
// (SPEC §3/§11/§13). The clock runs only while a byte of ITS body waits to flush, stops when
// one flushed, and fires writeIdleTimeout after its own last progress with `elapsed` the
// real wait.
// M3: sibling uploads starting and ending on the connection were taken for a stalled
// upload's progress (the only-upload watch restarted each time the count went 2→1), so it
// was never timed out.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError } from '../../src/index.js';
import { type H2Connection } from '../../src/testing/index.js';
import { ok, rig, settle, SLACK } from './spec-helpers.js';

const T = { timeout: 15_000 };
const LIMIT = 1000;

describe('h2 adversarial (round 6): write-idle per upload among sibling uploads', () => {
  for (const sib of [1, 20_000]) {
    it(`an upload whose stream window never opens fails write-idle on time while ${sib}-byte uploads start and end beside it (M3)`, T, async () => {
      // The connection window is opened wide once, never topped up: each sibling's DATA shrinks it for good.
      const onConnection = (c: H2Connection): void => void c.grantWindow(50_000_000);
      const r = await rig({ h2: { initialWindowSize: 0, windowUpdates: 'streams', onConnection }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: LIMIT });
      try {
        ok(await settle(r.client, r.fs.url('/ok')));
        let done = false;
        const up = settle(r.client, r.fs.url('/h2/hold-window'), { method: 'POST', body: Buffer.alloc(20_000, 1), timeout: 4000 }).finally(() => {
          done = true;
        });
        let sent = 0;
        const sibs: Promise<unknown>[] = [];
        while (!done && sent < 30) {
          await new Promise((res) => setTimeout(res, 150));
          if (done) break;
          sibs.push(settle(r.client, r.fs.url('/h2/hold-window?grant=65535&every=1'), { method: 'POST', body: Buffer.alloc(sib, 1), timeout: 3000 }).then(ok));
          sent++;
        }
        const g = await up;
        await Promise.all(sibs);
        assert.ok(g.err instanceof TimeoutError, `expected write-idle, got ${String(g.err)}`);
        assert.equal(g.err.phase, 'write-idle');
        assert.equal(g.err.flowControl, true);
        assert.ok(g.ms >= LIMIT - 5 && g.ms <= LIMIT + SLACK, `settled after ${Math.round(g.ms)} ms`);
        assert.ok(g.err.elapsed >= LIMIT - 1 && g.err.elapsed <= g.ms + 5, `elapsed ${g.err.elapsed} for ${Math.round(g.ms)} ms`);
        assert.ok(sent >= 3, `${sent} sibling uploads ran meanwhile`);
      } finally {
        await r.close();
      }
    });
  }
});
