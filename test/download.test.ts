/**
 * download.test — `download()` against the fault server (SPEC §8, §11 "Download";
 * SCENARIOS HG-06..HG-10): resume with Range + If-Range after a reset or a stall,
 * restart when the range is ignored or the representation changed, weak ETags,
 * strict Content-Range checks (nothing appended on a bad 206), 416, mirrors, sha256,
 * resume across a killed process, shared concurrent transfers, the overall deadline,
 * monotonic progress, and bounded memory on a 64 MiB body.
 *
 * Every test runs its own FaultServer, Client and temp directory, all torn down.
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { access, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Client } from '../src/client.js';
import { type DownloadOptions, download, HttpStatusError } from '../src/download.js';
import { exitCodeFor, failedStatus } from '../src/cli/exit-codes.js';
import {
  AbortError,
  HttpStatusError as ErrorsHttpStatusError,
  HourglassError,
  ProtocolError,
  TimeoutError,
} from '../src/errors.js';
import { HttpStatusError as IndexHttpStatusError } from '../src/index.js';
import { type Exchange, FaultServer, type RecordedRequest } from '../src/testing/index.js';
import { hg } from './helpers/cli.js';
import { clientClosed, rejection, sleep } from './helpers/setup.js';

interface Env {
  fs: FaultServer;
  client: Client;
  dir: string;
  dest: string;
}

const T = { timeout: 10_000 };


async function setup(t: TestContext): Promise<Env> {
  const fs = await FaultServer.start();
  const client = new Client();
  const dir = await mkdtemp(join(tmpdir(), 'hg-download-'));
  t.after(async () => {
    await client.close();
    await fs.close();
    // A transfer aborted by its last caller's deadline or signal may still be letting its .part go
    // for a moment after the rejection: retry on ENOTEMPTY rather than race it.
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
  });
  return { fs, client, dir, dest: join(dir, 'out.bin') };
}

/** Fast retries: no backoff unless a test says otherwise. */
function fast(env: Env, more: DownloadOptions = {}): DownloadOptions {
  return { client: env.client, retry: { backoff: () => 0 }, ...more };
}

/** What `drip()` serves: 4000 bytes, 100 at a time. */
const DRIP = FaultServer.rangeContent(4000);

/** A route serving DRIP (200, strong ETag) 100 bytes every `everyMs`, honouring Range + If-Range. */
function drip(env: Env, path: string, everyMs: number): string {
  env.fs.route(path, async (ex) => {
    const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
    const start = m !== null && ex.request.headers['if-range'] === '"drip"' ? Number(m[1]) : 0;
    if (start > 0) {
      const range = `bytes ${start}-${DRIP.length - 1}/${DRIP.length}`;
      await ex.writeHead(206, { ETag: '"drip"', 'Content-Range': range });
    } else {
      await ex.writeHead(200, { ETag: '"drip"', 'Content-Length': DRIP.length });
    }
    for (let off = start; off < DRIP.length && !ex.closed; off += 100) {
      await ex.write(DRIP.subarray(off, off + 100));
      await ex.sleep(everyMs);
    }
  });
  return env.fs.url(path);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Files under `dir` this process holds open (Linux /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function hitsTo(fs: FaultServer, path: string): RecordedRequest[] {
  return fs.requests.filter((r) => r.path === path);
}

/** Serves `content` with `etag`: 206 for a matching `bytes=N-` + If-Range, else 200 (optionally cut). */
async function serveRange(
  ex: Exchange,
  content: Buffer,
  etag: string,
  cut?: { at: number; how: 'reset' | 'stall' },
): Promise<void> {
  const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
  if (m !== null && ex.request.headers['if-range'] === etag) {
    const start = Number(m[1]);
    await ex.respond(
      206,
      { ETag: etag, 'Content-Range': `bytes ${start}-${content.length - 1}/${content.length}` },
      content.subarray(start),
    );
    return;
  }
  if (cut === undefined) {
    await ex.respond(200, { ETag: etag }, content);
    return;
  }
  await ex.writeHead(200, { ETag: etag, 'Content-Length': content.length });
  await ex.write(content.subarray(0, cut.at));
  if (cut.how === 'stall') {
    await ex.stall();
    return;
  }
  await ex.sleep(50);
  ex.reset();
}

describe('download: resume (HG-06, HG-10)', () => {
  it('resumes with Range + If-Range after a reset at 30 %', async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(1000);
    const res = await download(env.fs.url('/range?size=1000&resetAt=300'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), content);
    assert.equal(res.resumed, true);
    assert.equal(res.attempts, 2);
    assert.equal(res.bytes, 1000);
    assert.equal(res.sha256, sha(content));
    const [first, second] = hitsTo(env.fs, '/range');
    assert.equal(first!.headers.range, undefined);
    assert.equal(first!.headers['accept-encoding'], 'identity');
    assert.equal(second!.headers.range, 'bytes=300-');
    assert.equal(second!.headers['if-range'], '"hg-1000"');
    assert.equal(second!.headers['accept-encoding'], undefined, 'a range request carries no Accept-Encoding');
    assert.equal(await exists(`${env.dest}.part`), false);
    assert.equal(await exists(`${env.dest}.part.json`), false);
  });

  it('HG-06: 200 "abc" + RST, then 206 bytes 3-5/6 "def"', async (t) => {
    const env = await setup(t);
    env.fs.route('/hg06', (ex) => serveRange(ex, Buffer.from('abcdef'), '"asd"', { at: 3, how: 'reset' }));
    const res = await download(env.fs.url('/hg06'), env.dest, fast(env));
    assert.equal((await readFile(env.dest)).toString(), 'abcdef');
    assert.deepEqual([res.resumed, res.attempts], [true, 2]);
    const second = hitsTo(env.fs, '/hg06')[1]!;
    assert.equal(second.headers.range, 'bytes=3-');
    assert.equal(second.headers['if-range'], '"asd"');
  });

  it('HG-10: a stall ends the attempt by read-idle; the next resumes at byte 3; progress is monotonic', async (t) => {
    const env = await setup(t);
    const seen: number[] = [];
    const started = performance.now();
    const res = await download(
      env.fs.url('/range?size=6&stallAt=3'),
      env.dest,
      fast(env, {
        timeouts: { readIdleTimeout: 150 },
        onProgress: (p) => {
          seen.push(p.received);
          assert.equal(p.total, 6);
        },
      }),
    );
    const elapsed = performance.now() - started;
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(6));
    assert.deepEqual([res.resumed, res.attempts], [true, 2]);
    assert.equal(hitsTo(env.fs, '/range')[1]!.headers.range, 'bytes=3-');
    assert.ok(elapsed >= 140 && elapsed < 1000, `took ${elapsed} ms`);
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]! > seen[i - 1]!, `progress went ${seen[i - 1]} → ${seen[i]}`);
    assert.ok(seen.includes(3) && seen.at(-1) === 6, `progress ${seen.join(', ')}`);
  });
});

