// Adversarial suite: SPEC §3 idleConnTimeout — "a server's `Keep-Alive: timeout=N` shortens it".
// N = 0 says the server closes an idle connection at once: the connection is not reused
// (reusing it races the server's close).
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { Client } from '../../src/index.js';

describe('adversarial: Keep-Alive: timeout=0', () => {
  for (const [ka, reused] of [['0', false], ['"0"', false], ['5', true]] as const) {
    it(`timeout=${ka}: the next request ${reused ? 'reuses' : 'does not reuse'} the connection`, { timeout: 5_000 }, async (t) => {
      let connections = 0;
      const srv = net.createServer((s) => {
        connections++;
        s.on('error', () => {});
        s.on('data', () => s.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${ka}\r\nContent-Length: 2\r\n\r\nok`));
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const c = new Client();
      t.after(async () => {
        await c.close();
        srv.close();
      });
      const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`;
      assert.equal(await (await c.request(url)).text(), 'ok');
      await new Promise((r) => setTimeout(r, 50));
      const r2 = await c.request(url);
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, reused);
      assert.equal(connections, reused ? 1 : 2);
    });
  }
});
