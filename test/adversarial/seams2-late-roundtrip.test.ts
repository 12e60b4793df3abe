// Adversarial suite, seams 2 (issue 15, second outside attack): a user RoundTripper that
// resolves a Response after the call's deadline or abort has its body closed (nobody will
// read it); client.close() does not hang on a RoundTripper.close() that never settles.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, type OutgoingRequest, Response, type RoundTripper } from '../../src/index.js';

/** A RoundTripper that answers after `ms` with an endless stream body (kept in `bodies`). */
function lateTripper(ms: number, bodies: Readable[]): RoundTripper {
  return {
    roundTrip: (req: OutgoingRequest) =>
      new Promise<Response>((resolve) =>
        setTimeout(() => {
          const body = new Readable({
            read() {
              this.push(Buffer.alloc(1024));
            },
          });
          bodies.push(body);
          resolve(Response.from({ status: 200, url: req.url.href, body }));
        }, ms),
      ),
  };
}

describe('seams2: a late RoundTripper response', () => {
  for (const how of ['timeout', 'abort'] as const) {
    it(`after the ${how}: its body is destroyed`, { timeout: 10_000 }, async () => {
      const bodies: Readable[] = [];
      const c = new Client({ transport: lateTripper(150, bodies) });
      const signal = how === 'abort' ? AbortSignal.timeout(30) : undefined;
      const err = await c.request('http://a.test/', how === 'timeout' ? { timeout: 30 } : { signal }).then(
        () => assert.fail('the call should have failed'),
        (e: Error) => e,
      );
      assert.ok(err instanceof Error);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.destroyed, true, 'the late body is closed');
    });
  }

  it('an answer in time is left alone', { timeout: 10_000 }, async () => {
    const bodies: Readable[] = [];
    const c = new Client({ transport: lateTripper(10, bodies), timeout: 2000 });
    const res = await c.request('http://a.test/');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bodies[0]!.destroyed, false);
    await res.dump();
  });

  it('client.close() settles although RoundTripper.close() never does', { timeout: 10_000 }, async () => {
    const c = new Client({
      transport: { roundTrip: () => Promise.reject(new Error('unused')), close: () => new Promise<void>(() => {}) },
    });
    const t0 = Date.now();
    await c.close();
    const took = Date.now() - t0;
    assert.ok(took < 3000, `close took ${took} ms`);
  });

  it('client.close() passes on what RoundTripper.close() throws', { timeout: 10_000 }, async () => {
    const c = new Client({
      transport: {
        roundTrip: () => Promise.reject(new Error('unused')),
        close: () => {
          throw new Error('close boom');
        },
      },
    });
    await assert.rejects(c.close(), /close boom/);
  });
});
