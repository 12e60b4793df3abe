// Scenario corpus rows GO-12, UN-01, UN-02, UN-03 and PF-13: the response-header and
// read-idle clocks (SPEC §3) against raw node:http servers on loopback, with short T.
// GO-12: only the slow request times out, the next one on the same client works.
// UN-01: a late or absent head is `response-headers`, also after a 10 MiB upload.
// UN-02: the header clock starts when the last request byte is flushed, not before.
// UN-03: a stalled body is `read-idle`; 0 disables it. PF-13: the defaults are those of
// SPEC §3, and a slow (long-poll) head under defaults succeeds.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Client, DEFAULTS, Dialer, TimeoutError, Transport, type TransportOptions } from '../../src/index.js';
import { rejection } from './helpers.js';

const T = { timeout: 10_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Srv {
  url: (p: string) => string;
  requests: string[];
}

/** A node:http server on loopback; sockets destroyed and server closed after the test. */
async function server(t: TestContext, handler: http.RequestListener): Promise<Srv> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const s = http.createServer((req, res) => {
    requests.push(req.url!);
    handler(req, res);
  });
  s.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  s.requestTimeout = 0;
  s.headersTimeout = 0;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  });
  const { port } = s.address() as net.AddressInfo;
  return { url: (p) => `http://127.0.0.1:${port}${p}`, requests };
}

function newClient(t: TestContext, topts: TransportOptions = {}): Client {
  const client = new Client({ transport: new Transport(topts) });
  t.after(() => client.close());
  return client;
}

function assertTimeout(err: unknown, phase: string, timeout: number): asserts err is TimeoutError {
  assert.ok(err instanceof TimeoutError, String(err));
  assert.equal(err.phase, phase);
  assert.equal(err.timeout, timeout);
}

describe('GO-12: responseHeaderTimeout fails only the slow request', () => {
  it('GO-12: /fast, /slow, /fast with responseHeaderTimeout T: only /slow fails (response-headers at T ± ε), the next /fast succeeds', T, async (t) => {
    const TT = 150;
    const srv = await server(t, (req, res) => {
      if (req.url === '/fast') res.end('fast');
      // /slow never answers
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    assert.equal(await (await client.request(srv.url('/fast'))).text(), 'fast');
    const { err, ms } = await rejection(client.request(srv.url('/slow')));
    assertTimeout(err, 'response-headers', TT);
    assert.equal(err.requestSent, true);
    assert.ok(ms >= TT - 5 && ms < TT + 250, `${ms} ms`);
    assert.ok(err.elapsed >= TT - 5 && err.elapsed < TT + 250, `elapsed ${err.elapsed}`);
    assert.equal(await (await client.request(srv.url('/fast'))).text(), 'fast');
    assert.deepEqual(srv.requests, ['/fast', '/slow', '/fast']);
  });
});

describe('UN-01: the response-header timeout', () => {
  const TT = 250;

  it('UN-01a: a head after 2 s, and no head at all: TimeoutError{phase response-headers} at T', T, async (t) => {
    const srv = await server(t, (req, res) => {
      if (req.url === '/late') setTimeout(() => res.end('late'), 2_000).unref();
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    for (const p of ['/late', '/never']) {
      const { err, ms } = await rejection(client.request(srv.url(p)));
      assertTimeout(err, 'response-headers', TT);
      assert.ok(ms >= TT - 5 && ms < TT + 250, `${p}: ${ms} ms`);
    }
  });

  it('UN-01b: a POST of a 10 MiB file that the server reads but never answers: TimeoutError{phase response-headers}', T, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-un01-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'ten.bin');
    fs.writeFileSync(file, Buffer.alloc(10 * 1024 * 1024, 7));
    let received = 0;
    const srv = await server(t, (req) => {
      req.on('data', (c: Buffer) => (received += c.length));
      // reads everything, never answers
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    const { err } = await rejection(
      client.request(srv.url('/upload'), {
        method: 'POST',
        body: fs.createReadStream(file),
        headers: { 'content-length': String(10 * 1024 * 1024) },
      }),
    );
    assertTimeout(err, 'response-headers', TT);
    assert.equal(err.requestSent, true);
    assert.equal(received, 10 * 1024 * 1024);
  });
});

describe('UN-02: the header clock starts when the last request byte is flushed', () => {
  const TT = 200;

  it('UN-02a: a server reading a 16 MiB body slowly (upload far longer than T) then echoing: no header timeout', T, async (t) => {
    const size = 16 * 1024 * 1024;
    let bodyEnd = 0;
    const start = performance.now();
    const srv = await server(t, (req, res) => {
      let n = 0;
      req.pause();
      // Read nothing for 3T (the client's writes back up), then drain at once and echo.
      setTimeout(() => {
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => {
          bodyEnd = performance.now();
          res.end(`got ${n}`);
        });
        req.resume();
      }, 3 * TT);
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    const res = await client.request(srv.url('/slow-reader'), { method: 'POST', body: Buffer.alloc(size, 1) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), `got ${size}`);
    assert.ok(bodyEnd - start >= 3 * TT, `the upload lasted ${Math.round(bodyEnd - start)} ms, longer than T`);
  });

  it('UN-02b: a request body that takes 3T to produce, then an answer at once: no header timeout', T, async (t) => {
    const srv = await server(t, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 6; i++) {
        yield Buffer.from(`part${i};`);
        await sleep(TT / 2);
      }
    }
    const res = await client.request(srv.url('/echo'), { method: 'POST', body: slowBody() });
    assert.equal(await res.text(), 'part0;part1;part2;part3;part4;part5;');
  });

  it('UN-02c: the server reads the whole slow body, then stays silent: the timeout fires T after the body ended, not T after the start', T, async (t) => {
    let bodyEnd = 0;
    const srv = await server(t, (req) => {
      req.resume();
      req.on('end', () => (bodyEnd = performance.now()));
    });
    const client = newClient(t, { responseHeaderTimeout: TT });
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 4; i++) {
        yield Buffer.from(`part${i};`);
        await sleep(TT / 2);
      }
    }
    const start = performance.now();
    const { err } = await rejection(client.request(srv.url('/silent'), { method: 'POST', body: slowBody() }));
    const failedAt = performance.now();
    assertTimeout(err, 'response-headers', TT);
    assert.ok(bodyEnd > 0, 'the server saw the whole body');
    assert.ok(failedAt - start >= 2 * TT, `failed ${Math.round(failedAt - start)} ms after the start`);
    const after = failedAt - bodyEnd;
    assert.ok(after >= TT - 20 && after < TT + 250, `failed ${Math.round(after)} ms after the body ended`);
  });
});

describe('UN-03: the body (read-idle) timeout', () => {
  it('UN-03a: hello, then a stall: the body fails with TimeoutError{phase read-idle} after hello', T, async (t) => {
    const TT = 100;
    const srv = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('hello');
    });
    const client = newClient(t, { readIdleTimeout: TT });
    const res = await client.request(srv.url('/'));
    const got: Buffer[] = [];
    const { err } = await rejection(
      (async () => {
        for await (const c of res.body) got.push(c as Buffer);
      })(),
    );
    assert.equal(Buffer.concat(got).toString(), 'hello');
    assertTimeout(err, 'read-idle', TT);
  });

  it('UN-03b: headers only, never a body; the consumer pauses 2T before reading: the timeout fires (within T of the first read)', T, async (t) => {
    const TT = 200;
    const srv = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.flushHeaders();
    });
    const client = newClient(t, { readIdleTimeout: TT });
    const res = await client.request(srv.url('/'));
    await sleep(2 * TT); // the consumer pauses
    const readAt = performance.now();
    const { err } = await rejection(res.text());
    assertTimeout(err, 'read-idle', TT);
    // hourglass semantics (HG-05): fires within T of the first read that finds nothing buffered.
    assert.ok(performance.now() - readAt < TT + 250, `${Math.round(performance.now() - readAt)} ms after the first read`);
  });

  it('UN-03c: full body asd, the consumer pauses 2 s-scaled (4T), readIdleTimeout 0: completes (0 disables)', T, async (t) => {
    const TT = 100;
    const srv = await server(t, (_req, res) => res.end('asd'));
    const client = newClient(t, { readIdleTimeout: 0 });
    const res = await client.request(srv.url('/'));
    await sleep(4 * TT);
    assert.equal(await res.text(), 'asd');
  });
});

