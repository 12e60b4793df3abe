/**
 * cli-curl.test — `hourglass get` exits as curl does (SPEC §10, §11): every situation of
 * the README's CLI table is run against the same loopback servers with hourglass and,
 * where curl is installed, with curl itself; both numbers must match the table, and the
 * table must list exactly these situations. Without curl (or without `script` for the
 * terminal rows) those comparisons are skipped with a message, never failed.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { SERVER_CERT, SERVER_KEY } from '../src/testing/certs.js';
import { curl, freePort, HAVE_CURL, HAVE_SCRIPT, hg, inPty, rawServer, type Run } from './helpers/cli.js';

const README = new URL('../../README.md', import.meta.url).pathname;

/** Answers one request per connection, then closes (so every client opens a new one). */
function answer(s: net.Socket, head: string): void {
  const [method = 'GET', target = '/'] = head.split(' ');
  const ok = (body: string, extra = ''): void =>
    void s.end(
      `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n${method === 'HEAD' ? '' : body}`,
    );
  switch (target) {
    case '/ok':
      return ok('hello\n', 'Content-Type: text/plain\r\n');
    case '/never':
      return;
    case '/empty':
      return void s.end();
    case '/404':
      return void s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope');
    case '/loop':
      return void s.end('HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    case '/reset':
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc');
      setTimeout(() => s.resetAndDestroy(), 50);
      return;
    case '/reset-head':
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      setTimeout(() => s.resetAndDestroy(), 50);
      return;
    case '/short':
      return void s.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc');
    case '/chunk-short':
      return void s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    case '/bad-header':
      return void s.end('HTTP/1.1 200 OK\r\nBad header\r\nContent-Length: 2\r\n\r\nok');
    case '/bad-status':
      return void s.end('HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok');
    case '/bin':
      return ok('PK\x03\x04\x00\x00binary\x00');
    default:
      return void s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
}

let server: Awaited<ReturnType<typeof rawServer>>;
let tlsServer: tls.Server;
let tlsPort: number;
let tmp: string;

before(async () => {
  server = await rawServer(answer);
  tlsServer = tls.createServer({ cert: SERVER_CERT, key: SERVER_KEY }, (s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nsecure\n'));
  });
  tlsServer.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-cli-curl-'));
  fs.writeFileSync(path.join(tmp, 'empty.pem'), '');
});

after(async () => {
  await server.close();
  tlsServer.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** One row of the README table: the arguments both tools get (after `get` for hourglass). */
interface Situation {
  situation: string;
  curl: number;
  hourglass: number;
  args(): string[] | Promise<string[]>;
  /** Run under a pseudo-terminal (stdout is a TTY). */
  pty?: boolean;
}

const SITUATIONS: Situation[] = [
  { situation: 'success', curl: 0, hourglass: 0, args: () => ['-sS', `${server.base}/ok`] },
  { situation: '`-fsSL` on a 200', curl: 0, hourglass: 0, args: () => ['-fsSL', `${server.base}/ok`] },
  { situation: '`-I` (HEAD, head printed)', curl: 0, hourglass: 0, args: () => ['-sSI', `${server.base}/ok`] },
  { situation: 'unsupported scheme (`foo://`)', curl: 1, hourglass: 1, args: () => ['-sS', 'foo://example/'] },
  { situation: 'unknown option', curl: 2, hourglass: 2, args: () => ['--no-such-flag-at-all', `${server.base}/ok`] },
  { situation: 'malformed URL (`http://[::1/`)', curl: 3, hourglass: 3, args: () => ['-sS', 'http://[::1/'] },
  { situation: 'URL with a space', curl: 3, hourglass: 3, args: () => ['-sS', `${server.base}/a b`] },
  {
    situation: 'host name does not resolve',
    curl: 6,
    hourglass: 6,
    args: () => ['-sS', 'http://no-such-host.invalid/'],
  },
  {
    situation: 'connection refused',
    curl: 7,
    hourglass: 7,
    args: async () => ['-sS', `http://127.0.0.1:${await freePort()}/`],
  },
  { situation: 'header line without a colon', curl: 8, hourglass: 8, args: () => ['-sS', `${server.base}/bad-header`] },
  { situation: 'malformed status line', curl: 1, hourglass: 8, args: () => ['-sS', `${server.base}/bad-status`] },
  {
    situation: 'clean close mid-body (Content-Length)',
    curl: 18,
    hourglass: 18,
    args: () => ['-sS', '-o', path.join(tmp, 'short'), `${server.base}/short`],
  },
  {
    situation: 'clean close mid-body (chunked)',
    curl: 18,
    hourglass: 18,
    args: () => ['-sS', '-o', path.join(tmp, 'chunk'), `${server.base}/chunk-short`],
  },
  { situation: 'server closes without replying', curl: 52, hourglass: 52, args: () => ['-sS', `${server.base}/empty`] },
  { situation: 'HTTP 404 with `-f`', curl: 22, hourglass: 22, args: () => ['-sSf', `${server.base}/404`] },
  {
    situation: '`-o` into a missing directory',
    curl: 23,
    hourglass: 23,
    args: () => ['-sS', '-o', path.join(tmp, 'no-dir', 'f'), `${server.base}/ok`],
  },
  { situation: 'binary body to a terminal', curl: 23, hourglass: 23, pty: true, args: () => [`${server.base}/bin`] },
  {
    situation: 'binary body to a terminal with `-o -`',
    curl: 0,
    hourglass: 0,
    pty: true,
    args: () => ['-o', '-', `${server.base}/bin`],
  },
  { situation: 'overall timeout (`-m 0.5`)', curl: 28, hourglass: 28, args: () => ['-sS', '-m', '0.5', `${server.base}/never`] },
  {
    situation: 'TLS handshake with a plain-HTTP port',
    curl: 35,
    hourglass: 35,
    args: () => ['-sS', `https://127.0.0.1:${server.port}/ok`],
  },
  {
    situation: 'redirect loop (`-L --max-redirs 3`)',
    curl: 47,
    hourglass: 47,
    args: () => ['-sSL', '--max-redirs', '3', `${server.base}/loop`],
  },
  { situation: 'connection reset mid-body', curl: 56, hourglass: 56, args: () => ['-sS', `${server.base}/reset`] },
  {
    situation: 'connection reset right after the head',
    curl: 56,
    hourglass: 56,
    args: () => ['-sS', `${server.base}/reset-head`],
  },
  { situation: 'untrusted certificate', curl: 60, hourglass: 60, args: () => ['-sS', `https://localhost:${tlsPort}/`] },
  {
    situation: '`--cacert` file holding no certificate',
    curl: 77,
    hourglass: 77,
    args: () => ['-sS', '--cacert', path.join(tmp, 'empty.pem'), `https://localhost:${tlsPort}/`],
  },
];

/** The README's `| situation | curl exit | hourglass exit |` rows. */
function readmeTable(): Map<string, [number, number]> {
  const text = fs.readFileSync(README, 'utf8');
  const start = text.indexOf('| situation | curl exit | hourglass exit |');
  assert.ok(start !== -1, 'README lacks the CLI exit code table');
  const rows = new Map<string, [number, number]>();
  for (const line of text.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    rows.set(cells[1]!, [Number(cells[2]), Number(cells[3])]);
  }
  return rows;
}

async function runBoth(s: Situation): Promise<{ hg: Run; curl: Run | undefined }> {
  const args = await s.args();
  const hgArgv = [process.execPath, new URL('../../dist/cli/main.js', import.meta.url).pathname, 'get', ...args];
  const mine = s.pty ? inPty(hgArgv) : hg(['get', ...args]);
  const theirs = HAVE_CURL ? (s.pty ? inPty(['curl', '-q', ...args]) : curl(args)) : Promise.resolve(undefined);
  const [h, c] = await Promise.all([mine, theirs]);
  return { hg: h, curl: c };
}

describe('hourglass get exits as curl does (README table)', () => {
  it('the README table lists exactly the situations tested here, with the same numbers', { timeout: 5_000 }, () => {
    const table = readmeTable();
    assert.deepEqual(
      [...table.keys()].sort(),
      SITUATIONS.map((s) => s.situation).sort(),
      'README table rows and test situations differ',
    );
    for (const s of SITUATIONS) assert.deepEqual(table.get(s.situation), [s.curl, s.hourglass], s.situation);
  });

  for (const s of SITUATIONS) {
    const skip = s.pty && !HAVE_SCRIPT ? 'util-linux `script` is not installed: no pseudo-terminal' : false;
    it(`${s.situation}: hourglass ${s.hourglass}, curl ${s.curl}`, { timeout: 20_000, skip }, async (t) => {
      const r = await runBoth(s);
      assert.equal(r.hg.code, s.hourglass, `hourglass: ${r.hg.stderr}${s.pty ? r.hg.stdout : ''}`);
      if (r.curl === undefined) {
        t.diagnostic('curl is not installed: the curl column was not checked');
        return;
      }
      assert.equal(r.curl.code, s.curl, `curl: ${r.curl.stderr}`);
    });
  }
});