describe('download: restart from zero (HG-07, HG-09a)', () => {
  it('a server ignoring Range gets the full body exactly once, progress stays monotonic', async (t) => {
    const env = await setup(t);
    const seen: number[] = [];
    const res = await download(
      env.fs.url('/range?size=100000&resetAt=30000&ignoreRange=1'),
      env.dest,
      fast(env, { onProgress: (p) => seen.push(p.received) }),
    );
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(100000));
    assert.deepEqual([res.resumed, res.attempts, res.bytes], [false, 2, 100000]);
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]! > seen[i - 1]!, `progress went ${seen[i - 1]} → ${seen[i]}`);
    assert.equal(seen.at(-1), 100000);
  });

  it('an ETag change mid-way (If-Range fails → 200) restarts', async (t) => {
    const env = await setup(t);
    const res = await download(env.fs.url('/range?size=1000&resetAt=300&changeEtag=v2'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(1000));
    assert.deepEqual([res.resumed, res.attempts], [false, 2]);
    const second = hitsTo(env.fs, '/range')[1]!;
    assert.equal(second.headers['if-range'], '"hg-1000"');
  });

  it('a 206 carrying a different ETag is never spliced: restart without a range', async (t) => {
    const env = await setup(t);
    const v1 = Buffer.from('aaaaaaaaaa');
    const v2 = Buffer.from('bbbbbbbbbb');
    env.fs.route('/swap', async (ex) => {
      if (ex.hit === 1) return serveRange(ex, v1, '"v1"', { at: 4, how: 'reset' });
      if (ex.hit === 2) {
        return ex.respond(206, { ETag: '"v2"', 'Content-Range': 'bytes 4-9/10' }, v2.subarray(4));
      }
      return ex.respond(200, { ETag: '"v2"' }, v2);
    });
    const res = await download(env.fs.url('/swap'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), v2);
    assert.deepEqual([res.resumed, res.attempts], [false, 3]);
    assert.equal(hitsTo(env.fs, '/swap')[2]!.headers.range, undefined);
  });

  it('a weak ETag is never sent in If-Range: Last-Modified is used instead', async (t) => {
    const env = await setup(t);
    const res = await download(env.fs.url('/range?size=1000&resetAt=300&weak=1'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(1000));
    assert.equal(res.resumed, true);
    const second = hitsTo(env.fs, '/range')[1]!;
    assert.equal(second.headers.range, 'bytes=300-');
    assert.equal(second.headers['if-range'], 'Sat, 01 Jan 2000 00:00:00 GMT');
  });

  it('a weak ETag and no Last-Modified: restart from zero without a range', async (t) => {
    const env = await setup(t);
    const res = await download(
      env.fs.url('/range?size=1000&resetAt=300&weak=1&noLastModified=1'),
      env.dest,
      fast(env),
    );
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(1000));
    assert.deepEqual([res.resumed, res.attempts], [false, 2]);
    for (const r of hitsTo(env.fs, '/range')) {
      assert.equal(r.headers.range, undefined);
      assert.equal(r.headers['if-range'], undefined);
    }
  });

});