describe('PF-13: defaults suit long polls', () => {
  it('PF-13a: with defaults only, a head that comes late (1.5 s: a scaled-down long poll) succeeds', T, async (t) => {
    const srv = await server(t, (_req, res) => {
      setTimeout(() => res.end('polled'), 1_500).unref();
    });
    const client = newClient(t);
    const start = performance.now();
    const res = await client.request(srv.url('/poll'));
    assert.equal(await res.text(), 'polled');
    assert.ok(performance.now() - start >= 1_400);
  });

  it('PF-13b: every default in SPEC §3 equals its documented value', T, () => {
    // SPEC §3 table (and §6 for dialer keepAlive / fallbackDelay).
    assert.equal(DEFAULTS.dialTimeout, 30_000);
    assert.equal(DEFAULTS.tlsHandshakeTimeout, 10_000);
    assert.equal(DEFAULTS.poolTimeout, 0, 'poolTimeout: none');
    assert.equal(DEFAULTS.writeTimeout, 0, 'writeTimeout: none');
    assert.equal(DEFAULTS.writeIdleTimeout, 300_000);
    assert.equal(DEFAULTS.expectContinueTimeout, 1_000);
    assert.equal(DEFAULTS.responseHeaderTimeout, 300_000);
    assert.equal(DEFAULTS.readIdleTimeout, 300_000);
    assert.equal(DEFAULTS.idleConnTimeout, 90_000);
    assert.equal(DEFAULTS.keepAlive, 15_000);
    assert.equal(DEFAULTS.fallbackDelay, 300);
    // What a Transport and a Dialer built with no options report.
    const tr = new Transport();
    try {
      assert.equal(tr.timeouts.tlsHandshakeTimeout, 10_000);
      assert.equal(tr.timeouts.writeIdleTimeout, 300_000);
      assert.equal(tr.timeouts.expectContinueTimeout, 1_000);
      assert.equal(tr.timeouts.responseHeaderTimeout, 300_000);
      assert.equal(tr.timeouts.readIdleTimeout, 300_000);
      assert.ok(!tr.timeouts.poolTimeout, 'poolTimeout: none');
      assert.ok(!tr.timeouts.writeTimeout, 'writeTimeout: none');
      assert.equal(tr.dialer.options.timeout, 30_000);
      assert.equal(tr.dialer.options.keepAlive, 15_000);
      assert.equal(tr.dialer.options.fallbackDelay, 300);
      assert.equal(new Dialer().options.timeout, 30_000);
    } finally {
      void tr.close();
    }
  });
});
