// Fifth outside attack (issue #16), N2 + N3: write-idle with several streams on one
// connection. An upload is write-idle only when none of ITS bytes flushed for
// writeIdleTimeout (SPEC §3/§11/§13); other streams' traffic (HEADERS of GETs, WINDOW_UPDATEs)
// is never its progress, and a sibling's window wait never fails the connection.
// Before the fix: two uploads whose stream windows reopened in steps failed write-idle
// (often as a socket stall, flowControl false, killing a waiting GET), and an upload whose
// window never opened was never timed out while GETs ran on its connection.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError } from '../../src/index.js';
import { type H2Connection } from '../../src/testing/index.js';
import { ok, rig, settle, SLACK } from './spec-helpers.js';

const T = { timeout: 15_000 };
const LIMIT = 400;

describe('h2 adversarial (round 5): write-idle per stream (N2, N3)', () => {
  it('two uploads whose windows reopen 5 000 bytes every 250 ms, and a GET waiting 1 s, all succeed on one connection (N2)', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 0 }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: LIMIT });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const body = Buffer.alloc(30_000, 1);
      const all = await Promise.all([
        settle(r.client, r.fs.url('/delay-headers?ms=1000'), { timeout: 8000 }),
        settle(r.client, r.fs.url('/h2/hold-window?grant=5000&every=250'), { method: 'POST', body, timeout: 8000 }),
        settle(r.client, r.fs.url('/h2/hold-window?grant=5000&every=250&shift=125'), { method: 'POST', body, timeout: 8000 }),
      ]);
      assert.equal(ok(all[0]!), 'ok');
      assert.equal(ok(all[1]!), 'received 30000');
      assert.equal(ok(all[2]!), 'received 30000');
      assert.equal(r.fs.connections, 1, 'the connection was never failed');
    } finally {
      await r.close();
    }
  });

  for (const wu of [false, true]) {
    it(`an upload whose window never opens fails write-idle on time while GETs run on its connection${wu ? ' (and the server opens the connection window)' : ''} (N3)`, T, async () => {
      const onConnection = (c: H2Connection): void => {
        if (!wu) return;
        const tick = (): void => {
          if (c.closed) return;
          void c.grantWindow(1000);
          c.timer(50, tick);
        };
        c.timer(50, tick);
      };
      const r = await rig({ h2: { initialWindowSize: 0, onConnection }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: LIMIT });
      try {
        ok(await settle(r.client, r.fs.url('/ok')));
        let done = false;
        const up = settle(r.client, r.fs.url('/h2/hold-window'), { method: 'POST', body: Buffer.alloc(20_000, 1), timeout: 5000 }).finally(() => {
          done = true;
        });
        let gets = 0;
        while (!done && gets < 60) {
          ok(await settle(r.client, r.fs.url('/ok'), { timeout: 2000 }));
          gets++;
          await new Promise((res) => setTimeout(res, 40));
        }
        const g = await up;
        assert.ok(g.err instanceof TimeoutError, `expected write-idle, got ${String(g.err)}`);
        assert.equal(g.err.phase, 'write-idle');
        assert.equal(g.err.flowControl, true);
        assert.ok(g.ms >= LIMIT - 5 && g.ms <= LIMIT + SLACK, `settled after ${Math.round(g.ms)} ms`);
        assert.ok(g.err.elapsed >= LIMIT - 1 && g.err.elapsed <= g.ms + 5, `elapsed ${g.err.elapsed} for ${Math.round(g.ms)} ms`);
        assert.ok(gets >= 3, `${gets} GETs ran meanwhile`);
        ok(await settle(r.client, r.fs.url('/ok')));
        assert.equal(r.fs.connections, 1, 'the GETs\' connection stays');
      } finally {
        await r.close();
      }
    });
  }
});

describe('h2 adversarial (round 5): N5 an upload to a peer that stops reading times out', () => {
  it('a 1 MB upload whose stream window is never reopened (the connection\'s is) fails write-idle; the client\'s PINGs are no progress', T, async () => {
    const limit = 1000;
    const r = await rig({ h2: true, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: limit });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const g = await settle(r.client, r.fs.url('/h2/hold-window'), { method: 'POST', body: Buffer.alloc(1024 * 1024, 1), timeout: 6000 });
      assert.ok(g.err instanceof TimeoutError, `expected write-idle, got ${String(g.err)}`);
      assert.equal(g.err.phase, 'write-idle');
      assert.equal(g.err.flowControl, true);
      // The window's last bytes left within a few ms of the start; the probe tick (50 ms)
      // dates them. Before the fix the count restarted at the halfway look (~1 500 ms).
      assert.ok(g.ms >= limit - 5 && g.ms <= limit + 300, `settled after ${Math.round(g.ms)} ms`);
      assert.ok(g.err.elapsed >= limit - 1 && g.err.elapsed <= g.ms + 5, `elapsed ${g.err.elapsed}`);
    } finally {
      await r.close();
    }
  });
});
