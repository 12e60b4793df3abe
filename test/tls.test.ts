/**
 * tls.test — `upgradeToTls` against real loopback TLS/TCP servers: a verified handshake
 * with ALPN http/1.1, the handshake timeout (GO-13), certificate failures with their
 * OpenSSL codes and messages naming host and address (GO-43c), a plaintext server
 * (GO-43b), the overall budget, client certificates, `certsDir` and `tlsOptionsKey`.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { Budget, now } from '../src/deadline.js';
import { Dialer } from '../src/dial/index.js';
import { AbortError, ConnectError, TimeoutError } from '../src/errors.js';
import {
  CA_CERT,
  CLIENT_CERT,
  CLIENT_KEY,
  SERVER_CERT,
  SERVER_CERTS,
  SERVER_KEY,
  writeCertsDir,
} from '../src/testing/certs.js';
import { certsDir, tlsOptionsKey, upgradeToTls } from '../src/tls.js';
import type { TraceHooks } from '../src/trace.js';
import { rejectedWith } from './helpers/setup.js';

/** The shipped test PKI; `chain` serves the localhost leaf followed by the (self-signed) CA. */
const certs = {
  ca: CA_CERT,
  localhost: SERVER_CERTS.localhost,
  expired: SERVER_CERTS.expired,
  wrongName: SERVER_CERTS['wrong-name'],
  chain: { cert: `${SERVER_CERT}${CA_CERT}`, key: SERVER_KEY },
  client: { cert: CLIENT_CERT, key: CLIENT_KEY },
};

interface Server {
  port: number;
  servernames: (string | false | null)[];
  peers: string[];
  close(): Promise<void>;
}

