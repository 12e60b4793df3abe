// The HTTP/2 client against the outside attack of issue #16 (SPEC §3, §4, §11, §13): each
// test is one finding, turned from a standalone repro (/work/adv-h2/tNN-*.mjs) into a
// FaultServer test; it failed before its fix.
import * as assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { download } from '../../src/download.js';
import { H2Code } from '../../src/testing/index.js';
import { protocol, rig, settle } from './spec-helpers.js';

const T = { timeout: 15_000 };
const SLOW = { readIdleTimeout: 5000, responseHeaderTimeout: 5000 };

describe('h2 adversarial: a cut-short body is never a success', () => {
  for (const cl of [false, true]) {
    it(`RST_STREAM(NO_ERROR) after HEADERS + \`abc\`${cl ? ' (content-length: 100)' : ''}: stream-reset h2Code 0 (t24)`, T, async () => {
      const r = await rig({ h2: true }, SLOW);
      try {
        r.fs.h2Route('/cut', async (s) => {
          await s.headers(200, cl ? { 'content-length': '100' } : {});
          await s.data('abc');
          await s.sleep(30);
          await s.rst(H2Code.NO_ERROR);
        });
        const g = await settle(r.client, r.fs.url('/cut'));
        assert.equal(g.res?.status, 200);
        protocol(g, 'stream-reset', 0);
      } finally {
        await r.close();
      }
    });
  }

  it('download(): a body cut by RST_STREAM(NO_ERROR) rejects and leaves no file (t53)', T, async () => {
    const r = await rig({ h2: true }, SLOW);
    const dir = await mkdtemp(join(tmpdir(), 'hg-h2-adv-'));
    try {
      r.fs.h2Route('/f', async (s) => {
        await s.headers(200, { 'content-length': '100', etag: '"v1"' });
        await s.data('abc');
        await s.sleep(30);
        await s.rst(H2Code.NO_ERROR);
      });
      const dest = join(dir, 'f.bin');
      await assert.rejects(download(r.fs.url('/f'), dest, { client: r.client, retry: { limit: 1 } }));
      await assert.rejects(stat(dest));
    } finally {
      await r.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('GOAWAY(NO_ERROR, last ≥ stream), then a TCP RST mid-body: truncated-body (t71 rst)', T, async () => {
    const r = await rig({ h2: true }, SLOW);
    try {
      r.fs.h2Route('/cut', async (s) => {
        await s.headers(200, { 'content-length': '100' });
        await s.data('abc');
        await s.sleep(30);
        await s.conn.goaway(s.id, H2Code.NO_ERROR);
        await s.sleep(20);
        s.conn.reset();
      });
      const g = await settle(r.client, r.fs.url('/cut'));
      assert.equal(g.res?.status, 200);
      protocol(g, 'truncated-body');
    } finally {
      await r.close();
    }
  });
});