describe('download: a .part without a sidecar (left by curl or a copy) is continued as curl -C - (14.7)', () => {
  it('from its size, with Range and no If-Range; the 206 is appended', T, async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(1000);
    await writeFile(`${env.dest}.part`, content.subarray(0, 300));
    const res = await download(env.fs.url('/range?size=1000'), env.dest, fast(env, { sha256: sha(content) }));
    assert.deepEqual(await readFile(env.dest), content);
    assert.deepEqual([res.resumed, res.attempts, res.bytes], [true, 1, 1000]);
    const [req] = hitsTo(env.fs, '/range');
    assert.equal(req!.headers.range, 'bytes=300-');
    assert.equal(req!.headers['if-range'], undefined);
    assert.equal(req!.headers['accept-encoding'], undefined);
  });

  it('a 200 instead of 206 restarts from zero (the foreign bytes are dropped)', T, async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(500);
    await writeFile(`${env.dest}.part`, 'garbage');
    const res = await download(env.fs.url('/range?size=500&ignoreRange=1'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), content);
    assert.deepEqual([res.resumed, res.attempts], [false, 1]);
    assert.equal(hitsTo(env.fs, '/range')[0]!.headers.range, 'bytes=7-');
  });

  it('after a foreign resume is cut, the next attempt uses the ETag the 206 named (If-Range)', T, async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(1000);
    await writeFile(`${env.dest}.part`, content.subarray(0, 100));
    const res = await download(env.fs.url('/range?size=1000&resetAt=400'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), content);
    const [first, second] = hitsTo(env.fs, '/range');
    assert.deepEqual([first!.headers.range, first!.headers['if-range']], ['bytes=100-', undefined]);
    assert.deepEqual([second!.headers.range, second!.headers['if-range']], ['bytes=400-', '"hg-1000"']);
    assert.deepEqual([res.resumed, res.attempts], [true, 2]);
  });

  it('hourglass get --resume -o FILE continues a sidecar-less FILE.part the same way', T, async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(1000);
    await writeFile(`${env.dest}.part`, content.subarray(0, 250));
    const run = await hg(['get', '--json', '--resume', '-o', env.dest, env.fs.url('/range?size=1000')]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(env.dest), content);
    const [req] = hitsTo(env.fs, '/range');
    assert.equal(req!.headers.range, 'bytes=250-');
    assert.equal(req!.headers['if-range'], undefined);
    const line = JSON.parse(run.stdout) as { status: number; download: { resumed: boolean } };
    assert.deepEqual([line.status, line.download.resumed], [206, true]);
  });
});

describe('download: an unusable sidecar counts as none (15c)', () => {
  const lastModified = 'Sat, 01 Jan 2000 00:00:00 GMT\r\nX-Injected: 1';
  for (const [name, sidecar] of [
    ['an ETag holding CR/LF', (url: string) => JSON.stringify({ url, validator: { etag: '"x\r\nX-Injected: 1"' } })],
    ['a Last-Modified holding CR/LF', (url: string) => JSON.stringify({ url, validator: { lastModified } })],
    ['corrupt JSON', () => '{"url": "http://x/", "validator": {"et'],
  ] as const) {
    it(`${name}: the download continues with Range alone, never sends CR/LF, never wedges`, T, async (t) => {
      const env = await setup(t);
      const content = FaultServer.rangeContent(1000);
      const url = env.fs.url('/range?size=1000');
      await writeFile(`${env.dest}.part`, content.subarray(0, 300));
      await writeFile(`${env.dest}.part.json`, sidecar(url));
      const res = await download(url, env.dest, fast(env));
      assert.deepEqual(await readFile(env.dest), content);
      assert.deepEqual([res.resumed, res.attempts], [true, 1]);
      const [req] = hitsTo(env.fs, '/range');
      assert.equal(req!.headers.range, 'bytes=300-');
      assert.equal(req!.headers['if-range'], undefined);
      assert.equal(req!.headers['x-injected'], undefined);
      assert.equal(await exists(`${env.dest}.part.json`), false);
    });
  }
});

