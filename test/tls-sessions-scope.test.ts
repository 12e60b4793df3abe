/**
 * tls-sessions-scope.test — where a kept TLS session must NOT be offered, found by an outside
 * attack on resumption (2026-12-07). Node skips `checkServerIdentity` (and the chain is not
 * sent) on a resumed session, so a session offered to the wrong handshake is a certificate
 * check skipped:
 *   - an https proxy's own session, offered to the origin behind it when both have the same
 *     name and port and the same ALPN offer (the origin, sharing the proxy's ticket keys,
 *     resumed it: a certificate for another name was accepted);
 *   - a direct connection's session offered through a proxy, and one proxy's to another
 *     (linkable; kept apart as the pool keeps their connections apart);
 *   - an options object changed after first use (`checkServerIdentity` deleted, `ca`
 *     replaced): the key and the secure context made from it must not stand for it after;
 *   - a ticket arriving after the transport closed must not be kept.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import * as tls from 'node:tls';
import { createRequire } from 'node:module';
import { Client, ConnectError, Transport, type TransportOptions } from '../src/index.js';
import { CA_CERT, SERVER_CERTS, type ServerCertName } from '../src/testing/certs.js';
import type { TlsSessionCache } from '../src/tls-sessions.js';

/** node:tls's exports object (the ESM namespace is read-only): what `tls.connect` reads. */
const tlsExports = createRequire(import.meta.url)('node:tls') as { checkServerIdentity: typeof tls.checkServerIdentity };

const T = { timeout: 15_000 };
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

interface Listening {
  port: number;
  /** `isSessionReused()` of every handshake, in order. */
  reused: boolean[];
}

/** Closes every socket of `srv` and the server itself after the test. */
function track(t: TestContext, srv: net.Server): void {
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  );
}

async function listen(srv: net.Server): Promise<number> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

/** A TLS origin answering one request per connection with `ok`. */
async function origin(t: TestContext, cert: ServerCertName, ticketKeys?: Buffer): Promise<Listening> {
  const reused: boolean[] = [];
  const srv = tls.createServer({ ...SERVER_CERTS[cert], ALPNProtocols: ['http/1.1'], ticketKeys }, (s) => {
    reused.push(s.isSessionReused());
    s.on('error', () => {});
    s.once('data', () => s.end(RESPONSE));
  });
  srv.on('tlsClientError', () => {});
  track(t, srv);
  return { port: await listen(srv), reused };
}

/**
 * A CONNECT proxy that tunnels every request to 127.0.0.1:`to`, whatever it names; over
 * TLS (an https:// proxy with the localhost certificate) when `ticketKeys` is given.
 */
async function proxy(
  t: TestContext,
  to: () => number,
  ticketKeys?: Buffer,
  onConnect?: (head: string) => void,
): Promise<Listening> {
  const reused: boolean[] = [];
  const onSocket = (s: net.Socket): void => {
    s.on('error', () => {});
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      onConnect?.(head);
      const up = net.connect(to(), '127.0.0.1', () => {
        s.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        s.pipe(up).pipe(s);
      });
      up.on('error', () => s.destroy());
      s.on('close', () => up.destroy());
    };
    s.on('data', onData);
  };
  const srv =
    ticketKeys === undefined
      ? net.createServer(onSocket)
      : tls.createServer({ ...SERVER_CERTS.localhost, ALPNProtocols: ['http/1.1'], ticketKeys }, (s) => {
          reused.push(s.isSessionReused());
          onSocket(s);
        });
  srv.on('tlsClientError', () => {});
  track(t, srv);
  return { port: await listen(srv), reused };
}

function client(t: TestContext, opts: TransportOptions): Client {
  const c = new Client({ transport: new Transport({ disableKeepAlives: true, allowH2: false, ...opts }) });
  t.after(() => c.close());
  return c;
}

async function get(c: Client, port: number): Promise<string> {
  const res = await c.request(`https://localhost:${port}/`, { timeout: 5000 });
  return res.text();
}

