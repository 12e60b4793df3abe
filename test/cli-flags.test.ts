/**
 * cli-flags.test — `hourglass get` flags and output as curl has them (SPEC §10, §11):
 * combined short flags, `-H 'Name:'` / `-H 'Name;'` (checked on the wire, and against
 * curl where installed), `-i`/`-I`, `-v` showing each request head exactly as written and
 * each hop and retry in order (absolute-form through a proxy), timeout messages naming
 * option and flag, `--json` timings that add up, the resumed-speed summary, and the
 * singular "1 redirect".
 */

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../src/cli/args.js';
import { cliMessage, TIMEOUT_FLAGS } from '../src/cli/exit-codes.js';
import { parseGetArgs } from '../src/cli/get-args.js';
import { ProgressBar } from '../src/cli/progress.js';
import { TIMEOUT_OPTIONS, TimeoutError, type TimeoutPhase } from '../src/errors.js';
import { curl, freePort, HAVE_CURL, hg, rawServer } from './helpers/cli.js';

let server: http.Server;
let base: string;
let flaky = 0;

before(async () => {
  server = http.createServer((req, res) => {
    switch (req.url) {
      case '/ok':
        res.setHeader('content-type', 'text/plain');
        res.end('hello\n');
        return;
      case '/r':
        res.writeHead(302, { location: '/flaky' }).end();
        return;
      case '/flaky':
        // 503 on every other request: the first try of a hop fails, its retry succeeds.
        if (flaky++ % 2 === 0) res.writeHead(503, { 'content-length': 4 }).end('busy');
        else res.end('done\n');
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/stall':
        res.writeHead(200, { 'content-length': 100 });
        res.write('partial');
        return;
      case '/never':
        return;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** Captures the request heads a loopback server receives, answering 200 "ok". */
async function capture(): Promise<{ base: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const raw = await rawServer((s, head) => {
    heads.push(head);
    s.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
  });
  return { base: raw.base, heads, close: raw.close };
}

/** The header lines of a captured head, lower-cased names: `[name, value]`. */
function fields(head: string): [string, string][] {
  return head
    .split('\r\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => {
      const c = l.indexOf(':');
      return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
    });
}

describe('hourglass get: flags as curl', () => {
  it('combined short flags: -fsSL, -sSvo FILE, -oFILE; a flag taking a value ends the group', { timeout: 2_000 }, () => {
    const a = parseGetArgs(['-fsSL', 'http://h/']);
    assert.deepEqual([a.fail, a.silent, a.showError, a.location], [true, true, true, true]);
    const b = parseGetArgs(['-sSvo', 'out.bin', 'http://h/']);
    assert.deepEqual([b.silent, b.showError, b.verbose, b.output], [true, true, true, 'out.bin']);
    assert.equal(parseGetArgs(['-oout', 'http://h/']).output, 'out');
    assert.equal(parseGetArgs(['-ov', 'http://h/']).output, 'v', '-ov: "v" is the value of -o, as in curl');
    const c = parseGetArgs(['-iI', 'http://h/']);
    assert.deepEqual([c.include, c.head], [true, true]);
    assert.equal(parseGetArgs(['--head', '--include', '--show-error', 'http://h/']).showError, true);
  });

  it("-H 'Name:' removes a header, -H 'Name;' sends it empty, -H 'Name: v' adds it", { timeout: 2_000 }, () => {
    const o = parseGetArgs(['-H', 'User-Agent:', '-H', 'X-Empty;', '-H', 'X-A: 1', '-H', 'X-A:', '-H', 'X-B: 2', 'http://h/']);
    assert.deepEqual(o.headers, [
      ['X-Empty', ''],
      ['X-B', '2'],
    ]);
    assert.deepEqual(o.removeHeaders, ['user-agent', 'x-a']);
    assert.throws(() => parseGetArgs(['-H', 'no-colon', 'http://h/']), UsageError);
  });

  it('URL errors carry curl exit codes: malformed 3, unsupported scheme 1, other usage 2', { timeout: 2_000 }, () => {
    const code = (argv: string[]): number => {
      try {
        parseGetArgs(argv);
      } catch (err) {
        assert.ok(err instanceof UsageError);
        return err.exitCode;
      }
      return 0;
    };
    assert.equal(code(['http://[::1/']), 3);
    assert.equal(code(['http://h/a b']), 3);
    assert.equal(code(['http://h/\u0007']), 3);
    assert.equal(code(['ftp://h/']), 1);
    assert.equal(code(['--mirror', 'gopher://m/', '-o', 'f', 'http://h/']), 1);
    assert.equal(code(['--bogus', 'http://h/']), 2);
  });

  it("on the wire: -H 'User-Agent:' and -H 'Accept-Encoding:' send neither, -H 'X-Empty;' sends it empty (as curl)", { timeout: 15_000 }, async (t) => {
    const srv = await capture();
    try {
      const args = ['-sS', '-H', 'User-Agent:', '-H', 'Accept-Encoding:', '-H', 'X-Empty;', `${srv.base}/h`];
      const r = await hg(['get', ...args]);
      assert.equal(r.code, 0, r.stderr);
      const mine = fields(srv.heads[0]!);
      assert.equal(mine.find(([k]) => k === 'user-agent'), undefined, srv.heads[0]);
      assert.equal(mine.find(([k]) => k === 'accept-encoding'), undefined, srv.heads[0]);
      assert.deepEqual(mine.find(([k]) => k === 'x-empty'), ['x-empty', '']);
      if (!HAVE_CURL) {
        t.diagnostic('curl is not installed: not compared with curl');
        return;
      }
      const c = await curl(args);
      assert.equal(c.code, 0, c.stderr);
      const theirs = fields(srv.heads[1]!);
      for (const name of ['user-agent', 'accept-encoding', 'x-empty'])
        assert.deepEqual(
          mine.find(([k]) => k === name),
          theirs.find(([k]) => k === name),
          `${name}: hourglass and curl differ`,
        );
    } finally {
      await srv.close();
    }
  });

  it('-i prints the response head (CRLF) before the body; -I sends HEAD and prints only the head', { timeout: 15_000 }, async () => {
    const srv = await capture();
    try {
      const inc = await hg(['get', '-i', `${srv.base}/x`]);
      assert.equal(inc.code, 0, inc.stderr);
      assert.equal(inc.stdout, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
      const head = await hg(['get', '-I', `${srv.base}/x`]);
      assert.equal(head.code, 0, head.stderr);
      assert.match(srv.heads[1]!, /^HEAD \/x HTTP\/1\.1\r\n/);
      assert.equal(head.stdout, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n');
    } finally {
      await srv.close();
    }
  });

  it('-iL prints the head of every hop, in order, then the body', { timeout: 15_000 }, async () => {
    flaky = 1; // the next /flaky answers 200
    const r = await hg(['get', '-iL', `${base}/r`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 302 Found\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\ndone\n$/);
  });
});

describe('hourglass get -v', () => {
  it('shows each hop and retry in order, with request heads as written and every response head', { timeout: 15_000 }, async () => {
    flaky = 0; // the next /flaky answers 503, then 200
    const r = await hg(['get', '-v', '-L', '--retry', '2', `${base}/r`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'done\n');
    const lines = r.stderr.split('\n');
    const order = [
      /^> GET \/r HTTP\/1\.1$/,
      /^< HTTP\/1\.1 302 Found$/,
      /^< location: \/flaky$/i,
      /^\* following the 302 redirect to http:\/\/127\.0\.0\.1:\d+\/flaky$/,
      /^> GET \/flaky HTTP\/1\.1$/,
      /^< HTTP\/1\.1 503 Service Unavailable$/,
      /^\* retrying after 503 Service Unavailable \(waited \d+ ms\)$/,
      /^> GET \/flaky HTTP\/1\.1$/,
      /^< HTTP\/1\.1 200 OK$/,
      /timing waterfall/,
    ];
    let at = -1;
    for (const re of order) {
      const i = lines.findIndex((l, k) => k > at && re.test(l));
      assert.ok(i > at, `${re} not found after line ${at} in:\n${r.stderr}`);
      at = i;
    }
    // Everything the transport added is shown: Host and Accept-Encoding.
    assert.match(r.stderr, /^> host: 127\.0\.0\.1:\d+$/im);
    assert.match(r.stderr, /^> accept-encoding: gzip, deflate, br$/im);
  });

  it('shows Content-Length of a -d body and the credentials the user gave, as sent (as curl -v)', { timeout: 15_000 }, async () => {
    const srv = await capture();
    try {
      const r = await hg(['get', '-v', '-d', 'a=1', '-H', 'Authorization: Bearer s3cret', '-H', 'Cookie: sid=xyz', `${srv.base}/p`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^> POST \/p HTTP\/1\.1$/m);
      assert.match(r.stderr, /^> content-length: 3$/im);
      assert.match(r.stderr, /^> Authorization: Bearer s3cret$/m);
      assert.match(r.stderr, /^> Cookie: sid=xyz$/m);
      assert.match(srv.heads[0]!, /\r\nAuthorization: Bearer s3cret\r\n/);
      assert.match(srv.heads[0]!, /\r\ncontent-length: 3\r\n/i, 'what -v showed is what was sent');
    } finally {
      await srv.close();
    }
  });

  it('through a proxy shows the absolute-form target that was sent', { timeout: 15_000 }, async () => {
    const proxy = await capture();
    try {
      const r = await hg(['get', '-v', '-x', proxy.base, 'http://origin.invalid/abs?q=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(proxy.heads[0]!, /^GET http:\/\/origin\.invalid\/abs\?q=1 HTTP\/1\.1\r\n/);
      assert.match(r.stderr, /^> GET http:\/\/origin\.invalid\/abs\?q=1 HTTP\/1\.1$/m);
      assert.doesNotMatch(r.stderr, /^> GET \/abs/m);
    } finally {
      await proxy.close();
    }
  });
});

describe('hourglass get: timeout messages, --json timings, summaries', () => {
  it('TimeoutError names the option of every phase; messages passed in get it too', { timeout: 2_000 }, () => {
    const phases = [
      'dns',
      'connect',
      'tls',
      'pool',
      'write',
      'write-idle',
      'response-headers',
      'read-idle',
      'min-throughput',
      'request',
    ];
    for (const phase of phases) {
      const option = TIMEOUT_OPTIONS[phase];
      assert.ok(option !== undefined, `no option for ${phase}`);
      const e = new TimeoutError({ phase: phase as TimeoutPhase, timeout: 10, elapsed: 12, requestSent: false });
      assert.ok(e.message.startsWith(`${phase} timeout (${option}): `), e.message);
    }
    const custom = new TimeoutError(
      { phase: 'tls', timeout: 10, elapsed: 11, requestSent: false },
      'tls timeout: 11 ms elapsed, limit 10 ms, handshake with h:443',
    );
    assert.equal(custom.message, 'tls timeout (tlsHandshakeTimeout): 11 ms elapsed, limit 10 ms, handshake with h:443');
    // The CLI adds its flag; a phase without a flag keeps the option alone.
    const idle = new TimeoutError({ phase: 'read-idle', timeout: 10, elapsed: 10, requestSent: true });
    assert.match(cliMessage(idle), /^read-idle timeout \(readIdleTimeout \/ --read-timeout\): /);
    const wi = new TimeoutError({ phase: 'write-idle' as TimeoutPhase, timeout: 10, elapsed: 10, requestSent: true });
    assert.match(cliMessage(wi), /^write-idle timeout \(writeIdleTimeout\): /);
    for (const phase of Object.keys(TIMEOUT_FLAGS)) assert.ok(TIMEOUT_OPTIONS[phase] !== undefined, phase);
  });

  it('the CLI names the flag: --read-timeout, --header-timeout, --timeout', { timeout: 20_000 }, async () => {
    const [idle, head, overall] = await Promise.all([
      hg(['get', '--read-timeout', '300ms', `${base}/stall`]),
      hg(['get', '--header-timeout', '300ms', `${base}/never`]),
      hg(['get', '-m', '0.3', `${base}/never`]),
    ]);
    assert.equal(idle.code, 28, idle.stderr);
    assert.match(idle.stderr, /read-idle timeout \(readIdleTimeout \/ --read-timeout\): /);
    assert.equal(head.code, 28, head.stderr);
    assert.match(head.stderr, /response-headers timeout \(responseHeaderTimeout \/ --header-timeout\): /);
    assert.equal(overall.code, 28, overall.stderr);
    assert.match(overall.stderr, /request timeout \(timeout \/ --timeout\): /);
  });

  it('--json timings of a failed request add up: phases.total = end - requestStart', { timeout: 20_000 }, async () => {
    const port = await freePort();
    for (const args of [
      ['--retry', '2', `http://127.0.0.1:${port}/`],
      ['--header-timeout', '200ms', `${base}/never`],
    ]) {
      const r = await hg(['get', '--json', ...args]);
      assert.notEqual(r.code, 0);
      const t = JSON.parse(r.stdout.trim()).timings;
      assert.equal(typeof t.requestStart, 'number', r.stdout);
      assert.equal(t.phases.total, t.end - t.requestStart, r.stdout);
      assert.ok(t.requestStart <= t.start && t.start <= t.end, r.stdout);
    }
    const ok = JSON.parse((await hg(['get', '--json', `${base}/ok`])).stdout.trim()).timings;
    assert.equal(ok.phases.total, ok.end - ok.requestStart);
  });

  it('"stopped after 1 redirect" (singular)', { timeout: 15_000 }, async () => {
    const r = await hg(['get', '-L', '--max-redirs', '1', `${base}/loop`]);
    assert.equal(r.code, 47, r.stderr);
    assert.match(r.stderr, /stopped after 1 redirect\b/);
    assert.doesNotMatch(r.stderr, /1 redirects/);
  });

  it('the progress summary after --resume counts only the bytes moved in this run', { timeout: 5_000 }, async () => {
    const out: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => void out.push(s), columns: 120 });
    bar.setBase(1024 * 1024); // 1 MiB already on disk
    await new Promise((r) => setTimeout(r, 200));
    bar.update(1024 * 1024 + 2048, 1024 * 1024 + 2048); // 2 KiB moved in ~200 ms
    bar.done();
    const last = out.filter((s) => s.includes('/s')).pop()!;
    const m = /([\d.]+) (B|KiB|MiB)\/s/.exec(last);
    assert.ok(m !== null, last);
    const rate = Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 * 1024 }[m[2] as 'B' | 'KiB' | 'MiB'];
    // ~10 KiB/s; counting the resumed MiB would show > 4 MiB/s.
    assert.ok(rate < 20 * 1024, `speed ${m[0]} counts bytes that were already on disk`);
    assert.match(last, /1\.0 MiB\/1\.0 MiB/);
  });
});
