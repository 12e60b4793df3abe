// Tests of hourglass/testing's FaultServer, with raw `net`/`tls` sockets only: every
// built-in route answers with the documented bytes, keep-alive and the counters
// work, the side listeners hang as promised, TLS works with the shipped CA, and
// close() leaves nothing behind.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { CLIENT_CERT, CLIENT_KEY, FaultServer, writeCertsDir } from '../src/testing/index.js';

interface RawResult {
  data: Buffer;
  text: string;
  /** How the exchange ended: server FIN, server RST, or still open (stopped by `until` or the wait). */
  end: 'fin' | 'reset' | 'open';
  firstByteMs: number | null;
  ms: number;
}

interface RawOpts {
  until?: (data: Buffer) => boolean;
  waitMs?: number;
  tls?: tls.ConnectionOptions;
  /** Bytes to write once the first response is complete (keep-alive tests). */
  then?: string;
}

/** Connects, writes `request`, collects bytes until FIN/RST, `until`, or `waitMs`. */
function raw(port: number, request: string | Buffer, opts: RawOpts = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, ...opts.tls })
      : net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let firstByteMs: number | null = null;
    let done = false;
    const finish = (end: RawResult['end']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, text: data.toString('latin1'), end, firstByteMs, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish('open'), opts.waitMs ?? 3000);
    sock.on(opts.tls ? 'secureConnect' : 'connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => {
      firstByteMs ??= performance.now() - t0;
      chunks.push(d);
      if (opts.until?.(Buffer.concat(chunks))) finish('open');
    });
    sock.on('end', () => finish('fin'));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? 'reset' : 'open'));
  });
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes after this response. */
  rest: Buffer;
}

/** Parses one complete response (Content-Length, chunked, or up to the end); null if incomplete. */
function parse(buf: Buffer, readToEnd = false): Parsed | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let p = headEnd + 4;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf('\r\n', p);
      if (eol < 0) return null;
      const size = Number.parseInt(buf.subarray(p, eol).toString('latin1'), 16);
      p = eol + 2;
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', p - 2);
        if (end < 0) return null;
        return { status, headers, body: Buffer.concat(parts), rest: buf.subarray(end + 4) };
      }
      if (buf.length < p + size + 2) return null;
      parts.push(buf.subarray(p, p + size));
      p += size + 2;
    }
  }
  const cl = headers['content-length'];
  if (cl === undefined && !readToEnd && status !== 204 && status !== 304) return null;
  const len = cl === undefined ? buf.length - p : Number(cl);
  if (buf.length < p + len) return null;
  return { status, headers, body: buf.subarray(p, p + len), rest: buf.subarray(p + len) };
}

