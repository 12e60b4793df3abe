// Black-box HTTP/2 spec suite — connection health (SPEC §13 table, SCENARIOS §6.2, §6.4):
// SETTINGS withheld, PINGs unanswered (one stream and ten multiplexed), per-stream
// header and read-idle timeouts that reset only their stream, idle connections.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError } from '../../src/index.js';
import { eventually, ok, rig, settle, SLACK, timedOut } from './spec-helpers.js';

const T = { timeout: 15_000 };
const CANCEL = 8;

describe('spec: health', () => {
  it('H2-08a SETTINGS never arrive: GET and POST fail h2-settings at settingsTimeout, requests sent', T, async () => {
    const r = await rig({ h2: { settingsDelay: 'never' } }, { h2: { settingsTimeout: 300 } });
    try {
      const [g, p] = await Promise.all([
        settle(r.client, r.fs.url('/ok')),
        settle(r.client, r.fs.url('/echo'), { method: 'POST', body: 'hello' }),
      ]);
      timedOut(g, 'h2-settings', true, 300);
      timedOut(p, 'h2-settings', true, 300);
      assert.equal(r.fs.requests.length, 2, 'HEADERS went out without waiting for SETTINGS');
    } finally {
      await r.close();
    }
  });

  it('H2-08 late SETTINGS (before settingsTimeout) are fine', T, async () => {
    const r = await rig({ h2: { settingsDelay: 150 } }, { h2: { settingsTimeout: 1000 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });

  it('H2-09b PINGs never ACKed: a silent stream fails h2-ping at pingInterval + pingTimeout', T, async () => {
    const r = await rig({ h2: { pingAck: false } }, { h2: { pingInterval: 200, pingTimeout: 200 } });
    try {
      const g = await settle(r.client, r.fs.url('/never'));
      timedOut(g, 'h2-ping', true, 400);
      assert.equal(r.fs.h2Connections[0]?.pingsReceived, 1);
    } finally {
      await r.close();
    }
  });

  // SPEC §13: pingTimeout 0 awaits the ACK without bound (adv7): the suspect connection takes
  // no new stream, the next request dials another, and the suspect one closes at
  // idleConnTimeout once its streams have ended — never a hang, never a stream on it.
  it('H2-09d pingTimeout 0 and a PING never ACKed: the next request dials anew; the suspect connection closes at idleConnTimeout', T, async () => {
    const r = await rig({ h2: { pingAck: false } }, { responseHeaderTimeout: 200, idleConnTimeout: 600, h2: { pingInterval: 10_000, pingTimeout: 0 } });
    try {
      timedOut(await settle(r.client, r.fs.url('/never')), 'response-headers', true, 200);
      assert.ok(await eventually(() => (r.fs.h2Connections[0]?.pingsReceived ?? 0) >= 1, 1000), "the suspect PING went out");
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 2, 'the second request went to a new connection');
      assert.equal(r.fs.h2Connections[0]?.streams ?? -1, 1, 'no stream started on the suspect connection');
      const t0 = performance.now();
      assert.ok(await eventually(() => r.fs.h2Connections[0]?.closed === true, 3000), "the suspect connection closed");
      const waited = performance.now() - t0;
      assert.ok(waited < 600 + SLACK, `the suspect connection closed after ${Math.round(waited)} ms`);
    } finally {
      await r.close();
    }
  });

  it('H2-09a PINGs ACKed: the connection lives through silence; pingInterval 0 sends none (c)', T, async () => {
    const r = await rig({ h2: true }, { h2: { pingInterval: 100, pingTimeout: 100 } });
    try {
      const g = await settle(r.client, r.fs.url('/delay-headers?ms=450'));
      ok(g);
      assert.ok((r.fs.h2Connections[0]?.pingsReceived ?? 0) >= 2, `pings ${r.fs.h2Connections[0]?.pingsReceived}`);
    } finally {
      await r.close();
    }
    const r0 = await rig({ h2: true }, { h2: { pingInterval: 0 } });
    try {
      ok(await settle(r0.client, r0.fs.url('/delay-headers?ms=300')));
      assert.equal(r0.fs.h2Connections[0]?.pingsReceived, 0);
    } finally {
      await r0.close();
    }
  });

  it('H2-10 a dead connection with ten streams: all ten fail h2-ping together, the next request dials anew', T, async () => {
    const r = await rig({ h2: true }, { h2: { pingInterval: 200, pingTimeout: 200 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const t0 = performance.now();
      const dead = settle(r.client, r.fs.url('/h2/dead'));
      await r.fs.waitForRequests(2);
      const all = await Promise.all([dead, ...Array.from({ length: 9 }, () => settle(r.client, r.fs.url('/ok')))]);
      for (const g of all) timedOut(g, 'h2-ping', true, 0, 400 + SLACK + 100);
      assert.ok(performance.now() - t0 <= 400 + SLACK + 100);
      const next = await settle(r.client, r.fs.url('/ok'));
      ok(next);
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });

  it('H2-18 responseHeaderTimeout resets only its stream (RST_STREAM CANCEL); the next request reuses the connection', T, async () => {
    const r = await rig({ h2: true }, { responseHeaderTimeout: 300, readIdleTimeout: 3000 });
    try {
      const g = await settle(r.client, r.fs.url('/never'));
      timedOut(g, 'response-headers', true, 300);
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.resetsReceived.some((x) => x.stream === 1 && x.code === CANCEL)));
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  // With maxConnsPerHost 1 (H2-11d) the next request must wait for the ACK; unlimited, it
  // may dial a new connection at once (SCENARIOS §6.11 leaves that open).
  it('H2-11a/d after a stream timeout the connection is suspect: a PING at once; with maxConnsPerHost 1 the next request waits for the ACK and reuses it', T, async () => {
    const r = await rig({ h2: { pingAck: 100 } }, { maxConnsPerHost: 1, responseHeaderTimeout: 300, h2: { pingInterval: 10_000, pingTimeout: 2000 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const a = await settle(r.client, r.fs.url('/never'));
      timedOut(a, 'response-headers', true, 300);
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.pingsReceived === 1, 200), 'a PING at once');
      const b = await settle(r.client, r.fs.url('/ok'));
      ok(b);
      assert.equal(r.fs.connections, 1);
      assert.equal(r.fs.h2Connections[0]!.pingsReceived, 1, 'no second PING while one is outstanding');
    } finally {
      await r.close();
    }
  });

  it('H2-11b a suspect connection whose PING is never ACKed: its streams fail h2-ping, the next request succeeds on a new connection', T, async () => {
    const r = await rig({ h2: true }, { responseHeaderTimeout: 300, h2: { pingInterval: 10_000, pingTimeout: 300 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      r.fs.h2Connections[0]!.pingAck = false;
      const other = settle(r.client, r.fs.url('/never'), { timeout: 3000 });
      const a = await settle(r.client, r.fs.url('/never'));
      timedOut(a, 'response-headers', true, 300);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 2);
      const o = await other;
      assert.ok(o.err !== null, 'the other stream of the dead connection failed');
    } finally {
      await r.close();
    }
  });

  it('H2-19a readIdleTimeout: `abc` arrives, then the body read fails read-idle; the connection serves the next request', T, async () => {
    const r = await rig({ h2: true }, { readIdleTimeout: 300 });
    try {
      const g = await settle(r.client, r.fs.url('/stall-body?after=3&length=10'));
      timedOut(g, 'read-idle', true, 300);
      assert.equal(g.res?.status, 200);
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.resetsReceived.length === 1));
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-19b a drip every T/2 never trips readIdleTimeout T', T, async () => {
    const r = await rig({ h2: true }, { readIdleTimeout: 300 });
    try {
      assert.equal(ok(await settle(r.client, r.fs.url('/drip?bytes=6&interval=150&chunk=1'))).length, 6);
    } finally {
      await r.close();
    }
  });

  it('H2-20a minThroughput fails a slow stream (RST CANCEL) while a fast one on the same connection completes', T, async () => {
    const r = await rig({ h2: true }, { minThroughput: { bytesPerSecond: 1000, window: 500 } });
    try {
      const [slow, fast] = await Promise.all([
        settle(r.client, r.fs.url('/drip?bytes=100&interval=100&chunk=10')),
        settle(r.client, r.fs.url('/bytes?n=1048576')),
      ]);
      timedOut(slow, 'min-throughput', true, 500, 1500 + SLACK);
      assert.equal(ok(fast).length, 1_048_576);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-13 an event stream with data every 700 ms runs 3.5 s: PINGs after each 400 ms of silence, read-idle (1 s) and idleConnTimeout never fire; the abort resets only the stream', T, async () => {
    const r = await rig({ h2: true }, { readIdleTimeout: 1000, idleConnTimeout: 300, h2: { pingInterval: 400, pingTimeout: 1000 } });
    try {
      r.fs.h2Route('/events', async (s) => {
        await s.headers(200, { 'content-type': 'text/event-stream' });
        while (!s.closed) {
          await s.sleep(700);
          await s.data(': ping\n\n');
        }
      });
      const ac = new AbortController();
      const res = await r.client.request(r.fs.url('/events'), { signal: ac.signal });
      const stop = setTimeout(() => ac.abort(new Error('enough')), 3500);
      let text = '';
      const err = await (async () => {
        for await (const chunk of res.body) text += Buffer.from(chunk as Uint8Array).toString();
      })().then(() => null, (e: unknown) => e);
      clearTimeout(stop);
      assert.ok(err instanceof AbortError, `expected AbortError, got ${String(err)}`);
      assert.ok(text.split(': ping').length - 1 >= 4, `events read: ${JSON.stringify(text)}`);
      const conn = r.fs.h2Connections[0]!;
      assert.ok(conn.pingsReceived >= 2, `PINGs ${conn.pingsReceived}`);
      assert.ok(await eventually(() => conn.resetsReceived.some((x) => x.code === CANCEL)), 'RST_STREAM(CANCEL)');
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1, 'the connection stays for the next request');
    } finally {
      await r.close();
    }
  });

  it('H2-12a/b idleConnTimeout: reused within T, closed by the client after T', T, async () => {
    const r = await rig({ h2: true }, { idleConnTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      await new Promise((res) => setTimeout(res, 150));
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
      const info = await r.fs.waitForClose(1, 300 + SLACK + 500);
      assert.equal(info.clientEnded !== null || info.closedAt !== null, true);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });
});
