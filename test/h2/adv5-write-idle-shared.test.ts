// Fifth outside attack (issue #16), N2 rest: with two or more uploads on one connection the
// judge has only each upload's own marks (a piece's write callback; node reports no
// stream's flushed bytes below a write, h2/upload.ts). Pieces are now cut small while
// uploads share the connection (at most 16 KiB and their share of the connection's send
// window, 128 bytes at least), so an upload whose window reopens by a few hundred bytes
// per writeIdleTimeout — or that waits for its share of a trickling connection window —
// has a mark in time; a GET beside them is never failed by them.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { H2Connection } from '../../src/testing/index.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 20_000 };
const LIMIT = 400;

describe('h2 adversarial (round 5): write-idle of uploads sharing a connection (N2 rest)', () => {
  it('two uploads whose stream windows reopen 300 bytes every 250 ms (under the old 512-byte piece), and a GET waiting 1 s, all succeed', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 0 }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: LIMIT });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const body = Buffer.alloc(2400, 1);
      const all = await Promise.all([
        settle(r.client, r.fs.url('/delay-headers?ms=1000'), { timeout: 8000 }),
        settle(r.client, r.fs.url('/h2/hold-window?grant=300&every=250'), { method: 'POST', body, timeout: 8000 }),
        settle(r.client, r.fs.url('/h2/hold-window?grant=300&every=250&shift=125'), { method: 'POST', body, timeout: 8000 }),
      ]);
      assert.equal(ok(all[0]!), 'ok');
      assert.equal(ok(all[1]!), 'received 2400');
      assert.equal(ok(all[2]!), 'received 2400');
      assert.equal(r.fs.connections, 1, 'the connection was never failed');
    } finally {
      await r.close();
    }
  });

  it('three uploads sharing a connection window reopened 3 000 bytes every 300 ms, and a GET waiting 1 s, all succeed', T, async () => {
    const onConnection = (c: H2Connection): void => {
      const tick = (): void => {
        if (c.closed) return;
        void c.grantWindow(3000);
        c.timer(300, tick);
      };
      c.timer(300, tick);
    };
    const r = await rig({ h2: { windowUpdates: 'streams', onConnection }, tls: false }, { maxConnsPerHost: 1, writeIdleTimeout: LIMIT });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const body = Buffer.alloc(24_000, 1);
      const all = await Promise.all([
        settle(r.client, r.fs.url('/delay-headers?ms=1000'), { timeout: 10_000 }),
        ...[0, 1, 2].map(() => settle(r.client, r.fs.url('/echo'), { method: 'POST', body, timeout: 10_000 })),
      ]);
      assert.equal(ok(all[0]!), 'ok');
      for (const s of all.slice(1)) ok(s);
      assert.equal(r.fs.connections, 1, 'the connection was never failed');
    } finally {
      await r.close();
    }
  });
});
