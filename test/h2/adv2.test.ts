// The HTTP/2 client against the second outside attack of issue #16 (SPEC §3, §13): each
// test is one finding, turned from a standalone repro (/work/adv-otel2/tNN-*.mjs) into a
// FaultServer test; it failed before its fix.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, Transport, type TransportOptions } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import * as http2 from 'node:http2';
import { h2Server, h2Transport } from './helpers.js';

const T = { timeout: 15_000 };

async function upload(opts: TransportOptions): Promise<{ err: unknown; wall: number }> {
  const fs = await FaultServer.start({ h2: { windowUpdates: 'none', initialWindowSize: 0 } });
  const c = new Client({ timeout: 8000, transport: new Transport({ tls: { ca: fs.ca }, ...opts }) });
  const t0 = Date.now();
  try {
    const r = await c.request(fs.url('/h2/hold-window'), { method: 'POST', body: 'x'.repeat(70_000) });
    await r.text();
    return { err: undefined, wall: Date.now() - t0 };
  } catch (err) {
    return { err, wall: Date.now() - t0 };
  } finally {
    await c.close();
    await fs.close();
  }
}

describe('h2 adversarial (round 2): a shut window with PINGs answered', () => {
  for (const [name, opts] of [
    ['pingInterval 1000 < writeIdleTimeout 2000 (t32)', { writeIdleTimeout: 2000, h2: { pingInterval: 1000 } }],
    ['pingInterval 200, writeIdleTimeout 400 (t31)', { writeIdleTimeout: 400, h2: { pingInterval: 200 } }],
    ['pingInterval 200, pingTimeout 200, writeIdleTimeout 400 (t31)', { writeIdleTimeout: 400, h2: { pingInterval: 200, pingTimeout: 200 } }],
  ] as const) {
    it(`${name}: write-idle fires at the limit; a PING is not write progress`, T, async () => {
      const { err, wall } = await upload(opts as TransportOptions);
      assert.ok(err instanceof Error, 'the upload must fail');
      assert.equal((err as { phase?: string }).phase, 'write-idle', String(err));
      assert.ok(wall < (opts.writeIdleTimeout as number) * 2 + 500, `fired after ${wall} ms`);
    });
  }
});

describe('h2 adversarial (round 2): a connection retired by refusals', () => {
  const refusing = (): ReturnType<typeof h2Server> =>
    h2Server((st, hd) => {
      const p = hd[':path'];
      if (p === '/refuse') return st.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      st.respond({ ':status': 200 });
      if (p === '/slow') {
        st.write('a');
        setTimeout(() => st.end('b'), 300);
        return;
      }
      st.end('ok');
    });

  it('maxConnsPerHost 1: after a twice-refused GET the next request gets a new connection at once (t13, t12 seq)', T, async () => {
    const srv = await refusing();
    const tr = h2Transport({ maxConnsPerHost: 1 });
    const c = new Client({ timeout: 5000, transport: tr });
    try {
      // A first exchange: the peer's SETTINGS are known, so both refusals count as strikes.
      assert.equal(await (await c.request(srv.url('/ok'))).text(), 'ok');
      await assert.rejects(c.request(srv.url('/refuse')), (e: Error & { h2Code?: number }) => e.h2Code === 7);
      const t0 = Date.now();
      const r = await c.request(srv.url('/ok'));
      assert.equal(await r.text(), 'ok');
      assert.ok(Date.now() - t0 < 1000, `waited ${Date.now() - t0} ms for a slot`);
      assert.equal(srv.sessions, 2);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('maxConnsPerHost 1: a retired connection busy with a slow stream frees its slot when that stream ends (t12 concurrent)', T, async () => {
    const srv = await refusing();
    const c = new Client({ timeout: 5000, transport: h2Transport({ maxConnsPerHost: 1 }) });
    try {
      const go = async (p: string): Promise<string> => {
        try {
          const r = await c.request(srv.url(p));
          return `${r.status}:${await r.text()}`;
        } catch (e) {
          return `${(e as Error).name}`;
        }
      };
      const slow = go('/slow');
      const refused = go('/refuse');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const later = await Promise.all([go('/ok'), go('/ok2')]);
      assert.deepEqual(later, ['200:ok', '200:ok']);
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
      assert.equal(await slow, '200:ab');
      assert.equal(await refused, 'ProtocolError');
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe('h2 adversarial (round 2): a burst at a new origin with a small stream limit', () => {
  for (const maxConnsPerHost of [undefined, 1, 2]) {
    it(`20 GETs, SETTINGS_MAX_CONCURRENT_STREAMS 3, maxConnsPerHost ${maxConnsPerHost ?? 'default'}: all succeed (t27)`, T, async () => {
      const srv = await h2Server(
        (st) => {
          setTimeout(() => {
            if (st.destroyed) return;
            st.respond({ ':status': 200 });
            st.end('ok');
          }, 20);
        },
        { settings: { maxConcurrentStreams: 3 } },
      );
      const c = new Client({ timeout: 8000, transport: h2Transport(maxConnsPerHost === undefined ? {} : { maxConnsPerHost }) });
      try {
        const res = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => c.request(srv.url(`/r${i}`)).then((r) => r.text())));
        const fails = res.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        assert.deepEqual(fails, [], `${fails.length} of 20 failed; server sessions ${srv.sessions}`);
      } finally {
        await c.close();
        await srv.close();
      }
    });
  }
});