function rejectsWith(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ConnectError, `a ConnectError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

async function settled(l: Listening, n: number): Promise<boolean[]> {
  const end = Date.now() + 2000;
  while (l.reused.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return l.reused;
}

describe('TLS sessions are never offered to another route or to changed options', () => {
  it("an https proxy's session is not offered to the origin behind it (same name, port, ALPN and ticket keys)", T, async (t) => {
    const keys = randomBytes(48);
    const o = await origin(t, 'wrong-name', keys);
    const p = await proxy(t, () => o.port, keys);
    const c = client(t, { proxy: `https://localhost:${p.port}`, tls: { ca: CA_CERT } });
    // The origin's certificate is not for localhost: every request must fail its check.
    for (let i = 0; i < 3; i++) await assert.rejects(get(c, p.port), rejectsWith('ERR_TLS_CERT_ALTNAME_INVALID'));
    assert.deepEqual(await settled(p, 3), [false, true, true], "the proxy's own session is still resumed");
  });

  it("a direct connection's session is not offered through a proxy, nor one proxy's through another", T, async (t) => {
    const o = await origin(t, 'localhost');
    const p1 = await proxy(t, () => o.port);
    const p2 = await proxy(t, () => o.port);
    let via: number | undefined;
    const c = client(t, {
      tls: { ca: CA_CERT },
      proxy: () => (via === undefined ? null : new URL(`http://127.0.0.1:${via}`)),
    });
    const route = async (port: number | undefined): Promise<void> => {
      via = port;
      assert.equal(await get(c, o.port), 'ok');
    };
    await route(undefined); // full
    await route(p1.port); // full: not the direct one
    await route(p2.port); // full: not p1's
    await route(undefined); // resumed
    await route(p1.port); // resumed
    await route(p2.port); // resumed
    assert.deepEqual(await settled(o, 6), [false, false, false, true, true, true]);
  });

  it('deleting checkServerIdentity from an options object after use: the next handshake checks the name', T, async (t) => {
    const o = await origin(t, 'wrong-name');
    const opts: tls.ConnectionOptions = { ca: CA_CERT, checkServerIdentity: () => undefined };
    const c = client(t, { tls: opts });
    assert.equal(await get(c, o.port), 'ok');
    delete opts.checkServerIdentity;
    await assert.rejects(get(c, o.port), rejectsWith('ERR_TLS_CERT_ALTNAME_INVALID'));
  });

  it("replacing an options object's ca after use: the next handshake trusts only the new one", T, async (t) => {
    const o = await origin(t, 'localhost');
    const opts: tls.ConnectionOptions = { ca: CA_CERT };
    const c = client(t, { tls: opts, maxCachedSessions: 0 }); // the secure context alone
    assert.equal(await get(c, o.port), 'ok');
    opts.ca = [SERVER_CERTS['wrong-name'].cert]; // a leaf, not the issuer of the server's certificate
    await assert.rejects(get(c, o.port), (err: unknown) => err instanceof ConnectError);
    opts.ca = [CA_CERT];
    assert.equal(await get(c, o.port), 'ok');
  });

  it('an options object holding a cycle (an unknown option referring back to it) works and resumes', T, async (t) => {
    const o = await origin(t, 'localhost');
    const opts: tls.ConnectionOptions & { meta?: unknown } = { ca: CA_CERT };
    opts.meta = { owner: opts, list: [opts] };
    const c = client(t, { tls: opts });
    for (let i = 0; i < 3; i++) assert.equal(await get(c, o.port), 'ok');
    assert.deepEqual(await settled(o, 3), [false, true, true]);
  });

  it('a session ticket arriving after close() is not kept', T, async (t) => {
    const o = await origin(t, 'localhost');
    // A relay that holds the server's bytes sent after the client's second flight (its
    // Finished): the TLS 1.3 tickets, then the response, until `release()`.
    const held: Buffer[] = [];
    let release = (): void => {};
    const relay = net.createServer((down) => {
      const up = net.connect(o.port, '127.0.0.1');
      let clientFlights = 0;
      let holding = false;
      down.on('data', (d) => {
        if (++clientFlights === 2) holding = true;
        up.write(d);
      });
      up.on('data', (d) => (holding ? held.push(d) : down.write(d)));
      let upClosed = false;
      release = () => {
        holding = false;
        for (const d of held.splice(0)) down.write(d);
        if (upClosed) down.end();
      };
      for (const s of [up, down]) s.on('error', () => {});
      down.on('close', () => up.destroy());
      up.on('close', () => {
        upClosed = true;
        if (!holding) down.end();
      });
    });
    track(t, relay);
    const port = await listen(relay);
    const transport = new Transport({ disableKeepAlives: true, tls: { ca: CA_CERT, minVersion: 'TLSv1.3' } });
    const c = new Client({ transport });
    t.after(() => c.close());
    const sessions = (transport as unknown as { sessions: TlsSessionCache }).sessions;
    const res = c.request(`https://localhost:${port}/`, {
      timeout: 5000,
      // The request is on the wire; its ticket not yet in: close, then let the server's bytes through.
      trace: { wroteRequest: () => void c.close().then(() => setTimeout(() => release(), 20)) },
    });
    assert.equal(await (await res).text(), 'ok');
    assert.ok(held.length === 0, 'the held bytes were released');
    assert.equal(sessions.size, 0);
  });
});

