// adv-otel4 F2 (issue #17): a silent stale-connection retry keeps `timings.start` at the
// real start; the time lost on the dead connection is a wait for a connection (phases.wait,
// HAR `blocked`), so end - start == phases.total and HAR `time` tells the elapsed time.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, toHarEntry, Transport } from '../../src/index.js';

describe('otel4 F2: stale retry keeps the lost time in the timings', () => {
  let srv: net.Server;
  let port = 0;
  const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

  before(async () => {
    srv = net.createServer((s) => {
      s.on('error', () => {});
      let n = 0;
      s.on('data', () => {
        n++;
        // The second request on a kept-alive connection is swallowed, then the connection closed.
        if (n === 1) s.write(OK);
        else setTimeout(() => s.destroy(), 200);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => srv.close(() => r())));

  it('end - start covers the dead connection; HAR blocked holds it', { timeout: 10_000 }, async () => {
    const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
    try {
      await (await c.request(`http://127.0.0.1:${port}/a`)).text();
      const t0 = Date.now();
      const res = await c.request(`http://127.0.0.1:${port}/b`);
      await res.text();
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 190, `elapsed ${elapsed}`);
      const t = res.timings;
      assert.ok(t.end !== undefined && t.end - t.start >= 190, `end-start ${String(t.end)}-${t.start}`);
      assert.ok(t.phases.wait >= 190, `wait ${t.phases.wait}`);
      const e = toHarEntry(res);
      assert.ok(e.timings.blocked >= 190, `blocked ${e.timings.blocked}`);
      assert.ok(e.time >= 190, `time ${e.time}`);
    } finally {
      await c.close();
    }
  });
});