describe('download: strict 206 and 416 (HG-08, HG-09b)', () => {
  const content = Buffer.from('0123456789');
  /** First request: 200 with 4 bytes then RST; the ranged one answers `partial`. */
  function twoStep(env: Env, partial: (ex: Exchange) => Promise<void>): void {
    env.fs.route('/f', async (ex) => {
      if (ex.request.headers.range === undefined)
        return serveRange(ex, content, '"e1"', { at: 4, how: 'reset' });
      return partial(ex);
    });
  }

  for (const [name, contentRange] of [
    ['unparsable', 'bytes bad'],
    ['start ≠ requested offset', 'bytes 5-9/10'],
    ['total ≠ known size', 'bytes 4-9/11'],
  ] as const) {
    it(`rejects a 206 with Content-Range ${name}; the .part is kept, nothing appended`, async (t) => {
      const env = await setup(t);
      twoStep(env, (ex) =>
        ex.respond(206, { ETag: '"e1"', 'Content-Range': contentRange }, content.subarray(4)),
      );
      await assert.rejects(download(env.fs.url('/f'), env.dest, fast(env)), (err: unknown) => {
        assert.ok(err instanceof ProtocolError, String(err));
        assert.equal(err.reason, 'bad-range');
        return true;
      });
      assert.equal(hitsTo(env.fs, '/f').length, 2, 'a bad 206 moves on at once');
      assert.deepEqual(await readFile(`${env.dest}.part`), content.subarray(0, 4));
      assert.equal(await exists(`${env.dest}.part.json`), true);
      assert.equal(await exists(env.dest), false);
      // A later call resumes from the kept .part.
      env.fs.route('/f', (ex) => serveRange(ex, content, '"e1"'));
      const res = await download(env.fs.url('/f'), env.dest, fast(env));
      assert.deepEqual(await readFile(env.dest), content);
      assert.deepEqual([res.resumed, res.attempts], [true, 1]);
      assert.equal(hitsTo(env.fs, '/f').at(-1)!.headers.range, 'bytes=4-');
    });
  }

  it('accepts a 206 with an unknown total (bytes 4-9/*)', async (t) => {
    const env = await setup(t);
    twoStep(env, (ex) =>
      ex.respond(206, { ETag: '"e1"', 'Content-Range': 'bytes 4-9/*' }, content.subarray(4)),
    );
    const res = await download(env.fs.url('/f'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), content);
    assert.equal(res.resumed, true);
  });

  it('a 206 body longer than its Content-Range is an error, never spliced nor parsed as a response', async (t) => {
    const env = await setup(t);
    const smuggled = 'r1HTTP/1.1 302 Found\r\nLocation: http://evil.invalid/\r\nContent-Length: 0\r\n\r\n';
    twoStep(env, async (ex) => {
      await ex.writeHead(206, { ETag: '"e1"', 'Content-Range': 'bytes 4-5/10' });
      await ex.write(smuggled.slice(0, 2));
      await ex.sleep(30);
      await ex.end(smuggled.slice(2));
    });
    const seen: number[] = [];
    const opts = fast(env, { onProgress: (p) => seen.push(p.received) });
    await assert.rejects(download(env.fs.url('/f'), env.dest, opts), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.reason, 'bad-range');
      return true;
    });
    assert.equal(seen.at(-1), 6, '"r1" was appended before the surplus arrived');
    assert.deepEqual(
      await readFile(`${env.dest}.part`),
      content.subarray(0, 4),
      'the long 206 was rolled back',
    );
    assert.equal(env.fs.requests.length, 2);
  });

  it('rejects an initial 206 whose Content-Length disagrees with its Content-Range', async (t) => {
    const env = await setup(t);
    env.fs.route('/f', (ex) =>
      ex.respond(206, { ETag: '"e1"', 'Content-Range': 'bytes 0-99/300' }, Buffer.alloc(300, 120)),
    );
    await assert.rejects(
      download(env.fs.url('/f'), env.dest, fast(env)),
      (err: unknown) => err instanceof ProtocolError && err.reason === 'bad-range',
    );
    assert.equal((await stat(`${env.dest}.part`)).size, 0);
  });

  it('416 with bytes */N where N is what the .part holds → complete, sha256 checked', async (t) => {
    const env = await setup(t);
    const content100 = FaultServer.rangeContent(100);
    const url = env.fs.url('/range?size=100');
    await writeFile(`${env.dest}.part`, content100);
    await writeFile(`${env.dest}.part.json`, JSON.stringify({ url, validator: { etag: '"hg-100"' } }));
    const res = await download(url, env.dest, fast(env, { sha256: sha(content100) }));
    assert.deepEqual(await readFile(env.dest), content100);
    assert.deepEqual([res.resumed, res.attempts, res.bytes], [true, 1, 100]);
    const req = hitsTo(env.fs, '/range')[0]!;
    assert.equal(req.headers.range, 'bytes=100-');
    assert.equal(req.headers['if-range'], '"hg-100"');
    assert.equal(await exists(`${env.dest}.part.json`), false);
  });

  it('416 with another total restarts from zero', async (t) => {
    const env = await setup(t);
    env.fs.route('/f', (ex) =>
      ex.request.headers.range !== undefined
        ? ex.respond(416, { 'Content-Range': 'bytes */10' })
        : ex.respond(200, { ETag: '"e2"' }, content),
    );
    await writeFile(`${env.dest}.part`, 'x'.repeat(12));
    await writeFile(
      `${env.dest}.part.json`,
      JSON.stringify({ url: env.fs.url('/f'), validator: { etag: '"e1"' } }),
    );
    const res = await download(env.fs.url('/f'), env.dest, fast(env));
    assert.deepEqual(await readFile(env.dest), content);
    assert.deepEqual([res.resumed, res.attempts], [false, 2]);
  });
});

describe('download: mirrors and statuses', () => {
  it('falls back to the next mirror after the first one keeps stalling, keeping the resume state', async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(1000);
    env.fs.route('/stuck', async (ex) => {
      const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
      if (m === null) {
        await ex.writeHead(200, { ETag: '"hg-1000"', 'Content-Length': 1000 });
        await ex.write(content.subarray(0, 300));
      } else {
        await ex.writeHead(206, { ETag: '"hg-1000"', 'Content-Range': `bytes ${m[1]}-999/1000` });
      }
      await ex.stall();
    });
    const res = await download(
      [env.fs.url('/stuck'), env.fs.url('/range?size=1000')],
      env.dest,
      fast(env, { retry: { limit: 1, backoff: () => 0 }, timeouts: { readIdleTimeout: 100 } }),
    );
    assert.deepEqual(await readFile(env.dest), content);
    assert.deepEqual([res.resumed, res.attempts], [true, 3]);
    assert.equal(hitsTo(env.fs, '/stuck').length, 2, 'retry limit 1 → 2 attempts on the first mirror');
    assert.equal(hitsTo(env.fs, '/range')[0]!.headers.range, 'bytes=300-');
  });

  it('a 404 moves to the next mirror at once (no backoff); 503 is retried with backoff', async (t) => {
    const env = await setup(t);
    const waits: number[] = [];
    const res = await download(
      [env.fs.url('/status/404'), env.fs.url('/flaky?fail=2&status=503')],
      env.dest,
      {
        client: env.client,
        retry: {
          backoff: (n) => {
            waits.push(n);
            return 1;
          },
        },
      },
    );
    assert.equal((await readFile(env.dest)).toString(), 'ok');
    assert.equal(res.attempts, 4);
    assert.deepEqual(waits, [1, 2]);
  });

  it('fails with the last error once every mirror is exhausted; attempts include refused connections', async (t) => {
    const env = await setup(t);
    await assert.rejects(
      download(
        ['http://127.0.0.1:1/x', env.fs.url('/status/403')],
        env.dest,
        fast(env, { retry: { limit: 1 } }),
      ),
      (err: unknown) => err instanceof HttpStatusError && err.status === 403 && err.code === 'HG_HTTP_STATUS',
    );
  });
});

