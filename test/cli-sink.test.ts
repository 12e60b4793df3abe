/**
 * cli-sink.test — `hourglass get` moving a large body to its sink: 64 MiB through the
 * CLI's copy (`src/cli/sink.ts`) into a file that fills up often keeps the listener
 * count on the sink constant (the old code left a `close` and an `error` listener per
 * full buffer: 1,024 and 1,026 after 64 MiB, and MaxListenersExceededWarning), and the
 * built binary prints no warning for the same download. Also the binary-body refusal on
 * a terminal (injected TTY-ness) and the byte counts of a body cut short.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BodyCutError, exitCodeFor, WriteError } from '../src/cli/exit-codes.js';
import { BINARY_HINT, copyBody } from '../src/cli/sink.js';
import { Client } from '../src/index.js';
import { hg, rawServer } from './helpers/cli.js';

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const BLOCK = Buffer.alloc(64 * 1024, 0x61);
/** The first bytes of a PNG: binary, NUL bytes included. */
const PNG_HEAD = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

let server: http.Server;
let base: string;
let tmp: string;

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/bin') {
      res.end(PNG_HEAD);
      return;
    }
    res.setHeader('content-length', TOTAL);
    let sent = 0;
    const pump = (): void => {
      while (sent < TOTAL) {
        sent += BLOCK.length;
        if (!res.write(BLOCK)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-cli-sink-'));
});

after(() => {
  server.closeAllConnections();
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const EVENTS = ['drain', 'close', 'error', 'finish'] as const;
const listeners = (w: Writable): number => EVENTS.reduce((n, e) => n + w.listenerCount(e), 0);

describe('cli sink', () => {
  it('64 MiB into a file that fills often: the listener count on the sink stays constant, no warning', { timeout: 60_000 }, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const client = new Client();
    try {
      // A 16 KiB buffer: write() returns false for nearly every 64 KiB chunk.
      const sink = fs.createWriteStream(path.join(tmp, '64m.bin'), { highWaterMark: 16 * 1024 });
      await new Promise((r) => sink.once('open', r));
      let drains = 0;
      sink.on('drain', () => void drains++);
      const baseline = listeners(sink);
      let most = 0;
      const res = await client.request(`${base}/big`);
      const bytes = await copyBody(res.body, sink, {
        refuseBinary: false,
        expected: TOTAL,
        progress: () => {
          most = Math.max(most, listeners(sink));
        },
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(bytes, TOTAL);
      assert.equal(fs.statSync(path.join(tmp, '64m.bin')).size, TOTAL);
      assert.ok(drains >= 100, `the sink filled only ${drains} times: the backpressure path was not exercised`);
      // Our three (error, drain, close) at most, however many times the sink filled.
      assert.ok(most <= baseline + 3, `listeners grew from ${baseline} to ${most} over ${drains} drains`);
      assert.ok(listeners(sink) <= baseline, `${listeners(sink) - baseline} listeners left behind on the sink`);
      const leaks = warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
      assert.deepEqual(leaks.map((w) => w.message), []);
    } finally {
      process.off('warning', onWarning);
      await client.close();
    }
  });

  it('hourglass get -o FILE of 64 MiB prints no MaxListenersExceededWarning', { timeout: 60_000 }, async () => {
    const file = path.join(tmp, 'cli-64m.bin');
    const r = await hg(['get', '-sS', '-o', file, `${base}/big`], 55_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.statSync(file).size, TOTAL);
    assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning|memory leak/);
    assert.equal(r.stderr, '');
  });

  it('-o /dev/full with a small body: the failed flush is exit 23 and --json names the error', { timeout: 10_000, skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, async () => {
    const raw = await rawServer((s) => {
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${'a'.repeat(5000)}`);
    });
    try {
      const plain = await hg(['get', '-sS', '-o', '/dev/full', `${raw.base}/small`]);
      assert.equal(plain.code, 23, plain.stderr);
      assert.match(plain.stderr, /\(23\).*ENOSPC/);
      const json = await hg(['get', '--json', '-o', '/dev/full', `${raw.base}/small`]);
      assert.equal(json.code, 23, json.stderr);
      const line = JSON.parse(json.stdout.trim()) as { error: { code: string } | null };
      assert.equal(line.error?.code, 'ENOSPC');
    } finally {
      await raw.close();
    }
  });

  it('a binary body is refused (exit 23, hint names -o -) when stdout is a terminal, written otherwise', { timeout: 5_000 }, async () => {
    const client = new Client();
    try {
      const chunks: Buffer[] = [];
      const collect = (): Writable =>
        new Writable({
          write(c: Buffer, _e, cb) {
            chunks.push(c);
            cb();
          },
        });
      const refused = await copyBody((await client.request(`${base}/bin`)).body, collect(), {
        refuseBinary: true,
        expected: undefined,
        progress: () => undefined,
      }).then(
        () => assert.fail('a binary body was written to a terminal'),
        (err: unknown) => err,
      );
      assert.ok(refused instanceof WriteError);
      assert.equal(exitCodeFor(refused), 23);
      assert.equal((refused as Error).message, BINARY_HINT);
      assert.match(BINARY_HINT, /"-o -".*hourglass|hourglass.*"-o -"/);
      assert.equal(chunks.length, 0, 'no byte of the binary body reached the terminal');
      const n = await copyBody((await client.request(`${base}/bin`)).body, collect(), {
        refuseBinary: false,
        expected: undefined,
        progress: () => undefined,
      });
      assert.equal(n, PNG_HEAD.length);
      assert.ok(Buffer.concat(chunks).equals(PNG_HEAD));
    } finally {
      await client.close();
    }
  });

  it('a body cut short: a clean close says how many bytes were missing (18), a reset names the system error (56)', { timeout: 10_000 }, async () => {
    const raw = await rawServer((s, head) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc');
      if (head.startsWith('GET /reset')) setTimeout(() => s.resetAndDestroy(), 30);
      else s.end();
    });
    const client = new Client();
    try {
      const cut = async (p: string): Promise<unknown> =>
        copyBody((await client.request(`${raw.base}${p}`)).body, undefined, {
          refuseBinary: false,
          expected: 1000,
          progress: () => undefined,
        }).then(
          () => assert.fail('a cut body completed'),
          (err: unknown) => err,
        );
      const clean = await cut('/clean');
      assert.ok(clean instanceof BodyCutError);
      assert.equal(exitCodeFor(clean), 18);
      assert.match((clean as Error).message, /997 of 1000 bytes missing/);
      const reset = await cut('/reset');
      assert.ok(reset instanceof BodyCutError);
      assert.equal(exitCodeFor(reset), 56);
      assert.match((reset as Error).message, /after 3 bytes: connection reset by peer \(ECONNRESET\)/);
    } finally {
      await client.close();
      await raw.close();
    }
  });
});
