// Fifth outside attack (issue #16), N4: the suspect connection's PING (SPEC §13) ended on
// any PING ACK, whatever its opaque data (RFC 9113 §6.7: the ACK carries the PING's 8
// bytes). Now an ACK with other data leaves the connection suspect until the right ACK or
// h2.pingTimeout. An ACK beyond those outstanding is a connection error in node's own
// HTTP/2 layer (GOAWAY PROTOCOL_ERROR; no option changes it): the streams say so.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/index.js';
import { pingFrame } from '../../src/testing/h2-wire.js';
import { eventually, ok, rig, settle, SLACK, timedOut } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 5): N4 PING ACKs are matched by their data', () => {
  it('an ACK with other data does not end the suspect state: no stream starts on the connection until pingTimeout closes it', T, async () => {
    const r = await rig({ h2: { pingAck: false }, tls: false }, { maxConnsPerHost: 1, responseHeaderTimeout: 200, h2: { pingInterval: 10_000, pingTimeout: 800 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const c = r.fs.h2Connections[0]!;
      timedOut(await settle(r.client, r.fs.url('/never')), 'response-headers', true, 200);
      assert.ok(await eventually(() => c.pingsReceived === 1, 500), 'the suspect PING');
      const t0 = performance.now();
      await c.write(pingFrame(Buffer.from('XXXXXXXX'), true));
      const b = await settle(r.client, r.fs.url('/ok'));
      ok(b);
      assert.equal(c.streams, 2, 'no stream started on the suspect connection');
      assert.equal(r.fs.connections, 2, 'the request went to a new connection');
      const waited = performance.now() - t0;
      assert.ok(waited >= 800 - 250 - 20 && waited < 800 + SLACK, `waited ${Math.round(waited)} ms for the pingTimeout`);
    } finally {
      await r.close();
    }
  });

  it('an unsolicited PING ACK: node shuts the connection down; the stream in flight says so, the next request works', T, async () => {
    const r = await rig({ h2: true, tls: false });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const c = r.fs.h2Connections[0]!;
      const g = settle(r.client, r.fs.url('/delay-headers?ms=2000'));
      await new Promise((res) => setTimeout(res, 100));
      await c.write(pingFrame(Buffer.from('ZZZZZZZZ'), true));
      const s = await g;
      assert.ok(s.err instanceof ProtocolError, `got ${String(s.err)}`);
      assert.equal(s.err.reason, 'h2-protocol-error');
      assert.equal(s.err.h2Code, 1);
      assert.match(s.err.message, /PING or SETTINGS acknowledgement beyond those outstanding/);
      assert.ok(s.ms < 1000, `failed at ${Math.round(s.ms)} ms`);
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });
});
