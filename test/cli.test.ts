/**
 * cli.test — the `hourglass get` command as users run it: the built binary
 * (`dist/cli/main.js`) spawned against loopback servers. Proves the curl exit codes
 * (0, 2, 6, 7, 22, 23, 28, 35, 47, 60), `-o`, `-d`, `--json` (one line with status,
 * timings and error), `-v` (headers, trace events and the waterfall on stderr, never
 * userinfo), `--help`, ranged downloads with `--sha256`/`--resume`, and the duration
 * and flag parsers.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { parseDuration, parseRate, UsageError } from '../src/cli/args.js';
import { parseGetArgs } from '../src/cli/get-args.js';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from '../src/testing/certs.js';

import { hg } from './helpers/cli.js';


const CONTENT = Buffer.from('0123456789abcdef'.repeat(4096)); // 64 KiB
const CONTENT_SHA = createHash('sha256').update(CONTENT).digest('hex');

/** A loopback server with the few behaviours these tests need. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  switch (url.pathname) {
    case '/ok':
      res.setHeader('content-type', 'text/plain');
      res.end('hello\n');
      return;
    case '/never':
      return; // no answer at all
    case '/hops': {
      const n = Number(url.searchParams.get('n') ?? 0);
      if (n > 0) res.writeHead(302, { location: `/hops?n=${n - 1}` });
      res.end();
      return;
    }
    case '/noeol':
      res.end('no newline at the end');
      return;
    case '/status':
      res.statusCode = Number(url.searchParams.get('code') ?? 200);
      res.end(`status ${res.statusCode}\n`);
      return;
    case '/loop':
      res.statusCode = 302;
      res.setHeader('location', '/loop');
      res.end();
      return;
    case '/echo': {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            method: req.method,
            headers: req.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      return;
    }
    case '/file': {
      // Ranged file with a strong ETag; `?cut=N` resets the connection after N bytes of a 200.
      res.setHeader('etag', '"v1"');
      res.setHeader('accept-ranges', 'bytes');
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m !== null && (req.headers['if-range'] === undefined || req.headers['if-range'] === '"v1"')) {
        const start = Number(m[1]);
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${start}-${CONTENT.length - 1}/${CONTENT.length}`);
        res.setHeader('content-length', CONTENT.length - start);
        res.end(CONTENT.subarray(start));
        return;
      }
      res.setHeader('content-length', CONTENT.length);
      const cut = Number(url.searchParams.get('cut') ?? 0);
      if (cut > 0) {
        res.write(CONTENT.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      res.end(CONTENT);
      return;
    }
    default:
      res.statusCode = 404;
      res.end();
  }
}

let server: http.Server;
let base: string;
let tlsServer: tls.Server;
let tlsPort: number;
let tmp: string;

before(async () => {
  server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tlsServer = tls.createServer({ cert: SERVER_CERT, key: SERVER_KEY, ALPNProtocols: ['http/1.1'] }, (s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nsecure\n'));
  });
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-cli-'));
});

after(() => {
  server.closeAllConnections();
  server.close();
  tlsServer.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('hourglass get: exit codes', () => {
  it('exits 0 and writes the body to stdout', async () => {
    const r = await hg(['get', `${base}/ok`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
  });

  it('--connect-timeout also bounds the TLS handshake (as curl): exit 28 in about that time', { timeout: 10_000 }, async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s.on('error', () => undefined))); // accepts, never answers the ClientHello
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const r = await hg(['get', '--connect-timeout', '0.5', `https://127.0.0.1:${port}/`]);
      assert.equal(r.code, 28, r.stderr);
      assert.match(r.stderr, /tls timeout/);
      assert.ok(r.ms < 4000, `took ${Math.round(r.ms)} ms: the 10 s --tls-timeout default applied`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('--max-redirs -1 means no limit (as curl): a 12-hop chain is followed', { timeout: 10_000 }, async () => {
    assert.equal(parseGetArgs(['--max-redirs', '-1', 'http://x/']).maxRedirects, Infinity);
    const r = await hg(['get', '-L', '--max-redirs', '-1', `${base}/hops?n=12`]);
    assert.equal(r.code, 0, r.stderr);
    const capped = await hg(['get', '-L', `${base}/hops?n=12`]);
    assert.equal(capped.code, 47, 'the default of 10 still applies');
  });

  it('--cacert is not read for a plain http:// URL (as curl): a bad file is no exit 77 there', { timeout: 10_000 }, async () => {
    const missing = path.join(os.tmpdir(), `hg-no-such-ca-${process.pid}.pem`);
    const r = await hg(['get', '--cacert', missing, `${base}/ok`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
  });

  it('-fI on a 404 prints the head, then exits 22 (as curl)', { timeout: 10_000 }, async () => {
    const r = await hg(['get', '-fI', `${base}/status?code=404`]);
    assert.equal(r.code, 22, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(r.stdout, /\r\n\r\n$/);
  });

  it('exits 6 when the host name does not resolve (.invalid)', async () => {
    const r = await hg(['get', 'http://no-such-host.invalid/']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /ENOTFOUND|EAI_AGAIN/);
  });

  it('exits 7 when the connection is refused', async () => {
    const port = await freePort();
    const r = await hg(['get', `http://127.0.0.1:${port}/`]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /ECONNREFUSED/);
  });

  it('exits 28 when --header-timeout expires, close to the configured time', async () => {
    const r = await hg(['get', '--header-timeout', '300ms', `${base}/never`]);
    assert.equal(r.code, 28, r.stderr);
    assert.match(r.stderr, /response-headers timeout/);
    assert.ok(r.ms >= 300 && r.ms < 5_000, `took ${r.ms} ms`);
  });

  it('exits 22 for HTTP >= 400 only with --fail, and writes no body then', async () => {
    const failed = await hg(['get', '--fail', `${base}/status?code=404`]);
    assert.equal(failed.code, 22, failed.stderr);
    assert.equal(failed.stdout, '');
    const plain = await hg(['get', `${base}/status?code=404`]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'status 404\n');
  });

  it('exits 47 on a redirect loop with -L --max-redirects 3; without -L returns the 302', async () => {
    const loop = await hg(['get', '-L', '--max-redirects', '3', `${base}/loop`]);
    assert.equal(loop.code, 47, loop.stderr);
    const alias = await hg(['get', '-L', '--max-redirs=2', '--json', `${base}/loop`]);
    assert.equal(alias.code, 47);
    assert.equal(JSON.parse(alias.stdout).error.code, 'HG_TOO_MANY_REDIRECTS');
    const noFollow = await hg(['get', '--json', `${base}/loop`]);
    assert.equal(noFollow.code, 0, noFollow.stderr);
    assert.equal(JSON.parse(noFollow.stdout).status, 302);
  });

  it('exits 2 for a bad duration, an unknown option or a missing URL, before sending anything', async () => {
    for (const args of [
      ['get', '--timeout', '1x', `${base}/ok`],
      ['get', '--bogus', `${base}/ok`],
      ['get'],
    ]) {
      const r = await hg(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /hourglass: /);
    }
  });

  it('exits 23 when -o cannot be written', async () => {
    const r = await hg(['get', '-o', path.join(tmp, 'missing-dir', 'f'), `${base}/ok`]);
    assert.equal(r.code, 23, r.stderr);
  });

  it('exits 60 for an untrusted certificate, 0 with --cacert or -k', async () => {
    const url = `https://localhost:${tlsPort}/`;
    const untrusted = await hg(['get', url]);
    assert.equal(untrusted.code, 60, untrusted.stderr);
    const ca = path.join(tmp, 'ca.pem');
    fs.writeFileSync(ca, CA_CERT);
    const trusted = await hg(['get', '--cacert', ca, url]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout, 'secure\n');
    const insecure = await hg(['get', '-k', url]);
    assert.equal(insecure.code, 0, insecure.stderr);
  });

  it('exits 35 when the TLS handshake fails (the port speaks plain HTTP)', async () => {
    const r = await hg(['get', `https://127.0.0.1:${new URL(base).port}/ok`]);
    assert.equal(r.code, 35, r.stderr);
  });
});

describe('hourglass get: output and requests', () => {
  it('-o writes the body to the file and nothing to stdout', async () => {
    const file = path.join(tmp, 'ok.txt');
    const r = await hg(['get', '-s', '-o', file, `${base}/ok`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello\n');
  });

  it('-d sends a urlencoded POST (joined with &, @file read), -X and -H are honoured', async () => {
    const data = path.join(tmp, 'data.txt');
    fs.writeFileSync(data, 'b=2\n');
    const post = JSON.parse(
      (await hg(['get', '-d', 'a=1', '-d', `@${data}`, '-H', 'X-Test: yes', `${base}/echo`])).stdout,
    );
    assert.equal(post.method, 'POST');
    assert.equal(post.body, 'a=1&b=2');
    assert.equal(post.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(post.headers['x-test'], 'yes');
    const put = JSON.parse((await hg(['get', '-X', 'PUT', '-d', 'x', `${base}/echo`])).stdout);
    assert.equal(put.method, 'PUT');
  });

  it('--json prints exactly one parseable line with status, url, headers, bytes, timings, error', async () => {
    const r = await hg(['get', '--json', `${base}/ok`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]!);
    assert.equal(j.status, 200);
    assert.equal(j.url, `${base}/ok`);
    assert.equal(j.headers['content-type'], 'text/plain');
    assert.equal(j.bytes, 6);
    assert.equal(j.error, null);
    assert.equal(typeof j.timings.phases.total, 'number');
    assert.equal(typeof j.timings.phases.firstByte, 'number');
  });

  it('--json reports a timeout as { name, code, phase, reason, message }', async () => {
    const r = await hg(['get', '--json', '--header-timeout', '0.2', `${base}/never`]);
    assert.equal(r.code, 28);
    const j = JSON.parse(r.stdout.trim());
    assert.equal(j.status, null);
    assert.deepEqual(
      { name: j.error.name, code: j.error.code, phase: j.error.phase, reason: j.error.reason },
      { name: 'TimeoutError', code: 'ETIMEDOUT', phase: 'response-headers', reason: null },
    );
    assert.equal(typeof j.error.message, 'string');
    assert.equal(typeof j.timings, 'object');
  });

  it('--json timings to an IP literal: no dns phase, and the phases add up to the total', { timeout: 15_000 }, async () => {
    for (const args of [[`${base}/ok`], ['-L', `${base}/status?code=200`]]) {
      const r = await hg(['get', '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      const p = JSON.parse(r.stdout).timings.phases as Record<string, number>;
      assert.equal(p.dns, 0, JSON.stringify(p));
      const sum = ['blocked', 'wait', 'dns', 'tcp', 'tls', 'request', 'firstByte', 'download'].reduce((n, k) => n + p[k]!, 0);
      assert.equal(sum, p.total, JSON.stringify(p));
    }
  });

  it('--json with -o -: the body, then the JSON line on a line of its own', { timeout: 10_000 }, async () => {
    const r = await hg(['get', '--json', '-o', '-', `${base}/noeol`]);
    assert.equal(r.code, 0, r.stderr);
    const [body, line, rest] = r.stdout.split('\n');
    assert.equal(body, 'no newline at the end');
    assert.equal(JSON.parse(line!).bytes, 21);
    assert.equal(rest, '');
    const eol = await hg(['get', '--json', '-o', '-', `${base}/ok`]);
    assert.equal(eol.stdout.split('\n').length, 3, 'no blank line after a body that ends its line');
    assert.equal(JSON.parse(eol.stdout.split('\n')[1]!).status, 200);
  });

  it('--json writes its one line for URL errors too (unsupported scheme 1, malformed URL 3)', { timeout: 10_000 }, async () => {
    for (const [url, code] of [['foo://x/', 1], ['http://[::1/', 3]] as const) {
      const r = await hg(['get', '--json', url]);
      assert.equal(r.code, code, r.stderr);
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${url}: ${r.stdout}`);
      const j = JSON.parse(lines[0]!);
      assert.equal(j.status, null);
      assert.equal(j.error.name, 'UsageError');
      assert.match(j.error.message, /URL/);
    }
  });

  it('-v prints headers, trace events and the waterfall to stderr, and never the userinfo', async () => {
    const url = `http://alice:s3cret@127.0.0.1:${new URL(base).port}/ok`;
    const r = await hg(['get', '-v', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
    assert.match(r.stderr, /^> GET \/ok HTTP\/1\.1$/m);
    assert.match(r.stderr, /^< HTTP\/1\.1 200 OK$/m);
    assert.match(r.stderr, /gotFirstResponseByte/);
    assert.match(r.stderr, /timing waterfall/);
    for (const phase of ['connect', 'wait', 'download', 'total'])
      assert.match(r.stderr, new RegExp(`^\\*\\s+${phase}\\b`, 'm'));
    assert.match(r.stderr, /█/);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cret|alice/);
    const failed = await hg(['get', '-v', '--json', `http://alice:s3cret@127.0.0.1:${await freePort()}/`]);
    assert.doesNotMatch(failed.stderr + failed.stdout, /s3cret|alice/);
  });

  it('--help lists every flag with its default', async () => {
    const r = await hg(['get', '--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '-o',
      '-X',
      '-H',
      '-d',
      '-L',
      '--max-redirects',
      '--max-redirs',
      '--timeout',
      '--connect-timeout',
      '--tls-timeout',
      '--header-timeout',
      '--read-timeout',
      '--min-speed',
      '--retry',
      '--resume',
      '--mirror',
      '--sha256',
      '--proxy',
      '--cacert',
      '-k',
      '--insecure',
      '-v',
      '--json',
      '--fail',
      '--silent',
      '-S',
      '--show-error',
      '-I',
      '--head',
      '-i',
      '--include',
      '--help',
    ]) {
      assert.ok(r.stdout.includes(flag), `help lacks ${flag}`);
    }
    assert.match(r.stdout, /--max-redirects.*default: 10/);
    assert.match(r.stdout, /--connect-timeout.*default: 30s/);
    for (const code of [1, 3, 18, 23, 56, 77]) assert.match(r.stdout, new RegExp(`^\\s+${code}\\s`, 'm'));
    assert.match(r.stdout, /--sha256 mismatch/);
    const top = await hg(['--help']);
    assert.match(top.stdout, /get URL/);
    assert.match(top.stdout, /demo/);
  });

  it('--sha256 downloads through FILE.part and verifies; a wrong digest leaves no file', async () => {
    const file = path.join(tmp, 'dl.bin');
    const r = await hg(['get', '-s', '-o', file, '--sha256', CONTENT_SHA, `${base}/file`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(file).equals(CONTENT));
    assert.equal(fs.existsSync(`${file}.part`), false);
    const bad = path.join(tmp, 'bad.bin');
    const wrong = await hg(['get', '-s', '-o', bad, '--sha256', '0'.repeat(64), `${base}/file`]);
    assert.notEqual(wrong.code, 0);
    assert.equal(fs.existsSync(bad), false);
  });

  it('--resume survives a connection cut mid-body and resumes with a range', async () => {
    const file = path.join(tmp, 'resumed.bin');
    const r = await hg(['get', '--json', '--resume', '-o', file, `${base}/file?cut=20000`]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout.trim());
    assert.equal(j.bytes, CONTENT.length);
    assert.equal(j.status, 206);
    assert.equal(j.download.resumed, true);
    assert.ok(fs.readFileSync(file).equals(CONTENT));
  });
});

describe('cli args', () => {
  it('parseDuration: 250ms, 1.5s, 2m, bare seconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('3'), 3_000);
    assert.equal(parseDuration('0.25'), 250);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('1h'), 3_600_000);
  });

  it('parseDuration rejects anything else with a UsageError', () => {
    for (const bad of ['', 'abc', '-1', '1x', '1.5.2s', 'ms', '10 mins', 'Infinity']) {
      assert.throws(() => parseDuration(bad), UsageError, bad);
    }
  });

  it('parseRate: bytes/s with k/M/G suffixes (1024-based)', () => {
    assert.equal(parseRate('500'), 500);
    assert.equal(parseRate('10k'), 10_240);
    assert.equal(parseRate('1M'), 1_048_576);
    assert.equal(parseRate('2kB/s'), 2_048);
    assert.throws(() => parseRate('fast'), UsageError);
  });

  it('parseGetArgs: clustered short flags, --flag=value, repeats, scheme-less URLs', () => {
    const o = parseGetArgs([
      '-sLvo',
      'out',
      '-H',
      'A: 1',
      '--header=B: 2',
      '--max-redirs=4',
      '--timeout=2.5',
      'example.com/x',
    ]);
    assert.equal(o.silent && o.location && o.verbose, true);
    assert.equal(o.output, 'out');
    assert.deepEqual(o.headers, [
      ['A', '1'],
      ['B', '2'],
    ]);
    assert.equal(o.maxRedirects, 4);
    assert.equal(o.timeout, 2_500);
    assert.equal(o.url, 'http://example.com/x');
    assert.equal(parseGetArgs(['http://h/']).maxRedirects, 10);
    assert.equal(parseGetArgs(['http://h/']).location, false);
  });

  it('parseGetArgs: usage errors', () => {
    for (const bad of [
      [],
      ['http://a/', 'http://b/'],
      ['--retry', 'x', 'http://h/'],
      ['-H', 'no-colon', 'http://h/'],
      ['--resume', 'http://h/'],
      ['--sha256', 'abc', '-o', 'f', 'http://h/'],
      ['ftp://h/'],
      ['--connect-timeout'],
    ]) {
      assert.throws(() => parseGetArgs(bad), UsageError, bad.join(' '));
    }
  });
});

/** A loopback port with nothing listening. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
