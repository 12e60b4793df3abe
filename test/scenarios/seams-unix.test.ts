// Scenario corpus §7.4 (SE-15, SE-16): Unix domain sockets (SPEC §12,
// `Transport({ socketPath })`) against real node:http / node:https / node:http2 servers
// listening on paths in a fresh temp dir: Host and SNI from the URL, h2c over a path,
// per-URL paths with a TCP fallback, one pool entry per path; and every way a path dial
// fails (missing file, dead socket file, regular file, full backlog, silent listener,
// bad option), each typed, prompt and naming the path.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type * as tls from 'node:tls';
import { Client, ConnectError, HourglassError, TimeoutError, Transport, type TransportOptions } from '../../src/index.js';
import { CA_CERT, SERVER_CERTS } from '../../src/testing/index.js';
import { rejection } from './helpers.js';

const T = { timeout: 10_000 };

/** A fresh temp dir (removed after the test) and a path inside it. */
function tmpDir(t: TestContext): (name: string) => string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-se-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return (name) => path.join(dir, name);
}

function newClient(t: TestContext, topts: TransportOptions): Client {
  const client = new Client({ transport: new Transport(topts) });
  t.after(() => client.close());
  return client;
}

interface Listening {
  conns: () => number;
  hosts: string[];
}

/** Starts `server` on `where` (a path or a loopback port 0) and closes it after the test. */
async function listen(t: TestContext, server: http.Server | https.Server | http2.Http2Server, where: string | 0): Promise<number | undefined> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (where === 0) server.listen(0, '127.0.0.1', resolve);
    else server.listen(where, resolve);
  });
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const addr = server.address();
  return typeof addr === 'object' && addr !== null ? addr.port : undefined;
}

/** An HTTP/1.1 handler answering `body` and echoing Host; counts connections. */
function hello(body: string): { server: http.Server; seen: Listening } {
  const seen: Listening = { conns: () => n, hosts: [] };
  let n = 0;
  const server = http.createServer((req, res) => {
    seen.hosts.push(req.headers.host ?? '');
    res.setHeader('x-host', req.headers.host ?? '');
    res.end(body);
  });
  server.on('connection', () => n++);
  return { server, seen };
}