describe("download: the client's retry policy (SPEC §12)", () => {
  for (const status of [501, 505]) {
    it(`a ${status} is retried with backoff (SPEC §11: every 5xx), by the same RetryPolicy the client uses`, async (t) => {
      const env = await setup(t);
      const path = `/status/${status}`;
      const waits: number[] = [];
      const retry = { limit: 2, backoff: (n: number) => (waits.push(n), 0) };
      const res = await download([env.fs.url(path), env.fs.url('/range?size=100')], env.dest, {
        client: env.client,
        retry,
      });
      assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(100));
      assert.equal(res.attempts, 4, 'three tries of the failing mirror, then the next');
      assert.equal(hitsTo(env.fs, path).length, 3, `download sent the ${status} URL 1 + limit times`);
      assert.deepEqual(waits, [1, 2]);
      // The client's narrower default does not retry it.
      const client = new Client({ retry: { limit: 2, backoff: () => 0 } });
      t.after(() => client.close());
      const direct = await client.request(env.fs.url(path));
      await direct.dump();
      assert.equal(direct.status, status);
      assert.equal(hitsTo(env.fs, path).length, 4, 'the client sent it once');
    });
  }

  it('a 4xx other than 408/429 moves to the next mirror at once, no backoff', async (t) => {
    const env = await setup(t);
    const waits: number[] = [];
    const res = await download([env.fs.url('/status/404'), env.fs.url('/range?size=10')], env.dest, {
      client: env.client,
      retry: { limit: 3, backoff: (n: number) => (waits.push(n), 0) },
    });
    assert.equal(res.attempts, 2);
    assert.equal(hitsTo(env.fs, '/status/404').length, 1);
    assert.deepEqual(waits, []);
  });

  it('retry.statusCodes and retry.maxRetryAfter are the policy options the client takes', async (t) => {
    const env = await setup(t);
    const res = await download(env.fs.url('/flaky?fail=1&status=501'), env.dest, {
      client: env.client,
      retry: { statusCodes: [501], backoff: () => 0 },
    });
    assert.equal(res.attempts, 2, 'a 501 named in statusCodes is retried');
    const narrowed = await download([env.fs.url('/status/502'), env.fs.url('/range?size=10')], join(env.dir, 'narrow.bin'), {
      client: env.client,
      retry: { statusCodes: [503], backoff: () => 0 },
    });
    assert.equal(narrowed.attempts, 2, 'statusCodes narrows what is retried: a 502 moves on at once');
    // A Retry-After beyond maxRetryAfter ends the mirror at once (no wait).
    const started = performance.now();
    const second = await download(
      [env.fs.url('/flaky?fail=1&status=503&retryAfter=2'), env.fs.url('/range?size=10')],
      join(env.dir, 'second.bin'),
      { client: env.client, retry: { maxRetryAfter: 1000 } },
    );
    assert.equal(second.attempts, 2);
    assert.ok(performance.now() - started < 1500, 'did not wait the 2 s Retry-After');
  });

  it('a bad retry option is HG_INVALID_ARG, as for the client', async (t) => {
    const env = await setup(t);
    for (const retry of [{ limit: -1 }, { backoff: 5 }, { maxRetryAfter: -1 }, { methods: ['GET'] }]) {
      await assert.rejects(
        download(env.fs.url('/range?size=10'), env.dest, { client: env.client, retry } as never),
        (err: unknown) => err instanceof HourglassError && err.code === 'HG_INVALID_ARG',
        JSON.stringify(retry),
      );
    }
    assert.equal(env.fs.requests.length, 0);
  });
});

describe('download: HttpStatusError is one class (errors.ts) for download and the CLI', () => {
  it('download(), the package index and the CLI share the class; --fail and a download report it alike', async (t) => {
    const env = await setup(t);
    assert.equal(HttpStatusError, ErrorsHttpStatusError);
    assert.equal(IndexHttpStatusError, ErrorsHttpStatusError);
    const fromDownload = (await rejection(download(env.fs.url('/status/404'), env.dest, fast(env)))).err;
    assert.ok(fromDownload instanceof ErrorsHttpStatusError);
    assert.ok(fromDownload instanceof HourglassError);
    assert.deepEqual([fromDownload.status, fromDownload.code, fromDownload.name], [404, 'HG_HTTP_STATUS', 'HttpStatusError']);
    const fromCli = failedStatus(404, 'Not Found', { method: 'GET', url: env.fs.url('/status/404') });
    assert.ok(fromCli instanceof ErrorsHttpStatusError);
    assert.equal(Object.getPrototypeOf(fromCli), Object.getPrototypeOf(fromDownload));
    assert.equal(fromCli.message, 'The requested URL returned error: 404 Not Found');
    assert.deepEqual([exitCodeFor(fromCli), exitCodeFor(fromDownload)], [22, 22]);
    // The built CLI: `--fail` on a plain transfer and a download ending on a 404 print the same error.
    const out = join(env.dir, 'cli.bin');
    const failed = await hg(['get', '--fail', '--json', env.fs.url('/status/404')]);
    const mirrored = await hg(['get', '--json', '-o', out, '--mirror', env.fs.url('/status/404'), env.fs.url('/status/404')]);
    for (const run of [failed, mirrored]) {
      assert.equal(run.code, 22, run.stderr);
      const { error } = JSON.parse(run.stdout) as { error: { name: string; code: string } };
      assert.deepEqual([error.name, error.code], ['HttpStatusError', 'HG_HTTP_STATUS']);
    }
  });
});

