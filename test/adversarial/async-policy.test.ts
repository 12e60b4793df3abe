// Adversarial: an async `checkRedirect` (a policy that asks a remote service) must be
// awaited — a refusal (rejecting, or resolving false) is honoured, never outrun by the next
// hop — and it runs under the overall deadline and the signal like every other await
// inside a request (SPEC §7, §11). Found by an outside attack: the promise was ignored, the
// refused target was fetched, and the rejection surfaced as an unhandledRejection.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { AbortError, Client, type ClientOptions, HourglassError, TimeoutError } from '../../src/index.js';
import { rejection, setup } from '../helpers/setup.js';

const T = { timeout: 5000 };

async function redirecting(t: TestContext, checkRedirect: ClientOptions['checkRedirect']) {
  const { fs, transport } = await setup(t);
  let refusedHits = 0;
  fs.route('/start', (ex) => ex.respond(302, { Location: '/refused' }, ''));
  fs.route('/refused', (ex) => {
    refusedHits++;
    ex.respond(200, {}, 'should not be fetched');
  });
  const client = new Client({ transport, checkRedirect });
  t.after(() => client.close());
  return { url: fs.url('/start'), client, refusedHits: () => refusedHits };
}

describe('an async checkRedirect', () => {
  it('that rejects: HG_REDIRECT_REFUSED with its error as cause; the target is never fetched', T, async (t) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));
    const why = new Error('policy says no');
    const env = await redirecting(t, async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw why;
    });
    const { err } = await rejection(env.client.request(env.url));
    assert.ok(err instanceof HourglassError, String(err));
    assert.equal(err.code, 'HG_REDIRECT_REFUSED');
    assert.equal(err.cause, why);
    assert.equal(env.refusedHits(), 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
  });

  it('that resolves false: the 3xx is returned as the final response', T, async (t) => {
    const env = await redirecting(t, async () => false);
    const res = await env.client.request(env.url);
    assert.equal(res.status, 302);
    await res.dump();
    assert.equal(env.refusedHits(), 0);
  });

  it('that resolves true: the redirect is followed', T, async (t) => {
    const env = await redirecting(t, async () => true);
    const res = await env.client.request(env.url);
    assert.equal(res.status, 200);
    await res.dump();
    assert.equal(env.refusedHits(), 1);
  });

  it('that never settles: the overall timeout ends the request', T, async (t) => {
    const env = await redirecting(t, () => new Promise<boolean>(() => {}));
    const { err, ms } = await rejection(env.client.request(env.url, { timeout: 300 }));
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.phase, 'request');
    assert.ok(ms >= 290 && ms < 1500, `rejected after ${ms.toFixed(0)} ms`);
    assert.equal(env.refusedHits(), 0);
  });

  it('that never settles: an abort ends the request at once', T, async (t) => {
    const env = await redirecting(t, () => new Promise<boolean>(() => {}));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const { err, ms } = await rejection(env.client.request(env.url, { signal: ac.signal }));
    assert.ok(err instanceof AbortError, String(err));
    assert.ok(ms < 1000, `rejected after ${ms.toFixed(0)} ms`);
    assert.equal(env.refusedHits(), 0);
  });
});
