// Adversarial suite: a server that reads the upload slowly but steadily (10 KiB every
// 100 ms). SPEC §11: writeIdleTimeout fires when "no byte of it could be flushed for that
// long"; README: "a slow but steady reader never" trips it. The kernel's buffers hold
// megabytes and libuv sees the socket writable again only after a third of the send buffer
// drained, so progress must be read from the kernel's send queue. A peer that stops
// reading still fails at writeIdleTimeout (+1/8). Plain node:net servers on 127.0.0.1.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { request, TimeoutError } from '../../src/index.js';
import { rejectedWith as rejection } from '../helpers/setup.js';

const LATE = 700;

/** A server that reads `perTick` bytes every 100 ms from each connection (0: never reads). */
async function slowReader(t: TestContext, perTick: number): Promise<string> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.pause();
    if (perTick === 0) return;
    const iv = setInterval(() => {
      let n = 0;
      while (n < perTick && s.readableLength > 0) {
        const c = s.read(Math.min(perTick - n, s.readableLength)) as Buffer | null;
        if (c === null) break;
        n += c.length;
      }
    }, 100);
    timers.add(iv);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const iv of timers) clearInterval(iv);
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/upload`;
}

function phaseOf(err: unknown): string {
  assert.ok(err instanceof TimeoutError, `expected a TimeoutError, got ${String(err)}`);
  return err.phase;
}

describe('adversarial: writeIdleTimeout and a slow but steady reader', () => {
  const bodies: [string, () => Uint8Array | Readable][] = [
    ['one large Uint8Array', () => new Uint8Array(64 << 20)],
    ['a stream', () => Readable.from((function* () { for (let i = 0; i < 1024; i++) yield Buffer.alloc(64 << 10); })())],
  ];
  for (const [name, mk] of bodies) {
    it(`${name}: a reader taking 10 KiB every 100 ms never trips writeIdleTimeout`, { timeout: 10_000 }, async (t) => {
      const url = await slowReader(t, 10_240);
      const err = await rejection(request(url, { method: 'PUT', body: mk(), timeout: 4_500, timeouts: { writeIdleTimeout: 2_000 } }));
      assert.equal(phaseOf(err), 'request', 'the overall timeout, not write-idle, ends this upload');
    });
    it(`${name}: a peer that never reads fails phase write-idle within writeIdleTimeout + 1/8`, { timeout: 10_000 }, async (t) => {
      const url = await slowReader(t, 0);
      const t0 = Date.now();
      const err = await rejection(request(url, { method: 'PUT', body: mk(), timeout: 8_000, timeouts: { writeIdleTimeout: 500 } }));
      assert.equal(phaseOf(err), 'write-idle');
      assert.ok(Date.now() - t0 < 500 + 500 / 8 + LATE, `failed after ${Date.now() - t0} ms`);
    });
  }
});