const complete = (d: Buffer): boolean => parse(d) !== null;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FaultServer', () => {
  let fs: FaultServer;
  before(async () => {
    fs = await FaultServer.start();
  });
  after(async () => {
    await fs.close();
  });

  it('answers /ok with exact bytes and records the request', async () => {
    const r = await raw(fs.port, get('/ok?x=1', 'X-A: 1\r\n'), { until: complete });
    assert.equal(r.text, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
    const rec = fs.requests.at(-1)!;
    assert.equal(rec.method, 'GET');
    assert.equal(rec.target, '/ok?x=1');
    assert.equal(rec.path, '/ok');
    assert.equal(rec.query.get('x'), '1');
    assert.equal(rec.headers['x-a'], '1');
    assert.deepEqual(rec.rawHeaders, ['Host', '127.0.0.1', 'X-A', '1']);
    assert.ok(fs.url('/ok').startsWith('http://127.0.0.1:'));
  });

  it('serves several requests on one keep-alive connection, in order', async () => {
    const before = fs.connections;
    const r = await raw(fs.port, get('/ok') + get('/status/201') + get('/status/204'), {
      until: (d) => d.toString('latin1').includes('204 No Content'),
    });
    assert.equal(fs.connections - before, 1);
    const first = parse(r.data)!;
    const second = parse(first.rest)!;
    assert.equal(first.body.toString(), 'ok');
    assert.equal(second.status, 201);
    assert.equal(second.body.toString(), 'status 201');
    assert.match(second.rest.toString('latin1'), /^HTTP\/1\.1 204 No Content\r\n[\s\S]*\r\n\r\n$/);
    const ids = fs.requests.slice(-3).map((q) => q.connectionId);
    assert.equal(new Set(ids).size, 1);
  });

  it('counts accepted connections and open sockets', async () => {
    const before = fs.connections;
    await Promise.all([
      raw(fs.port, get('/ok'), { until: complete }),
      raw(fs.port, get('/ok'), { until: complete }),
    ]);
    assert.equal(fs.connections - before, 2);
    for (let i = 0; i < 100 && fs.openSockets > 0; i++) await sleep(10);
    assert.equal(fs.openSockets, 0);
  });

  it('records how the client closed (FIN vs RST) and waitForClose resolves', async () => {
    const sock = net.connect(fs.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.end();
    const info = await fs.waitForClose(fs.connections, 2000);
    assert.equal(info.clientEnded, 'fin');
    const sock2 = net.connect(fs.port, '127.0.0.1');
    await new Promise((r) => sock2.once('connect', r));
    await sleep(20);
    sock2.resetAndDestroy();
    const info2 = await fs.waitForClose(fs.connections, 2000);
    assert.equal(info2.clientEnded, 'reset');
  });

  it('/echo returns method, headers and a chunked request body with trailers', async () => {
    const req =
      'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n';
    const r = await raw(fs.port, req, { until: complete });
    const json = JSON.parse(parse(r.data)!.body.toString());
    assert.equal(json.method, 'POST');
    assert.equal(json.body, 'hello world');
    assert.equal(json.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(json.trailers, { 'x-t': '1' });
    assert.equal(fs.requests.at(-1)!.body.toString(), 'hello world');
  });

  it('answers 100 Continue when the request expects it and the route reads the body', async () => {
    const sock = net.connect(fs.port, '127.0.0.1');
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.write('PUT /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    for (let i = 0; i < 200 && !text.includes('100 Continue'); i++) await sleep(5);
    assert.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n');
    sock.write('abc');
    for (let i = 0; i < 200 && !text.includes('"bodyLength":3'); i++) await sleep(5);
    sock.destroy();
    assert.match(text, /"body":"abc"/);
  });

  it('/bytes, /chunked and /trailers', async () => {
    const b = parse((await raw(fs.port, get('/bytes?n=100'), { until: complete })).data)!;
    assert.deepEqual(b.body, FaultServer.rangeContent(100));
    const c = await raw(fs.port, get('/chunked?n=26&chunks=3'), { until: complete });
    assert.deepEqual(parse(c.data)!.body, FaultServer.rangeContent(26));
    assert.equal((c.text.match(/\r\n9\r\n/g) ?? []).length, 2);
    const t = await raw(fs.port, get('/trailers'), { until: complete });
    assert.match(t.text, /\r\nTrailer: X-Checksum, X-Missing\r\n/);
    assert.ok(t.text.endsWith('0\r\nX-Checksum: abc123\r\nX-Extra: 1\r\n\r\n'));
    assert.equal(parse(t.data)!.body.toString(), 'hello world');
  });

  it('/status/:code with any code and /echo of HEAD-less bodies', async () => {
    for (const code of [200, 404, 418, 503, 599]) {
      const p = parse((await raw(fs.port, get(`/status/${code}`), { until: complete })).data)!;
      assert.equal(p.status, code);
      assert.equal(p.body.toString(), `status ${code}`);
    }
    const h = await raw(fs.port, get('/status/503?h=Retry-After:2'), { until: complete });
    assert.match(h.text, /\r\nRetry-After: 2\r\n/);
    const head = await raw(fs.port, `HEAD /bytes?n=10 HTTP/1.1\r\nHost: h\r\n\r\n`, {
      until: (d) => d.includes('\r\n\r\n'),
    });
    await sleep(50);
    assert.ok(head.text.endsWith('Content-Length: 10\r\n\r\n'));
  });

  it('timing faults: delay-headers, never, drip, stall-body', async () => {
    const d = await raw(fs.port, get('/delay-headers?ms=200'), { until: complete });
    assert.ok(d.firstByteMs! >= 180, `first byte at ${d.firstByteMs}`);
    const n = await raw(fs.port, get('/never'), { waitMs: 300 });
    assert.equal(n.data.length, 0);
    assert.equal(n.end, 'open');
    assert.equal(fs.requests.at(-1)!.path, '/never');
    const dr = await raw(fs.port, get('/drip?bytes=5&interval=50&chunk=1'), { until: complete });
    assert.ok(dr.firstByteMs! < 150, `head at ${dr.firstByteMs}`);
    assert.ok(dr.ms >= 230, `body done at ${dr.ms}`);
    assert.deepEqual(parse(dr.data)!.body, FaultServer.rangeContent(5));
    const s = await raw(fs.port, get('/stall-body?after=3&length=10'), { waitMs: 300 });
    assert.equal(s.end, 'open');
    assert.match(s.text, /Content-Length: 10\r\n\r\n[a-z]{3}$/);
  });

  it('socket faults: resets, closes, truncation', async () => {
    const a = await raw(fs.port, get('/reset-after-headers'));
    assert.equal(a.end, 'reset');
    assert.match(a.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 100\r\n\r\n$/);
    const b = await raw(fs.port, get('/reset-before-headers'));
    assert.deepEqual([b.end, b.data.length], ['reset', 0]);
    const c = await raw(fs.port, get('/close-before-headers'));
    assert.deepEqual([c.end, c.data.length], ['fin', 0]);
    const t = await raw(fs.port, get('/truncated?length=100&send=10'));
    assert.equal(t.end, 'fin');
    assert.match(t.text, /Content-Length: 100\r\n\r\n[a-z]{10}$/);
    const m = await raw(fs.port, get('/reset-mid-body?length=100&send=10'));
    assert.equal(m.end, 'reset');
    assert.match(m.text, /\r\n\r\n[a-z]{10}$/);
  });

  it('connection management: keepalive, connection-close, close-idle, poison', async () => {
    const k = await raw(fs.port, get('/keepalive?timeout=7'), { until: complete });
    assert.match(k.text, /\r\nKeep-Alive: timeout=7\r\n/);
    const cc = await raw(fs.port, get('/connection-close'));
    assert.equal(cc.end, 'fin');
    assert.match(cc.text, /\r\nConnection: close\r\n/);
    const ci = await raw(fs.port, get('/close-idle?ms=100'));
    assert.equal(ci.end, 'fin');
    assert.ok(ci.ms >= 90 && ci.ms < 1500, `closed after ${ci.ms}`);
    const p = await raw(fs.port, get('/poison?ms=50'), { until: (d) => d.includes('Poison-Free-Socket') });
    const first = parse(p.data)!;
    assert.equal(first.body.toString(), 'ok');
    assert.match(first.rest.toString('latin1'), /^HTTP\/1\.1 200 OK\r\nPoison-Free-Socket: true\r\n/);
    const i = await raw(fs.port, get('/idle-408?ms=20'));
    assert.equal(i.end, 'fin');
    assert.ok(i.text.endsWith('okHTTP/1.1 408 bye\r\n'));
  });

  it('a request inside the close-idle window keeps the connection', async () => {
    const sock = net.connect(fs.port, '127.0.0.1');
    let text = '';
    let ended = false;
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('end', () => (ended = true));
    sock.write(get('/close-idle?ms=150'));
    await sleep(80);
    sock.write(get('/ok'));
    await sleep(120);
    assert.equal(ended, false);
    assert.equal((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2);
    for (let i = 0; i < 100 && !ended; i++) await sleep(10);
    assert.equal(ended, true);
    sock.destroy();
  });

  it('redirects', async () => {
    const r = parse((await raw(fs.port, get('/redirect?to=/echo&status=307'), { until: complete })).data)!;
    assert.deepEqual([r.status, r.headers.location], [307, '/echo']);
    const c = parse((await raw(fs.port, get('/redirect-chain?n=2&status=301'), { until: complete })).data)!;
    assert.deepEqual([c.status, c.headers.location], [301, '/redirect-chain?n=1&status=301']);
    const d = parse((await raw(fs.port, get('/redirect-chain?n=0'), { until: complete })).data)!;
    assert.deepEqual([d.status, d.body.toString()], [200, 'done']);
    const l = parse((await raw(fs.port, get('/redirect-loop'), { until: complete })).data)!;
    assert.equal(l.headers.location, '/redirect-loop');
    const rel = parse((await raw(fs.port, get('/redirect-relative'), { until: complete })).data)!;
    assert.equal(new URL(rel.headers.location!, fs.url('/redirect-relative')).pathname, '/ok');
  });

  it('compressed bodies decode to compressedText; corrupt and truncate variants do not', async () => {
    const decoders: Record<string, (b: Buffer) => Buffer> = {
      '/gzip': zlib.gunzipSync,
      '/deflate': zlib.inflateSync,
      '/deflate-raw': zlib.inflateRawSync,
      '/br': zlib.brotliDecompressSync,
    };
    for (const [path, decode] of Object.entries(decoders)) {
      const p = parse((await raw(fs.port, get(path), { until: complete })).data)!;
      assert.equal(decode(p.body).toString(), FaultServer.compressedText, path);
      for (const variant of ['corrupt=1', 'truncate=1']) {
        const v = parse((await raw(fs.port, get(`${path}?${variant}`), { until: complete })).data)!;
        assert.throws(() => decode(v.body), `${path}?${variant} must not decode`);
      }
      const ch = parse((await raw(fs.port, get(`${path}?chunked=1`), { until: complete })).data)!;
      assert.equal(decode(ch.body).toString(), FaultServer.compressedText);
    }
    const cut = await raw(fs.port, get('/gzip?cut=10'));
    assert.equal(cut.end, 'fin');
  });

  it('1xx responses precede the final one', async () => {
    const r = await raw(fs.port, get('/1xx?codes=100,103'), { until: (d) => d.toString().endsWith('ok') });
    assert.match(
      r.text,
      /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 103 Early Hints\r\nLink: [^\r]+\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
    );
  });

  it('/range: 200 with validators, 206, 416, If-Range, ignoreRange, weak', async () => {
    const size = 1000;
    const content = FaultServer.rangeContent(size);
    const q = async (path: string, extra = ''): Promise<Parsed> =>
      parse((await raw(fs.port, get(path, extra), { until: complete })).data)!;
    const full = await q(`/range?size=${size}`);
    assert.equal(full.status, 200);
    assert.deepEqual(full.body, content);
    assert.equal(full.headers.etag, `"hg-${size}"`);
    assert.ok(full.headers['last-modified']);
    const mid = await q(`/range?size=${size}`, 'Range: bytes=10-19\r\n');
    assert.deepEqual([mid.status, mid.headers['content-range']], [206, `bytes 10-19/${size}`]);
    assert.deepEqual(mid.body, content.subarray(10, 20));
    const open = await q(`/range?size=${size}`, 'Range: bytes=990-\r\n');
    assert.deepEqual(open.body, content.subarray(990));
    const suffix = await q(`/range?size=${size}`, 'Range: bytes=-5\r\n');
    assert.deepEqual(
      [suffix.headers['content-range'], suffix.body],
      [`bytes 995-999/${size}`, content.subarray(995)],
    );
    const bad = await q(`/range?size=${size}`, 'Range: bytes=1000-\r\n');
    assert.deepEqual([bad.status, bad.headers['content-range']], [416, `bytes */${size}`]);
    const match = await q(`/range?size=${size}`, `Range: bytes=5-\r\nIf-Range: "hg-${size}"\r\n`);
    assert.equal(match.status, 206);
    const mismatch = await q(`/range?size=${size}`, 'Range: bytes=5-\r\nIf-Range: "other"\r\n');
    assert.deepEqual([mismatch.status, mismatch.body.length], [200, size]);
    const date = await q(
      `/range?size=${size}`,
      `Range: bytes=5-\r\nIf-Range: ${full.headers['last-modified']}\r\n`,
    );
    assert.equal(date.status, 206);
    const ignored = await q(`/range?size=${size}&ignoreRange=1`, 'Range: bytes=5-\r\n');
    assert.equal(ignored.status, 200);
    const weak = await q(`/range?size=${size}&weak=1&etag=abc`, 'Range: bytes=5-\r\nIf-Range: W/"abc"\r\n');
    assert.deepEqual([weak.headers.etag, weak.status], ['W/"abc"', 200]);
  });

  it('/range resetAt and stallAt cut the n-th request only', async () => {
    const path = '/range?size=100&resetAt=30,60';
    const first = await raw(fs.port, get(path));
    assert.equal(first.end, 'reset');
    assert.equal(first.text.split('\r\n\r\n')[1], FaultServer.rangeContent(30).toString());
    const second = await raw(fs.port, get(path, 'Range: bytes=30-\r\n'));
    assert.equal(second.end, 'reset');
    assert.match(second.text, /Content-Range: bytes 30-99\/100\r\n/);
    assert.equal(second.text.split('\r\n\r\n')[1]!.length, 30);
    const third = parse((await raw(fs.port, get(path, 'Range: bytes=60-\r\n'), { until: complete })).data)!;
    assert.deepEqual(third.body, FaultServer.rangeContent(100).subarray(60));
    assert.equal(fs.hits(path), 3);
    const stall = await raw(fs.port, get('/range?size=100&stallAt=10'), { waitMs: 300 });
    assert.equal(stall.end, 'open');
    assert.equal(stall.text.split('\r\n\r\n')[1]!.length, 10);
  });

  it('malformed responses are written verbatim, and so are edge cases', async () => {
    const names = Object.keys(FaultServer.malformed);
    for (const required of [
      'duplicate-cl',
      'cl-and-te',
      'bad-chunk-size',
      'obs-fold',
      'bare-lf',
      'bare-cr',
    ]) {
      assert.ok(names.includes(required), required);
    }
    for (const required of [
      'nul-in-header',
      'space-before-colon',
      'bad-status',
      'http2-version',
      '101-upgrade',
    ]) {
      assert.ok(names.includes(required), required);
    }
    for (const required of ['too-many-1xx', 'extra-after-body', '204-with-body', 'huge-header']) {
      assert.ok(names.includes(required), required);
    }
    const all = [
      ...Object.entries(FaultServer.malformedCases).map(([n, c]) => [`/malformed/${n}`, c] as const),
      ...Object.entries(FaultServer.edgeCases).map(([n, c]) => [`/edge/${n}`, c] as const),
    ];
    for (const [path, c] of all) {
      assert.deepEqual(FaultServer.malformed[path.slice('/malformed/'.length)] ?? c.bytes, c.bytes);
      const r = await raw(fs.port, get(path), {
        until: c.end === 'open' ? (d) => d.length >= c.bytes.length : undefined,
      });
      assert.equal(r.end, c.end, path);
      assert.ok(r.data.equals(c.bytes), `${path}: bytes differ`);
    }
  });

  it('/raw writes base64 bytes verbatim with the chosen ending', async () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nX: \x01\xff\r\n\r\n', 'latin1');
    const r = await raw(fs.port, get(`/raw?b64=${encodeURIComponent(bytes.toString('base64'))}`));
    assert.equal(r.end, 'fin');
    assert.ok(r.data.equals(bytes));
    const s = await raw(fs.port, get(`/raw?end=rst&split=5&delay=10&b64=${bytes.toString('base64url')}`));
    assert.equal(s.end, 'reset');
  });

  it('scripted routes: byte-exact writes, partial body reads, early answers', async () => {
    fs.route('/script', async (ex) => {
      await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe');
      await ex.sleep(30);
      await ex.writeSlowly('llo', { chunkSize: 1, intervalMs: 5 });
    });
    const r = await raw(fs.port, get('/script'), { until: complete });
    assert.equal(r.text, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    let got = '';
    fs.route(
      '/partial',
      async (ex) => {
        got = (await ex.readBody(3)).toString();
        await ex.respond(413, { Connection: 'close' }, 'too big');
        await ex.end();
      },
      { readBody: false },
    );
    const sock = net.connect(fs.port, '127.0.0.1');
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('error', () => {});
    sock.write('POST /partial HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\nabcdef');
    for (let i = 0; i < 200 && !text.includes('too big'); i++) await sleep(5);
    sock.destroy();
    assert.equal(got, 'abc');
    assert.match(text, /^HTTP\/1\.1 413 Content Too Large\r\n/);
    const early = await raw(
      fs.port,
      'POST /early-response?status=401&close=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 99\r\n\r\n',
    );
    assert.equal(early.end, 'fin');
    assert.match(early.text, /^HTTP\/1\.1 401 /);
  });

  it('serves absolute-form targets by path and tunnels CONNECT', async () => {
    const a = parse(
      (
        await raw(fs.port, 'GET http://example.test/echo HTTP/1.1\r\nHost: example.test\r\n\r\n', {
          until: complete,
        })
      ).data,
    )!;
    assert.equal(JSON.parse(a.body.toString()).target, 'http://example.test/echo');
    const origin = await FaultServer.start();
    try {
      const t = await raw(
        fs.port,
        `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n${get('/ok')}`,
        {
          until: (d) => d.toString().endsWith('ok'),
        },
      );
      assert.match(t.text, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      assert.equal(origin.requests.length, 1);
    } finally {
      await origin.close();
    }
  });

  it('recorded no script errors and can wait for requests', async () => {
    assert.deepEqual(fs.errors, []);
    const n = fs.requests.length;
    const waiting = fs.waitForRequests(n + 1, 2000);
    await raw(fs.port, get('/ok'), { until: complete });
    assert.equal((await waiting).length, n + 1);
  });

  it('exposes a documented route table', () => {
    const paths = FaultServer.routes.map((r) => r.path);
    for (const p of [
      '/ok',
      '/status/:code',
      '/echo',
      '/bytes',
      '/chunked',
      '/trailers',
      '/delay-headers',
      '/never',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    for (const p of [
      '/drip',
      '/stall-body',
      '/reset-after-headers',
      '/truncated',
      '/keepalive',
      '/close-idle',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    for (const p of [
      '/redirect-chain',
      '/gzip',
      '/br',
      '/1xx',
      '/range',
      '/malformed/:name',
      '/raw',
      '/poison',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    assert.ok(FaultServer.routes.every((r) => r.description.length > 5));
  });
});

describe('FaultServer side listeners', () => {
  let fs: FaultServer;
  before(async () => {
    fs = await FaultServer.start();
  });
  after(async () => {
    await fs.close();
  });

  it('blackhole(): TCP connect does not complete within 500 ms', async () => {
    const { host, port } = await fs.blackhole();
    const sock = net.connect({ host, port });
    sock.on('error', () => {});
    const connected = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 500);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    sock.destroy();
    assert.equal(connected, false);
  });

  it('tlsHang(): accepts TCP, never answers the ClientHello', async () => {
    const { port } = await fs.tlsHang();
    const r = await raw(port, '', { tls: { servername: 'localhost', ca: fs.ca }, waitMs: 500 });
    assert.deepEqual([r.end, r.data.length], ['open', 0]);
  });
});

describe('FaultServer over TLS', () => {
  it('serves routes with a certificate for localhost, 127.0.0.1 and ::1 signed by fs.ca', async () => {
    const fs = await FaultServer.start({ tls: true });
    try {
      assert.ok(fs.url('/ok').startsWith('https://127.0.0.1:'));
      const byIp = await raw(fs.port, get('/ok'), { tls: { ca: fs.ca }, until: complete });
      assert.equal(parse(byIp.data)!.body.toString(), 'ok');
      const byName = await raw(fs.port, get('/ok'), {
        tls: { ca: fs.ca, servername: 'localhost' },
        until: complete,
      });
      assert.equal(parse(byName.data)!.status, 200);
      const reset = await raw(fs.port, get('/reset-after-headers'), { tls: { ca: fs.ca } });
      assert.match(reset.text, /^HTTP\/1\.1 200 OK/);
      assert.equal(reset.end, 'reset');
    } finally {
      await fs.close();
    }
  });

  const handshake = (port: number, opts: tls.ConnectionOptions): Promise<string> =>
    new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ...opts });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('ok');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });

  it('wrong-name and expired certificates fail verification', async () => {
    const wrong = await FaultServer.start({ tls: { cert: 'wrong-name' } });
    const expired = await FaultServer.start({ tls: { cert: 'expired' } });
    try {
      assert.equal(
        await handshake(wrong.port, { ca: wrong.ca, servername: 'localhost' }),
        'ERR_TLS_CERT_ALTNAME_INVALID',
      );
      assert.equal(await handshake(wrong.port, { ca: wrong.ca, servername: 'wrong.example' }), 'ok');
      assert.equal(
        await handshake(expired.port, { ca: expired.ca, servername: 'localhost' }),
        'CERT_HAS_EXPIRED',
      );
    } finally {
      await Promise.all([wrong.close(), expired.close()]);
    }
  });

  it('mTLS: requires and records the shipped client certificate', async () => {
    const fs = await FaultServer.start({ tls: { clientAuth: 'require' } });
    try {
      const r = await raw(fs.port, get('/ok'), {
        tls: { ca: fs.ca, cert: CLIENT_CERT, key: CLIENT_KEY },
        until: complete,
      });
      assert.equal(parse(r.data)!.status, 200);
      assert.deepEqual(fs.requests[0]!.clientCert, { subjectCN: 'hourglass test client', authorized: true });
      const anon = await raw(fs.port, get('/ok'), { tls: { ca: fs.ca }, waitMs: 1000 });
      assert.equal(anon.data.length, 0);
      assert.equal(fs.requests.length, 1);
    } finally {
      await fs.close();
    }
  });

  it('writeCertsDir lays out <dir>/<host:port>/{ca.crt, client.cert, client.key}', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-certs-'));
    try {
      const hostDir = await writeCertsDir(dir, '127.0.0.1:8443');
      for (const f of ['ca.crt', 'client.cert', 'client.key']) assert.ok(existsSync(join(hostDir, f)), f);
      assert.match(readFileSync(join(hostDir, 'ca.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('FaultServer.close()', () => {
  it('leaves no handles: a process that used every feature exits promptly', async () => {
    const entry = fileURLToPath(new URL('../src/testing/index.js', import.meta.url));
    const code = `
      import { FaultServer } from ${JSON.stringify(pathToFileURL(entry).href)};
      import * as net from 'node:net';
      const fs = await FaultServer.start();
      const tfs = await FaultServer.start({ tls: true });
      await fs.blackhole();
      const hang = await tfs.tlsHang();
      const open = (port, req) => { const s = net.connect(port, '127.0.0.1'); s.on('error', () => {}); if (req) s.write(req); return s; };
      open(fs.port, 'GET /never HTTP/1.1\\r\\n\\r\\n');
      open(fs.port, 'GET /drip?bytes=1000&interval=100 HTTP/1.1\\r\\n\\r\\n');
      open(fs.port, 'GET /ok HTTP/1.1\\r\\n\\r\\n');
      open(fs.port, 'GET /poison?ms=5000 HTTP/1.1\\r\\n\\r\\n');
      open(hang.port, 'hello');
      open(tfs.port, 'not tls');
      await new Promise((r) => setTimeout(r, 200));
      await Promise.all([fs.close(), tfs.close()]);
      console.log('closed');
    `;
    const dir = mkdtempSync(join(tmpdir(), 'hg-close-'));
    const script = join(dir, 'child.mjs');
    writeFileSync(script, code);
    const t0 = performance.now();
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const exit = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    const ms = performance.now() - t0;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(exit, 0, out);
    assert.match(out, /closed/);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
  });
});
