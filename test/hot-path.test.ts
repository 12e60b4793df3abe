// Guards of the request hot path, found against nginx (bench/results/nginx-investigation.md):
// request writes wait for the end of the event-loop turn (so a turn that reads many
// responses does not interleave a write between every read), every request costs one
// write syscall, and a TLS connection is reusable as soon as its whole request is in the
// socket's queue (not only after the write callback, which TLS reports late). None of
// these is timing-based: syscalls are counted from /proc/self/io (Linux), connections on
// the server side. The TLS case needs a server quicker than the write callback (nginx, in
// its own process); an in-process node:tls server never answers that fast.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { Client, Transport, type TransportOptions } from '../src/index.js';
import { nginxSkipReason, startNginx } from './helpers/nginx.js';

const LINUX = process.platform === 'linux';
const T = { timeout: 30_000 };
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok';

/** Write syscalls this process made so far (Linux). */
function writeSyscalls(): number {
  const m = /syscw: (\d+)/.exec(readFileSync('/proc/self/io', 'latin1'));
  return Number(m![1]);
}

/** A keep-alive server answering every request head at once; counts connections and requests. */
async function server(t: TestContext): Promise<{ port: number; accepts: () => number; requests: () => number }> {
  let accepts = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const onConn = (s: net.Socket): void => {
    accepts++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let pending = '';
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let i: number;
      let out = '';
      while ((i = pending.indexOf('\r\n\r\n')) !== -1) {
        const head = pending.slice(0, i);
        const len = /content-length: (\d+)/i.exec(head);
        const end = i + 4 + (len === null ? 0 : Number(len[1]));
        if (pending.length < end) break;
        pending = pending.slice(end);
        requests++;
        out += RESPONSE;
      }
      if (out !== '') s.write(out);
    });
  };
  const srv = net.createServer(onConn);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  const port = (srv.address() as net.AddressInfo).port;
  return { port, accepts: () => accepts, requests: () => requests };
}

function clientFor(t: TestContext, opts: TransportOptions = {}): Client {
  const transport = new Transport({ maxIdleConnsPerHost: 200, ...opts });
  const client = new Client({ transport });
  t.after(async () => {
    await client.close();
    transport.close();
  });
  return client;
}

/** `inflight` lanes each making `rounds` sequential requests; resolves when all are read. */
async function load(client: Client, url: string, inflight: number, rounds: number, body?: Uint8Array, expect = 'ok'): Promise<void> {
  const lane = async (): Promise<void> => {
    for (let k = 0; k < rounds; k++) {
      const res = await client.request(url, body === undefined ? {} : { method: 'POST', body });
      assert.equal(await res.text(), expect);
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

describe('hot path', () => {
  it('TLS keep-alive against nginx: 10 and 100 in flight dial no connection once warm (reusable once the request is queued)', { ...T, skip: nginxSkipReason() }, async (t) => {
    const ngx = await startNginx({ tls: true, files: false });
    t.after(() => ngx.close());
    for (const inflight of [10, 100]) {
      const client = clientFor(t, { tls: { ca: ngx.ca } });
      await load(client, ngx.url('/small'), inflight, 3, undefined, 'hello, world\n');
      const warm = await ngx.stats();
      await load(client, ngx.url('/small'), inflight, 30, undefined, 'hello, world\n');
      const after = await ngx.stats();
      assert.equal(after.requests - warm.requests, inflight * 30);
      // Before: a response head that came before the TLS write callback closed the connection.
      assert.equal(after.accepts - warm.accepts, 0, `${after.accepts - warm.accepts} new connections at ${inflight} in flight`);
    }
  });

  it('plain keep-alive: 10 in flight use 10 connections', T, async (t) => {
    const srv = await server(t);
    const client = clientFor(t);
    await load(client, `http://127.0.0.1:${srv.port}/`, 10, 50);
    assert.equal(srv.accepts(), 10);
  });

  it('a request is written once the turn ends, in one write syscall (head and body together)', { ...T, skip: LINUX ? undefined : '/proc/self/io is Linux only' }, async (t) => {
    const srv = await server(t);
    const client = clientFor(t);
    const url = `http://127.0.0.1:${srv.port}/`;
    await load(client, url, 1, 1); // the connection is open and idle
    const body = new Uint8Array(512).fill(0x61);
    let atHead = -1;
    let afterHead = -1;
    const w0 = writeSyscalls();
    const p = client.request(url, {
      method: 'POST',
      body,
      trace: {
        wroteHeaders: () => {
          atHead = writeSyscalls();
          // Still this turn (a microtask later): nothing reached the kernel yet.
          queueMicrotask(() => (afterHead = writeSyscalls()));
        },
      },
    });
    assert.equal(await (await p).text(), 'ok');
    assert.equal(atHead, w0, 'the head waits for the end of the turn');
    assert.equal(afterHead, w0, 'still waiting a microtask later');
    // Many requests: one client write each (head and body in one writev), plus the
    // in-process server's one write per response.
    const before = writeSyscalls();
    await load(client, url, 1, 200, body);
    const perRequest = (writeSyscalls() - before) / 200;
    assert.ok(perRequest <= 2.05, `${perRequest} writes per request (client and server)`);
  });

  it('a small body received whole costs no FinalizationRegistry cell; a large unread one still is watched', T, async (t) => {
    const srv = await server(t);
    const client = clientFor(t);
    const url = `http://127.0.0.1:${srv.port}/`;
    await load(client, url, 1, 1);
    const proto = FinalizationRegistry.prototype as { register: (...a: unknown[]) => void };
    const register = proto.register;
    let cells = 0;
    proto.register = function (this: unknown, ...a: unknown[]) {
      cells++;
      return register.apply(this, a);
    };
    t.after(() => {
      proto.register = register;
    });
    await load(client, url, 10, 20);
    assert.equal(cells, 0, `${cells} cells for 200 small bodies`);
    // The counter sees cells: a body still arriving when its head is handed out is watched.
    const big = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
        s.write(Buffer.alloc(1000, 0x61));
      });
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => big.close(() => r())));
    const res = await client.request(`http://127.0.0.1:${(big.address() as net.AddressInfo).port}/`);
    assert.equal(res.status, 200);
    // Watched from the end of the turn that made the Response, if its body is still open then.
    await new Promise((r) => setImmediate(r));
    assert.ok(cells >= 1, 'a partly received body is watched');
    await res.dump(0, 0);
  });

  it('against nginx: one write syscall per request at 10 in flight (GET and 1 KiB POST)', { ...T, skip: LINUX ? nginxSkipReason() : '/proc/self/io is Linux only' }, async (t) => {
    const ngx = await startNginx({ files: false });
    t.after(() => ngx.close());
    const client = clientFor(t);
    await load(client, ngx.url('/small'), 10, 3, undefined, 'hello, world\n');
    let before = writeSyscalls();
    await load(client, ngx.url('/small'), 10, 50, undefined, 'hello, world\n');
    let perRequest = (writeSyscalls() - before) / 500;
    assert.ok(perRequest <= 1.02, `GET: ${perRequest} writes per request`);
    before = writeSyscalls();
    await load(client, ngx.url('/echo'), 10, 50, new Uint8Array(1024).fill(0x62), 'a'.repeat(1024));
    perRequest = (writeSyscalls() - before) / 500;
    assert.ok(perRequest <= 1.02, `POST: ${perRequest} writes per request`);
  });
});
