/**
 * unix-socket.test — `Transport({ socketPath })` (SPEC §12 "Unix domain sockets")
 * against real servers listening on a path in os.tmpdir(): the FaultServer (plain and
 * TLS) and plain node:http / node:https servers. Proves: the URL's host fills `Host` and
 * SNI and is what the certificate is verified against; no DNS happens, `connect` does
 * (trace, timings, diagnostics without a remote address); keep-alive reuse over one
 * socket and one pool entry per path; the function form (undefined → TCP); a proxy is
 * bypassed; a missing path or a dead socket file is a typed ConnectError; the
 * responseHeaderTimeout and the dial budget fire as usual; `--unix-socket` in the CLI.
 */

import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type * as tls from 'node:tls';
import { ConnectError, HourglassError, TimeoutError, Transport, type TraceHooks } from '../src/index.js';
import { CA_CERT, FaultServer, SERVER_CERTS } from '../src/testing/index.js';
import { hg } from './helpers/cli.js';
import { clientFor, rejection, timeoutIn } from './helpers/setup.js';

const T = { timeout: 10_000 };

let seq = 0;
/** A fresh socket path in os.tmpdir() (short: Unix socket paths are limited to ~100 bytes). */
function sockPath(t: TestContext): string {
  const p = path.join(os.tmpdir(), `hg-${process.pid}-${++seq}.sock`);
  t.after(() => fs.rmSync(p, { force: true }));
  return p;
}

/** A FaultServer on a Unix socket, closed after the test. */
async function faultOnPath(t: TestContext, tlsOn = false): Promise<FaultServer> {
  const server = await FaultServer.start({ socketPath: sockPath(t), tls: tlsOn });
  t.after(() => server.close());
  return server;
}

