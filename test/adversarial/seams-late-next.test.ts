// Adversarial suite, seams (issue 15, outside attack): a next() called after the
// interceptor already answered (the call has settled) would escape the call's deadline and
// signal; it rejects at once and sends nothing.
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Client, HourglassError, type NextFn, type OutgoingRequest, Response } from '../../src/index.js';

describe('seams: late next()', () => {
  for (const how of ['answered', 'threw'] as const) {
    it(`next() after the interceptor ${how} rejects without sending`, { timeout: 10_000 }, async (t) => {
      let hits = 0;
      const srv = createServer(() => void hits++); // never answers
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      t.after(() => {
        srv.closeAllConnections();
        srv.close();
      });
      let keep: [OutgoingRequest, NextFn] | undefined;
      const c = new Client({
        timeout: 300,
        interceptors: [
          async (req, next) => {
            keep = [req, next];
            if (how === 'threw') throw new Error('mine');
            return Response.from({ status: 200, body: 'cached', url: req.url });
          },
        ],
      });
      t.after(() => c.close());
      const outcome = await c.request(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`).then(
        (r) => r.text(),
        (e: Error) => e.message,
      );
      assert.equal(outcome, how === 'answered' ? 'cached' : 'mine');
      const late = await Promise.race([
        keep![1](keep![0]).then(
          () => 'resolved',
          (e: unknown) => e,
        ),
        new Promise((r) => setTimeout(() => r('pending'), 1_500)),
      ]);
      assert.ok(late instanceof HourglassError, String(late));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(hits, 0);
    });
  }
});
