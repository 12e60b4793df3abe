// HAR 1.2 (SPEC §14): toHarEntry maps a response's timings (blocked = pool wait, dns,
// connect including ssl, ssl, send, wait, receive; -1 where a phase did not happen) and
// its time is their sum; `hourglass get --har FILE` writes every request the command made
// (redirect hops and retries), valid against the HAR 1.2 schema (har-schema + ajv).
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, type HarEntry, harLog, toHarEntry, Transport } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { hg } from './helpers/cli.js';

const T = { timeout: 20_000 };
const require = createRequire(import.meta.url);

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/** ajv with the HAR 1.2 schemas of har-schema (draft-06). */
function harValidator(): Validate {
  const Ajv = (require('ajv') as { default: new (o: object) => AjvLike }).default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  const schemas = require('har-schema') as Record<string, object>;
  for (const s of Object.values(schemas)) ajv.addSchema(s);
  return ajv.getSchema('har.json#')!;
}
interface AjvLike {
  addMetaSchema(s: object): void;
  addSchema(s: object): void;
  getSchema(id: string): Validate | undefined;
}

const PHASES = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive'] as const;
function assertSums(e: HarEntry): void {
  const sum = PHASES.reduce((n, k) => n + Math.max(0, e.timings[k]), 0);
  assert.equal(e.time, sum, JSON.stringify(e.timings));
  for (const k of [...PHASES, 'ssl'] as const) assert.ok(Number.isInteger(e.timings[k]) && e.timings[k] >= -1, k);
}

