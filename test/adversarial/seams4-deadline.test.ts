// Adversarial suite, seams 4 (issue 15): the request's deadline at the seams.
// - A foreign deadline already past when handed to Transport.roundTrip (or
//   MockTransport.roundTrip) fails with TimeoutError phase `request` whose `timeout` is 0
//   (what was left), not a sentinel like Number.MIN_VALUE; `elapsed` counts from the call.
// - SPEC §12: `deadline` is read-only. The object the client hands to user code is
//   frozen and exposes nothing but expiresAt/remaining(); a copy passed to next() with
//   another deadline (earlier or later) does not change the call's: the call's deadline
//   governs the request on the wire, and the RoundTripper below sees the call's deadline.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { Client, type OutgoingRequest, outgoingRequest, type RequestDeadline, Response, type RoundTripper, TimeoutError, Transport } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

function expired(url: string, left: number): OutgoingRequest {
  return { ...outgoingRequest(url), deadline: { expiresAt: Date.now() + left, remaining: () => left } };
}

describe('seams4: a foreign deadline already past', () => {
  for (const left of [0, -25]) {
    it(`remaining() ${left}: Transport.roundTrip fails with timeout 0, elapsed from the call`, { timeout: 5_000 }, async (t) => {
      const srv = net.createServer(() => undefined); // accepts, never answers
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const tr = new Transport();
      t.after(() => {
        tr.close();
        srv.close();
      });
      const port = (srv.address() as net.AddressInfo).port;
      const t0 = performance.now();
      const err = await tr.roundTrip(expired(`http://127.0.0.1:${port}/x`, left)).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'request');
      assert.equal(err.timeout, 0);
      assert.ok(err.elapsed >= 0 && err.elapsed <= performance.now() - t0 + 1, `elapsed ${err.elapsed}`);
      assert.match(err.message, /0 ms|0ms|timeout/i);
    });

    it(`remaining() ${left}: MockTransport.roundTrip agrees (timeout 0)`, { timeout: 5_000 }, async () => {
      const mock = new MockTransport();
      mock.on('GET', 'http://api.test/x').reply(200, 'never');
      const err = await mock.roundTrip(expired('http://api.test/x', left)).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'request');
      assert.equal(err.timeout, 0);
    });
  }
});

describe('seams4: the deadline the client hands out is read-only', () => {
  it('frozen, with only expiresAt and remaining(), for interceptors and a foreign RoundTripper', { timeout: 5_000 }, async () => {
    const seen: RequestDeadline[] = [];
    const rt: RoundTripper = {
      roundTrip: (req) => {
        look(req.deadline);
        return Promise.resolve(Response.from({ status: 200, url: req.url, body: 'ok' }));
      },
    };
    const look = (d: RequestDeadline): void => {
      assert.ok(Object.isFrozen(d));
      assert.throws(() => {
        (d as { expiresAt: number }).expiresAt = 1;
      }, TypeError);
      assert.throws(() => {
        (d as unknown as { failure: unknown }).failure = new Error('x');
      }, TypeError);
      assert.deepEqual(Object.keys(d), ['expiresAt']);
      assert.equal(typeof d.remaining(), 'number');
      assert.ok(!('failure' in d) && !('abort' in d) && !('timeoutError' in d));
      seen.push(d);
    };
    const c = new Client({
      timeout: 2000,
      interceptors: [(req, next) => (look(req.deadline), next(req))],
      networkInterceptors: [(req, next) => (look(req.deadline), next(req))],
      transport: rt,
    });
    assert.equal(await (await c.request('http://api.test/x')).text(), 'ok');
    assert.equal(seen.length, 3);
    assert.ok(seen.every((d) => d === seen[0]), 'one deadline for the call');
  });

  it('a copy passed to next() with an earlier deadline does not change the call deadline', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/x').delay(80).reply(200, 'ok');
    let handed: RequestDeadline | undefined;
    let below: RequestDeadline | undefined;
    const c = new Client({
      transport: mock,
      timeout: 2000,
      interceptors: [
        (req, next) => {
          handed = req.deadline;
          const soon = Date.now() + 10;
          return next({ ...req, deadline: { expiresAt: soon, remaining: () => soon - Date.now() } });
        },
      ],
      networkInterceptors: [
        (req, next) => {
          below = req.deadline;
          return next(req);
        },
      ],
    });
    assert.equal(await (await c.request('http://api.test/x')).text(), 'ok');
    assert.equal(below, handed, 'the stages below see the call deadline');
    // And the call's own deadline still cuts it.
    mock.on('GET', 'http://api.test/y').delay(500).reply(200, 'late');
    const short = new Client({
      transport: mock,
      timeout: 60,
      interceptors: [(req, next) => next({ ...req, deadline: { expiresAt: undefined, remaining: () => Number.POSITIVE_INFINITY } })],
    });
    await assert.rejects(short.request('http://api.test/y'), (e: unknown) => e instanceof TimeoutError && e.phase === 'request' && e.timeout === 60);
  });
});
