// client.close() releases every HTTP/2 socket before it resolves, even that of a session
// nghttp2 shut down by itself, whose GOAWAY the peer never answers (SPEC §3: a finished
// process exits at once; issue #16 adv-h2-5 N8: the socket lingered ~1 s).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FaultServer } from '../../src/testing/index.js';
import { dataFrame } from '../../src/testing/h2-wire.js';
import { rig, settle, sleep } from './spec-helpers.js';

const T = { timeout: 15_000 };

/** ms until the server has no socket open, or -1 after `limit` ms. */
async function socketsGone(fs: FaultServer, limit: number): Promise<number> {
  const t0 = performance.now();
  while (fs.openSockets > 0) {
    if (performance.now() - t0 > limit) return -1;
    await sleep(2);
  }
  return performance.now() - t0;
}

describe('h2: client.close() leaves no socket open (issue #16 N8)', () => {
  it('after a body the codec failed silently (DATA, then an oversized DATA in one write): the socket is gone at once', T, async () => {
    const r = await rig({ h2: true, tls: false }, { readIdleTimeout: 300 });
    try {
      r.fs.h2Route('/dead', async (s) => {
        await s.headers(200, {});
        await s.sleep(30);
        await s.conn.write(Buffer.concat([dataFrame(s.id, Buffer.from('x'), false), dataFrame(s.id, Buffer.alloc(20_000, 0x61), false)]));
        await s.stall();
      });
      const g = await settle(r.client, r.fs.url('/dead'));
      assert.ok(g.err !== null, 'the body fails');
      await r.client.close();
      const ms = await socketsGone(r.fs, 300);
      assert.ok(ms >= 0 && ms < 100, `the server saw the client's socket close ${ms} ms after close() resolved`);
    } finally {
      await r.close();
    }
  });

  it('an idle connection: GOAWAY(NO_ERROR) reaches the server and the socket is gone at once', T, async () => {
    const r = await rig({ h2: true, tls: false });
    try {
      const g = await settle(r.client, r.fs.url('/ok'));
      assert.equal(g.body, 'ok');
      await r.client.close();
      const ms = await socketsGone(r.fs, 300);
      assert.ok(ms >= 0 && ms < 100, `the server saw the client's socket close ${ms} ms after close() resolved`);
      assert.equal(r.fs.h2Connections[0]?.goawaysReceived[0]?.code, 0, JSON.stringify({ n: r.fs.h2Connections.length, g: r.fs.h2Connections.map((c) => c.goawaysReceived) }));
    } finally {
      await r.close();
    }
  });
});
