// HTTP/2 connections with no open stream are idle connections (SPEC §6, §13): they count
// toward maxIdleConns and maxIdleConnsPerHost as HTTP/1.1 ones do, with the same LRU
// eviction across both protocols; a stream taken again makes one active (issue #16 F4,
// twelfth attack: 10 h2 origins under maxIdleConns 5 kept 10 idle connections).
import * as assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, Transport, type TransportOptions } from '../../src/index.js';
import { FaultServer, type FaultServerOptions } from '../../src/testing/index.js';

const T = { timeout: 10_000 };

const servers: FaultServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function start(n: number, opts: FaultServerOptions = { h2: true }): Promise<FaultServer[]> {
  const out: FaultServer[] = [];
  for (let i = 0; i < n; i++) out.push(await FaultServer.start(opts));
  servers.push(...out);
  return out;
}

function transport(opts: TransportOptions): { t: Transport; client: Client } {
  const t = new Transport({ tls: { ca: servers[0]?.ca }, ...opts });
  return { t, client: new Client({ transport: t }) };
}

async function get(client: Client, url: string): Promise<void> {
  const res = await client.request(url, { timeout: 3000 });
  assert.equal(res.status, 200);
  await res.text();
}

/** Waits (≤ 2 s) until `cond` holds, then asserts it with `what`. */
async function until(cond: () => boolean, what: () => string): Promise<void> {
  const end = Date.now() + 2000;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what());
}

const open = (fs: FaultServer[]): number[] => fs.map((s) => s.openSockets);

describe('h2 idle limits (SPEC §6, §13)', () => {
  it('maxIdleConns across HTTP/2 origins: the least recently used are closed, the server sees it', T, async () => {
    const fs = await start(6);
    const { t, client } = transport({ maxIdleConns: 3 });
    try {
      for (const s of fs) await get(client, s.url('/ok'));
      await until(() => open(fs).join() === '0,0,0,1,1,1', () => `server-side open sockets ${open(fs).join()}`);
      assert.equal(t.stats().totals.idle, 3);
      assert.equal(t.stats().totals.active, 0);
      // An evicted origin dials anew and succeeds; the least recently used now goes.
      await get(client, fs[0]!.url('/ok'));
      assert.equal(fs[0]!.connections, 2);
      await until(() => open(fs).join() === '1,0,0,0,1,1', () => `server-side open sockets ${open(fs).join()}`);
      assert.deepEqual(
        [t.stats().totals.idle, fs.map((s) => s.connections).join()],
        [3, '2,1,1,1,1,1'],
      );
    } finally {
      await client.close();
    }
  });

  it('the most recently used survive: a reused connection moves to the back of the LRU', T, async () => {
    const [a, b, c] = await start(3);
    const { t, client } = transport({ maxIdleConns: 2 });
    try {
      await get(client, a!.url('/ok'));
      await get(client, b!.url('/ok'));
      await get(client, a!.url('/ok')); // a is now the most recently used
      await get(client, c!.url('/ok'));
      await until(() => open([a!, b!, c!]).join() === '1,0,1', () => `server-side open sockets ${open([a!, b!, c!]).join()}`);
      assert.deepEqual([a!.connections, b!.connections, c!.connections, t.stats().totals.idle], [1, 1, 1, 2]);
    } finally {
      await client.close();
    }
  });

  it('maxIdleConnsPerHost: a server allowing 1 stream and parallel requests leave 2 idle connections', T, async () => {
    const [s] = await start(1, { h2: { maxConcurrentStreams: 1 } });
    const { t, client } = transport({ maxIdleConnsPerHost: 2 });
    try {
      await Promise.all(Array.from({ length: 8 }, () => get(client, s!.url('/delay-headers?ms=200'))));
      assert.ok(s!.connections > 2, `connections made: ${s!.connections}`);
      await until(() => s!.openSockets === 2, () => `server-side open sockets ${s!.openSockets} of ${s!.connections}`);
      assert.deepEqual(t.stats().totals, { active: 0, idle: 2, dialing: 0, waiting: 0, streams: 0 });
      const made = s!.connections;
      await get(client, s!.url('/ok'));
      assert.equal(s!.connections, made, 'an idle connection kept is reused');
    } finally {
      await client.close();
    }
  });

  it('a connection that takes a stream again is not idle: it is not evicted, and counts once it is idle again', T, async () => {
    const [a, b] = await start(2);
    const { t, client } = transport({ maxIdleConns: 1 });
    try {
      await get(client, a!.url('/ok'));
      assert.deepEqual([t.stats().totals.idle, t.stats().totals.active], [1, 0]);
      const slow = get(client, a!.url('/delay-headers?ms=300'));
      await a!.waitForRequests(2);
      assert.deepEqual([t.stats().totals.idle, t.stats().totals.active], [0, 1]);
      await get(client, b!.url('/ok')); // idle: 1 (b), within the limit; a is busy
      assert.deepEqual(open([a!, b!]).join(), '1,1');
      await slow; // a idle again: 2 > 1, b (least recently used) goes
      await until(() => open([a!, b!]).join() === '1,0', () => `server-side open sockets ${open([a!, b!]).join()}`);
      assert.deepEqual([t.stats().totals.idle, a!.connections], [1, 1]);
    } finally {
      await client.close();
    }
  });

  it('a request aborted after it got the connection, before its stream opened, leaves the connection idle (its lease returns)', T, async () => {
    const [a] = await start(1);
    const { t, client } = transport({ maxIdleConns: 1 });
    try {
      await get(client, a!.url('/ok'));
      const ac = new AbortController();
      await assert.rejects(client.request(a!.url('/ok'), { signal: ac.signal, trace: { gotConn: () => ac.abort() } }));
      await until(() => t.stats().totals.idle === 1, () => `stats ${JSON.stringify(t.stats().totals)}`);
      assert.deepEqual(t.stats().totals, { active: 0, idle: 1, dialing: 0, waiting: 0, streams: 0 });
      await get(client, a!.url('/ok'));
      assert.equal(a!.connections, 1);
    } finally {
      await client.close();
    }
  });

  it('HTTP/1.1 and HTTP/2 idle connections count together under maxIdleConns, in one LRU', T, async () => {
    const [h1] = await start(1, {});
    const [p, q] = await start(2);
    const all = [h1!, p!, q!];
    const { t, client } = transport({ maxIdleConns: 2 });
    try {
      await get(client, h1!.url('/ok'));
      await get(client, p!.url('/ok'));
      await get(client, q!.url('/ok')); // three idle: the HTTP/1.1 one is the oldest
      await until(() => open(all).join() === '0,1,1', () => `server-side open sockets ${open(all).join()}`);
      assert.equal(t.stats().totals.idle, 2);
      await get(client, h1!.url('/ok')); // dials anew; now the HTTP/2 connection to p is the oldest
      await until(() => open(all).join() === '1,0,1', () => `server-side open sockets ${open(all).join()}`);
      assert.deepEqual([t.stats().totals.idle, all.map((s) => s.connections).join()], [2, '2,1,1']);
    } finally {
      await client.close();
    }
  });
});