describe('download: onResponse', () => {
  it('is called once per response, in order, with the mirror URL and the request number', async (t) => {
    const env = await setup(t);
    const seen: [number, string, number][] = [];
    const res = await download(
      [env.fs.url('/status/404'), env.fs.url('/flaky?fail=2&status=503')],
      env.dest,
      fast(env, { onResponse: (r, info) => seen.push([r.status, info.url, info.attempt]) }),
    );
    assert.equal(res.attempts, 4);
    const flaky = env.fs.url('/flaky?fail=2&status=503');
    assert.deepEqual(seen, [
      [404, env.fs.url('/status/404'), 1],
      [503, flaky, 2],
      [503, flaky, 3],
      [200, flaky, 4],
    ]);
  });

  it('is not called for a request that got no response; every caller of a shared transfer gets its own calls', async (t) => {
    const env = await setup(t);
    const url = drip(env, '/drip-on-response', 5);
    const a: number[] = [];
    const b: number[] = [];
    const [ra, rb] = await Promise.all([
      download(
        ['http://127.0.0.1:1/refused', url],
        env.dest,
        fast(env, { retry: { limit: 0 }, onResponse: (r) => a.push(r.status) }),
      ),
      download(url, env.dest, fast(env, { onResponse: (r) => b.push(r.status) })),
    ]);
    assert.equal(ra.attempts, 2, 'a refused connection counts as an attempt');
    assert.equal(rb.attempts, 2, 'the joiner shares the transfer');
    assert.deepEqual(a, [200]);
    assert.deepEqual(b, [200]);
  });

  it('a throwing onResponse rejects its caller with that error', async (t) => {
    const env = await setup(t);
    const boom = new Error('boom');
    await assert.rejects(
      download(
        env.fs.url('/range?size=100'),
        env.dest,
        fast(env, {
          onResponse: () => {
            throw boom;
          },
        }),
      ),
      (err: unknown) => err === boom,
    );
  });

  it('a caller whose onProgress threw is rejected only after the aborted transfer let go of its files', T, async (t) => {
    const env = await setup(t);
    const url = drip(env, '/drip-throw', 20);
    const boom = new Error('boom');
    let calls = 0;
    await assert.rejects(
      download(url, env.dest, fast(env, {
        onProgress: () => {
          if (++calls === 3) throw boom;
        },
      })),
      (err: unknown) => err === boom,
    );
    // Nothing of the transfer is left open (Linux: the process's open files) and the
    // directory can go at once (no retry); nothing reappears in it afterwards.
    if (existsSync('/proc/self/fd')) assert.deepEqual(openFilesUnder(env.dir), []);
    await rm(env.dir, { recursive: true });
    await sleep(150);
    assert.equal(await exists(env.dir), false);
  });
});

describe('download: sha256', () => {
  it('resolves with the verified digest', async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(4096);
    const res = await download(
      env.fs.url('/range?size=4096&resetAt=1000'),
      env.dest,
      fast(env, { sha256: sha(content).toUpperCase() }),
    );
    assert.equal(res.sha256, sha(content));
    assert.deepEqual(await readFile(env.dest), content);
  });

  it('a mismatch is HG_CHECKSUM: no dest, no .part, no sidecar', async (t) => {
    const env = await setup(t);
    await assert.rejects(
      download(env.fs.url('/range?size=4096'), env.dest, fast(env, { sha256: '0'.repeat(64) })),
      (err: unknown) => err instanceof HourglassError && err.code === 'HG_CHECKSUM',
    );
    for (const p of [env.dest, `${env.dest}.part`, `${env.dest}.part.json`])
      assert.equal(await exists(p), false, p);
  });

  it('a destination that cannot be written is HG_WRITE with the system error as cause', async (t) => {
    const env = await setup(t);
    await assert.rejects(
      download(env.fs.url('/range?size=10'), join(env.dir, 'missing', 'out.bin'), fast(env)),
      (err: unknown) =>
        err instanceof HourglassError &&
        err.code === 'HG_WRITE' &&
        (err.cause as NodeJS.ErrnoException).code === 'ENOENT',
    );
    assert.equal(env.fs.requests.length, 0);
  });

  it('rejects invalid arguments with HG_INVALID_ARG before sending anything', async (t) => {
    const env = await setup(t);
    for (const call of [
      () => download('ftp://x/y', env.dest),
      () => download([], env.dest),
      () => download(env.fs.url('/ok'), env.dest, { sha256: 'abc' }),
      () => download(env.fs.url('/ok'), env.dest, { timeout: -1 }),
    ]) {
      await assert.rejects(
        call(),
        (err: unknown) => err instanceof HourglassError && err.code === 'HG_INVALID_ARG',
      );
    }
    assert.equal(env.fs.requests.length, 0);
  });
});

