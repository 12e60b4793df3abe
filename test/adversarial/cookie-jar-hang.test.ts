// Adversarial: a cookie jar whose methods never settle (a remote store that hangs) must not
// defeat the overall timeout or the signal: every await inside a request runs under both
// (SPEC §11; issue 13, item 5). The request's connection is not left behind either.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { AbortError, Client, type CookieJarLike, TimeoutError } from '../../src/index.js';
import { assertQuiet, rejection, setup } from '../helpers/setup.js';

const T = { timeout: 5000 };
const never = (): Promise<never> => new Promise<never>(() => {});

const hangingRead: CookieJarLike = { getCookieString: never, setCookie: () => undefined };
const hangingWrite: CookieJarLike = { getCookieString: () => '', setCookie: never };

/** A FaultServer route that sets a cookie, and a Client with `jar` on the test's Transport. */
async function jarClient(t: TestContext, jar: CookieJarLike) {
  const { fs, transport } = await setup(t);
  fs.route('/set-cookie', (ex) => ex.respond(200, { 'Set-Cookie': 'a=1; Path=/' }, 'ok'));
  const client = new Client({ transport, jar });
  t.after(() => client.close());
  return { url: fs.url('/set-cookie'), transport, client };
}

describe('a cookie jar that never answers', () => {
  for (const [what, jar] of [
    ['getCookieString', hangingRead],
    ['setCookie', hangingWrite],
  ] as const) {
    it(`${what} never settles: timeout 300 rejects with the overall TimeoutError within 1 s`, T, async (t) => {
      const { url, transport, client } = await jarClient(t, jar);
      const { err, ms } = await rejection(client.request(url, { timeout: 300 }));
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'request');
      assert.equal(err.activePhase, 'cookie-jar');
      assert.ok(ms >= 290 && ms < 1000, `rejected after ${ms.toFixed(0)} ms`);
      await assertQuiet(transport);
    });

    it(`${what} never settles: an abort rejects with AbortError at once`, T, async (t) => {
      const { url, transport, client } = await jarClient(t, jar);
      const ac = new AbortController();
      const start = performance.now();
      const p = client.request(url, { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('stop')), 100);
      const { err, ms } = await rejection(p, start);
      assert.ok(err instanceof AbortError, String(err));
      assert.ok(ms < 600, `rejected ${ms.toFixed(0)} ms after the request began (abort at 100 ms)`);
      await assertQuiet(transport);
    });
  }
});
