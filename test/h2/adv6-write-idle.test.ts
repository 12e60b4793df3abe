// Sixth outside attack (issue #16): write-idle of an upload whatever its sibling uploads do
// (SPEC §3/§11/§13). The clock runs only while a byte of ITS body waits to flush, stops when
// one flushed, and fires writeIdleTimeout after its own last progress with `elapsed` the
// real wait.
// M3: sibling uploads starting and ending on the connection were taken for a stalled
// upload's progress (the only-upload watch restarted each time the count went 2→1), so it
// was never timed out.
// M2: with two uploads the time an upload waited for its own slow body source was charged
// to write-idle (the clock ran from the last piece's mark, not from the next piece's hand-over).
// Fails without the fixes (checked on the h2-fix11 branch, 3/3 runs each): with 9c8ae21's
// src reverted both M3 cases end at the 4 s request timeout, not write-idle at ~1 s (so they
// do with only its probe-tick half or only its judge half reverted, and at 9c8ae21^ itself);
// with 233c2d2's src reverted the M2 case names u0 write-idle at ~558 ms, ~250 ms after its
// stuck piece was pushed (~305 ms), instead of ~700 ms.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
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

  it('two uploads from a slow source (1 000 B every 150 ms), stream windows shut after 1 500 B: write-idle counts from the stuck piece, not from the previous mark (M2)', T, async () => {
    const limit = 400;
    const r = await rig({ h2: { initialWindowSize: 0 }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: limit });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const t0 = performance.now();
      const pushedAt: number[][] = [[], []];
      const source = (k: number): Readable => {
        let i = 0;
        return new Readable({
          read() {
            if (i++ >= 6) return void this.push(null);
            setTimeout(() => {
              pushedAt[k]!.push(performance.now() - t0);
              this.push(Buffer.alloc(1000, 97));
            }, 150);
          },
        });
      };
      const all = await Promise.all([0, 1].map((k) => settle(r.client, r.fs.url('/h2/hold-window?grant=1500&once=1'), { method: 'POST', body: source(k), timeout: 5000 })));
      for (const [k, g] of all.entries()) {
        assert.ok(g.err instanceof TimeoutError, `expected write-idle, got ${String(g.err)}`);
        assert.equal(g.err.phase, 'write-idle');
        // The second chunk is the piece left half sent: the wait to flush began when it was pushed.
        const stuck = pushedAt[k]![1]!;
        const at = g.ms; // from about t0
        assert.ok(at >= stuck + limit - 10, `u${k} failed at ${Math.round(at)} ms, its piece waited from ${Math.round(stuck)} ms`);
        assert.ok(at <= stuck + limit + SLACK, `u${k} failed at ${Math.round(at)} ms`);
        assert.ok(g.err.elapsed >= limit - 1 && g.err.elapsed <= at - stuck + 10, `u${k} elapsed ${g.err.elapsed}, real wait ${Math.round(at - stuck)}`);
      }
    } finally {
      await r.close();
    }
  });

  // M8: alone on its connection, an upload whose window opens a few bytes at a time sends
  // partial pieces that no write callback reports: only the probe's tick dates its DATA.
  // At the 50 ms probe period write-idle was named up to 50 ms after its due time (the
  // last DATA + writeIdleTimeout); a sole upload now ticks every 10 ms. The dating delay
  // is measured apart from timer lateness: (failure − the server's receipt of the last
  // DATA) − err.elapsed. Without the fix it is uniform in 0–50 ms: four tries all ≤ 25 ms
  // then happen one time in sixteen.
  it('a sole upload whose window opens 100 bytes at a time, then never: write-idle dated within a short tick of its last DATA (M8)', T, async () => {
    const limit = 300;
    const r = await rig({ h2: { initialWindowSize: 0 }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: limit });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      let lastAt = 0;
      r.fs.h2Route('/trickle', async (s) => {
        s.holdWindow = true;
        for (let i = 1; i <= 3; i++) {
          await s.sleep(30);
          await s.grantWindow(100);
          await s.waitForBody(100 * i);
          lastAt = performance.now();
        }
        await s.stall();
      });
      const delays: number[] = [];
      for (let k = 0; k < 4; k++) {
        const g = await settle(r.client, r.fs.url('/trickle'), { method: 'POST', body: Buffer.alloc(20_000, 1), timeout: 3000 });
        const at = performance.now();
        assert.ok(g.err instanceof TimeoutError, `expected write-idle, got ${String(g.err)}`);
        assert.equal(g.err.phase, 'write-idle');
        assert.equal(g.err.flowControl, true);
        delays.push(at - lastAt - g.err.elapsed);
      }
      assert.ok(Math.max(...delays) <= 25, `DATA dated ${delays.map((d) => Math.round(d)).join(', ')} ms after it left`);
    } finally {
      await r.close();
    }
  });
});
