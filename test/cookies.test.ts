/**
 * cookies.test — the Client's cookie jar (SPEC §7 `jar`; scenario GO-35) with a real
 * tough-cookie `CookieJar`, against the project's FaultServer on loopback.
 *
 * The jar is read before every hop for that hop's URL and written after every
 * response (every 3xx of a chain included, and retried responses), cross-host hops
 * too (127.0.0.1 ↔ localhost); a `Max-Age=0` deletion is gone on the next hop; the
 * async (Promise) API and a sync adapter both work; a caller's explicit `Cookie`
 * header is kept on same-host hops next to the jar's cookies and dropped, like any
 * credential, on a hop to another host.
 *
 * Every server and client is closed after its test.
 */

import * as assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { CookieJar } from 'tough-cookie';
import type { CookieJarLike } from '../src/client.js';
import { FaultServer } from '../src/testing/index.js';
import { newClient } from './helpers/setup.js';

/**
 * A FaultServer closed when the test ends, scripting the chain
 * `127.0.0.1/c/start` → `/c/mid` → `localhost/c/cross` → `127.0.0.1/c/final`,
 * each step setting cookies (and `/c/mid` deleting `gone`).
 */
async function startServer(t: TestContext): Promise<FaultServer> {
  const fs = await FaultServer.start();
  t.after(() => fs.close());
  const ip = `http://127.0.0.1:${fs.port}`;
  const named = `http://localhost:${fs.port}`;
  fs.route('/c/start', (ex) =>
    ex.respond(302, { Location: '/c/mid', 'Set-Cookie': ['a=1; Path=/', 'gone=bye; Path=/'] }),
  );
  fs.route('/c/mid', (ex) =>
    ex.respond(302, {
      Location: `${named}/c/cross`,
      'Set-Cookie': ['b=2; Path=/', 'gone=; Max-Age=0; Path=/'],
    }),
  );
  fs.route('/c/cross', (ex) => ex.respond(302, { Location: `${ip}/c/final`, 'Set-Cookie': 'l=3; Path=/' }));
  fs.route('/c/final', (ex) => ex.respond(200, { 'Set-Cookie': 'f=4; Path=/' }, 'done'));
  return fs;
}

/** Cookie names (sorted) a recorded request carried. */
function cookieNames(fs: FaultServer, path: string): string[] {
  const req = fs.requests.find((q) => q.path === path);
  assert.ok(req, `no request for ${path}`);
  const h = req.headers.cookie;
  if (h === undefined) return [];
  return h
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .sort();
}

/** tough-cookie's synchronous API behind the jar interface. */
function syncJar(jar: CookieJar): CookieJarLike {
  return {
    getCookieString: (url) => jar.getCookieStringSync(url),
    setCookie: (cookie, url) => jar.setCookieSync(cookie, url),
  };
}

