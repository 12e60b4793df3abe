// A request body stream that fails while the upload waits for the peer — the socket to
// drain (HTTP/1.1, a server that stopped reading) or the stream's flow-control window
// (HTTP/2, a window that stays shut) — fails the request at once with HG_REQUEST_BODY,
// its cause the source's error. Before, the error was seen only at the next pull, which
// never came: the request ended at writeIdleTimeout or the overall timeout (issue #16,
// tenth outside attack).
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, HourglassError, Transport } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { ok, rig, settle } from './h2/spec-helpers.js';

const T = { timeout: 15_000 };
const LIMITS = { writeIdleTimeout: 5000, writeTimeout: 5000, responseHeaderTimeout: 5000 };

/** A body that gives `bytes` at once, then fails `failAfter` ms later. */
function failingBody(bytes: number, failAfter: number): { body: Readable; cause: Error } {
  const cause = new Error('source broke');
  let given = false;
  const body = new Readable({
    read() {
      if (given) return;
      given = true;
      for (let off = 0; off < bytes; off += 256 * 1024) this.push(Buffer.alloc(Math.min(256 * 1024, bytes - off), 0x61));
      setTimeout(() => this.destroy(cause), failAfter).unref();
    },
  });
  return { body, cause };
}

async function h1Rig(): Promise<{ fs: FaultServer; client: Client; close(): Promise<void> }> {
  const fs = await FaultServer.start();
  const client = new Client({ transport: new Transport(LIMITS) });
  return {
    fs,
    client,
    close: async () => {
      await client.close();
      await fs.close();
    },
  };
}

function assertBodyError(err: unknown, cause: Error, ms: number): void {
  assert.ok(err instanceof HourglassError, `expected HG_REQUEST_BODY, got ${String(err)}`);
  assert.equal(err.code, 'HG_REQUEST_BODY', String(err));
  assert.equal(err.cause, cause);
  assert.ok(ms < 2000, `settled after ${Math.round(ms)} ms (the source failed at 300 ms, the write limits are 5 s)`);
}

describe('a body stream failing while the upload waits for the peer', () => {
  it('HTTP/1.1: the server stopped reading: HG_REQUEST_BODY at once, not at writeIdleTimeout', T, async () => {
    const { fs, client, close } = await h1Rig();
    try {
      fs.route('/no-read', async (ex) => {
        ex.socket.pause();
        await ex.stall();
      }, { readBody: false });
      // 16 MiB fills the socket buffers both ways, so the writer waits for 'drain'.
      const { body, cause } = failingBody(16 * 1024 * 1024, 300);
      const g = await settle(client, fs.url('/no-read'), { method: 'POST', body, timeout: 10_000 });
      assertBodyError(g.err, cause, g.ms);
      ok(await settle(client, fs.url('/ok')));
    } finally {
      await close();
    }
  });

  for (const what of ['shut from the start', 'used up by the first bytes'] as const) {
    it(`HTTP/2: the stream window is ${what}: HG_REQUEST_BODY at once, not at writeIdleTimeout`, T, async () => {
      const r = await rig({ h2: what === 'shut from the start' ? { initialWindowSize: 0 } : true, tls: false }, LIMITS);
      try {
        ok(await settle(r.client, r.fs.url('/ok')));
        const { body, cause } = failingBody(200_000, 300);
        const g = await settle(r.client, r.fs.url('/h2/hold-window'), { method: 'POST', body, timeout: 10_000 });
        assertBodyError(g.err, cause, g.ms);
        ok(await settle(r.client, r.fs.url('/ok')));
      } finally {
        await r.close();
      }
    });
  }

  it('a body that fails while it is pulled (no wait) still fails HG_REQUEST_BODY once, HTTP/1.1 and HTTP/2', T, async () => {
    for (const h2 of [false, true]) {
      // (The h2 rig speaks h2c by prior knowledge to a cleartext server: HTTP/1.1 is rigged here.)
      const r = h2 ? await rig({ h2: true, tls: false }, LIMITS) : await h1Rig();
      try {
        const cause = new Error('at once');
        const body = new Readable({
          read() {
            this.destroy(cause);
          },
        });
        const g = await settle(r.client, r.fs.url('/echo'), { method: 'POST', body });
        assert.ok(g.err instanceof HourglassError && g.err.code === 'HG_REQUEST_BODY', `h2=${h2}: ${String(g.err)}`);
        assert.equal(g.err.cause, cause);
        ok(await settle(r.client, r.fs.url('/ok')));
      } finally {
        await r.close();
      }
    }
  });
});
