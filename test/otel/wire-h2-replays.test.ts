// The wire channels (src/wire.ts) across HTTP/2 replays (SPEC §13, §14): a stream the
// server did not process — REFUSED_STREAM, or above a GOAWAY's last-stream-id — ends its
// request on the wire with wire:error (the refusal), and its replay is a request on the
// wire of its own: a new wire:start with attempt + 1 and replayOf, wire:connected with
// reused as it really is (true on the refusing connection, false on a fresh one), then
// headers and end — or wire:error when the replay fails too. A subscriber's setHeader
// during the replay's wire:start reaches the server.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Client, ProtocolError, Transport } from '../../src/index.js';
import { FaultServer, H2Code } from '../../src/testing/index.js';

const T = { timeout: 15_000 };
const NAMES = ['wire:start', 'wire:connected', 'wire:headers', 'wire:end', 'wire:error'];

interface Wire {
  attempt: number;
  replayOf: unknown;
  setHeader(name: string, value: string): void;
}
interface Entry {
  name: string;
  msg: { wire: Wire; reused?: boolean; connection?: unknown; error?: unknown };
}

describe('wire channels over HTTP/2 replays', () => {
  let fs: FaultServer;
  let log: Entry[] = [];
  const subs: [string, (m: unknown) => void][] = [];
  const clients: Client[] = [];
  const mk = (server: FaultServer): Client => {
    const c = new Client({ transport: new Transport({ tls: { ca: server.ca } }) });
    clients.push(c);
    return c;
  };

  before(async () => {
    fs = await FaultServer.start({ h2: true });
    for (const n of NAMES) {
      const fn = (m: unknown): void => void log.push({ name: n, msg: m as Entry['msg'] });
      diagnostics.subscribe(`hourglass:${n}`, fn);
      subs.push([`hourglass:${n}`, fn]);
    }
  });
  beforeEach(() => {
    log = [];
  });
  after(async () => {
    for (const [n, fn] of subs) diagnostics.unsubscribe(n, fn);
    for (const c of clients) await c.close();
    await fs.close();
  });

  /** Requests on the wire in start order: their WireRequest and message names. */
  const wires = (): { wire: Wire; names: string[]; msgs: Entry['msg'][] }[] => {
    const by = new Map<Wire, { wire: Wire; names: string[]; msgs: Entry['msg'][] }>();
    for (const e of log) {
      let w = by.get(e.msg.wire);
      if (w === undefined) by.set(e.msg.wire, (w = { wire: e.msg.wire, names: [], msgs: [] }));
      w.names.push(e.name);
      w.msgs.push(e.msg);
    }
    return [...by.values()];
  };
  const connectedOf = (w: { names: string[]; msgs: Entry['msg'][] }): Entry['msg'] => w.msgs[w.names.indexOf('wire:connected')]!;
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

  it('REFUSED_STREAM: the refused request ends with wire:error, the replay is attempt 1 on the same connection (reused)', T, async () => {
    const c = mk(fs);
    assert.equal(await (await c.request(fs.url('/ok'))).text(), 'ok');
    log = [];
    const res = await c.request(fs.url(`/h2/refuse?times=1&k=${Math.random()}`), { method: 'POST', body: 'abc' });
    assert.equal(await res.text(), 'ok 3');
    await settle();
    const [a, b, ...rest] = wires();
    assert.equal(rest.length, 0);
    assert.deepEqual(a!.names, ['wire:start', 'wire:connected', 'wire:error']);
    assert.deepEqual(b!.names, ['wire:start', 'wire:connected', 'wire:headers', 'wire:end']);
    const err = a!.msgs[2]!.error as ProtocolError;
    assert.ok(err instanceof ProtocolError && err.reason === 'stream-refused' && err.h2Code === 7, String(err));
    assert.equal(a!.wire.attempt, 0);
    assert.equal(a!.wire.replayOf, undefined);
    assert.equal(b!.wire.attempt, 1);
    assert.equal(b!.wire.replayOf, a!.wire);
    assert.equal(connectedOf(a!).reused, true);
    assert.equal(connectedOf(b!).reused, true);
    assert.equal(connectedOf(b!).connection, connectedOf(a!).connection);
  });

  it('GOAWAY: the request above last-stream-id ends with wire:error, the replay is attempt 1 on a fresh connection (reused false)', T, async () => {
    const g = await FaultServer.start({ h2: true });
    try {
      g.h2Route('/once', async (s) => {
        if (s.conn.id === 1) {
          await s.conn.goaway(0, H2Code.NO_ERROR);
          return;
        }
        await s.respond(200, {}, `c${s.conn.id}`);
      });
      const c = mk(g);
      assert.equal(await (await c.request(g.url('/once'))).text(), 'c2');
      await settle();
      const [a, b, ...rest] = wires();
      assert.equal(rest.length, 0);
      assert.deepEqual(a!.names, ['wire:start', 'wire:connected', 'wire:error']);
      assert.deepEqual(b!.names, ['wire:start', 'wire:connected', 'wire:headers', 'wire:end']);
      assert.equal((a!.msgs[2]!.error as ProtocolError).reason, 'stream-refused');
      assert.equal(b!.wire.attempt, 1);
      assert.equal(b!.wire.replayOf, a!.wire);
      assert.equal(connectedOf(a!).reused, false);
      assert.equal(connectedOf(b!).reused, false, 'a replay on a new connection is not on a reused one');
      assert.notEqual(connectedOf(b!).connection, connectedOf(a!).connection);
    } finally {
      await g.close();
    }
  });

  it('refused twice: each request on the wire ends with its own wire:error; the second carries the error the caller gets', T, async () => {
    const c = mk(fs);
    const err = await c.request(fs.url('/h2/refuse?times=always')).then(
      () => assert.fail('expected stream-refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProtocolError && err.reason === 'stream-refused', String(err));
    await settle();
    const w = wires();
    assert.deepEqual(
      w.map((x) => x.names),
      [
        ['wire:start', 'wire:connected', 'wire:error'],
        ['wire:start', 'wire:connected', 'wire:error'],
      ],
    );
    assert.equal(w[1]!.msgs[2]!.error, err);
    assert.notEqual(w[0]!.msgs[2]!.error, err);
  });

  it('a header set during the replay\'s wire:start is sent on the replay; the refused request had its own', T, async () => {
    const seen: string[] = [];
    const g = await FaultServer.start({ h2: true });
    const stamp = (m: unknown): void => {
      const { wire } = m as { wire: Wire };
      wire.setHeader('x-attempt', String(wire.attempt));
    };
    diagnostics.subscribe('hourglass:wire:start', stamp);
    try {
      g.h2Route('/r', async (s) => {
        seen.push(s.request.headers['x-attempt'] ?? '-');
        if (seen.length === 1) {
          await s.rst(H2Code.REFUSED_STREAM);
          return;
        }
        await s.respond(200, {}, 'done');
      });
      const c = mk(g);
      assert.equal(await (await c.request(g.url('/r'))).text(), 'done');
      assert.deepEqual(seen, ['0', '1']);
    } finally {
      diagnostics.unsubscribe('hourglass:wire:start', stamp);
      await g.close();
    }
  });

  // Issue #16 (h2-fix6 item 3): the transport's replay is a send the client's retry must count.
  for (const how of ['refuse', 'goaway'] as const) {
    it(`${how} replay, then a status retry (503, then 200): three requests on the wire, attempts 0, 1, 2, each its own start…end/error set`, T, async () => {
      const g = await FaultServer.start({ h2: true });
      try {
        let hits = 0;
        g.h2Route('/seq', async (s) => {
          hits++;
          if (hits === 1) {
            if (how === 'refuse') await s.rst(H2Code.REFUSED_STREAM);
            else await s.conn.goaway(0, H2Code.NO_ERROR);
            return;
          }
          await s.respond(hits === 2 ? 503 : 200, {}, `hit ${hits}`);
        });
        const c = new Client({ transport: new Transport({ tls: { ca: g.ca } }), retry: { limit: 3, statusCodes: [503], backoff: () => 0 } });
        clients.push(c);
        assert.equal(await (await c.request(g.url('/seq'))).text(), 'hit 3');
        await settle();
        const w = wires();
        assert.deepEqual(
          w.map((x) => x.names),
          [
            ['wire:start', 'wire:connected', 'wire:error'],
            ['wire:start', 'wire:connected', 'wire:headers', 'wire:end'],
            ['wire:start', 'wire:connected', 'wire:headers', 'wire:end'],
          ],
        );
        assert.deepEqual(w.map((x) => x.wire.attempt), [0, 1, 2], 'every earlier send counted once');
        assert.equal(w[1]!.wire.replayOf, w[0]!.wire);
        assert.equal(w[2]!.wire.replayOf, undefined);
      } finally {
        await g.close();
      }
    });
  }

  it('a status retry (503), then a refused retry and its replay (503), then 200: attempts 0, 1, 2, 3', T, async () => {
    const g = await FaultServer.start({ h2: true });
    try {
      let hits = 0;
      g.h2Route('/seq', async (s) => {
        hits++;
        if (hits === 2) {
          await s.rst(H2Code.REFUSED_STREAM);
          return;
        }
        await s.respond(hits === 4 ? 200 : 503, {}, `hit ${hits}`);
      });
      const c = new Client({ transport: new Transport({ tls: { ca: g.ca } }), retry: { limit: 3, statusCodes: [503], backoff: () => 0 } });
      clients.push(c);
      assert.equal(await (await c.request(g.url('/seq'))).text(), 'hit 4');
      await settle();
      const w = wires();
      assert.deepEqual(w.map((x) => x.wire.attempt), [0, 1, 2, 3]);
      assert.deepEqual(
        w.map((x) => x.names.at(-1)),
        ['wire:end', 'wire:error', 'wire:end', 'wire:end'],
      );
      for (const x of w) assert.equal(x.names.filter((n) => n === 'wire:start').length, 1);
    } finally {
      await g.close();
    }
  });

  it('a stream body cannot be replayed: one request on the wire, ended by wire:error', T, async () => {
    const c = mk(fs);
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('abc');
    }
    await assert.rejects(c.request(fs.url(`/h2/refuse?times=1&k=${Math.random()}`), { method: 'POST', body: body() }), { reason: 'stream-refused' });
    await settle();
    assert.deepEqual(
      wires().map((x) => x.names),
      [['wire:start', 'wire:connected', 'wire:error']],
    );
  });
});
