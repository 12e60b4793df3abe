// F-A of the fourth outside attack (issue #16): a healthy connection was declared dead by
// the termination probe (h2/probe.ts) and a whole batch of requests failed with a false
// "connection error (GOAWAY sent)" while their HEADERS went out afterwards. Node writes
// what a session submitted from a setImmediate: streams opened in the check phase (where
// a reset stream's failure settles) sat queued when a probe tick came due in the next
// timers phase, and the tick read "queued, nothing written" as a session nghttp2 had shut.
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { TerminationProbe } from '../../src/h2/probe.js';
import { FaultServer } from '../../src/testing/index.js';
import { rig, settle, ok, protocol } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 4): F-A no false connection error from the probe', () => {
  it('a tick in the same turn as a first stream\'s HEADERS does not call the healthy session dead', T, async () => {
    const fs = await FaultServer.start({ h2: true, tls: false });
    const u = new URL(fs.url('/ok'));
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const session = http2.connect(u.origin, { createConnection: () => socket });
    try {
      await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
      await new Promise((r) => setTimeout(r, 20));
      const probe = new TerminationProbe(session, socket, () => 0);
      const st = session.request({ ':path': '/ok' });
      probe.started();
      // Same turn: node has not written the HEADERS yet.
      assert.ok((session.state.outboundQueueSize ?? 0) > 0, 'the HEADERS are still queued');
      assert.equal(probe.tick(), false, 'a healthy session is not declared terminated');
      const body = await new Promise<string>((resolve, reject) => {
        let b = '';
        st.setEncoding('utf8');
        st.on('data', (c: string) => (b += c));
        st.on('end', () => resolve(b));
        st.on('error', reject);
      });
      assert.equal(body, 'ok');
    } finally {
      session.destroy();
      socket.destroy();
      await fs.close();
    }
  });

  it('batches of 100 at the peer\'s stream limit (100), one malformed response in each: only those fail, one connection', T, async () => {
    const r = await rig({ h2: { maxConcurrentStreams: 100 }, tls: false }, { maxConnsPerHost: 1 });
    try {
      for (let b = 0; b < 8; b++) {
        const all = await Promise.all(
          Array.from({ length: 100 }, (_, i) => settle(r.client, r.fs.url(i % 25 === 2 ? '/h2/malformed/uppercase-header' : '/ok'))),
        );
        all.forEach((g, i) => (i % 25 === 2 ? protocol(g, 'h2-protocol-error', 1) : ok(g)));
      }
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('batches of 4 on one connection with one reset stream each: only the reset streams fail', T, async () => {
    const r = await rig({ h2: true, tls: false }, { maxConnsPerHost: 1 });
    try {
      const t0 = performance.now();
      for (let b = 0; b < 25 && performance.now() - t0 < 8_000; b++) {
        const all = await Promise.all([
          settle(r.client, r.fs.url('/ok')),
          settle(r.client, r.fs.url('/h2/rst?code=2')),
          settle(r.client, r.fs.url('/ok')),
          settle(r.client, r.fs.url('/ok')),
        ]);
        protocol(all[1]!, 'stream-reset', 2);
        for (const g of [all[0]!, all[2]!, all[3]!]) ok(g);
      }
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});
