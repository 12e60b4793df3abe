/**
 * h2/cli.test — `hourglass get` over HTTP/2 (SPEC §10, §13): `--http2`, `--http1.1` and
 * `--http2-prior-knowledge` as curl has them, `-v`/`-i` showing the negotiated protocol
 * (`< HTTP/2 200`), and curl parity of exit codes against the h2 fault server where
 * curl has HTTP/2 (skipped otherwise).
 */

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseGetArgs } from '../../src/cli/get-args.js';
import { FaultServer } from '../../src/testing/index.js';
import { curl, HAVE_CURL, hg } from '../helpers/cli.js';

const T = { timeout: 30_000 };
const CURL_H2 = HAVE_CURL && /\bHTTP2\b/.test(execFileSync('curl', ['-V'], { encoding: 'utf8' }));

let tlsServer: FaultServer;
let h2c: FaultServer;
let dir: string;
let ca: string;

before(async () => {
  tlsServer = await FaultServer.start({ h2: true });
  h2c = await FaultServer.start({ h2: true, tls: false });
  dir = mkdtempSync(join(tmpdir(), 'hg-h2-cli-'));
  ca = join(dir, 'ca.pem');
  writeFileSync(ca, tlsServer.ca);
});

after(async () => {
  await Promise.all([tlsServer.close(), h2c.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP version flags', () => {
  it('parse as curl: the last one wins', T, () => {
    assert.equal(parseGetArgs(['http://x/']).httpVersion, undefined);
    assert.equal(parseGetArgs(['--http2', 'http://x/']).httpVersion, '2');
    assert.equal(parseGetArgs(['--http1.1', 'http://x/']).httpVersion, '1.1');
    assert.equal(parseGetArgs(['--http2-prior-knowledge', 'http://x/']).httpVersion, '2-prior-knowledge');
    assert.equal(parseGetArgs(['--http2', '--http1.1', 'http://x/']).httpVersion, '1.1');
  });

  it('https: HTTP/2 by ALPN by default and with --http2; -v and -i show `HTTP/2 200`', T, async () => {
    for (const flags of [[], ['--http2']]) {
      const r = await hg(['get', '-v', '-i', '--cacert', ca, ...flags, tlsServer.url('/ok')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^< HTTP\/2 200$/m);
      assert.match(r.stdout, /^HTTP\/2 200\r\n[\s\S]*\r\n\r\nok$/);
    }
    assert.deepEqual(tlsServer.requests.map((q) => q.httpVersion), ['2.0', '2.0']);
  });

  it('--http1.1 never offers h2', T, async () => {
    const before = tlsServer.requests.length;
    const r = await hg(['get', '-v', '--cacert', ca, '--http1.1', tlsServer.url('/ok')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^< HTTP\/1\.1 200 OK$/m);
    assert.equal(tlsServer.requests[before]?.httpVersion, '1.1');
  });

  it('--http2-prior-knowledge speaks h2c on http://; without it, HTTP/1.1', T, async () => {
    const r = await hg(['get', '-v', '--http2-prior-knowledge', h2c.url('/ok')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^< HTTP\/2 200$/m);
    assert.equal(r.stdout, 'ok');
    const plain = await hg(['get', '-v', '--http2', h2c.url('/ok')]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^< HTTP\/1\.1 200 OK$/m);
    assert.deepEqual(h2c.requests.map((q) => q.httpVersion), ['2.0', '1.1']);
  });
});

// Where hourglass and curl (nghttp2) agree. Each row: path, extra flags, expected exit code
// (a fourth field marks a known client bug: the row runs as a todo).
const PARITY: [string, string[], number, string?][] = [
  ['/ok', [], 0],
  ['/status/404', ['-f'], 22],
  ['/h2/rst?code=2', [], 92], // RST_STREAM before the head
  ['/h2/rst?code=2&after=3', [], 92], // RST_STREAM(INTERNAL_ERROR) mid-body
  // node:http2 reports no error for a CANCEL reset: the client reads rstCode itself.
  ['/h2/rst?code=8&after=3', [], 92],
  ['/h2/refuse?times=always', [], 56], // refused, replayed, refused again: "connection died"
  ['/h2/goaway?last=0&code=2', [], 16], // GOAWAY with an error code below the stream
  ['/stall-body?after=3', ['-m', '1'], 28],
];

describe('exit codes as curl --http2', { skip: CURL_H2 ? false : 'curl without HTTP2' }, () => {
  for (const [path, flags, code, bug] of PARITY) {
    it(`${path} ${flags.join(' ')} → ${code}`, { ...T, todo: bug ?? false }, async () => {
      const url = tlsServer.url(path);
      const [c, h] = await Promise.all([
        curl(['-sS', '--http2', '--cacert', ca, ...flags, url, '-o', '/dev/null']),
        hg(['get', '-sS', '--http2', '--cacert', ca, ...flags, url, '-o', '/dev/null']),
      ]);
      assert.equal(c.code, code, `curl: ${c.stderr}`);
      assert.equal(h.code, code, `hourglass: ${h.stderr}`);
    });
  }
});