describe('connections and identity checks follow the options too (second outside attack)', () => {
  it("a kept-alive connection is not handed out after the transport's tls object was made stricter", T, async (t) => {
    const o = await keepAliveOrigin(t, 'wrong-name');
    const opts: tls.ConnectionOptions = { ca: CA_CERT, checkServerIdentity: () => undefined };
    const c = client(t, { tls: opts, disableKeepAlives: false, maxCachedSessions: 0 });
    assert.equal(await get(c, o.port), 'ok');
    assert.equal(await get(c, o.port), 'ok'); // the same connection, kept alive
    assert.equal(o.reused.length, 1);
    delete opts.checkServerIdentity;
    await assert.rejects(get(c, o.port), rejectsWith('ERR_TLS_CERT_ALTNAME_INVALID'));
  });

  it('a CONNECT tunnel opened with one proxy user is not used for another', T, async (t) => {
    const o = await keepAliveOrigin(t);
    const connects: string[] = [];
    const p = await proxy(t, () => o.port, undefined, (head) => connects.push(/proxy-authorization: (.*)/i.exec(head)?.[1] ?? ''));
    let user = 'alice';
    const c = client(t, {
      tls: { ca: CA_CERT },
      disableKeepAlives: false,
      proxy: () => new URL(`http://${user}:pw@127.0.0.1:${p.port}`),
    });
    for (const u of ['alice', 'bob', 'alice', 'bob']) {
      user = u;
      assert.equal(await get(c, o.port), 'ok');
    }
    const basic = (u: string): string => `Basic ${Buffer.from(`${u}:pw`).toString('base64')}`;
    assert.deepEqual(connects, [basic('alice'), basic('bob')], 'one tunnel per user, each reused');
  });

  it("a session made while node:tls's own checkServerIdentity was replaced is not offered after it is restored", T, async (t) => {
    const o = await origin(t, 'wrong-name');
    const c = client(t, { tls: { ca: CA_CERT } });
    const original = tlsExports.checkServerIdentity;
    tlsExports.checkServerIdentity = () => undefined;
    try {
      assert.equal(await get(c, o.port), 'ok');
    } finally {
      tlsExports.checkServerIdentity = original;
    }
    await assert.rejects(get(c, o.port), rejectsWith('ERR_TLS_CERT_ALTNAME_INVALID'));
  });

  it('a checkServerIdentity that throws, or gives an error without a usable code, fails with CERT_REJECTED at once, cause what it gave', T, async (t) => {
    const o = await origin(t, 'localhost');
    const boom = new Error('pin mismatch');
    const codeless = Object.assign(new Error('pin mismatch'), { code: '' });
    const trap = new Proxy(
      {},
      {
        getPrototypeOf: () => {
          throw boom;
        },
      },
    );
    const gotcha = Object.defineProperty(new Error('pin mismatch'), 'code', {
      get: () => {
        throw boom;
      },
    });
    const cases: Array<[string, () => unknown, unknown]> = [
      ['throws', () => { throw boom; }, boom],
      ['returns an Error without code', () => boom, boom],
      ["returns an Error with code ''", () => codeless, codeless],
      ['returns an Error whose code getter throws', () => gotcha, boom],
      ['returns a Proxy whose traps throw', () => trap, boom],
    ];
    for (const [what, check, cause] of cases) {
      const c = client(t, {
        tls: { ca: CA_CERT, checkServerIdentity: check as tls.ConnectionOptions['checkServerIdentity'] },
        tlsHandshakeTimeout: 4000,
      });
      const started = Date.now();
      await assert.rejects(get(c, o.port), (err: unknown) => {
        rejectsWith('CERT_REJECTED')(err);
        assert.equal((err as Error).cause, cause, what);
        return true;
      });
      assert.ok(Date.now() - started < 2000, `${what}: not left to the handshake timeout`);
    }
  });

  it("node:tls's own checkServerIdentity, replaced by one that throws, fails with CERT_REJECTED at once", T, async (t) => {
    const o = await origin(t, 'localhost');
    const c = client(t, { tls: { ca: CA_CERT }, tlsHandshakeTimeout: 4000 });
    const original = tlsExports.checkServerIdentity;
    const boom = new Error('global pin');
    tlsExports.checkServerIdentity = () => {
      throw boom;
    };
    try {
      await assert.rejects(get(c, o.port), (err: unknown) => {
        rejectsWith('CERT_REJECTED')(err);
        assert.equal((err as Error).cause, boom);
        return true;
      });
    } finally {
      tlsExports.checkServerIdentity = original;
    }
    assert.equal(await get(c, o.port), 'ok');
  });
});

/** A TLS origin that keeps connections open and answers every request with `ok`. */
async function keepAliveOrigin(t: TestContext, cert: ServerCertName = 'localhost'): Promise<Listening> {
  const reused: boolean[] = [];
  const srv = tls.createServer({ ...SERVER_CERTS[cert], ALPNProtocols: ['http/1.1'] }, (s) => {
    reused.push(s.isSessionReused());
    s.on('error', () => {});
    let head = '';
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      while (head.includes('\r\n\r\n')) {
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  srv.on('tlsClientError', () => {});
  track(t, srv);
  return { port: await listen(srv), reused };
}