/** A TLS server on 127.0.0.1 with the given key pair. */
async function tlsServer(
  keyPair: { cert: string; key: string },
  extra: tls.TlsOptions = {},
): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const state: Server = { port: 0, servernames: [], peers: [], close: async () => {} };
  const server = tls.createServer({ ...keyPair, ALPNProtocols: ['http/1.1'], ...extra }, (s) => {
    state.servernames.push(s.servername);
    const peer = s.getPeerCertificate();
    if (peer?.subject !== undefined) state.peers.push(String(peer.subject.CN));
    s.on('error', () => {});
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  return finishListen(server, state, sockets);
}

/** A plain TCP server: `onSocket` decides what it does. */
async function tcpServer(onSocket: (s: net.Socket) => void): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const state: Server = { port: 0, servernames: [], peers: [], close: async () => {} };
  const server = net.createServer((s) => {
    s.on('error', () => {});
    onSocket(s);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return finishListen(server, state, sockets);
}

async function finishListen(server: net.Server, state: Server, sockets: Set<net.Socket>): Promise<Server> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** Waits (at most 2 s) until `cond()` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
}

function within(ms: number, lo: number, hi: number, what: string): void {
  assert.ok(ms >= lo && ms <= hi, `${what}: ${Math.round(ms)} ms not in [${lo}, ${hi}]`);
}

const dialer = new Dialer();

/** Dials 127.0.0.1:port and upgrades, naming the server `servername`. */
async function handshake(
  port: number,
  options: tls.ConnectionOptions | undefined,
  more: { servername?: string; timeout?: number; budget?: Budget; trace?: TraceHooks } = {},
): Promise<tls.TLSSocket> {
  const socket = await dialer.dial({ host: '127.0.0.1', port });
  return upgradeToTls({
    socket,
    servername: more.servername ?? 'localhost',
    port,
    options,
    timeout: more.timeout,
    budget: more.budget,
    trace: more.trace,
    method: 'GET',
    url: `https://localhost:${port}/`,
  });
}

describe('upgradeToTls', () => {
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  async function serve(keyPair: { cert: string; key: string }, extra?: tls.TlsOptions): Promise<Server> {
    const s = await tlsServer(keyPair, extra);
    servers.push(s);
    return s;
  }

  it('verifies the server with the given CA, sends SNI, negotiates http/1.1', async () => {
    const srv = await serve(certs.localhost);
    const events: string[] = [];
    const trace: TraceHooks = {
      tlsHandshakeStart: () => events.push('start'),
      tlsHandshakeDone: (i) => events.push(`done ${i.protocol} ${i.alpnProtocol} ${i.error ? 'err' : 'ok'}`),
    };
    const socket = await handshake(srv.port, { ca: certs.ca }, { trace });
    assert.equal(socket.alpnProtocol, 'http/1.1');
    assert.equal(socket.authorized, true);
    assert.deepEqual(events, ['start', `done ${socket.getProtocol()} http/1.1 ok`]);
    socket.end();
    await until(() => srv.servernames.length > 0);
    assert.deepEqual(srv.servernames, ['localhost']);
  });

  it('an IP literal is verified against the IP SAN and sends no SNI', async () => {
    const srv = await serve(certs.localhost);
    const socket = await handshake(srv.port, { ca: certs.ca }, { servername: '127.0.0.1' });
    assert.equal(socket.authorized, true);
    socket.end();
    await until(() => srv.servernames.length > 0);
    assert.deepEqual(srv.servernames, [false]);
  });

  it('GO-13: a server that never answers the ClientHello → TimeoutError phase tls', async () => {
    const srv = await tcpServer(() => {});
    servers.push(srv);
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const t0 = now();
    const err = await rejectedWith(handshake(srv.port, { ca: certs.ca }, { timeout: 250 }));
    within(now() - t0, 230, 450, 'tls timeout');
    assert.equal(timers(), before, 'no timer left');
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'tls');
    assert.equal(err.timeout, 250);
    within(err.elapsed, 240, 450, 'elapsed');
    assert.equal(err.requestSent, false);
    assert.ok(err.message.includes(`localhost:${srv.port}`), err.message);
  });

  it('an expired certificate → ConnectError CERT_HAS_EXPIRED', async () => {
    const srv = await serve(certs.expired);
    const err = await rejectedWith(handshake(srv.port, { ca: certs.ca }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'CERT_HAS_EXPIRED');
    assert.equal(err.address, '127.0.0.1');
  });

  it('GO-43c: a certificate for another name → ERR_TLS_CERT_ALTNAME_INVALID naming host and address', async () => {
    const srv = await serve(certs.wrongName);
    const err = await rejectedWith(handshake(srv.port, { ca: certs.ca }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.ok(err.message.includes(`localhost:${srv.port}`), err.message);
    assert.ok(err.message.includes(`127.0.0.1:${srv.port}`), err.message);
  });

  it('GO-43c: the name-mismatch message is complete — the name asked for and every name the certificate has (host name and IP)', async () => {
    const srv = await serve(certs.wrongName);
    for (const [servername, kind] of [['localhost', 'host name'], ['127.0.0.1', 'IP address']] as const) {
      const err = await rejectedWith(handshake(srv.port, { ca: certs.ca }, { servername }));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      // Node's own message ends "is not in the cert's list: " (empty) for an IP.
      assert.doesNotMatch(err.message, /list: *\[/, err.message);
      assert.ok(err.message.includes(`does not match the ${kind} ${servername}`), err.message);
      assert.ok(err.message.includes('DNS:wrong.example'), err.message);
    }
  });

  it('a self-signed certificate in the chain is rejected without its CA, accepted with rejectUnauthorized:false', async () => {
    const srv = await serve(certs.chain);
    const err = await rejectedWith(handshake(srv.port, undefined));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'SELF_SIGNED_CERT_IN_CHAIN');
    assert.match(err.message, /certificate verification failed/);
    const socket = await handshake(srv.port, { rejectUnauthorized: false });
    assert.equal(socket.authorized, false);
    assert.equal(socket.alpnProtocol, 'http/1.1');
    socket.destroy();
  });

  it('a leaf from an unknown CA → UNABLE_TO_VERIFY_LEAF_SIGNATURE', async () => {
    const srv = await serve(certs.localhost);
    const err = await rejectedWith(handshake(srv.port, undefined));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('GO-43b: a plaintext HTTP server → "server gave HTTP response to HTTPS client"', async () => {
    const srv = await tcpServer((s) => {
      s.once('data', () =>
        s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      );
    });
    servers.push(srv);
    const err = await rejectedWith(handshake(srv.port, { ca: certs.ca }));
    assert.ok(err instanceof ConnectError);
    assert.match(err.message, /server gave HTTP response to HTTPS client/);
    assert.ok(err.message.includes(`localhost:${srv.port}`), err.message);
  });

  it('an abort during the handshake → AbortError at once; an overall timeout → phase request', async () => {
    const srv = await tcpServer(() => {});
    servers.push(srv);
    const ac = new AbortController();
    const budget = new Budget(undefined, ac.signal, 'GET', 'https://localhost/');
    const p = handshake(srv.port, { ca: certs.ca }, { budget });
    setTimeout(() => ac.abort('bye'), 50);
    const err = await rejectedWith(p);
    assert.ok(err instanceof AbortError);
    assert.equal(err.cause, 'bye');
    budget.finish();

    const budget2 = new Budget(200, undefined, 'GET', 'https://localhost/');
    const t0 = now();
    const err2 = await rejectedWith(handshake(srv.port, { ca: certs.ca }, { budget: budget2 }));
    within(now() - t0, 180, 400, 'overall');
    assert.ok(err2 instanceof TimeoutError);
    assert.equal(err2.phase, 'request');
    assert.equal(err2.activePhase, 'tls');
    budget2.finish();
  });

  it('certsDir: host:port wins over host, *.crt become CAs, client.cert/key a client certificate', async () => {
    const srv = await serve(certs.localhost, { requestCert: true, rejectUnauthorized: true, ca: certs.ca });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-certsd-'));
    try {
      await writeCertsDir(dir, `localhost:${srv.port}`);
      fs.mkdirSync(path.join(dir, 'localhost'));
      fs.writeFileSync(path.join(dir, 'localhost', 'a.crt'), certs.ca);
      fs.writeFileSync(path.join(dir, 'localhost', 'b.crt'), certs.wrongName.cert);
      const lookup = certsDir(dir);
      const exact = lookup('localhost', srv.port);
      assert.equal(exact.cert, certs.client.cert);
      assert.equal(exact.key, certs.client.key);
      assert.ok(Array.isArray(exact.ca) && exact.ca.includes(certs.ca));
      assert.equal(lookup('localhost', srv.port), exact, 'cached per entry');
      const byHost = lookup('localhost', 1);
      assert.equal(byHost.cert, undefined);
      assert.equal((byHost.ca as string[]).length, tls.rootCertificates.length + 2);
      assert.deepEqual(lookup('other.example', 443), {});
      await writeCertsDir(dir, '[::1]:8443');
      assert.equal(lookup('::1', 8443).cert, certs.client.cert, 'IPv6 entries are bracketed');
      assert.equal(lookup('[::1]', 8443).cert, certs.client.cert);
      fs.mkdirSync(path.join(dir, 'half.example'));
      fs.writeFileSync(path.join(dir, 'half.example', 'client.cert'), certs.client.cert);
      assert.throws(() => lookup('half.example', 443), { code: 'HG_INVALID_ARG' });

      const socket = await handshake(srv.port, exact);
      assert.equal(socket.authorized, true);
      socket.end();
      await until(() => srv.peers.length > 0);
      assert.deepEqual(srv.peers, ['hourglass test client']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tlsOptionsKey is stable, content-based, short and hides the PEMs', () => {
    assert.equal(tlsOptionsKey(undefined), '');
    assert.equal(tlsOptionsKey({}), '');
    const a = tlsOptionsKey({ ca: certs.ca, rejectUnauthorized: true });
    assert.equal(a, tlsOptionsKey({ rejectUnauthorized: true, ca: `${certs.ca}` }));
    assert.notEqual(a, tlsOptionsKey({ ca: certs.ca, rejectUnauthorized: false }));
    assert.notEqual(a, tlsOptionsKey({ ca: certs.ca, rejectUnauthorized: true, servername: 'x' }));
    assert.notEqual(
      tlsOptionsKey({ ca: certs.ca }),
      tlsOptionsKey({ ca: Buffer.from(certs.wrongName.cert) }),
    );
    assert.match(a, /^[0-9a-f]{16}$/);
  });
});
