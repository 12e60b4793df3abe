/**
 * tls-sessions.test — TLS session resumption (`maxCachedSessions`): a transport's next
 * connection to a server it spoke TLS with resumes the session (the server says so:
 * `isSessionReused()`), over TLS 1.3 and 1.2, HTTP/1.1 and HTTP/2; never across TLS
 * options (a session from an unverified handshake is not offered to a verifying one),
 * never with `maxCachedSessions: 0`, never over the caller's own `session`; a failed
 * handshake forgets what it offered; the cache is bounded and least recently used.
 */

import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import * as tls from 'node:tls';
import { Client, ConnectError, Transport, type TransportOptions } from '../src/index.js';
import { CA_CERT, SERVER_CERTS } from '../src/testing/certs.js';
import { sessionKey, TlsSessionCache } from '../src/tls-sessions.js';
import { upgradeToTls } from '../src/tls.js';
import { Dialer } from '../src/dial/index.js';

const T = { timeout: 15_000 };
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

interface Server {
  port: number;
  /** `isSessionReused()` of every connection, in order of their handshakes. */
  reused: boolean[];
  close(): Promise<void>;
}

/**
 * A TLS server on 127.0.0.1 answering every request with a 2-byte body and closing (so
 * every request of a client dials anew). `reject` closes the connection of handshake n
 * (0-based) before it completes: a server that failed mid-handshake.
 */
async function server(t: TestContext, extra: tls.TlsOptions = {}, reject = -1): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const state: Server = { port: 0, reused: [], close: async () => {} };
  let n = 0;
  const srv = tls.createServer({ ...SERVER_CERTS.localhost, ALPNProtocols: ['http/1.1'], ...extra }, (s) => {
    state.reused.push(s.isSessionReused());
    s.on('error', () => {});
    s.once('data', () => s.end(RESPONSE));
  });
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    if (n++ === reject) s.destroy();
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  state.port = (srv.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    });
  t.after(() => state.close());
  return state;
}

function client(t: TestContext, opts: TransportOptions): Client {
  const c = new Client({ transport: new Transport({ disableKeepAlives: true, ...opts }) });
  t.after(() => c.close());
  return c;
}

async function get(c: Client, port: number): Promise<void> {
  const res = await c.request(`https://localhost:${port}/`);
  assert.equal(await res.text(), 'ok');
}

/** Up to `ms` for the server to have seen `n` handshakes (its callback runs after the client's). */
async function handshakes(s: Server, n: number, ms = 2000): Promise<boolean[]> {
  const end = Date.now() + ms;
  while (s.reused.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return s.reused;
}

describe('TLS session resumption', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`a new connection to the same server resumes the session (${version})`, T, async (t) => {
      const s = await server(t, { minVersion: version, maxVersion: version });
      const c = client(t, { tls: { ca: CA_CERT } });
      for (let i = 0; i < 4; i++) await get(c, s.port);
      assert.deepEqual(await handshakes(s, 4), [false, true, true, true]);
    });
  }

  it('maxCachedSessions: 0 keeps none: every connection is a full handshake', T, async (t) => {
    const s = await server(t);
    const c = client(t, { tls: { ca: CA_CERT }, maxCachedSessions: 0 });
    for (let i = 0; i < 3; i++) await get(c, s.port);
    assert.deepEqual(await handshakes(s, 3), [false, false, false]);
  });

  it('a session made without verification is never offered to a verifying handshake', T, async (t) => {
    const s = await server(t);
    const unverified: tls.ConnectionOptions = { rejectUnauthorized: false };
    const verified: tls.ConnectionOptions = { ca: CA_CERT };
    let verify = false;
    const c = client(t, { tls: () => (verify ? verified : unverified) });
    await get(c, s.port);
    verify = true;
    await get(c, s.port); // full: the unverified session is not this handshake's
    await get(c, s.port); // resumes the verified one
    verify = false;
    await get(c, s.port); // resumes the unverified one, kept apart
    assert.deepEqual(await handshakes(s, 4), [false, false, true, true]);
  });

  it('another server name or port never gets the session', T, async (t) => {
    const a = await server(t);
    const b = await server(t);
    const c = client(t, { tls: { ca: CA_CERT } });
    await get(c, a.port);
    await get(c, b.port);
    // Same port, another name that the certificate also covers (127.0.0.1 is in its SAN).
    const res = await c.request(`https://127.0.0.1:${a.port}/`);
    assert.equal(await res.text(), 'ok');
    assert.deepEqual(await handshakes(a, 2), [false, false]);
    assert.deepEqual(await handshakes(b, 1), [false]);
  });

  it("the caller's own session option is used as given, never replaced", T, async (t) => {
    const s = await server(t);
    // A session from a plain node:tls connection to the same server.
    const own = await new Promise<Buffer>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ca: CA_CERT });
      sock.once('session', (x: Buffer) => resolve(x));
      sock.once('secureConnect', () => sock.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      sock.on('data', () => {});
      sock.on('error', reject);
    });
    const c = client(t, { tls: { ca: CA_CERT, session: own } });
    await get(c, s.port);
    await get(c, s.port);
    // The first handshake of node:tls was full; both of the client's resume the caller's.
    assert.deepEqual(await handshakes(s, 3), [false, true, true]);
  });

  it('a failed handshake forgets the session it offered; the next connection is full, then resumes again', T, async (t) => {
    const s = await server(t, {}, 1);
    const c = client(t, { tls: { ca: CA_CERT } });
    await get(c, s.port);
    await assert.rejects(get(c, s.port), (err: unknown) => err instanceof ConnectError);
    await get(c, s.port);
    await get(c, s.port);
    assert.deepEqual(await handshakes(s, 3), [false, false, true]);
  });

  it('HTTP/2 connections resume too (the ALPN offer is part of the key)', T, async (t) => {
    const reused: boolean[] = [];
    const srv = http2.createSecureServer({ ...SERVER_CERTS.localhost, allowHTTP1: false });
    srv.on('secureConnection', (s: tls.TLSSocket) => reused.push(s.isSessionReused()));
    srv.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    t.after(() => new Promise<void>((r) => srv.close(() => r())));
    const c = new Client({ transport: new Transport({ tls: { ca: CA_CERT } }) });
    t.after(() => c.close());
    for (let i = 0; i < 3; i++) {
      const res = await c.request(`https://localhost:${port}/`);
      assert.equal(res.httpVersion, '2');
      assert.equal(await res.text(), 'ok');
      c.transport.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 20));
    }
    const end = Date.now() + 2000;
    while (reused.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(reused, [false, true, true]);
  });
});