/** A node:http or node:https server on `p`, closed after the test. */
async function nodeServerOnPath(
  t: TestContext,
  p: string,
  server: http.Server | https.Server,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

interface Recorded {
  hooks: TraceHooks;
  events: string[];
  connect: { address: string; port: number; family: number }[];
  remote: (string | undefined)[];
  reused: boolean[];
}

/** Trace hooks that record what happened. */
function recorder(): Recorded {
  const r: Recorded = { events: [], connect: [], remote: [], reused: [], hooks: {} };
  r.hooks = {
    dnsStart: () => void r.events.push('dnsStart'),
    dnsDone: () => void r.events.push('dnsDone'),
    connectStart: (i) => {
      r.events.push('connectStart');
      r.connect.push(i);
    },
    connectDone: (i) => void r.events.push(i.error ? `connectDone:${i.error.message}` : 'connectDone'),
    tlsHandshakeStart: () => void r.events.push('tlsHandshakeStart'),
    tlsHandshakeDone: (i) => void r.events.push(i.error ? 'tlsHandshakeDone:error' : 'tlsHandshakeDone'),
    gotConn: (i) => {
      r.remote.push(i.remoteAddress);
      r.reused.push(i.reused);
    },
  };
  return r;
}

describe('Unix domain sockets: http', () => {
  it('reaches a FaultServer on a path: Host is the URL host:port, no DNS, a timed connect', T, async (t) => {
    const server = await faultOnPath(t);
    const { client } = clientFor(t, { socketPath: server.socketPath });
    const rec = recorder();
    const opened: unknown[] = [];
    const onOpen = (m: unknown): void => void opened.push(m);
    diagnostics.subscribe('hourglass:connection:open', onOpen);
    t.after(() => diagnostics.unsubscribe('hourglass:connection:open', onOpen));
    // .invalid never resolves: the request can only succeed without DNS.
    const res = await client.request('http://api.invalid:8080/echo?x=1', { trace: rec.hooks });
    const echo = (await res.json()) as { headers: Record<string, string>; target: string };
    assert.equal(res.status, 200);
    assert.equal(echo.headers.host, 'api.invalid:8080');
    assert.equal(echo.target, '/echo?x=1');
    assert.deepEqual(rec.events, ['connectStart', 'connectDone']);
    assert.deepEqual(rec.connect, [{ address: server.socketPath, port: 0, family: 0 }]);
    assert.deepEqual(rec.remote, [server.socketPath]);
    assert.equal(opened.length, 1);
    const tm = res.timings;
    assert.ok(tm.connect !== undefined && tm.lookup !== undefined, JSON.stringify(tm));
    assert.ok(tm.connect >= tm.lookup);
    assert.ok(tm.phases.dns <= 5, `dns phase ${tm.phases.dns}`);
    assert.ok(tm.phases.total > 0);
    assert.doesNotThrow(() => JSON.stringify(tm));
    assert.equal(server.connections, 1);
  });

  it('reaches a plain node:http server on a path with the URL host, path and query', T, async (t) => {
    const p = sockPath(t);
    const seen: { host: string | undefined; url: string | undefined }[] = [];
    await nodeServerOnPath(
      t,
      p,
      http.createServer((req, res) => {
        seen.push({ host: req.headers.host, url: req.url });
        res.end('over the socket');
      }),
    );
    const { client } = clientFor(t, { socketPath: p });
    const a = await client.request('http://docker.invalid/v1.43/info?all=1');
    assert.equal(await a.text(), 'over the socket');
    const b = await client.request('http://docker.invalid:2375/ping');
    assert.equal(b.status, 200);
    await b.text();
    assert.deepEqual(seen, [
      { host: 'docker.invalid', url: '/v1.43/info?all=1' },
      { host: 'docker.invalid:2375', url: '/ping' },
    ]);
  });

  it('reuses one connection for two requests over the socket (keep-alive)', T, async (t) => {
    const server = await faultOnPath(t);
    const { client, transport } = clientFor(t, { socketPath: server.socketPath });
    const rec = recorder();
    for (let i = 0; i < 2; i++) {
      const res = await client.request('http://svc.invalid/ok', { trace: rec.hooks });
      assert.equal(res.status, 200);
      await res.text();
    }
    assert.equal(server.connections, 1);
    assert.deepEqual(rec.reused, [false, true]);
    const keys = Object.keys(transport.stats().hosts);
    assert.deepEqual(keys, [`http://svc.invalid:80|unix=${server.socketPath}`]);
  });

  it('keeps one pool entry per path: two paths, same URL host → two connections, each reused', T, async (t) => {
    const a = await faultOnPath(t);
    const b = await faultOnPath(t);
    const chosen: URL[] = [];
    const { client, transport } = clientFor(t, {
      socketPath: (url) => {
        chosen.push(url);
        return url.searchParams.get('to') === 'a' ? a.socketPath : b.socketPath;
      },
    });
    for (let round = 0; round < 2; round++) {
      for (const to of ['a', 'b']) {
        const res = await client.request(`http://same.invalid/ok?to=${to}`);
        assert.equal(res.status, 200);
        await res.text();
      }
    }
    assert.equal(a.connections, 1);
    assert.equal(b.connections, 1);
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 2);
    assert.equal(Object.keys(transport.stats().hosts).length, 2);
    assert.equal(chosen.length, 4);
    assert.ok(chosen.every((u) => u instanceof URL && u.hostname === 'same.invalid'));
  });

  it('the function form chooses per URL: a path for one host, TCP (undefined) for another', T, async (t) => {
    const onPath = await faultOnPath(t);
    const tcp = await FaultServer.start();
    t.after(() => tcp.close());
    const { client } = clientFor(t, {
      socketPath: (url) => (url.hostname === 'via-socket.invalid' ? onPath.socketPath : undefined),
    });
    const rec = recorder();
    const r1 = await client.request('http://via-socket.invalid/ok', { trace: rec.hooks });
    await r1.text();
    const r2 = await client.request(tcp.url('/ok'), { trace: rec.hooks });
    await r2.text();
    assert.deepEqual([r1.status, r2.status], [200, 200]);
    assert.equal(onPath.requests.length, 1);
    assert.equal(tcp.requests.length, 1);
    assert.deepEqual(
      rec.connect.map((c) => c.family),
      [0, 4],
    );
    assert.equal(rec.connect[1]!.port, tcp.port);
  });

  it('a request over a socket bypasses the proxy', T, async (t) => {
    const server = await faultOnPath(t);
    const proxy = await FaultServer.start();
    t.after(() => proxy.close());
    const { client } = clientFor(t, { socketPath: server.socketPath, proxy: proxy.origin });
    const res = await client.request('http://svc.invalid/ok');
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(server.requests.length, 1);
    assert.equal(proxy.connections, 0);
  });

  it('rejects a bad socketPath: not a string or function, empty, or an empty result', T, async (t) => {
    for (const bad of [42, '', 'a\0b', {}] as unknown[]) {
      assert.throws(
        () => new Transport({ socketPath: bad as string }),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
        String(bad),
      );
    }
    const { client } = clientFor(t, { socketPath: () => '' });
    const { err } = await rejection(client.request('http://svc.invalid/'));
    assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG', String(err));
  });
});

