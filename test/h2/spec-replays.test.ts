// Black-box HTTP/2 spec suite — replays and resets (SPEC §13, SCENARIOS §6.5, §6.6):
// GOAWAY below streams in flight (NO_ERROR and an error code), GOAWAY on an idle
// connection, REFUSED_STREAM once / always / with a stream body, RST_STREAM before the
// head, mid-body and after a complete response, and no retry storm.
import { Readable } from 'node:stream';
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { H2Code } from '../../src/testing/index.js';
import { eventually, ok, protocol, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('spec: GOAWAY', () => {
  it('H2-24a GOAWAY(last=3, NO_ERROR) with streams 1,3,5,7 in flight: 1 and 3 complete, 5 and 7 replay once on a new connection', T, async () => {
    const r = await rig();
    try {
      r.fs.h2Route('/burst', async (s) => {
        if (s.conn.id === 1) {
          await s.conn.waitForStreams(4);
          if (s.id === 7) {
            await s.conn.goaway(3, H2Code.NO_ERROR);
            s.conn.closeWhenDrained();
          }
          await s.sleep(100);
        }
        const body = await s.readBody();
        await s.respond(200, {}, `c${s.conn.id} ${body.toString()}`);
      });
      const all = await Promise.all([
        settle(r.client, r.fs.url('/burst')),
        settle(r.client, r.fs.url('/burst'), { method: 'POST', body: 'three' }),
        settle(r.client, r.fs.url('/burst')),
        settle(r.client, r.fs.url('/burst'), { method: 'POST', body: 'payload' }),
      ]);
      assert.deepEqual(all.map((g) => ok(g)), ['c1 ', 'c1 three', 'c2 ', 'c2 payload']);
      assert.deepEqual(r.fs.h2Connections.map((c) => c.streams), [4, 2]);
      assert.equal(r.fs.requests.filter((q) => q.body.toString() === 'payload' && q.connectionId === 2).length, 1);
      await r.fs.waitForClose(1, 2000);
    } finally {
      await r.close();
    }
  });

  it('H2-24b a stream body above last-stream-id is not replayed: it fails with requestSent', T, async () => {
    const r = await rig();
    try {
      r.fs.h2Route('/burst', async (s) => {
        if (s.conn.id === 1) {
          await s.conn.waitForStreams(2);
          if (s.id === 3) await s.conn.goaway(1, H2Code.NO_ERROR);
          await s.sleep(50);
        }
        await s.readBody();
        await s.respond(200, {}, 'ok');
      });
      const [a, b] = await Promise.all([
        settle(r.client, r.fs.url('/burst')),
        settle(r.client, r.fs.url('/burst'), { method: 'POST', body: Readable.from([Buffer.from('streamed')]) }),
      ]);
      ok(a);
      assert.ok(b.err !== null, 'not replayed');
      assert.equal((b.err as { requestSent?: boolean }).requestSent, true);
    } finally {
      await r.close();
    }
  });

  it('H2-25a GOAWAY(last=1, INTERNAL_ERROR) mid-body: stream 1 fails h2-protocol-error h2Code 2, stream 3 replays', T, async () => {
    const r = await rig();
    try {
      r.fs.h2Route('/mid', async (s) => {
        if (s.conn.id !== 1) return s.respond(200, {}, 'replayed');
        if (s.id === 1) {
          await s.headers(200, { 'content-length': '100' });
          await s.data('abc');
          await s.conn.waitForStreams(2);
          await s.sleep(30);
          await s.conn.goaway(1, H2Code.INTERNAL_ERROR, 'overload');
          await s.sleep(30);
          await s.conn.end();
        }
        return s.stall();
      });
      const [a, b] = await Promise.all([settle(r.client, r.fs.url('/mid')), settle(r.client, r.fs.url('/mid'))]);
      protocol(a, 'h2-protocol-error', 2);
      assert.equal(ok(b), 'replayed');
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });

  it('H2-25c every connection answers with GOAWAY(last=0, ENHANCE_YOUR_CALM): one replay, then h2Code 11, fast', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/h2/goaway?last=0&code=11'));
      assert.ok(g.err !== null);
      assert.equal((g.err as { h2Code?: number }).h2Code, 11);
      assert.ok(g.ms < 1500, `${Math.round(g.ms)} ms`);
      assert.ok(r.fs.connections <= 2, `connections ${r.fs.connections}`);
    } finally {
      await r.close();
    }
  });

  it('H2-26a GOAWAY on an idle connection: the client closes it; the next GET uses a new connection', T, async () => {
    const r = await rig();
    try {
      ok(await settle(r.client, r.fs.url('/h2/goaway-idle?wait=10')));
      await new Promise((res) => setTimeout(res, 60));
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 2);
      assert.equal(r.fs.h2Connections[1]!.streams, 1);
      await r.fs.waitForClose(1, 1000);
    } finally {
      await r.close();
    }
  });

  it('H2-27a a GOAWAY(NO_ERROR) while a body streams: the body completes, no new stream goes to that connection', T, async () => {
    const r = await rig();
    try {
      r.fs.h2Route('/slow', async (s) => {
        await s.headers(200, {});
        await s.data('a');
        await s.conn.goaway(s.id, H2Code.NO_ERROR);
        // A PING after the GOAWAY: its ACK proves the client has read the GOAWAY
        // (frames are processed in order), so the next request is no race with it.
        await s.conn.ping();
        await s.sleep(200);
        await s.data('bc', { end: true });
      });
      const slow = settle(r.client, r.fs.url('/slow'));
      await r.fs.waitForRequests(1);
      assert.ok(await eventually(() => r.fs.h2Connections[0]!.pingAcksReceived >= 1), 'the PING after the GOAWAY is ACKed');
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(ok(await slow), 'abc');
      assert.deepEqual(r.fs.h2Connections.map((c) => c.streams), [1, 1]);
    } finally {
      await r.close();
    }
  });
});