describe('TlsSessionCache', () => {
  const s = (n: number): Buffer => Buffer.from([n]);

  it('keeps at most max sessions, dropping the least recently used', () => {
    const c = new TlsSessionCache(2);
    c.set('a', s(1));
    c.set('b', s(2));
    assert.deepEqual(c.get('a'), s(1)); // a is now the most recent
    c.set('c', s(3));
    assert.equal(c.size, 2);
    assert.equal(c.get('b'), undefined);
    assert.deepEqual(c.get('a'), s(1));
    assert.deepEqual(c.get('c'), s(3));
  });

  it('keeps the newest session per key, forgets on delete; close() forgets all and keeps none after; 0 keeps none', () => {
    const c = new TlsSessionCache(4);
    c.set('a', s(1));
    c.set('a', s(2));
    assert.equal(c.size, 1);
    assert.deepEqual(c.get('a'), s(2));
    c.delete('a');
    assert.equal(c.get('a'), undefined);
    c.set('b', s(3));
    c.close();
    assert.equal(c.size, 0);
    c.set('b', s(4)); // a ticket arriving after the transport closed
    assert.equal(c.size, 0);
    assert.equal(c.enabled, false);
    const none = new TlsSessionCache(0);
    none.set('a', s(1));
    assert.equal(none.enabled, false);
    assert.equal(none.size, 0);
  });

  it('keys differ by route, server name, socket path, port, ALPN offer and options', () => {
    const site = { route: '', servername: 'a.test', port: 443, socketPath: undefined, alpn: ['http/1.1'], optionsKey: 'k' };
    const others = [
      { route: 'proxy' },
      { route: 'via https://a.test:443' },
      { route: 'via http://a.test:443' },
      { servername: 'b.test' },
      { port: 444 },
      { socketPath: '/tmp/s' },
      { alpn: ['h2', 'http/1.1'] },
      { optionsKey: 'j' },
    ].map((change) => sessionKey({ ...site, ...change }));
    assert.equal(new Set([sessionKey(site), ...others]).size, others.length + 1);
  });

  it('upgradeToTls forgets the offered session when the handshake fails', T, async (t) => {
    const s = await server(t, {}, 1);
    const cache = new TlsSessionCache(8);
    const dialer = new Dialer();
    const opts = { ca: CA_CERT };
    const up = async (): Promise<void> => {
      const socket = await dialer.dial({ host: '127.0.0.1', port: s.port });
      const ts = await upgradeToTls({ socket, servername: 'localhost', port: s.port, options: opts, sessions: cache });
      ts.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await new Promise((r) => ts.once('close', r).resume());
    };
    await up();
    assert.equal(cache.size, 1, 'the first handshake left its session');
    await assert.rejects(up(), (err: unknown) => err instanceof ConnectError);
    assert.equal(cache.size, 0, 'the failed handshake forgot the session it offered');
  });
});
