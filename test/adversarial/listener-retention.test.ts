// adv-otel5 N3 (issue #17, #16): a Response that one of its own body listeners or trace
// hooks mentions is still garbage-collected once the caller drops it. The registry that
// destroys the bodies of collected Responses held the body's channel, the channel held
// the body stream, the stream its listeners, and a listener the Response: the target was
// reachable from its own held value (and from the connection), so it never died — on
// HTTP/2 for every request, on both protocols for a body never read. Now a settled body
// leaves the registry, and an unread stream is held weakly until something reads it.
// Over HTTP/1.1 and HTTP/2: a body read whole with an 'end' listener that mentions the
// Response, and an unread 1 MiB body dropped with an 'error' listener that mentions it —
// the latter's connection or stream is then released (stats back to 0 active).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, type Response, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { getGc } from '../helpers/resources.js';

const T = { timeout: 20_000 };

async function collectAll(gc: () => void, done: () => boolean): Promise<void> {
  for (let k = 0; k < 20 && !done(); k++) {
    gc();
    await new Promise((r) => setTimeout(r, 30));
  }
}

for (const h2 of [false, true]) {
  const proto = h2 ? 'HTTP/2' : 'HTTP/1.1';
  describe(`${proto}: Responses mentioned by their own listeners are collected`, () => {
    it('a body read to the end with an \'end\' listener that mentions the Response', T, async (t) => {
      const gc = getGc();
      if (gc === undefined) return t.skip('no gc() available');
      const fs = await FaultServer.start(h2 ? { h2: true } : {});
      const client = new Client({ transport: new Transport(h2 ? { tls: { ca: fs.ca } } : {}) });
      let collected = 0;
      const fr = new FinalizationRegistry(() => collected++);
      const seen: number[] = [];
      try {
        const N = 50;
        for (let i = 0; i < N; i++) {
          await (async () => {
            const res: Response = await client.request(fs.url('/ok'));
            fr.register(res, i);
            await new Promise<void>((resolve, reject) => {
              res.body.on('end', () => {
                seen.push(res.status);
                resolve();
              });
              res.body.on('error', reject);
              res.body.resume();
            });
          })();
        }
        await collectAll(gc, () => collected >= N - 1);
        assert.equal(seen.length, N);
        // The last one may still be referenced from the stack of this frame.
        assert.ok(collected >= N - 1, `${collected}/${N} collected`);
      } finally {
        await client.close();
        await fs.close();
      }
    });

    it('an unread 1 MiB body dropped with an \'error\' listener that mentions the Response: collected, its connection released', T, async (t) => {
      const gc = getGc();
      if (gc === undefined) return t.skip('no gc() available');
      const fs = await FaultServer.start(h2 ? { h2: true } : {});
      const transport = new Transport(h2 ? { tls: { ca: fs.ca } } : {});
      const client = new Client({ transport });
      let collected = 0;
      const fr = new FinalizationRegistry(() => collected++);
      const errors: string[] = [];
      try {
        const N = 5;
        for (let i = 0; i < N; i++) {
          await (async () => {
            const res = await client.request(fs.url('/bytes?n=1048576'));
            fr.register(res, i);
            res.body.on('error', () => errors.push(res.url));
          })();
        }
        await collectAll(gc, () => collected >= N && transport.stats().totals.active === 0);
        assert.equal(collected, N, `${collected}/${N} collected`);
        assert.equal(transport.stats().totals.active, 0, JSON.stringify(transport.stats().totals));
      } finally {
        await client.close();
        await fs.close();
      }
    });
  });
}