describe('download: across processes, concurrency, deadline, abort', () => {
  it('a killed process leaves a .part that the next call resumes with If-Range', async (t) => {
    const env = await setup(t);
    const content = FaultServer.rangeContent(8000);
    env.fs.route('/drip-file', async (ex) => {
      const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
      if (m !== null && ex.request.headers['if-range'] === '"drip"') {
        const start = Number(m[1]);
        await ex.respond(
          206,
          { ETag: '"drip"', 'Content-Range': `bytes ${start}-7999/8000` },
          content.subarray(start),
        );
        return;
      }
      await ex.writeHead(200, { ETag: '"drip"', 'Content-Length': 8000 });
      for (let off = 0; off < 8000 && !ex.closed; off += 100) {
        await ex.write(content.subarray(off, off + 100));
        await ex.sleep(20);
      }
    });
    const script = join(env.dir, 'child.mjs');
    const moduleUrl = new URL('../src/download.js', import.meta.url).href;
    await writeFile(
      script,
      `import { download } from ${JSON.stringify(moduleUrl)};\n` +
        `const [url, dest] = process.argv.slice(2);\n` +
        `await download(url, dest, { onProgress: (p) => process.stdout.write(p.received + '\\n') });\n`,
    );
    const child = spawn(process.execPath, [script, env.fs.url('/drip-file'), env.dest], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const last = Number(buffered.trim().split('\n').at(-1));
      if (last >= 1000) child.kill('SIGKILL');
    });
    assert.equal(await exited, 'SIGKILL', 'the child was killed mid-transfer');
    const held = (await stat(`${env.dest}.part`)).size;
    assert.ok(held >= 1000 && held < 8000, `.part holds ${held} bytes`);
    const res = await download(env.fs.url('/drip-file'), env.dest, fast(env, { sha256: sha(content) }));
    assert.deepEqual(await readFile(env.dest), content);
    assert.deepEqual([res.resumed, res.attempts], [true, 1]);
    const last = hitsTo(env.fs, '/drip-file').at(-1)!;
    assert.equal(last.headers.range, `bytes=${held}-`);
    assert.equal(last.headers['if-range'], '"drip"');
  });

  it('5 concurrent calls for the same dest share one transfer', async (t) => {
    const env = await setup(t);
    const url = env.fs.url('/range?size=200000');
    const calls = [0, 1, 2, 3, 4].map((i) =>
      download(url, i % 2 === 0 ? env.dest : join(env.dir, 'sub', '..', 'out.bin'), fast(env)),
    );
    const results = await Promise.all(calls);
    assert.equal(env.fs.hits('/range?size=200000'), 1);
    for (const r of results) assert.deepEqual(r, results[0]);
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(200000));
    // Once settled, a new call starts a new transfer.
    await download(url, env.dest, fast(env));
    assert.equal(env.fs.hits('/range?size=200000'), 2);
  });

  it('a joiner keeps its own timeout: it rejects on time while the first call completes', T, async (t) => {
    const env = await setup(t);
    const url = drip(env, '/drip', 20);
    const first = download(url, env.dest, fast(env));
    await env.fs.waitForRequests(1);
    const started = performance.now();
    const { err, ms } = await rejection(download(url, env.dest, fast(env, { timeout: 150 })), started);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.deepEqual([err.phase, err.timeout, err.requestSent], ['request', 150, true]);
    assert.ok(ms >= 140 && ms < 400, `the joiner left after ${ms} ms`);
    const res = await first;
    assert.deepEqual(await readFile(env.dest), DRIP);
    assert.deepEqual([res.attempts, env.fs.hits('/drip')], [1, 1]);
    assert.ok(performance.now() - started > 300, 'the transfer went on after the joiner left');
  });

  it("the first caller's signal fires: it alone rejects (AbortError), the joiner gets the file", T, async (t) => {
    const env = await setup(t);
    const url = drip(env, '/drip', 10);
    const ac = new AbortController();
    const first = download(url, env.dest, fast(env, { signal: ac.signal }));
    await env.fs.waitForRequests(1);
    const seen: number[] = [];
    const joiner = download(url, env.dest, fast(env, { onProgress: (p) => seen.push(p.received) }));
    await sleep(50);
    ac.abort(new Error('first leaves'));
    const { err } = await rejection(first);
    assert.ok(err instanceof AbortError, String(err));
    assert.equal((err.cause as Error).message, 'first leaves');
    const res = await joiner;
    assert.deepEqual(await readFile(env.dest), DRIP);
    assert.deepEqual([res.attempts, env.fs.hits('/drip')], [1, 1]);
    assert.equal(seen.at(-1), DRIP.length, "the joiner's own onProgress saw the end");
  });

  it('when every caller has left, the transfer is aborted: the connection closes, a new call resumes', T, async (t) => {
    const env = await setup(t);
    env.fs.route('/stuck', async (ex) => {
      await ex.writeHead(200, { ETag: '"d"', 'Content-Length': DRIP.length });
      await ex.write(DRIP.subarray(0, 1000));
      await ex.stall();
    });
    const a = new AbortController();
    const b = new AbortController();
    const url = env.fs.url('/stuck');
    const calls = [a, b].map((ac) => rejection(download(url, env.dest, fast(env, { signal: ac.signal }))));
    await env.fs.waitForRequests(1);
    await sleep(50);
    a.abort();
    assert.ok(!(await clientClosed(env.fs, 1, 150)), 'one caller left: the transfer goes on');
    b.abort();
    for (const p of calls) assert.ok((await p).err instanceof AbortError);
    assert.ok(await clientClosed(env.fs, 1, 2000), 'the server saw the connection close');
    // Nothing of the aborted transfer is left holding the .part: a new call resumes it.
    env.fs.route('/stuck', (ex) => serveRange(ex, DRIP, '"d"'));
    const res = await download(url, env.dest, fast(env, { timeout: 2000 }));
    assert.deepEqual(await readFile(env.dest), DRIP);
    assert.deepEqual([res.resumed, res.attempts], [true, 1]);
    assert.equal(hitsTo(env.fs, '/stuck').at(-1)!.headers.range, 'bytes=1000-');
  });

  it('every caller timing out aborts the transfer too', T, async (t) => {
    const env = await setup(t);
    const url = drip(env, '/drip', 50);
    const calls = [100, 200].map((timeout) => download(url, env.dest, fast(env, { timeout })));
    const errs = await Promise.all(calls.map((p) => rejection(p)));
    assert.deepEqual(
      errs.map(({ err }) => (err as TimeoutError).timeout),
      [100, 200],
    );
    assert.ok(await clientClosed(env.fs, 1, 2000), 'the server saw the connection close');
  });

  it('the same file reached through a symlinked directory is one transfer', T, async (t) => {
    const env = await setup(t);
    const link = join(env.dir, 'link');
    await symlink(env.dir, link, 'dir');
    const url = env.fs.url('/range?size=200000');
    const viaLink = join(link, 'out.bin');
    const [a, b] = await Promise.all([download(url, env.dest, fast(env)), download(url, viaLink, fast(env))]);
    assert.equal(env.fs.hits('/range?size=200000'), 1);
    assert.deepEqual([a.path, b.path], [env.dest, viaLink]);
    assert.equal(a.sha256, b.sha256);
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(200000));
  });

  it('an overall timeout during the body says the request was sent; before connecting, not sent', T, async (t) => {
    const env = await setup(t);
    env.fs.route('/body-stall', async (ex) => {
      await ex.writeHead(200, { ETag: '"b"', 'Content-Length': 100 });
      await ex.write(Buffer.alloc(10, 1));
      await ex.stall();
    });
    const sent = await rejection(download(env.fs.url('/body-stall'), env.dest, fast(env, { timeout: 200 })));
    assert.ok(sent.err instanceof TimeoutError, String(sent.err));
    assert.equal(sent.err.requestSent, true);
    assert.match(sent.err.message, /\(request sent\)/);
    const hole = await env.fs.blackhole();
    const unsent = await rejection(
      download(`http://${hole.host}:${hole.port}/x`, join(env.dir, 'other.bin'), fast(env, { timeout: 200 })),
    );
    assert.ok(unsent.err instanceof TimeoutError, String(unsent.err));
    assert.equal(unsent.err.requestSent, false);
    assert.match(unsent.err.message, /\(request not sent\)/);
  });

  it('the overall timeout spans every attempt and ends with TimeoutError phase request', async (t) => {
    const env = await setup(t);
    env.fs.route('/slow', async (ex) => {
      const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
      if (m === null) await ex.writeHead(200, { ETag: '"s"', 'Content-Length': 100 });
      else await ex.writeHead(206, { ETag: '"s"', 'Content-Range': `bytes ${m[1]}-99/100` });
      if (m === null || Number(m[1]) < 50) await ex.write(Buffer.alloc(10, 1));
      await ex.stall();
    });
    const started = performance.now();
    await assert.rejects(
      download(
        env.fs.url('/slow'),
        env.dest,
        fast(env, { timeout: 350, timeouts: { readIdleTimeout: 100 } }),
      ),
      (err: unknown) => {
        assert.ok(err instanceof TimeoutError, String(err));
        assert.equal(err.phase, 'request');
        assert.equal(err.timeout, 350);
        return true;
      },
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 340 && elapsed < 600, `took ${elapsed} ms`);
    assert.ok(hitsTo(env.fs, '/slow').length >= 3, 'several attempts ran inside one budget');
  });

  it('never sleeps a backoff that would overrun the overall timeout', async (t) => {
    const env = await setup(t);
    const started = performance.now();
    await assert.rejects(
      download(env.fs.url('/status/503'), env.dest, {
        client: env.client,
        timeout: 2000,
        retry: { backoff: () => 5000 },
      }),
      (err: unknown) =>
        err instanceof TimeoutError && err.phase === 'request' && err.cause instanceof HttpStatusError,
    );
    assert.ok(performance.now() - started < 1000);
  });

  it('an abort stops the transfer and keeps the .part for a later resume', async (t) => {
    const env = await setup(t);
    const ac = new AbortController();
    const p = download(
      env.fs.url('/range?size=5000&stallAt=2000'),
      env.dest,
      fast(env, { signal: ac.signal, onProgress: (x) => x.received >= 2000 && ac.abort(new Error('stop')) }),
    );
    await assert.rejects(p, (err: unknown) => err instanceof AbortError);
    assert.equal((await stat(`${env.dest}.part`)).size, 2000);
    const res = await download(env.fs.url('/range?size=5000&stallAt=2000'), env.dest, fast(env));
    assert.equal(res.resumed, true);
    assert.deepEqual(await readFile(env.dest), FaultServer.rangeContent(5000));
  });
});