describe('SE-15: requests over a Unix socket', () => {
  it('SE-15a: GET http://localhost/ over socketPath: hello, the server sees Host: localhost', T, async (t) => {
    const at = tmpDir(t);
    const a = hello('hello');
    await listen(t, a.server, at('a.sock'));
    const client = newClient(t, { socketPath: at('a.sock') });
    const res = await client.request('http://localhost/');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello');
    assert.equal(res.headers['x-host'], 'localhost');
    assert.deepEqual(a.seen.hosts, ['localhost']);
  });

  it('SE-15b: https://localhost/ over a socket path: SNI localhost, certificate checked against localhost', T, async (t) => {
    const at = tmpDir(t);
    const sni: (string | false | null | undefined)[] = [];
    const server = https.createServer({ ...SERVER_CERTS.localhost }, (req, res) => {
      sni.push((req.socket as tls.TLSSocket).servername);
      res.end(`secure ${req.headers.host}`);
    });
    await listen(t, server, at('tls.sock'));
    const client = newClient(t, { socketPath: at('tls.sock'), tls: { ca: CA_CERT } });
    const res = await client.request('https://localhost/');
    assert.equal(await res.text(), 'secure localhost');
    assert.deepEqual(sni, ['localhost']);
    // The same socket under a name the certificate does not hold: the check is against the URL host.
    const { err } = await rejection(client.request('https://other.invalid/'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('SE-15c: h2c prior knowledge over a socket path: httpVersion 2, :authority example.test', T, async (t) => {
    const at = tmpDir(t);
    const authorities: string[] = [];
    const server = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (s) => sessions.add(s));
    server.on('stream', (stream, headers) => {
      authorities.push(String(headers[':authority']));
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${String(headers[':path'])}`);
    });
    t.after(() => {
      for (const s of sessions) s.destroy();
    });
    await listen(t, server, at('h2.sock'));
    const client = newClient(t, { socketPath: at('h2.sock'), h2c: true });
    const res = await client.request('http://example.test/x');
    assert.equal(res.httpVersion, '2');
    assert.equal(await res.text(), 'h2 /x');
    assert.deepEqual(authorities, ['example.test']);
  });

  it('SE-15d: socketPath as a function: b.test → socket B, others over TCP; one connection per path, never shared across paths', T, async (t) => {
    const at = tmpDir(t);
    const a = hello('A');
    const b = hello('B');
    const tcp = hello('TCP');
    await listen(t, a.server, at('a.sock'));
    await listen(t, b.server, at('b.sock'));
    const port = await listen(t, tcp.server, 0);
    const client = newClient(t, {
      socketPath: (url) => (url.hostname === 'b.test' ? at('b.sock') : url.hostname === 'localhost' ? (url.pathname.startsWith('/b') ? at('b.sock') : at('a.sock')) : undefined),
    });
    const text = async (u: string): Promise<string> => (await client.request(u)).text();
    assert.equal(await text('http://b.test/'), 'B');
    assert.equal(await text(`http://127.0.0.1:${port}/`), 'TCP');
    assert.deepEqual(b.seen.hosts, ['b.test']);
    assert.equal(tcp.seen.hosts.length, 1);
    // Same URL origin (localhost), two paths: two sequential GETs per path share that
    // path's connection; the pool never hands socket A's connection to a /b request.
    assert.equal(await text('http://localhost/a1'), 'A');
    assert.equal(await text('http://localhost/a2'), 'A');
    assert.equal(await text('http://localhost/b1'), 'B');
    assert.equal(await text('http://localhost/b2'), 'B');
    assert.equal(a.seen.conns(), 1, 'two GETs to socket A share one connection');
    assert.equal(b.seen.conns(), 2, 'socket B: one connection for b.test, one for localhost');
    assert.equal(tcp.seen.conns(), 1);
  });
});

/** A child process that listens on `p` and is then SIGKILLed: the socket file stays. */
async function deadSocketFile(p: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', () => reject(new Error('child exited early')));
  });
  await new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const havePython = spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0;

/**
 * A listener with backlog 0 that never accepts, already holding one pending connection
 * (Node cannot listen with backlog 0: it turns 0 into 511, and it always accepts).
 */
async function fullBacklog(t: TestContext, p: string): Promise<void> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    `s.bind(${JSON.stringify(p)})`,
    's.listen(0)',
    'c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    `c.connect(${JSON.stringify(p)})`,
    'print("up", flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error('python exited early')));
  });
}

describe('SE-16: path dials that fail, and a silent listener', () => {
  it('SE-16a: no file at the path: ConnectError ENOENT naming the path, at once', T, async (t) => {
    const p = tmpDir(t)('missing.sock');
    const client = newClient(t, { socketPath: p });
    const { err, ms } = await rejection(client.request('http://localhost/'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.address, p);
    assert.ok(ms < 1_000, `${ms} ms`);
  });

  it('SE-16b: a socket file whose listener was killed: ConnectError ECONNREFUSED naming the path', T, async (t) => {
    const p = tmpDir(t)('dead.sock');
    await deadSocketFile(p);
    assert.ok(fs.statSync(p).isSocket(), 'the socket file is still there');
    const client = newClient(t, { socketPath: p });
    const { err, ms } = await rejection(client.request('http://localhost/'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.address, p);
    assert.ok(ms < 1_000, `${ms} ms`);
  });

  it('SE-16c: a regular file: ConnectError ECONNREFUSED naming the path', T, async (t) => {
    const p = tmpDir(t)('plain-file');
    fs.writeFileSync(p, 'not a socket');
    const client = newClient(t, { socketPath: p });
    const { err, ms } = await rejection(client.request('http://localhost/'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.address, p);
    assert.ok(ms < 1_000, `${ms} ms`);
  });

  it('SE-16d: a full backlog that never accepts: ConnectError EAGAIN at once, naming the path, not retried in a loop', { ...T, skip: havePython ? false : 'python3 is needed for a backlog-0 listener' }, async (t) => {
    const p = tmpDir(t)('full.sock');
    await fullBacklog(t, p);
    const starts: string[] = [];
    const client = newClient(t, { socketPath: p });
    const { err, ms } = await rejection(client.request('http://localhost/', { trace: { connectStart: (i) => starts.push(String(i.address)) } }));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'EAGAIN');
    assert.equal(err.address, p);
    assert.ok(ms < 1_000, `${ms} ms`);
    assert.equal(starts.length, 1, `connect attempts: ${starts.length}`);
  });

  it('SE-16e: a listener that accepts and never writes: TimeoutError{phase response-headers, requestSent true} at T', T, async (t) => {
    const TT = 200;
    const p = tmpDir(t)('silent.sock');
    const server = http.createServer(() => {
      /* never answers */
    });
    await listen(t, server, p);
    const client = newClient(t, { socketPath: p, responseHeaderTimeout: TT });
    const { err, ms } = await rejection(client.request('http://localhost/'));
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.phase, 'response-headers');
    assert.equal(err.requestSent, true);
    assert.equal(err.timeout, TT);
    assert.ok(ms >= TT - 5 && ms < TT + 250, `${ms} ms`);
  });

  it('SE-16f: socketPath: 1 is HG_INVALID_ARG at construction; a 1 ms dialer.timeout never hangs', { ...T, skip: false }, async (t) => {
    assert.throws(
      () => new Transport({ socketPath: 1 as unknown as string }),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
    );
    const p = tmpDir(t)('one-ms.sock');
    const server = http.createServer((_req, res) => res.end('ok'));
    await listen(t, server, p);
    const client = newClient(t, { socketPath: p, dialer: { timeout: 1 } });
    const start = performance.now();
    const outcome = await client.request('http://localhost/').then(
      async (res) => `ok ${await res.text()}`,
      (e: unknown) => (e instanceof HourglassError ? `${e.name} ${e.code}` : `other ${String(e)}`),
    );
    assert.ok(performance.now() - start < 1_000, `${performance.now() - start} ms`);
    assert.match(outcome, /^(ok ok|TimeoutError ETIMEDOUT|ConnectError \w+)$/, outcome);
    if (havePython) {
      const full = tmpDir(t)('one-ms-full.sock');
      await fullBacklog(t, full);
      const c2 = newClient(t, { socketPath: full, dialer: { timeout: 1 } });
      const s2 = performance.now();
      const { err } = await rejection(c2.request('http://localhost/'));
      assert.ok(err instanceof HourglassError, String(err));
      assert.ok(performance.now() - s2 < 1_000);
    }
  });
});
