// Which limit decides a too-big HTTP/2 response head (issue #16): `maxResponseHeaderBytes`
// through readFields, never node's own count — node's caps (nodeHeaderCap, nodeFieldCap)
// sit above any head readFields accepts. Below them the verdict must not depend on packet
// timing: with TCP_NODELAY on the server (as nginx and the FaultServer have it), the first
// request of a fresh connection used to fail `stream-reset` h2Code 2 (nghttp2's own
// INTERNAL_ERROR reset, written first while a write of ours was in progress), a reused
// connection `headers-too-large`.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeFieldCap, nodeHeaderCap } from '../../src/h2/field-cap.js';
import { readFields } from '../../src/h2/head.js';
import { rig, settle, ok, protocol } from './spec-helpers.js';

const T = { timeout: 15_000 };

/** A head's weight as node counts it: name + value + 32 per field (RFC 9113 §6.5.2). */
function nodeWeight(h: readonly string[]): { bytes: number; fields: number } {
  let bytes = 0;
  for (const x of h) bytes += x.length;
  return { bytes: bytes + 16 * h.length, fields: h.length / 2 };
}

describe('h2 header caps: node never refuses a head readFields would accept', () => {
  it('random heads within maxResponseHeaderBytes fit under node\'s byte and field caps', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const headOf = (fields: [string, string][], n: number): string[] => {
      const h = [':status', '200'];
      for (let i = 0; i < n; i++) h.push(fields[i]![0], fields[i]![1]);
      return h;
    };
    for (const limit of [100, 1000, 8192, 65_536, 200_000]) {
      for (let round = 0; round < 20; round++) {
        // Small fields most of the time: they weigh most for node relative to readFields.
        const fields: [string, string][] = [];
        for (let i = 0; fields.length * 5 <= limit + 5; i++) {
          fields.push([(rand(3) === 0 ? '' : 'x-') + i.toString(36), rand(4) === 0 ? 'v'.repeat(rand(40)) : '']);
        }
        // The longest prefix readFields accepts (binary search: it is monotonic in the prefix).
        let lo = 0;
        let hi = fields.length;
        while (lo < hi) {
          const mid = Math.ceil((lo + hi) / 2);
          if (readFields(headOf(fields, mid), [], { maxBytes: limit, trailers: false }) instanceof Error) hi = mid - 1;
          else lo = mid;
        }
        const h = headOf(fields, lo);
        assert.ok(!(readFields(h, [], { maxBytes: limit, trailers: false }) instanceof Error));
        const w = nodeWeight(h);
        assert.ok(w.bytes <= nodeHeaderCap(limit), `limit ${limit}: ${w.bytes} > ${nodeHeaderCap(limit)}`);
        assert.ok(w.fields <= nodeFieldCap(limit), `limit ${limit}: ${w.fields} fields > ${nodeFieldCap(limit)}`);
      }
    }
  });

  it('the caps are at least 64 KiB and never past what SETTINGS can carry', () => {
    assert.equal(nodeHeaderCap(1), 65_536);
    assert.ok(nodeHeaderCap(65_536) >= 65_536 * 6.6);
    assert.equal(nodeHeaderCap(2 ** 40), 2 ** 32 - 1);
    assert.ok(nodeFieldCap(2 ** 40) <= 2 ** 31 - 1 + 8);
  });
});

describe('h2 header caps: the verdict does not depend on packet timing', () => {
  for (const tls of [false, true]) {
    it(`${tls ? 'h2' : 'h2c'} first request of a fresh connection, 400 fields over a 1 000-byte limit: headers-too-large, requestSent true, the connection reused`, T, async () => {
      for (let i = 0; i < 3; i++) {
        const r = await rig({ h2: { onConnection: (c) => c.socket.setNoDelay(true) }, tls }, { maxResponseHeaderBytes: 1000 });
        try {
          const e = protocol(await settle(r.client, r.fs.url('/h2/many-headers?count=400')), 'headers-too-large');
          assert.equal(e.requestSent, true);
          assert.match(e.message, /exceeds 1000 bytes/);
          ok(await settle(r.client, r.fs.url('/ok')));
          assert.equal(r.fs.connections, 1);
        } finally {
          await r.close();
        }
      }
    });
  }

  it('a head past node\'s own caps fails its stream only, at once, and the connection is reused', T, async () => {
    // Node resets such a stream itself; the code it carries depends on timing (SPEC §13):
    // ENHANCE_YOUR_CALM reads as headers-too-large, INTERNAL_ERROR as the peer's reset.
    const r = await rig({ h2: true }, { maxResponseHeaderBytes: 1000 });
    try {
      const s = await settle(r.client, r.fs.url('/h2/many-headers?count=3000'));
      const e = s.err as { reason?: string; h2Code?: number } | null;
      assert.ok(e !== null, 'the request failed');
      assert.ok(s.ms < 1000, `settled after ${Math.round(s.ms)} ms`);
      assert.ok(e.reason === 'headers-too-large' || (e.reason === 'stream-reset' && e.h2Code === 2), `got ${e.reason} ${e.h2Code}`);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});