describe('download: memory', () => {
  it('a 64 MiB download streams to disk with bounded RSS growth', async (t) => {
    const env = await setup(t);
    const SIZE = 64 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    // 16 distinct chunks made up front and written to the socket as they are (Exchange.write
    // copies): the server allocates nothing per chunk, so RSS growth is the client's.
    const patterns = Array.from({ length: 16 }, (_, i) => Buffer.alloc(CHUNK, 7 + i * 13));
    const chunkAt = (i: number): Buffer => patterns[i % patterns.length]!;
    env.fs.route('/big', async (ex) => {
      await ex.writeHead(200, { ETag: '"big"', 'Content-Length': SIZE });
      const sock = ex.socket;
      for (let i = 0; i < SIZE / CHUNK && !ex.closed; i++) {
        await new Promise<void>((resolve) => sock.write(chunkAt(i), () => resolve()));
      }
    });
    const h = createHash('sha256');
    for (let i = 0; i < SIZE / CHUNK; i++) h.update(chunkAt(i));
    const expected = h.digest('hex');
    const before = process.memoryUsage.rss();
    let peak = before;
    let lastSample = 0;
    const res = await download(
      env.fs.url('/big'),
      env.dest,
      fast(env, {
        sha256: expected,
        onProgress: (p) => {
          if (p.received - lastSample < 1 << 20) return;
          lastSample = p.received;
          peak = Math.max(peak, process.memoryUsage.rss());
        },
      }),
    );
    peak = Math.max(peak, process.memoryUsage.rss());
    const growth = (peak - before) / 2 ** 20;
    t.diagnostic(
      `RSS before ${(before / 2 ** 20).toFixed(1)} MiB, peak ${(peak / 2 ** 20).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB`,
    );
    assert.equal(res.bytes, SIZE);
    assert.equal(res.sha256, expected);
    assert.ok(growth < 48, `RSS grew by ${growth.toFixed(1)} MiB`);
  });
});