describe('HAR', () => {
  let fs: FaultServer;
  let tlsFs: FaultServer;
  let dir: string;
  const validate = harValidator();

  before(async () => {
    fs = await FaultServer.start();
    tlsFs = await FaultServer.start({ tls: true });
    dir = mkdtempSync(join(tmpdir(), 'hg-har-'));
  });
  after(async () => {
    await fs.close();
    await tlsFs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('toHarEntry: a fresh TLS request and a reused one; timings sum to time; valid HAR', T, async () => {
    const c = new Client({ transport: new Transport({ tls: { ca: tlsFs.ca } }) });
    const a = await c.request(tlsFs.url('/bytes?n=2048'));
    await a.bytes();
    const b = await c.request(tlsFs.url('/ok?q=1'));
    await b.text();
    const fresh = toHarEntry(a, { headers: [['x-a', '1']] });
    const reused = toHarEntry(b);
    assertSums(fresh);
    assertSums(reused);
    assert.ok(fresh.timings.connect >= 0 && fresh.timings.ssl >= 0 && fresh.timings.connect >= fresh.timings.ssl);
    assert.deepEqual([reused.timings.dns, reused.timings.connect, reused.timings.ssl], [-1, -1, -1]);
    assert.equal(fresh.response.bodySize, 2048);
    assert.equal(fresh.response.content.size, 2048);
    assert.deepEqual(fresh.request.headers, [{ name: 'x-a', value: '1' }]);
    assert.deepEqual(reused.request.queryString, [{ name: 'q', value: '1' }]);
    assert.equal(reused.request.httpVersion, 'HTTP/1.1');
    assert.equal(new Date(fresh.startedDateTime).getTime(), a.timings.start);
    const doc = harLog([fresh, reused]);
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    // The validator does judge: an entry without timings is refused.
    assert.equal(validate(harLog([{ ...fresh, timings: undefined } as unknown as HarEntry])), false);
    await c.close();
  });

  it('get --har: every hop of -L and every retry, valid HAR 1.2, timings summing to time', T, async () => {
    const file = join(dir, 'redirect.har');
    const r = await hg(['get', '-s', '-L', '--har', file, '-o', join(dir, 'out'), fs.url('/redirect-chain?n=2')]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { log: { entries: HarEntry[]; creator: { name: string } } };
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    assert.equal(doc.log.creator.name, 'hourglass');
    const entries = doc.log.entries;
    assert.deepEqual(
      entries.map((e) => e.response.status),
      [302, 302, 200],
    );
    assert.equal(entries[0].response.redirectURL, fs.url('/redirect-chain?n=1&status=302'));
    assert.equal(entries[2].response.content.size, 4); // "done"
    for (const e of entries) assertSums(e);
    assert.equal(entries[1].timings.dns, -1); // reused connection

    const retryFile = join(dir, 'retry.har');
    const r2 = await hg(['get', '-s', '--retry', '2', '--har', retryFile, '-o', join(dir, 'out2'), fs.url('/flaky?fail=1&status=503')]);
    assert.equal(r2.code, 0, r2.stderr);
    const doc2 = JSON.parse(readFileSync(retryFile, 'utf8')) as { log: { entries: HarEntry[] } };
    assert.ok(validate(doc2), JSON.stringify(validate.errors));
    assert.deepEqual(
      doc2.log.entries.map((e) => e.response.status),
      [503, 200],
    );
    for (const e of doc2.log.entries) assertSums(e);
  });

  it('get --har with --resume: the requests of the download are logged too', T, async () => {
    const file = join(dir, 'resume.har');
    const r = await hg(['get', '-s', '--resume', '--har', file, '-o', join(dir, 'resumed.bin'), fs.url('/bytes?n=5000')]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { log: { entries: HarEntry[] } };
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    assert.ok(doc.log.entries.length >= 1);
    assert.equal(doc.log.entries.at(-1)!.response.status, 200);
    for (const e of doc.log.entries) assertSums(e);
  });

  it('get --har with --resume, a request cut mid-body: its entry has the bytes that arrived, not Content-Length (issue #17)', T, async () => {
    const file = join(dir, 'resume-cut.har');
    const out = join(dir, 'resume-cut.bin');
    // The first request is reset after 300 of 1000 bytes; the download resumes with Range.
    const r = await hg(['get', '-s', '--resume', '--retry', '2', '--har', file, '-o', out, fs.url('/range?size=1000&resetAt=300')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(out).length, 1000);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { log: { entries: HarEntry[] } };
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    const got = doc.log.entries.map((e) => [e.response.status, e.response.bodySize, e.response.content.size]);
    assert.deepEqual(got, [
      [200, 300, 300],
      [206, 700, 700],
    ]);
    for (const e of doc.log.entries) assertSums(e);
  });

  it('get --har: credentials in request headers are masked', T, async () => {
    const file = join(dir, 'auth.har');
    const r = await hg(['get', '-s', '-H', 'Authorization: Bearer secret', '--har', file, '-o', join(dir, 'out3'), fs.url('/ok')]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes('secret'));
    const doc = JSON.parse(text) as { log: { entries: HarEntry[] } };
    assert.ok(doc.log.entries[0].request.headers.some((h) => h.name === 'Authorization' && h.value === '[redacted]'));
  });
});

describe('HAR: secrets never written (one redaction rule with url.full)', () => {
  const SECRETS = ['SECRETPW', 'YWxpY2U6U0VDUkVUUFc', 'SECRETTOKEN', 'SECRETC2', 'SECRETKEY', 'SECRETPA', 'SECRETCOOKIE', 'SECRETSIG', 'SECRETGOOG', 'SECRETAK'];
  let srv: import('node:http').Server;
  let base = '';
  let dir = '';
  before(async () => {
    const http = await import('node:http');
    dir = mkdtempSync(join(tmpdir(), 'hg-har-secret-'));
    srv = http.createServer((req, res) => {
      if (req.url!.startsWith('/start')) {
        res.writeHead(302, { Location: '/final?sig=SECRETSIG&ok=1', 'Set-Cookie': ['sid=SECRETCOOKIE; Path=/', 'b=SECRETCOOKIE'], 'Content-Length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': 'x=SECRETCOOKIE' });
      res.end('hello');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => srv.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('toHarEntry(res, { headers }): credentials, Set-Cookie, signed-URL query values, Location/redirectURL masked (t27)', T, async () => {
    const c = new Client({ transport: new Transport(), followRedirects: false });
    try {
      const r = await c.request(`${base}/start?X-Goog-Signature=SECRETGOOG&Signature=SECRETSIG&AWSAccessKeyId=SECRETAK&a=1`);
      await r.text();
      const e = toHarEntry(r, {
        headers: [
          ['Authorization', 'Bearer SECRETTOKEN'],
          ['Cookie', 'c=SECRETC2'],
          ['Proxy-Authorization', 'Basic SECRETPA'],
          ['X-Api-Key', 'SECRETKEY'],
          ['Accept', 'text/plain'],
        ],
      });
      const text = JSON.stringify(e);
      for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in ${text}`);
      assert.equal(e.request.url, `${base}/start?X-Goog-Signature=REDACTED&Signature=REDACTED&AWSAccessKeyId=REDACTED&a=1`);
      assert.deepEqual(e.request.queryString.find((q) => q.name === 'a'), { name: 'a', value: '1' });
      assert.deepEqual(e.request.queryString.find((q) => q.name === 'sig' || q.name === 'Signature'), { name: 'Signature', value: 'REDACTED' });
      assert.deepEqual(e.request.headers.find((h) => h.name === 'Accept'), { name: 'Accept', value: 'text/plain' });
      assert.equal(e.response.status, 302);
      assert.equal(e.response.redirectURL, `${base}/final?sig=REDACTED&ok=1`);
      assert.deepEqual(e.response.headers.find((h) => h.name.toLowerCase() === 'location'), { name: 'Location', value: '/final?sig=REDACTED&ok=1' });
      assert.ok(e.response.headers.filter((h) => h.name.toLowerCase() === 'set-cookie').every((h) => h.value === '[redacted]'));
    } finally {
      await c.close();
    }
  });

  it('get --har: the same masks in the CLI log of every hop (t09)', T, async () => {
    const file = join(dir, 'secret.har');
    const url = `http://alice:SECRETPW@${base.slice('http://'.length)}/start?X-Goog-Signature=SECRETGOOG&a=1`;
    const r = await hg(['get', '-sS', '-L', '--har', file, '-o', join(dir, 'o'), '-H', 'Authorization: Bearer SECRETTOKEN', '-H', 'Cookie: c=SECRETC2', '-H', 'X-Api-Key: SECRETKEY', '-H', 'Proxy-Authorization: Basic SECRETPA', url]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(file, 'utf8');
    for (const s of SECRETS) assert.ok(!text.includes(s), s);
    const doc = JSON.parse(text) as { log: { entries: HarEntry[] } };
    assert.deepEqual(
      doc.log.entries.map((e) => e.response.status),
      [302, 200],
    );
    assert.equal(doc.log.entries[0].response.redirectURL, `${base}/final?sig=REDACTED&ok=1`);
  });
});

describe('HAR: body sizes', () => {
  let srv: import('node:net').Server;
  let port = 0;
  let dir = '';
  before(async () => {
    const net = await import('node:net');
    dir = mkdtempSync(join(tmpdir(), 'hg-har-size-'));
    srv = net.createServer((sock) => {
      sock.on('error', () => {});
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        // HEAD: the length of the GET body, none sent; GET: 2 of 10 bytes, then a stall.
        sock.write(buf.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab');
        buf = '';
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as import('node:net').AddressInfo).port;
  });
  after(async () => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a HEAD response: content.size and bodySize 0 whatever Content-Length says (t10)', T, async () => {
    const c = new Client({ transport: new Transport() });
    try {
      const r = await c.request(`http://127.0.0.1:${port}/h`, { method: 'HEAD' });
      await r.text();
      const e = toHarEntry(r);
      assert.equal(e.response.content.size, 0);
      assert.equal(e.response.bodySize, 0);
    } finally {
      await c.close();
    }
  });

  it('get --har, a body cut short: bodySize and content.size are the bytes that arrived (t41)', T, async () => {
    const file = join(dir, 'cut.har');
    const r = await hg(['get', '-sS', '--read-timeout', '0.2', '--har', file, '-o', join(dir, 'o'), `http://127.0.0.1:${port}/`]);
    assert.notEqual(r.code, 0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { log: { entries: HarEntry[] } };
    const e = doc.log.entries[0];
    assert.equal(e.response.bodySize, 2);
    assert.equal(e.response.content.size, 2);
  });
});

describe('HAR: a phase that did not happen is -1, not 0 ms', () => {
  it('a Unix socket: dns 0 as for an IP literal (no lookup, as got counts it), connect timed; a mock makes no connection (dns, connect, ssl -1)', T, async () => {
    const { MockTransport } = await import('../src/testing/index.js');
    const sock = join(tmpdir(), `hg-har-${process.pid}.sock`);
    rmSync(sock, { force: true });
    const server = await FaultServer.start({ socketPath: sock });
    const c = new Client({ transport: new Transport({ socketPath: sock }) });
    try {
      const r = await c.request('http://unix.test/ok');
      await r.text();
      const e = toHarEntry(r);
      assert.equal(e.timings.dns, 0, JSON.stringify(e.timings));
      assert.ok(e.timings.connect >= 0, JSON.stringify(e.timings));
      assertSums(e);
    } finally {
      await c.close();
      await server.close();
      rmSync(sock, { force: true });
    }
    const mock = new MockTransport();
    mock.on('GET', 'http://mock.test/x').reply(200, 'hi');
    const m = new Client({ transport: mock });
    try {
      const r = await m.request('http://mock.test/x');
      await r.text();
      const e = toHarEntry(r);
      assert.equal(e.timings.dns, -1, JSON.stringify(e.timings));
      assert.equal(e.timings.connect, -1, JSON.stringify(e.timings));
      assert.equal(e.timings.ssl, -1, JSON.stringify(e.timings));
      assertSums(e);
    } finally {
      await m.close();
    }
  });
});
