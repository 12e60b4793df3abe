// Black-box HTTP/2 spec suite — the multiplexed pool (SPEC §13, SCENARIOS §6.1): one dial
// for a cold burst, the peer's stream limit, the FIFO pool wait, MAX_CONCURRENT_STREAMS 0.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ok, rig, settle, timedOut } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('spec: pool', () => {
  it('H2-02a ten concurrent GETs to a cold origin: one dial, ten streams in flight together', T, async () => {
    const r = await rig();
    try {
      const all = await Promise.all(Array.from({ length: 10 }, () => settle(r.client, r.fs.url('/delay-headers?ms=200'))));
      for (const g of all) ok(g);
      assert.deepEqual([r.fs.connections, r.fs.h2Connections[0]?.streams], [1, 10]);
    } finally {
      await r.close();
    }
  });

  it('H2-03b MCS=2 after a warm-up: a third concurrent request opens a second connection', T, async () => {
    const r = await rig({ h2: { maxConcurrentStreams: 2 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const all = await Promise.all(Array.from({ length: 3 }, () => settle(r.client, r.fs.url('/delay-headers?ms=300'))));
      for (const g of all) ok(g);
      assert.deepEqual(r.fs.h2Connections.map((c) => c.streams), [3, 1]);
      assert.equal(r.fs.h2Stats().resetsReceived, 0);
    } finally {
      await r.close();
    }
  });

  it('H2-03c MCS=1: three sequential requests on one connection', T, async () => {
    const r = await rig({ h2: { maxConcurrentStreams: 1 } });
    try {
      for (let i = 0; i < 3; i++) ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-04 MCS=1, maxConnsPerHost 1: C waits FIFO and gets the slot when A ends (b), or fails at poolTimeout with nothing sent (c)', T, async () => {
    const r = await rig({ h2: { maxConcurrentStreams: 1 } }, { maxConnsPerHost: 1, poolTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const [a, c] = await Promise.all([settle(r.client, r.fs.url('/delay-headers?ms=100')), settle(r.client, r.fs.url('/ok'))]);
      ok(a);
      ok(c);
      assert.equal(r.fs.connections, 1);
      const held = settle(r.client, r.fs.url('/never'), { timeout: 2000 });
      await r.fs.waitForRequests(4);
      const waited = await settle(r.client, r.fs.url('/ok'));
      timedOut(waited, 'pool', false, 300);
      assert.equal(r.fs.requests.length, 4, 'no HEADERS for the waiter');
      await held;
    } finally {
      await r.close();
    }
  });

  it('H2-05a the peer drops to MCS=0: the next request never gets a stream and fails at poolTimeout', T, async () => {
    const r = await rig({ h2: true }, { maxConnsPerHost: 1, poolTimeout: 300 });
    try {
      ok(await settle(r.client, r.fs.url('/h2/settings?mcs=0')));
      const g = await settle(r.client, r.fs.url('/ok'));
      timedOut(g, 'pool', false, 300);
      assert.equal(r.fs.requests.length, 1);
    } finally {
      await r.close();
    }
  });

  it('H2-05b MCS=0 after each request, unlimited connections: twelve requests in bursts of four all settle', T, async () => {
    const r = await rig({ h2: true }, { poolTimeout: 2000 });
    try {
      for (let burst = 0; burst < 3; burst++) {
        const all = await Promise.all(Array.from({ length: 4 }, () => settle(r.client, r.fs.url('/h2/settings?mcs=0'))));
        for (const g of all) assert.ok(g.err === null || g.ms < 2000 + 400, 'settled');
      }
      assert.ok(r.fs.connections <= 12, `connections ${r.fs.connections}`);
    } finally {
      await r.close();
    }
  });
});
