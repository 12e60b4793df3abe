/**
 * adversarial/download.test — `download()` against servers that try to keep it busy
 * forever (SPEC §11 "Download": every request counts as an attempt, whatever its
 * outcome — a 206 with the wrong range, a restart from zero — and the retry limit
 * bounds them all).
 *
 * Every request is counted at the server. Each download also carries an overall
 * timeout, so a request storm ends in seconds and shows as a wrong count, never as a
 * runaway loop outliving its test.
 */

import * as assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Client } from '../../src/client.js';
import { type DownloadOptions, download } from '../../src/download.js';
import { ProtocolError, TimeoutError } from '../../src/errors.js';
import { FaultServer } from '../../src/testing/index.js';
import { rejection } from '../helpers/setup.js';

const T = { timeout: 10_000 };
/** Backstop: a storm is cut off after this long (and then fails on the count). */
const BACKSTOP = 2_000;

interface Env {
  fs: FaultServer;
  client: Client;
  dest: string;
}

async function setup(t: TestContext): Promise<Env> {
  const fs = await FaultServer.start();
  const client = new Client();
  const dir = await mkdtemp(join(tmpdir(), 'hg-adv-download-'));
  t.after(async () => {
    await client.close();
    await fs.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { fs, client, dest: join(dir, 'out.bin') };
}

function opts(env: Env, limit: number | undefined): DownloadOptions {
  return {
    client: env.client,
    timeout: BACKSTOP,
    retry: limit === undefined ? { backoff: () => 0 } : { limit, backoff: () => 0 },
  };
}

/** The storm server: `206 Content-Range: bytes 0-9/100`, no validator, to every request. */
function storm(env: Env, path: string): string {
  env.fs.route(path, (ex) => ex.respond(206, { 'Content-Range': 'bytes 0-9/100' }, Buffer.alloc(10, 0x61)));
  return env.fs.url(path);
}

describe('adversarial download: 206 bytes 0-9/100 with no validator, to every request', () => {
  for (const [limit, expected] of [
    [0, 1],
    [3, 4],
    [undefined, 5],
  ] as const) {
    const name = `retry.limit ${limit ?? 'default (4)'}: exactly ${expected} request(s), then ProtocolError bad-range`;
    it(name, T, async (t) => {
      const env = await setup(t);
      const url = storm(env, '/storm');
      const { err, ms } = await rejection(download(url, env.dest, opts(env, limit)));
      const sent = env.fs.hits('/storm');
      assert.ok(!(err instanceof TimeoutError), `a storm until the ${BACKSTOP} ms backstop: ${sent} requests`);
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.reason, 'bad-range');
      assert.equal(sent, expected, `${sent} requests`);
      assert.ok(ms < 1000, `took ${ms} ms`);
    });
  }

  it('two mirrors, retry.limit 1: two requests to each, then the last error', T, async (t) => {
    const env = await setup(t);
    const urls = [storm(env, '/a'), storm(env, '/b')];
    const { err } = await rejection(download(urls, env.dest, opts(env, 1)));
    assert.ok(err instanceof ProtocolError && err.reason === 'bad-range', String(err));
    assert.deepEqual([env.fs.hits('/a'), env.fs.hits('/b')], [2, 2]);
  });
});

describe('adversarial download: restarts from zero are attempts too', () => {
  it('416 to every ranged request and a short 206 to every other: retry.limit 2 → 3 requests', T, async (t) => {
    const env = await setup(t);
    env.fs.route('/f', (ex) =>
      ex.request.headers.range !== undefined
        ? ex.respond(416, { 'Content-Range': 'bytes */7' })
        : ex.respond(206, { 'Content-Range': 'bytes 0-9/100' }, Buffer.alloc(10, 0x62)),
    );
    // A foreign .part (no sidecar): continued with Range, refused by 416, restarted from zero, …
    await writeFile(`${env.dest}.part`, Buffer.alloc(50, 0x63));
    const { err } = await rejection(download(env.fs.url('/f'), env.dest, opts(env, 2)));
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(env.fs.hits('/f'), 3);
  });

  it('a 206 of another representation to every If-Range resume: retry.limit 2 → 3 requests', T, async (t) => {
    const env = await setup(t);
    env.fs.route('/g', (ex) => {
      // A fresh ETag each time: every resume is "a changed representation" → restart.
      const etag = `"v${ex.hit}"`;
      const m = /^bytes=(\d+)-$/.exec(ex.request.headers.range ?? '');
      const start = m === null ? 0 : Number(m[1]);
      const end = Math.min(start + 9, 99);
      return ex.respond(
        206,
        { ETag: etag, 'Content-Range': `bytes ${start}-${end}/100` },
        Buffer.alloc(end - start + 1, 0x64),
      );
    });
    const { err } = await rejection(download(env.fs.url('/g'), env.dest, opts(env, 2)));
    assert.ok(err instanceof ProtocolError && err.reason === 'bad-range', String(err));
    assert.equal(env.fs.hits('/g'), 3);
  });
});