describe('spec: REFUSED_STREAM and RST_STREAM', () => {
  it('H2-29a refused once: GET and POST succeed after one replay on the same connection, the body read once', T, async () => {
    // One rig each: two refusals on one connection retire it (OkHttp counts per connection).
    for (const [init, body] of [[{}, 'ok 0'], [{ method: 'POST', body: 'payload' }, 'ok 7']] as const) {
      const r = await rig();
      try {
        assert.equal(ok(await settle(r.client, r.fs.url('/h2/refuse?times=1'), init)), body);
        assert.deepEqual([r.fs.connections, r.fs.h2Stats().streams], [1, 2]);
        assert.equal(r.fs.requests[1]!.body.toString(), 'method' in init ? 'payload' : '');
      } finally {
        await r.close();
      }
    }
  });

  it('H2-29b refused always: the second refusal surfaces stream-refused h2Code 7; two streams in all; the next request works', T, async () => {
    const r = await rig();
    try {
      protocol(await settle(r.client, r.fs.url('/h2/refuse?times=always')), 'stream-refused', 7);
      assert.equal(r.fs.h2Stats().streams, 2);
      ok(await settle(r.client, r.fs.url('/ok')));
    } finally {
      await r.close();
    }
  });

  it('H2-29d a refused stream body is not replayed: stream-refused h2Code 7, one stream', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/h2/refuse'), { method: 'POST', body: Readable.from([Buffer.from('streamed')]) });
      protocol(g, 'stream-refused', 7);
      assert.equal(r.fs.h2Stats().streams, 1);
    } finally {
      await r.close();
    }
  });

  for (const code of [1, 2, 8, 11]) {
    it(`H2-30a RST_STREAM(${code}) before the head: stream-reset h2Code ${code}, requestSent, not retried`, T, async () => {
      const r = await rig();
      try {
        const e = protocol(await settle(r.client, r.fs.url(`/h2/rst?code=${code}`)), 'stream-reset', code);
        assert.equal((e as { requestSent?: boolean }).requestSent, true);
        assert.equal(r.fs.h2Stats().streams, 1);
      } finally {
        await r.close();
      }
    });

    it(`H2-30b RST_STREAM(${code}) after the head and \`abc\`: the body read fails stream-reset`, T, async () => {
      const r = await rig();
      try {
        const g = await settle(r.client, r.fs.url(`/h2/rst?code=${code}&after=3`));
        assert.equal(g.res?.status, 200);
        protocol(g, 'stream-reset', code);
        ok(await settle(r.client, r.fs.url('/ok')));
        assert.equal(r.fs.connections, 1);
      } finally {
        await r.close();
      }
    });
  }

  it('H2-30c RST_STREAM(NO_ERROR) after a complete response is not an error', T, async () => {
    const r = await rig();
    try {
      assert.equal(ok(await settle(r.client, r.fs.url('/h2/rst?complete=1'))), 'complete');
    } finally {
      await r.close();
    }
  });

  it('H2-31b refusing every stream: exactly two attempts, settled within milliseconds, no reconnect loop', T, async () => {
    const r = await rig();
    try {
      const g = await settle(r.client, r.fs.url('/h2/refuse?times=always'));
      assert.ok(g.err !== null && g.ms < 1000);
      assert.ok(await eventually(() => r.fs.h2Stats().streams === 2, 300));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});
