// conn/kernel-queue: one reading of /proc/net/tcp{,6} serves every socket of the process for
// a while (the tables list every TCP socket of the host, TIME_WAIT included: with thousands of
// them one reading costs milliseconds, and a hundred connections looking at once each read
// them before). Linux only.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { kernelQueueReads, kernelSendQueue } from '../src/conn/kernel-queue.js';

const T = { timeout: 5000, skip: process.platform === 'linux' ? false : '/proc/net/tcp is Linux only' };

async function pair(server: net.Server): Promise<net.Socket> {
  const port = (server.address() as net.AddressInfo).port;
  const s = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => s.once('connect', () => r()));
  return s;
}

describe('kernel send queue', () => {
  it('sockets looking within a few ms share one reading of the tables; a later look reads them again', T, async () => {
    const server = net.createServer((c) => c.on('error', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = await pair(server);
    const b = await pair(server);
    try {
      await new Promise((r) => setTimeout(r, 60)); // past any earlier reading's life (50 ms at most)
      const before = kernelQueueReads();
      assert.equal(kernelSendQueue(a), 0, 'an idle socket has nothing queued');
      assert.equal(kernelSendQueue(b), 0);
      for (let i = 0; i < 20; i++) kernelSendQueue(i % 2 === 0 ? a : b);
      assert.equal(kernelQueueReads() - before, 1, 'one reading for 22 looks');
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(kernelSendQueue(a), 0);
      assert.equal(kernelQueueReads() - before, 2, 'a look after the reading expired reads again');
    } finally {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
