// Fifth outside attack (issue #16), N7: a pooled idle connection that the client's own
// codec shut down (nghttp2 answered a bad frame with its GOAWAY; node says nothing) was
// handed to the next requests, which hung until a timeout with requestSent true. SPEC §6: a
// connection the server closed while idle is never handed out when that is detectable.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { H2Connection } from '../../src/testing/index.js';
import { frame, FrameType } from '../../src/testing/h2-wire.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

const VIOLATIONS: Record<string, Buffer> = {
  'frame-too-large': frame(FrameType.DATA, 0, 1, Buffer.alloc(20_000)),
  'data-on-0': frame(FrameType.DATA, 0, 0, Buffer.from('x')),
  'ping-bad-length': frame(FrameType.PING, 0, 0, Buffer.from('abc')),
  'settings-bad-length': frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7)),
};

describe('h2 adversarial (round 5): N7 a connection shut by the client\'s codec while idle', () => {
  for (const [mode, bytes] of Object.entries(VIOLATIONS)) {
    it(`${mode} on an idle connection: the next GET and POST go to a new connection at once`, T, async () => {
      const conns: H2Connection[] = [];
      const r = await rig({ h2: { onConnection: (c) => void conns.push(c) }, tls: false }, {}, 3000);
      try {
        ok(await settle(r.client, r.fs.url('/ok')));
        await new Promise((res) => setTimeout(res, 50));
        await conns[0]!.write(bytes);
        await new Promise((res) => setTimeout(res, 100));
        const t0 = performance.now();
        const [g, p] = await Promise.all([
          settle(r.client, r.fs.url('/ok')),
          settle(r.client, r.fs.url('/echo'), { method: 'POST', body: 'hello' }),
        ]);
        assert.equal(ok(g), 'ok');
        assert.match(ok(p), /"body":"hello"/);
        assert.ok(performance.now() - t0 < 1500, `served after ${Math.round(performance.now() - t0)} ms`);
        assert.equal(conns[0]!.streams, 1, 'nothing more was put on the dead connection');
        assert.ok(r.fs.connections >= 2);
      } finally {
        await r.close();
      }
    });
  }
});