describe('cookie jar across a redirect chain (GO-35)', () => {
  for (const kind of ['async (Promise) jar', 'sync jar'] as const) {
    it(`${kind}: stores from every response and sends on every hop, cross-host too; Max-Age=0 deletes`, async (t) => {
      const fs = await startServer(t);
      const jar = new CookieJar();
      await jar.setCookie('pre=0; Path=/', `http://localhost:${fs.port}/`);
      const c = newClient(t, { jar: kind === 'sync jar' ? syncJar(jar) : jar });
      const res = await c.request(fs.url('/c/start'));
      assert.equal(await res.text(), 'done');
      assert.equal(fs.requests.length, 4);
      assert.deepEqual(cookieNames(fs, '/c/start'), []);
      assert.deepEqual(cookieNames(fs, '/c/mid'), ['a=1', 'gone=bye']);
      // Another host: only that host's cookies (the jar scopes them), none of 127.0.0.1's.
      assert.deepEqual(cookieNames(fs, '/c/cross'), ['pre=0']);
      // Back on 127.0.0.1: both hops' cookies, the deleted one absent.
      assert.deepEqual(cookieNames(fs, '/c/final'), ['a=1', 'b=2']);
      // The cross-host 3xx and the final response were stored too.
      assert.equal(await jar.getCookieString(`http://localhost:${fs.port}/`), 'pre=0; l=3');
      assert.equal(await jar.getCookieString(`http://127.0.0.1:${fs.port}/`), 'a=1; b=2; f=4');
    });
  }

  it('the jar is read before and written after each hop, for that hop’s URL', async (t) => {
    const fs = await startServer(t);
    const jar = new CookieJar();
    const log: string[] = [];
    const recording: CookieJarLike = {
      async getCookieString(url) {
        log.push(`get ${url}`);
        return jar.getCookieString(url);
      },
      async setCookie(cookie, url) {
        log.push(`set ${cookie.split(';')[0]} ${url}`);
        return jar.setCookie(cookie, url);
      },
    };
    const res = await newClient(t, { jar: recording }).request(fs.url('/c/start'));
    await res.dump();
    const ip = `http://127.0.0.1:${fs.port}`;
    const named = `http://localhost:${fs.port}`;
    assert.deepEqual(log, [
      `get ${ip}/c/start`,
      `set a=1 ${ip}/c/start`,
      `set gone=bye ${ip}/c/start`,
      `get ${ip}/c/mid`,
      `set b=2 ${ip}/c/mid`,
      `set gone= ${ip}/c/mid`,
      `get ${named}/c/cross`,
      `set l=3 ${named}/c/cross`,
      `get ${ip}/c/final`,
      `set f=4 ${ip}/c/final`,
    ]);
  });

  it('a caller’s explicit Cookie header is kept on same-host hops next to the jar’s, dropped cross-host', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { jar: new CookieJar() });
    const res = await c.request(fs.url('/c/start'), { headers: { Cookie: 'mine=x' } });
    await res.dump();
    assert.deepEqual(cookieNames(fs, '/c/start'), ['mine=x']);
    assert.deepEqual(cookieNames(fs, '/c/mid'), ['a=1', 'gone=bye', 'mine=x']);
    assert.deepEqual(cookieNames(fs, '/c/cross'), []);
    // Compared with the original host, a dropped header stays dropped.
    assert.deepEqual(cookieNames(fs, '/c/final'), ['a=1', 'b=2']);
  });

  it('sends the jar’s cookies on a retried attempt, including one set by the failed response', async (t) => {
    const fs = await startServer(t);
    fs.route('/flaky', (ex) =>
      ex.hit === 1 ? ex.respond(503, { 'Set-Cookie': 'retry=1; Path=/' }, 'busy') : ex.respond(200, {}, 'ok'),
    );
    const c = newClient(t, { jar: new CookieJar(), retry: { limit: 1, backoff: () => 10 } });
    const res = await c.request(fs.url('/flaky'));
    assert.equal(await res.text(), 'ok');
    assert.equal(fs.requests.length, 2);
    assert.equal(fs.requests[0]!.headers.cookie, undefined);
    assert.equal(fs.requests[1]!.headers.cookie, 'retry=1');
  });

  it('a cookie the jar refuses (foreign Domain) is ignored; the request still succeeds', async (t) => {
    const fs = await startServer(t);
    fs.route('/foreign', (ex) =>
      ex.respond(200, { 'Set-Cookie': ['evil=1; Domain=example.com; Path=/', 'good=1; Path=/'] }, 'ok'),
    );
    const jar = new CookieJar();
    const res = await newClient(t, { jar }).request(fs.url('/foreign'));
    assert.equal(await res.text(), 'ok');
    assert.equal(await jar.getCookieString(fs.url('/')), 'good=1');
  });

  it('without a jar, Set-Cookie is neither stored nor sent', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url('/c/start'));
    await res.dump();
    for (const q of fs.requests) assert.equal(q.headers.cookie, undefined, q.path);
  });
});
