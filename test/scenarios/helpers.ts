/**
 * Helpers shared by the scenario-exact suites in this folder (SE-xx, GO-12, UN-01..03, PF-13).
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import type { TestContext } from 'node:test';

/**
 * Awaits `p`, which must reject: the error and how long it took (from `start`, default
 * now). A response that came instead has its body destroyed before the assertion fails.
 */
export async function rejection(p: Promise<unknown>, start = performance.now()): Promise<{ err: unknown; ms: number }> {
  try {
    const v = await p;
    (v as { body?: { destroy(): void } } | undefined)?.body?.destroy();
  } catch (err) {
    return { err, ms: performance.now() - start };
  }
  return assert.fail('expected a rejection');
}

/**
 * A loopback listener that only counts accepted sockets and reads what they send, never
 * answering (a test that must reach no network asserts `accepts()` is 0). Closed after `t`.
 */
export async function countingListener(t: TestContext): Promise<{ port: number; url: string; accepts: () => number }> {
  let accepts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepts++;
    sockets.add(s);
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as net.AddressInfo;
  return { port, url: `http://127.0.0.1:${port}`, accepts: () => accepts };
}
