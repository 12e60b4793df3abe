// Adversarial suite, seams (issue 15, outside attack): an interceptor that calls next()
// again after a 5xx without reading it (a natural "retry once" interceptor) must not
// deadlock on a pool of one connection: the earlier, unclaimed response of the same call
// is discarded before the replay goes out, as the client's own retry does.
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';

describe('seams: interceptor replay', () => {
  it('replaying next() after an unread >64 KiB 5xx with maxConnsPerHost 1 does not wait for its own connection', { timeout: 10_000 }, async (t) => {
    let hits = 0;
    const srv = createServer((_req, res) => {
      hits++;
      res.writeHead(hits === 1 ? 503 : 200);
      res.end(Buffer.alloc(200_000, 97));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => {
      srv.closeAllConnections();
      srv.close();
    });
    const transport = new Transport({ maxConnsPerHost: 1 });
    const c = new Client({
      transport,
      timeout: 4_000,
      interceptors: [
        async (req, next) => {
          let res = await next(req);
          if (res.status >= 500) res = await next(req); // the 503 is never read
          return res;
        },
      ],
    });
    t.after(() => c.close());
    const res = await c.request(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`);
    assert.equal(res.status, 200);
    assert.equal((await res.bytes()).length, 200_000);
    assert.equal(hits, 2);
  });
});
