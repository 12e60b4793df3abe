// The HTTP/2 client against the second outside attack of issue #16 (SPEC §3, §13): each
// test is one finding, turned from a standalone repro (/work/adv-otel2/tNN-*.mjs) into a
// FaultServer test; it failed before its fix.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, Transport, type TransportOptions } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

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
