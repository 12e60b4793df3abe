// Fifth outside attack (issue #16), N1: a connection-level violation read in the same read
// right after a DATA, SETTINGS or GOAWAY(NO_ERROR) frame (or after a head and a DATA frame)
// was not seen: nghttp2 answers it with its own GOAWAY and stops reading, node says nothing,
// and the probe (h2/probe.ts) had counted the whole read as accounted for by the frame
// reported before the violation. The open body hung until read-idle, the dead session stayed
// idle in the pool, and the next request waited pingTimeout on it. SPEC §13: "A frame that
// breaks RFC 9113 at connection level fails its open streams with h2-protocol-error".
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/index.js';
import { dataFrame, frame, FrameType, goawayFrame, settingsFrame, Setting } from '../../src/testing/h2-wire.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 30_000 };

const VIOLATIONS: Record<string, (sid: number) => Buffer> = {
  'frame-too-large': (sid) => frame(FrameType.DATA, 0, sid, Buffer.alloc(20_000)),
  'data-idle-stream': (sid) => frame(FrameType.DATA, 0, sid + 100, Buffer.from('x')),
  'data-on-0': () => frame(FrameType.DATA, 0, 0, Buffer.from('x')),
  'ping-bad-length': () => frame(FrameType.PING, 0, 0, Buffer.from('abc')),
  'settings-bad-length': () => frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7)),
  'hpack-garbage': (sid) => frame(FrameType.HEADERS, 5, sid, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])),
};

/** `:status 200` (HPACK static index 8), END_HEADERS. */
const head = (sid: number): Buffer => frame(FrameType.HEADERS, 4, sid, Buffer.from([0x88]));

const PRE: Record<string, { first: (sid: number) => Buffer | null; then: (sid: number) => Buffer }> = {
  data: { first: head, then: (sid) => dataFrame(sid, Buffer.from('part'), false) },
  'head+data': { first: () => null, then: (sid) => Buffer.concat([head(sid), dataFrame(sid, Buffer.from('part'), false)]) },
  settings: { first: (sid) => Buffer.concat([head(sid), dataFrame(sid, Buffer.from('part'), false)]), then: () => settingsFrame([[Setting.MAX_CONCURRENT_STREAMS, 100]]) },
  'goaway(NO_ERROR)': { first: (sid) => Buffer.concat([head(sid), dataFrame(sid, Buffer.from('part'), false)]), then: (sid) => goawayFrame(sid, 0) },
};

// Sixth attack, M6: `h2.pingInterval: 0` turns off the PING after silence only; the check
// that nghttp2 shut the connection down still runs (it needs a PING to tell).
const CASES: [string, string, number | undefined][] = [
  ...Object.keys(PRE).map((pre): [string, string, number | undefined] => [pre, '', undefined]),
  ['data', ' (h2.pingInterval 0)', 0],
];

describe('h2 adversarial (round 5): N1 a violation read right after a DATA, SETTINGS or GOAWAY frame', () => {
  for (const [pre, label, pingInterval] of CASES) {
    const how = PRE[pre]!;
    it(`after ${pre}${label}: every violation fails the body h2-protocol-error promptly; the next request dials at once`, T, async () => {
      const h2 = pingInterval === undefined ? {} : { h2: { pingInterval } };
      const r = await rig({ h2: true, tls: false }, { maxConnsPerHost: 1, readIdleTimeout: 5000, ...h2 });
      try {
        let mode = '';
        r.fs.h2Route('/v', async (s) => {
          const sid = s.id;
          const first = how.first(sid);
          if (first !== null) {
            await s.conn.write(first);
            await s.sleep(100);
          }
          await s.conn.write(Buffer.concat([how.then(sid), VIOLATIONS[mode]!(sid)]));
          await s.sleep(10_000);
        });
        for (const m of Object.keys(VIOLATIONS)) {
          mode = m;
          const t0 = performance.now();
          const g = await settle(r.client, r.fs.url('/v'));
          const ms = performance.now() - t0;
          const before = r.fs.connections;
          assert.ok(g.err instanceof ProtocolError && g.err.reason === 'h2-protocol-error', `${m}: expected h2-protocol-error, got ${String(g.err)} after ${Math.round(ms)} ms`);
          assert.ok(ms < 2000, `${m}: failed after ${Math.round(ms)} ms (read-idle is 5000)`);
          assert.equal(r.transport.stats().totals.idle, 0, `${m}: the dead connection left the pool`);
          const t1 = performance.now();
          assert.equal(ok(await settle(r.client, r.fs.url('/ok'))), 'ok');
          assert.ok(performance.now() - t1 < 1000, `${m}: the next request waited ${Math.round(performance.now() - t1)} ms`);
          assert.equal(r.fs.connections, before + 1, `${m}: the next request dialed anew`);
        }
      } finally {
        await r.close();
      }
    });
  }
});
