// Fifth outside attack (issue #16), N9: one response header field over nghttp2's per-field
// cap (an HPACK string over 65 536 bytes) makes the codec shut the whole connection down
// (its decoder state is the connection's: inherent). The stream that carried it fails
// `headers-too-large` when it can be told (h2/field-cap.ts), a sibling's error says its
// own frames were not at fault, and neither claims the server broke RFC 9113 (SPEC §13).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/index.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 5): N9 a header field over the codec cap', () => {
  it('a 70 000-byte field: that stream fails headers-too-large; a sibling mid-body is told the truth; the next request works', T, async () => {
    const r = await rig({ h2: true, tls: false }, { maxResponseHeaderBytes: 1 << 20 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const a = settle(r.client, r.fs.url('/drip?bytes=20&interval=50'));
      await new Promise((res) => setTimeout(res, 100));
      const b = await settle(r.client, r.fs.url('/h2/big-header?bytes=70000'));
      assert.ok(b.err instanceof ProtocolError, `got ${String(b.err)}`);
      assert.ok(b.ms < 2000, `failed after ${Math.round(b.ms)} ms`);
      const s = await a;
      assert.ok(s.err instanceof ProtocolError, `got ${String(s.err)}`);
      assert.doesNotMatch(s.err.message, /broke RFC 9113/);
      if (b.err.reason === 'headers-too-large') {
        // The usual case on loopback: the block's first 64 KiB came in one read.
        assert.match(b.err.message, /capped at 65536 bytes by the codec/);
        assert.match(s.err.message, /another stream's response head/);
      } else {
        // The block came in smaller reads (a loaded host): the stream cannot be told, and
        // both errors name the two possible causes (h2/field-cap.ts).
        assert.equal(b.err.reason, 'h2-protocol-error');
        for (const e of [b.err, s.err]) assert.match(e.message, /a header field over its 65536-byte per-field cap/);
      }
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });

  it('a 60 000-byte field within maxResponseHeaderBytes passes, and the sibling is untouched', T, async () => {
    const r = await rig({ h2: true, tls: false }, { maxResponseHeaderBytes: 1 << 20 });
    try {
      const a = settle(r.client, r.fs.url('/drip?bytes=5&interval=50'));
      await new Promise((res) => setTimeout(res, 50));
      const b = await settle(r.client, r.fs.url('/h2/big-header?bytes=60000'));
      assert.equal(ok(b), 'ok');
      assert.equal(String(b.res?.headers['x-big']).length, 60_000);
      ok(await a);
    } finally {
      await r.close();
    }
  });
});