describe('Unix domain sockets: failures and timeouts', () => {
  it('a path that does not exist is a ConnectError ENOENT naming the path, quickly', T, async (t) => {
    const p = sockPath(t);
    const { client } = clientFor(t, { socketPath: p });
    const rec = recorder();
    const { err, ms } = await rejection(client.request('http://svc.invalid/', { trace: rec.hooks }));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.address, p);
    assert.equal(err.attempts.length, 1);
    assert.equal(err.attempts[0]!.address, p);
    assert.match(err.message, new RegExp(`unix:${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(err.url, 'http://svc.invalid/');
    assert.deepEqual(rec.events.slice(0, 1), ['connectStart']);
    assert.match(rec.events[1] ?? '', /^connectDone:/);
    assert.ok(ms < 2_000, `${ms} ms`);
  });

  it('a socket file nobody listens on is a ConnectError ECONNREFUSED', T, async (t) => {
    const p = sockPath(t);
    fs.writeFileSync(p, ''); // a path that exists but accepts nothing
    const { client } = clientFor(t, { socketPath: p });
    const { err } = await rejection(client.request('http://svc.invalid/'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
  });

  it('a server on a socket that accepts but never answers: responseHeaderTimeout fires as usual', T, async (t) => {
    const server = await faultOnPath(t);
    const { client } = clientFor(t, { socketPath: server.socketPath, responseHeaderTimeout: 200 });
    const { err, ms } = await rejection(client.request('http://svc.invalid/never'));
    assert.ok(timeoutIn('response-headers')(err));
    assert.equal((err as TimeoutError).requestSent, true);
    assert.ok(ms >= 190 && ms < 2_000, `${ms} ms`);
    assert.equal(server.requests.length, 1);
  });

  it('the dial budget covers a path dial (held waiting for a dial slot: a Unix connect cannot hang)', T, async (t) => {
    // Linux answers a connect() to a Unix socket with a full backlog with EAGAIN at once,
    // so the wait this test can make is the dial-slot queue, which the budget also covers.
    const server = await faultOnPath(t);
    const hole = await server.blackhole();
    const { client } = clientFor(t, {
      dialer: { maxConcurrentDials: 1 },
      dialTimeout: 300,
      socketPath: (url) => (url.hostname === hole.host ? undefined : server.socketPath),
    });
    const ac = new AbortController();
    const holder = client.request(`http://${hole.host}:${hole.port}/`, {
      signal: ac.signal,
      timeouts: { dialTimeout: 5_000 },
    });
    holder.catch(() => {});
    const { err, ms } = await rejection(client.request('http://svc.invalid/ok'));
    ac.abort();
    await rejection(holder);
    assert.ok(timeoutIn('connect')(err));
    assert.equal((err as TimeoutError).requestSent, false);
    assert.ok(ms >= 280 && ms < 2_000, `${ms} ms`);
    assert.equal(server.connections, 0);
  });
});

describe('Unix domain sockets: https', () => {
  it('verifies the certificate against the URL host: right host OK, wrong host ERR_TLS_CERT_ALTNAME_INVALID', T, async (t) => {
    const server = await faultOnPath(t, true);
    assert.equal(server.origin, 'https://localhost');
    const { client } = clientFor(t, { socketPath: server.socketPath, tls: { ca: server.ca } });
    const rec = recorder();
    const ok = await client.request(server.url('/ok'), { trace: rec.hooks });
    assert.equal(ok.status, 200);
    await ok.text();
    assert.deepEqual(rec.events, ['connectStart', 'connectDone', 'tlsHandshakeStart', 'tlsHandshakeDone']);
    assert.ok(ok.timings.secureConnect !== undefined);
    const { err } = await rejection(client.request('https://not-in-the-cert.invalid/ok'));
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(server.requests.length, 1);
  });

  it('sends the URL host as SNI and Host to a node:https server on a path', T, async (t) => {
    const p = sockPath(t);
    const seen: { sni: string | false | null | undefined; host: string | undefined }[] = [];
    const server = https.createServer({ ...SERVER_CERTS.localhost }, (req, res) => {
      seen.push({ sni: (req.socket as tls.TLSSocket).servername, host: req.headers.host });
      res.end('secure');
    });
    await nodeServerOnPath(t, p, server);
    const { client } = clientFor(t, { socketPath: p, tls: { ca: CA_CERT } });
    const res = await client.request('https://localhost:8443/');
    assert.equal(await res.text(), 'secure');
    assert.deepEqual(seen, [{ sni: 'localhost', host: 'localhost:8443' }]);
  });
});

// --- CLI -----------------------------------------------------------------------------



describe('hourglass get --unix-socket', () => {
  it('fetches over the socket with the URL host as Host; a missing socket exits 7', { timeout: 20_000 }, async (t) => {
    const p = sockPath(t);
    await nodeServerOnPath(
      t,
      p,
      http.createServer((req, res) => res.end(`host=${req.headers.host} ${req.url}`)),
    );
    const ok = await hg(['get', '--unix-socket', p, 'http://cli.invalid:8080/v1/x?y=2']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'host=cli.invalid:8080 /v1/x?y=2');
    const missing = await hg(['get', '--unix-socket', `${p}.none`, 'http://cli.invalid/']);
    assert.equal(missing.code, 7, missing.stderr);
    assert.match(missing.stderr, /ENOENT/);
    const usage = await hg(['get', '--unix-socket', '', 'http://cli.invalid/']);
    assert.equal(usage.code, 2, usage.stderr);
    const help = await hg(['get', '--help']);
    assert.match(help.stdout, /--unix-socket PATH/);
  });
});
