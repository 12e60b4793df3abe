// Fifth outside attack (issue #16), N6: one frame node does not surface (a WINDOW_UPDATE,
// PRIORITY, an extension frame) left its bytes unaccounted for in the termination probe
// (h2/probe.ts) for good, so the client PINGed every PROBE_GAP (~500 ms) for as long as a
// stream stayed open — a rate that PING-policing servers answer with GOAWAY. SPEC §13: a
// PING goes out after h2.pingInterval of silence (30 s); the probe may check once.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { H2Connection } from '../../src/testing/index.js';
import { frame, windowUpdateFrame } from '../../src/testing/h2-wire.js';
import { ok, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

const FRAMES: Record<string, Buffer> = {
  'connection WINDOW_UPDATE': windowUpdateFrame(0, 1000),
  'extension frame (type 0x20)': frame(0x20, 0, 0, Buffer.from('hello')),
};

describe('h2 adversarial (round 5): N6 one unreported frame costs one probe PING at most', () => {
  // Sixth attack, M5: a peer that never ACKs (the ACK is pingTimeout's business) got a
  // probe PING every ~500 ms all the same.
  for (const [name, bytes, pingAck] of [
    ...Object.entries(FRAMES).map(([n, b]): [string, Buffer, boolean] => [n, b, true]),
    ['extension frame (type 0x20), PINGs never ACKed,', FRAMES['extension frame (type 0x20)']!, false] as [string, Buffer, boolean],
  ]) {
    it(`a ${name} while a response is awaited for 2 s: at most one PING`, T, async () => {
      const conns: H2Connection[] = [];
      const r = await rig({ h2: { onConnection: (c) => void conns.push(c), pingAck }, tls: false });
      try {
        ok(await settle(r.client, r.fs.url('/ok')));
        const c = conns[0]!;
        const before = c.pingsReceived;
        const g = settle(r.client, r.fs.url('/delay-headers?ms=2000'));
        await new Promise((res) => setTimeout(res, 100));
        await c.write(bytes);
        assert.equal(ok(await g), 'ok');
        assert.ok(c.pingsReceived - before <= 1, `${c.pingsReceived - before} PINGs`);
      } finally {
        await r.close();
      }
    });
  }
});
