// The HTTP/2 client against the outside attack of issue #16 (SPEC §3, §4, §11, §13): each
// test is one finding, turned from a standalone repro (/work/adv-h2/tNN-*.mjs) into a
// FaultServer test; it failed before its fix.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { download } from '../../src/download.js';
import { HourglassError, TimeoutError, Transport } from '../../src/index.js';
import { type H2Connection, H2Code } from '../../src/testing/index.js';
import { windowUpdateFrame } from '../../src/testing/h2-wire.js';
import { h2Server } from './helpers.js';
import { describe as what, ok, protocol, rig, settle, sleep } from './spec-helpers.js';

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

describe('h2 adversarial: a waiter for a stream slot moves on when hourglass closes the connection', () => {
  it('h2-ping closes the only connection (MCS 1, maxConnsPerHost 1): the queued GET goes to a new connection (t06)', T, async () => {
    const r = await rig({ h2: { maxConcurrentStreams: 1, pingAck: false } }, { maxConnsPerHost: 1, h2: { pingInterval: 200, pingTimeout: 200 } });
    try {
      const a = settle(r.client, r.fs.url('/never'));
      await sleep(50);
      const b = settle(r.client, r.fs.url('/ok'));
      const ga = await a;
      assert.ok(ga.err instanceof TimeoutError && ga.err.phase === 'h2-ping', what(ga));
      ok(await b);
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });

  it('h2-settings closes the connection holding 100 streams: the 101st request is not handed the dead session (t08)', T, async () => {
    const r = await rig({ h2: { settingsDelay: 'never' } }, { maxConnsPerHost: 1, h2: { settingsTimeout: 300 } });
    try {
      const first = Array.from({ length: 100 }, () => settle(r.client, r.fs.url('/never')));
      await sleep(50);
      const last = await settle(r.client, r.fs.url('/ok'));
      for (const g of await Promise.all(first)) assert.ok(g.err instanceof TimeoutError && g.err.phase === 'h2-settings', what(g));
      assert.ok(last.err instanceof TimeoutError && last.err.phase === 'h2-settings', what(last));
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial: the stale-connection retry (SPEC §4)', () => {
  it('a GET on a reused idle connection that the server closes before any response byte is retried on a new one (t67)', T, async () => {
    const r = await rig({ h2: true }, SLOW);
    try {
      r.fs.h2Route('/s', async (s) => {
        if (s.conn.id === 1 && s.id > 1) return s.conn.end();
        await s.respond(200, {}, `c${s.conn.id}`);
      });
      assert.equal(ok(await settle(r.client, r.fs.url('/s'))), 'c1');
      await sleep(50);
      assert.equal(ok(await settle(r.client, r.fs.url('/s'))), 'c2');
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });

  it('a POST (not replayable by method) in the same case still fails connection-closed, requestSent', T, async () => {
    const r = await rig({ h2: true }, SLOW);
    try {
      r.fs.h2Route('/s', async (s) => {
        if (s.conn.id === 1 && s.id > 1) return s.conn.end();
        await s.respond(200, {}, `c${s.conn.id}`);
      });
      ok(await settle(r.client, r.fs.url('/s')));
      await sleep(50);
      const e = protocol(await settle(r.client, r.fs.url('/s'), { method: 'POST', body: 'x' }), 'connection-closed');
      assert.equal(e.requestSent, true);
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial: writeIdleTimeout fires on time (SPEC §3)', () => {
  const LIMIT = 400;
  /** A write-idle TimeoutError whose wait was at most the limit plus scheduling slack. */
  function onTime(g: Awaited<ReturnType<typeof settle>>): void {
    assert.ok(g.err instanceof TimeoutError && g.err.phase === 'write-idle', what(g));
    assert.ok(g.err.elapsed <= LIMIT + 60, `elapsed ${g.err.elapsed} for a limit of ${LIMIT}`);
  }

  it('a stream waiting on the connection window from its start (t38)', T, async () => {
    const r = await rig({ h2: { initialWindowSize: 1 << 20, windowUpdates: 'streams' } }, { writeIdleTimeout: LIMIT, h2: { pingInterval: 0 } });
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      const a = settle(r.client, r.fs.url('/never'), { method: 'PUT', body: Buffer.alloc(1 << 20) });
      await sleep(50);
      const b = settle(r.client, r.fs.url('/never'), { method: 'POST', body: '0123456789' });
      onTime(await a);
      onTime(await b);
    } finally {
      await r.close();
    }
  });

  it('a peer that stops reading its socket with the windows wide open (t33)', T, async () => {
    let conn: H2Connection | undefined;
    const r = await rig(
      {
        h2: {
          initialWindowSize: 0x7fffffff,
          onConnection: (c) => {
            conn = c;
            void c.write(windowUpdateFrame(0, 0x7fffffff - 65_535));
          },
        },
      },
      { writeIdleTimeout: LIMIT, h2: { pingInterval: 0 } },
    );
    try {
      ok(await settle(r.client, r.fs.url('/ok')));
      conn?.stopReading();
      onTime(await settle(r.client, r.fs.url('/never'), { method: 'PUT', body: Buffer.alloc(16 << 20, 97) }));
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial: a draining connection is still health-checked', () => {
  it('GOAWAY(NO_ERROR) covering an open stream, then silence mid-body: h2-ping at interval + timeout (t73)', T, async () => {
    const r = await rig({ h2: { pingAck: false } }, { readIdleTimeout: 3000, h2: { pingInterval: 150, pingTimeout: 150 } });
    try {
      r.fs.h2Route('/drain', async (s) => {
        await s.headers(200, { 'content-length': '100' });
        await s.data('abc');
        await s.conn.goaway(s.id, H2Code.NO_ERROR);
      });
      const g = await settle(r.client, r.fs.url('/drain'));
      assert.ok(g.err instanceof TimeoutError && g.err.phase === 'h2-ping', what(g));
      assert.ok(g.ms < 1000, `settled after ${Math.round(g.ms)} ms`);
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial: an unread body does not keep the process alive (SPEC §3/§11)', () => {
  it('a 200 KB body left unread, no close(): the process exits at once (t48)', T, async () => {
    // A node:http2 server writes the whole body at once (as fast as the windows let it).
    const srv = await h2Server(
      (stream) => {
        stream.respond({ ':status': 200 });
        stream.end(Buffer.alloc(200_000, 97));
      },
      { h2c: true },
    );
    const dir = await mkdtemp(join(tmpdir(), 'hg-h2-adv-'));
    try {
      const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
      const script = join(dir, 'child.mjs');
      await writeFile(
        script,
        `import { Client, Transport } from ${JSON.stringify(index)};\n` +
          `const c = new Client({ transport: new Transport({ h2c: true }) });\n` +
          `const res = await c.request(process.argv[2]);\n` +
          `if (res.status !== 200) process.exit(3);\n`,
      );
      const child = spawn(process.execPath, [script, srv.url('/big')], { stdio: ['ignore', 'ignore', 'inherit'] });
      const code = await new Promise<number | string | null>((resolve) => {
        const k = setTimeout(() => {
          child.kill();
          resolve('still alive after 3 s');
        }, 3000);
        child.on('exit', (c) => {
          clearTimeout(k);
          resolve(c);
        });
      });
      assert.equal(code, 0);
    } finally {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('h2 adversarial: option validation', () => {
  it('h2.initialWindowSize 0 (every body would stall) is HG_INVALID_ARG; 1 is accepted (t36)', T, () => {
    assert.throws(() => new Transport({ h2: { initialWindowSize: 0 } }), (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG');
    assert.doesNotThrow(() => new Transport({ h2: { initialWindowSize: 1 } }));
  });
});

describe('h2 adversarial: GOAWAY details', () => {
  it('GOAWAY(NO_ERROR, "some debug data"), then GOAWAY(13) with a stream in flight: h2-protocol-error h2Code 13 naming the debug text (t34 two)', T, async () => {
    const r = await rig({ h2: true }, SLOW);
    try {
      r.fs.h2Route('/two', async (s) => {
        await s.conn.goaway(5, H2Code.NO_ERROR, 'some debug data');
        await s.sleep(30);
        await s.conn.goaway(5, 13);
        await s.sleep(10);
        await s.conn.end();
      });
      const e = protocol(await settle(r.client, r.fs.url('/two')), 'h2-protocol-error', 13);
      assert.match(e.message, /some debug data/);
    } finally {
      await r.close();
    }
  });
});
