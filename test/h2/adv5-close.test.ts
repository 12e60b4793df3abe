// Fifth outside attack (issue #16), N8: client.close() closed a connection nghttp2 had
// shut down by itself (a violation after a read-idle timeout made it suspect) gracefully,
// which never finishes: its socket stayed open ~1 s and held the process. SPEC §3: a
// finished process exits at once.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError, TimeoutError } from '../../src/index.js';
import type { H2Connection } from '../../src/testing/index.js';
import { frame, FrameType } from '../../src/testing/h2-wire.js';
import { rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 5): N8 close() after the codec shut a connection down', () => {
  it('a violation 30 ms after the head, then read-idle (100 ms): the dead connection\'s socket is destroyed at once, not closed gracefully', T, async () => {
    const conns: H2Connection[] = [];
    const r = await rig({ h2: { onConnection: (c) => void conns.push(c) }, tls: false }, { readIdleTimeout: 100 });
    let closedAt = 0;
    try {
      r.fs.h2Route('/v', async (s) => {
        await s.headers(200, []);
        await s.sleep(30);
        await s.conn.write(frame(FrameType.DATA, 0, s.id, Buffer.alloc(20_000)));
        await s.sleep(5000);
      });
      const g0 = settle(r.client, r.fs.url('/v'));
      while (conns.length === 0) await new Promise((res) => setTimeout(res, 5));
      conns[0]!.socket.once('close', () => (closedAt = performance.now()));
      const g = await g0;
      // Read-idle (100 ms) or the probe (~150 ms) may come first: either way the connection is dead.
      assert.ok(g.err instanceof TimeoutError || g.err instanceof ProtocolError, String(g.err));
      const t0 = performance.now();
      await r.client.close();
      await new Promise((res) => setTimeout(res, 400));
      assert.ok(closedAt > 0 && closedAt - t0 < 300, `the server saw the socket close ${closedAt > 0 ? Math.round(closedAt - t0) : 'never'} ms after close()`);
    } finally {
      await r.fs.close();
    }
  });
});
