/**
 * redirect.test — the redirect rules of SPEC §7 / §11.
 *
 * Part 1 checks `nextHop` and `sameOrSubdomain` (src/redirect.ts) as pure functions:
 * method rewriting, body and body-header dropping, replay on 307/308, Location
 * resolution and fragments, refused schemes, sensitive headers (judged against the
 * original host; subdomains and https → http, which loopback cannot show), Referer and
 * Host overrides.
 *
 * Part 2 drives a real `Client` against the project's FaultServer on loopback: the
 * same rules end to end (the server checks the exact body bytes), the redirect limit,
 * `followRedirects`, `checkRedirect`, `res.redirects`, and draining of 3xx bodies.
 *
 * Every server and client is closed after its test.
 */

import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import type { RedirectRequest, RedirectVia } from '../src/client.js';
import { AbortError, HourglassError, RedirectError } from '../src/errors.js';
import { type Hop, nextHop, sameOrSubdomain } from '../src/redirect.js';
import type { BodyOrFactory } from '../src/request-init.js';
import { FaultServer } from '../src/testing/index.js';
import { Transport } from '../src/transport.js';
import { newClient, rejectedWith } from './helpers/setup.js';

/** Header list → lower-cased record (repeated names joined), for assertions. */
function rec(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i]!.toLowerCase();
    out[n] = out[n] === undefined ? flat[i + 1]! : `${out[n]}, ${flat[i + 1]}`;
  }
  return out;
}

function hop(method: string, url: string, headers: Record<string, string> = {}, hasBody = false): Hop {
  return { method, url: new URL(url), headers: Object.entries(headers).flat(), hasBody };
}

/** nextHop that must follow; returns the decision narrowed. */
function follow(status: number, location: string, h: Hop, original: URL = h.url, replayable = true) {
  const d = nextHop(status, location, h, original, replayable);
  assert.equal(d.follow, true, `expected ${status} → ${location} to be followed`);
  if (!d.follow) throw new Error('unreachable');
  return d;
}

const BODY_HEADERS = {
  'Content-Type': 'text/plain',
  'Content-Length': '5',
  'Content-Encoding': 'identity',
  'Content-Language': 'en',
  'X-Test': 'kept',
};

describe('nextHop: which statuses are followed', () => {
  it('follows 301, 302, 303, 307 and 308 only', () => {
    for (const s of [301, 302, 303, 307, 308]) follow(s, '/next', hop('GET', 'http://a.test/x'));
    for (const s of [200, 300, 304, 305, 306, 309, 400]) {
      assert.deepEqual(nextHop(s, '/next', hop('GET', 'http://a.test/x'), new URL('http://a.test/x'), true), {
        follow: false,
      });
    }
  });

  it('does not follow a 3xx without Location (or with an empty one)', () => {
    const h = hop('GET', 'http://a.test/x');
    for (const loc of [undefined, '']) assert.deepEqual(nextHop(302, loc, h, h.url, true), { follow: false });
  });

  it('uses the first Location when the header is repeated', () => {
    const d = follow(302, '/first', hop('GET', 'http://a.test/x'));
    const d2 = nextHop(
      302,
      ['/first', '/second'],
      hop('GET', 'http://a.test/x'),
      new URL('http://a.test/x'),
      true,
    );
    assert.ok(d2.follow);
    assert.equal(d2.url.href, d.url.href);
  });
});

describe('nextHop: methods and bodies (Go 1.23 rules)', () => {
  for (const status of [301, 302, 303]) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'CUSTOM']) {
      it(`${status} turns ${method} into GET, drops the body and its headers, keeps other headers`, () => {
        const d = follow(status, '/next', hop(method, 'http://a.test/x', BODY_HEADERS, true));
        assert.equal(d.method, 'GET');
        assert.equal(d.keepBody, false);
        const h = rec(d.headers);
        for (const n of [
          'content-type',
          'content-length',
          'content-encoding',
          'content-language',
          'transfer-encoding',
        ]) {
          assert.equal(h[n], undefined, n);
        }
        assert.equal(h['x-test'], 'kept');
      });
    }
    it(`${status} keeps HEAD as HEAD and GET as GET`, () => {
      assert.equal(follow(status, '/n', hop('HEAD', 'http://a.test/x')).method, 'HEAD');
      assert.equal(follow(status, '/n', hop('GET', 'http://a.test/x')).method, 'GET');
    });
  }

  // Go: `case 301, 302, 303: ... includeBody = false` for every method, GET included.
  // Keeping it would also try to send a one-shot stream body a second time.
  for (const status of [301, 302, 303]) {
    it(`${status} drops the body of a GET that carried one (Go: includeBody = false for all methods)`, () => {
      const d = follow(status, '/n', hop('GET', 'http://a.test/x', { 'Content-Type': 'text/plain' }, true));
      assert.equal(d.method, 'GET');
      assert.equal(d.keepBody, false);
      assert.equal(rec(d.headers)['content-type'], undefined);
    });
  }

  for (const status of [307, 308]) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'GET', 'HEAD']) {
      it(`${status} keeps ${method} and a replayable body with its headers`, () => {
        const d = follow(status, '/n', hop(method, 'http://a.test/x', BODY_HEADERS, true));
        assert.equal(d.method, method);
        assert.equal(d.keepBody, true);
        const h = rec(d.headers);
        assert.equal(h['content-type'], 'text/plain');
        assert.equal(h['content-length'], '5');
      });
    }
    it(`${status} with a non-replayable body is not followed (the 3xx is returned)`, () => {
      const h = hop('POST', 'http://a.test/x', { 'Content-Type': 'text/plain' }, true);
      assert.deepEqual(nextHop(status, '/n', h, h.url, false), { follow: false });
    });
    it(`${status} without a body is followed even when the (absent) body is not replayable`, () => {
      const h = hop('POST', 'http://a.test/x', {}, false);
      const d = nextHop(status, '/n', h, h.url, false);
      assert.ok(d.follow);
      assert.equal(d.method, 'POST');
      assert.equal(d.keepBody, false);
    });
  }

  it('fetch mode: 301/302 only turn POST into GET; 303 turns all but GET/HEAD into GET', () => {
    const f = (status: number, method: string) => {
      const h = hop(method, 'http://a.test/x', {}, method !== 'GET' && method !== 'HEAD');
      const d = nextHop(status, '/n', h, h.url, true, 'fetch');
      assert.ok(d.follow);
      return d.method;
    };
    assert.equal(f(301, 'POST'), 'GET');
    assert.equal(f(302, 'PUT'), 'PUT');
    assert.equal(f(302, 'DELETE'), 'DELETE');
    assert.equal(f(303, 'PUT'), 'GET');
    assert.equal(f(303, 'HEAD'), 'HEAD');
  });
});

describe('nextHop: Location resolution', () => {
  const h = hop('GET', 'http://a.test:8080/dir/page?q=1');

  it('resolves a relative Location against the current URL', () => {
    assert.equal(follow(302, 'other', h).url.href, 'http://a.test:8080/dir/other');
    assert.equal(follow(302, '../up', h).url.href, 'http://a.test:8080/up');
    assert.equal(follow(302, '?z=2', h).url.href, 'http://a.test:8080/dir/page?z=2');
  });

  it('resolves an absolute-path Location', () => {
    assert.equal(follow(302, '/absolute/b', h).url.href, 'http://a.test:8080/absolute/b');
  });

  it('resolves a protocol-relative Location with the current scheme', () => {
    assert.equal(follow(302, '//b.test:9/p', h).url.href, 'http://b.test:9/p');
    const s = hop('GET', 'https://a.test/x');
    assert.equal(follow(302, '//b.test/p', s).url.href, 'https://b.test/p');
  });

  it('takes an absolute Location as is', () => {
    assert.equal(follow(302, 'https://c.test/z', h).url.href, 'https://c.test/z');
  });

  it('inherits the fragment of the current URL when the Location has none (RFC 9110 §10.2.2)', () => {
    const f = hop('GET', 'http://a.test/x#frag');
    assert.equal(follow(302, '/y', f).url.href, 'http://a.test/y#frag');
    assert.equal(follow(302, '/y#own', f).url.href, 'http://a.test/y#own');
  });

  it('refuses non-http(s) schemes with HG_BAD_REDIRECT', () => {
    for (const loc of [
      'ftp://a.test/file',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/plain,hi',
    ]) {
      assert.throws(
        () => nextHop(302, loc, h, h.url, true),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_REDIRECT',
        loc,
      );
    }
  });

  it('refuses an unparsable Location with HG_BAD_REDIRECT', () => {
    assert.throws(
      () => nextHop(302, 'http://[::1', h, h.url, true),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_REDIRECT',
    );
  });
});

describe('nextHop: sensitive headers (GO-33, UN-19)', () => {
  const SECRET = {
    Authorization: 'Basic dTpw',
    Cookie: 'a=1',
    Cookie2: 'b=2',
    'WWW-Authenticate': 'Basic',
    'Proxy-Authorization': 'Basic cDpw',
    'X-Foo': 'bar',
    'User-Agent': 'ua',
  };
  const SENSITIVE = ['authorization', 'cookie', 'cookie2', 'www-authenticate', 'proxy-authorization'];
  const cases: [string, string, string, boolean][] = [
    // [original/current URL, Location, description, kept?]
    ['http://foo.com/', 'http://bar.com/', 'to another host', false],
    ['http://foo.com/', 'http://notfoo.com/', 'to a host merely ending in the name', false],
    ['http://foo.com/', 'http://foo.com.evil.test/', 'to a host starting with the name', false],
    ['http://foo.com/', 'http://[::1%25.foo.com]/', 'to an IPv6 zone spelling the name', false],
    ['http://sub.foo.com/', 'http://foo.com/', 'to a parent domain', false],
    ['http://foo.com/', 'http://foo.com:8080/', 'to the same host on another port (Go ≥ 1.21)', true],
    ['http://foo.com/', 'https://foo.com/', 'from http to https on the same host', true],
    ['http://foo.com/', 'http://sub.foo.com/', 'to a subdomain', true],
    ['http://foo.com/', 'http://a.b.foo.com/', 'to a deeper subdomain', true],
    ['http://foo.com/', 'http://FOO.COM/x', 'to the same host in other case', true],
    ['https://foo.com/', 'http://foo.com/', 'from https to http (beyond Go)', false],
    ['https://foo.com/', 'http://sub.foo.com/', 'from https to http on a subdomain', false],
    ['http://127.0.0.1:1/', 'http://127.0.0.1:2/', 'between ports of one loopback IP', true],
    ['http://127.0.0.1/', 'http://localhost/', 'from an IP to a name', false],
  ];
  for (const [from, to, what, kept] of cases) {
    it(`${kept ? 'keeps' : 'drops'} Authorization/Cookie/… ${what}`, () => {
      let d: ReturnType<typeof follow> | undefined;
      try {
        d = follow(302, to, hop('GET', from, SECRET));
      } catch (e) {
        // `http://[::1%25.foo.com]/` is not a valid WHATWG URL: refusing it is fine too.
        assert.ok(e instanceof HourglassError && e.code === 'HG_BAD_REDIRECT');
        assert.equal(kept, false);
        return;
      }
      const h = rec(d.headers);
      for (const n of SENSITIVE) assert.equal(h[n] !== undefined, kept, `${n} ${what}`);
      assert.equal(h['x-foo'], 'bar');
      assert.equal(h['user-agent'], 'ua');
    });
  }

  it('compares with the original host, not the current hop', () => {
    // A header list that (somehow) still carries a secret at evil.test is kept when the
    // next hop returns to the original host...
    const back = follow(
      302,
      'http://foo.com/again',
      hop('GET', 'http://evil.test/x', SECRET),
      new URL('http://foo.com/'),
    );
    assert.equal(rec(back.headers).authorization, 'Basic dTpw');
    // ...and dropped for a subdomain of the current host that is not one of the original.
    const sub = follow(
      302,
      'http://a.evil.test/',
      hop('GET', 'http://evil.test/x', SECRET),
      new URL('http://foo.com/'),
    );
    assert.equal(rec(sub.headers).authorization, undefined);
  });

  it('once dropped stays dropped: A → B → A does not bring the secrets back', () => {
    const original = new URL('http://foo.com/start');
    const first = follow(302, 'http://bar.com/mid', hop('GET', original.href, SECRET), original);
    assert.equal(rec(first.headers).authorization, undefined);
    const second = follow(
      302,
      'http://foo.com/end',
      { method: first.method, url: first.url, headers: first.headers, hasBody: false },
      original,
    );
    const h = rec(second.headers);
    for (const n of SENSITIVE) assert.equal(h[n], undefined, n);
    assert.equal(h['x-foo'], 'bar');
  });

  it('does not mutate the caller’s header list', () => {
    const h = hop('POST', 'http://foo.com/', { ...SECRET, ...BODY_HEADERS }, true);
    const before = [...h.headers];
    follow(303, 'http://bar.com/', h);
    assert.deepEqual(h.headers, before);
  });
});

describe('nextHop: Referer and Host', () => {
  it('sets Referer to the current URL without userinfo or fragment', () => {
    const h: Hop = {
      method: 'GET',
      url: new URL('http://u:p@a.test/page?q=1#frag'),
      headers: [],
      hasBody: false,
    };
    assert.equal(rec(follow(302, '/next', h).headers).referer, 'http://a.test/page?q=1');
  });

  it('replaces a caller-supplied Referer with the previous URL', () => {
    const d = follow(302, '/next', hop('GET', 'http://a.test/page', { Referer: 'http://elsewhere.test/' }));
    assert.equal(rec(d.headers).referer, 'http://a.test/page');
  });

  it('sets Referer on http → https', () => {
    assert.equal(
      rec(follow(302, 'https://a.test/', hop('GET', 'http://a.test/p')).headers).referer,
      'http://a.test/p',
    );
  });

  it('omits Referer on https → http, even an explicit one (GO-34 b)', () => {
    const d = follow(
      302,
      'http://a.test/',
      hop('GET', 'https://a.test/p', { Referer: 'https://a.test/secret' }),
    );
    assert.equal(rec(d.headers).referer, undefined);
  });

  it('keeps a Host override on a relative hop and drops it when the host changes (GO-34 a)', () => {
    const h = hop('GET', 'http://a.test/x', { Host: 'virtual.test' });
    assert.equal(rec(follow(302, '/rel', h).headers).host, 'virtual.test');
    assert.equal(rec(follow(302, 'http://b.test/abs', h).headers).host, undefined);
  });
});

describe('sameOrSubdomain', () => {
  const table: [string, string, boolean][] = [
    ['foo.com', 'foo.com', true],
    ['sub.foo.com', 'foo.com', true],
    ['a.b.foo.com', 'foo.com', true],
    ['SUB.Foo.Com', 'foo.COM', true],
    ['notfoo.com', 'foo.com', false],
    ['foo.com', 'sub.foo.com', false],
    ['.foo.com', 'foo.com', false],
    ['foo.com.evil', 'foo.com', false],
    ['bar.com', 'foo.com', false],
    ['[::1]', '[::1]', true],
    ['[::1%25.foo.com]', 'foo.com', false],
    ['x.[::1]', '[::1]', false],
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.2', '127.0.0.1', false],
    ['localhost', '127.0.0.1', false],
  ];
  for (const [host, base, want] of table) {
    it(`${host} vs ${base} → ${want}`, () => assert.equal(sameOrSubdomain(host, base), want));
  }
});

// ---------------------------------------------------------------------------------
// Part 2 — end to end against a FaultServer.

/**
 * A FaultServer closed when the test ends, with:
 * - `/r?status=S&to=URL[&body=N]`: answers S with `Location: URL` (omitted when `to`
 *   is absent) and a body of N bytes (default `redirect body`);
 * - `/chain?n=K`: 302 to `/chain?n=K-1` until K = 0, which answers 200 `end`;
 * - `/echo` (also `/dir/echo`, `/abs/echo`): 200 with the request as JSON.
 */
async function startServer(t: TestContext): Promise<FaultServer> {
  const fs = await FaultServer.start();
  t.after(() => fs.close());
  fs.route('/r', (ex) => {
    const to = ex.query.get('to');
    const n = ex.query.get('body');
    const body = n === null ? 'redirect body' : Buffer.alloc(Number(n), 0x61);
    return ex.respond(Number(ex.query.get('status') ?? 302), to === null ? {} : { Location: to }, body);
  });
  fs.route('/chain', (ex) => {
    const n = Number(ex.query.get('n'));
    return n > 0
      ? ex.respond(302, { Location: `/chain?n=${n - 1}` }, `hop ${n}`)
      : ex.respond(200, {}, 'end');
  });
  const echo = (ex: Parameters<Parameters<FaultServer['route']>[1]>[0]) =>
    ex.respond(
      200,
      { 'Content-Type': 'application/json' },
      JSON.stringify({ method: ex.request.method, path: ex.request.target, headers: ex.request.headers }),
    );
  for (const p of ['/echo', '/dir/echo', '/abs/echo']) fs.route(p, echo);
  return fs;
}

/** `/r` URL on `fs` redirecting with `status` to `to`. */
const r = (fs: FaultServer, status: number, to: string, extra = '') =>
  fs.url(`/r?status=${status}&to=${encodeURIComponent(to)}${extra}`);

describe('redirects end to end: methods and bodies (GO-32, UN-19)', () => {
  for (const status of [301, 302, 303]) {
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'GET']) {
      const expected = method === 'HEAD' ? 'HEAD' : 'GET';
      it(`${status} after ${method} → ${expected} without body or body headers; other headers kept`, async (t) => {
        const fs = await startServer(t);
        const c = newClient(t);
        const withBody = method !== 'GET' && method !== 'HEAD';
        const res = await c.request(r(fs, status, '/echo'), {
          method,
          headers: { 'Content-Type': 'text/plain', 'Content-Language': 'en', 'X-Test': 'yes' },
          body: withBody ? 'hello' : undefined,
        });
        await res.dump();
        assert.equal(res.status, 200);
        assert.equal(fs.requests.length, 2);
        const [first, second] = fs.requests as [FaultServer['requests'][0], FaultServer['requests'][0]];
        assert.equal(first.method, method);
        if (withBody) assert.equal(first.body.toString(), 'hello');
        assert.equal(second.method, expected);
        assert.equal(second.target, '/echo');
        assert.equal(second.body.length, 0);
        for (const n of ['content-type', 'content-length', 'content-language', 'transfer-encoding']) {
          assert.equal(second.headers[n], undefined, `${n} on the ${expected}`);
        }
        assert.equal(second.headers['x-test'], 'yes');
      });
    }
  }

  const bodies: [string, () => BodyOrFactory, Buffer][] = [
    ['a string', () => 'héllo wörld', Buffer.from('héllo wörld')],
    [
      'a Uint8Array',
      () => new Uint8Array([0, 1, 2, 254, 255, 13, 10]),
      Buffer.from([0, 1, 2, 254, 255, 13, 10]),
    ],
    ['a () => string factory', () => () => 'from factory', Buffer.from('from factory')],
    [
      'a () => stream factory',
      () => () => Readable.from([Buffer.from('str'), Buffer.from('eam')]),
      Buffer.from('stream'),
    ],
  ];
  for (const status of [307, 308]) {
    for (const method of ['POST', 'PUT']) {
      for (const [what, make, bytes] of bodies) {
        it(`${status} keeps ${method} and replays ${what} byte for byte`, async (t) => {
          const fs = await startServer(t);
          const c = newClient(t);
          const res = await c.request(r(fs, status, '/echo'), {
            method,
            headers: { 'Content-Type': 'application/octet-stream' },
            body: make(),
          });
          await res.dump();
          assert.equal(res.status, 200);
          assert.equal(fs.requests.length, 2);
          for (const req of fs.requests) {
            assert.equal(req.method, method);
            assert.deepEqual(req.body, bytes);
            assert.equal(req.headers['content-type'], 'application/octet-stream');
          }
        });
      }
    }
  }

  it('a body factory is called once per hop', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    let calls = 0;
    const res = await c.request(r(fs, 307, r(fs, 308, '/echo')), {
      method: 'POST',
      body: () => {
        calls++;
        return `call ${calls}`;
      },
    });
    await res.dump();
    assert.equal(calls, 3);
    assert.deepEqual(
      fs.requests.map((q) => q.body.toString()),
      ['call 1', 'call 2', 'call 3'],
    );
  });

  for (const status of [307, 308]) {
    for (const [what, make] of [
      ['a Readable', () => Readable.from([Buffer.from('once')])],
      [
        'an async iterable',
        () =>
          (async function* () {
            yield Buffer.from('once');
          })(),
      ],
    ] as const) {
      it(`${status} with ${what} body (not replayable) returns the ${status} itself (GO-31 d)`, async (t) => {
        const fs = await startServer(t);
        const c = newClient(t);
        const res = await c.request(r(fs, status, '/echo'), { method: 'POST', body: make() });
        assert.equal(res.status, status);
        assert.equal(res.headers.location, '/echo');
        assert.equal(res.redirected, false);
        assert.equal(await res.text(), 'redirect body');
        assert.equal(fs.requests.length, 1);
        assert.equal(fs.requests[0]!.body.toString(), 'once');
      });
    }
  }

  it('GO-32 quirk not copied: after 303 → GET, a later 308 does not replay the original body', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const res = await c.request(r(fs, 303, r(fs, 308, '/echo')), { method: 'POST', body: 'original' });
    await res.dump();
    assert.deepEqual(
      fs.requests.map((q) => [q.method, q.body.toString()]),
      [
        ['POST', 'original'],
        ['GET', ''],
        ['GET', ''],
      ],
    );
  });

  // Go drops the body on 301/302/303 whatever the method (includeBody = false).
  it('302 after a GET carrying a stream body follows with a bodiless GET (the stream is not sent twice)', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const res = await c.request(r(fs, 302, '/echo'), {
      method: 'GET',
      headers: { 'Content-Type': 'text/plain' },
      body: Readable.from([Buffer.from('get body')]),
    });
    await res.dump();
    assert.equal(res.status, 200);
    assert.equal(fs.requests[1]!.body.length, 0);
    assert.equal(fs.requests[1]!.headers['content-type'], undefined);
  });

  it('302 after a GET carrying a string body does not resend the body', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t);
    const res = await c.request(r(fs, 302, '/echo'), { method: 'GET', body: 'get body' });
    await res.dump();
    assert.equal(fs.requests[1]!.body.length, 0);
    assert.equal(fs.requests[1]!.headers['content-length'], undefined);
  });
});

describe('redirects end to end: Location handling', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`a ${status} without Location is returned as the final response with its headers and body`, async (t) => {
      const fs = await startServer(t);
      const c = newClient(t);
      const res = await c.request(fs.url(`/r?status=${status}`));
      assert.equal(res.status, status);
      assert.equal(res.redirected, false);
      assert.equal(res.headers['content-length'], '13');
      assert.equal(await res.text(), 'redirect body');
    });
  }

  for (const status of [300, 304, 305]) {
    it(`a ${status} with Location is not followed`, async (t) => {
      const fs = await startServer(t);
      const c = newClient(t);
      const res = await c.request(r(fs, status, '/echo'));
      await res.dump();
      assert.equal(res.status, status);
      assert.equal(fs.requests.length, 1);
    });
  }

  it('resolves a relative Location against the current URL', async (t) => {
    const fs = await startServer(t);
    fs.route('/dir/r', (ex) => ex.respond(302, { Location: 'echo?x=1' }));
    const res = await newClient(t).request(fs.url('/dir/r'));
    await res.dump();
    assert.equal(fs.requests[1]!.target, '/dir/echo?x=1');
    assert.equal(res.url, fs.url('/dir/echo?x=1'));
  });

  it('resolves an absolute-path Location', async (t) => {
    const fs = await startServer(t);
    fs.route('/dir/r', (ex) => ex.respond(302, { Location: '/abs/echo' }));
    const res = await newClient(t).request(fs.url('/dir/r'));
    await res.dump();
    assert.equal(fs.requests[1]!.target, '/abs/echo');
  });

  it('resolves a protocol-relative Location (to another host name on loopback)', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(r(fs, 302, `//localhost:${fs.port}/echo`));
    await res.dump();
    assert.equal(res.status, 200);
    assert.equal(res.url, `http://localhost:${fs.port}/echo`);
    assert.equal(fs.requests[1]!.headers.host, `localhost:${fs.port}`);
  });

  it('the final URL inherits the fragment of the request URL; no fragment is sent', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(`${r(fs, 302, '/echo')}#frag`);
    await res.dump();
    assert.equal(res.url, `${fs.url('/echo')}#frag`);
    assert.deepEqual(res.redirects, [`${fs.url('/echo')}#frag`]);
    for (const q of fs.requests) assert.ok(!q.target.includes('#'), q.target);
  });

  it('refuses an ftp: Location with HourglassError HG_BAD_REDIRECT', async (t) => {
    const fs = await startServer(t);
    const err = await rejectedWith(newClient(t).request(r(fs, 302, 'ftp://127.0.0.1/file')));
    assert.ok(err instanceof HourglassError, inspect(err));
    assert.equal(err.code, 'HG_BAD_REDIRECT');
    assert.equal(fs.requests.length, 1);
  });

  it('a refused Location releases the 3xx connection (maxConnsPerHost 1: the next request proceeds)', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { transport: new Transport({ maxConnsPerHost: 1, poolTimeout: 1000 }) });
    await rejectedWith(c.request(r(fs, 302, 'ftp://127.0.0.1/file')));
    const res = await c.request(fs.url('/echo'));
    await res.dump();
    assert.equal(res.status, 200);
  });
});

describe('redirects end to end: sensitive headers, Referer (GO-33, GO-34, UN-19)', () => {
  const SECRET = {
    Authorization: 'Basic dTpw',
    Cookie: 'a=1',
    'Proxy-Authorization': 'Basic cDpw',
    'X-Foo': 'bar',
  };

  it('drops Authorization, Cookie and Proxy-Authorization on a hop to another host (127.0.0.1 → localhost)', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(r(fs, 302, `http://localhost:${fs.port}/echo`), {
      headers: SECRET,
    });
    await res.dump();
    const [first, second] = fs.requests;
    assert.equal(first!.headers.authorization, 'Basic dTpw');
    assert.equal(second!.headers.host, `localhost:${fs.port}`);
    assert.equal(second!.headers.authorization, undefined);
    assert.equal(second!.headers.cookie, undefined);
    assert.equal(second!.headers['proxy-authorization'], undefined);
    assert.equal(second!.headers['x-foo'], 'bar');
  });

  it('keeps them on a hop to the same host on another port (Go ≥ 1.21; undici would strip by origin)', async (t) => {
    const a = await startServer(t);
    const b = await startServer(t);
    const res = await newClient(t).request(r(a, 302, b.url('/echo')), { headers: SECRET });
    await res.dump();
    assert.equal(b.requests.length, 1);
    const h = b.requests[0]!.headers;
    assert.equal(h.authorization, 'Basic dTpw');
    assert.equal(h.cookie, 'a=1');
    assert.equal(h['proxy-authorization'], 'Basic cDpw');
  });

  it('once dropped they stay dropped: 127.0.0.1 → localhost → 127.0.0.1', async (t) => {
    const fs = await startServer(t);
    // 127.0.0.1/r → localhost/r → 127.0.0.1/echo (absolute Locations).
    const mid = r(fs, 302, fs.url('/echo')).replace('http://127.0.0.1', 'http://localhost');
    const res = await newClient(t).request(r(fs, 302, mid), { headers: SECRET });
    await res.dump();
    assert.equal(fs.requests.length, 3);
    const last = fs.requests[2]!;
    assert.equal(last.headers.host, `127.0.0.1:${fs.port}`);
    assert.equal(last.headers.authorization, undefined);
    assert.equal(last.headers.cookie, undefined);
    assert.equal(last.headers['x-foo'], 'bar');
  });

  it('sets Referer to the previous URL without userinfo or fragment', async (t) => {
    const fs = await startServer(t);
    const start = `${r(fs, 302, '/echo').replace('http://', 'http://user:pw@')}#frag`;
    const res = await newClient(t).request(start);
    await res.dump();
    assert.equal(fs.requests[1]!.headers.referer, r(fs, 302, '/echo'));
  });

  it('Referer follows the chain: each hop names the one before', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url('/chain?n=2'));
    await res.dump();
    assert.deepEqual(
      fs.requests.map((q) => q.headers.referer),
      [undefined, fs.url('/chain?n=2'), fs.url('/chain?n=1')],
    );
  });
});

describe('redirects end to end: limits, policy and results (GO-31, GO-34)', () => {
  it('maxRedirects 10 (default) follows a chain of ten', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url('/chain?n=10'));
    assert.equal(await res.text(), 'end');
    assert.equal(fs.requests.length, 11);
    assert.equal(res.redirects.length, 10);
    assert.equal(res.url, fs.url('/chain?n=0'));
  });

  it('an eleventh redirect fails with RedirectError after ten were followed', async (t) => {
    const fs = await startServer(t);
    const err = await rejectedWith(newClient(t).request(fs.url('/chain?n=11')));
    assert.ok(err instanceof RedirectError, inspect(err));
    assert.equal(err.name, 'RedirectError');
    assert.equal(err.code, 'HG_TOO_MANY_REDIRECTS');
    assert.equal(fs.requests.length, 11, 'ten redirects followed, the eleventh not');
    // SPEC §11: the URLs requested because of a redirect — the ten followed, not the refused target.
    const expected = Array.from({ length: 10 }, (_, i) => fs.url(`/chain?n=${10 - i}`));
    assert.deepEqual(err.redirects, expected);
    assert.equal(err.url, fs.url('/chain?n=1'));
    assert.match(err.message, /10 redirects/);
  });

  it('GO-31 a: with maxRedirects raised, a custom policy sees the whole chain (via.length reaches 15)', async (t) => {
    const fs = await startServer(t);
    const seen: number[] = [];
    const c = newClient(t, {
      maxRedirects: 20,
      checkRedirect: (_next, via) => {
        seen.push(via.length);
      },
    });
    const res = await c.request(fs.url('/chain?n=15'));
    assert.equal(await res.text(), 'end');
    assert.deepEqual(
      seen,
      Array.from({ length: 15 }, (_, i) => i + 1),
    );
  });

  it('GO-31 a: a HEAD follows a 302 chain as HEAD and ends with an empty body', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url('/chain?n=3'), { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
    assert.deepEqual(
      fs.requests.map((q) => q.method),
      ['HEAD', 'HEAD', 'HEAD', 'HEAD'],
    );
    assert.equal(res.redirects.length, 3);
  });

  it('maxRedirects 0 makes the first followable 3xx a RedirectError; a non-followable 3xx is returned', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { maxRedirects: 0 });
    const err = await rejectedWith(c.request(fs.url('/chain?n=1')));
    assert.ok(err instanceof RedirectError);
    assert.deepEqual(err.redirects, [], 'nothing was requested because of a redirect');
    assert.equal(fs.requests.length, 1);
    const res = await c.request(fs.url('/r?status=302'));
    assert.equal(res.status, 302);
    await res.dump();
  });

  // SPEC §11: a bad option is HG_INVALID_ARG before anything is sent. NaN would make
  // `redirects.length >= maxRedirects` never true: a redirect loop would never end.
  it('an invalid maxRedirects (negative, NaN, a string) is HG_INVALID_ARG before anything is sent', async (t) => {
    const fs = await startServer(t);
    fs.route('/loop', (ex) => ex.respond(302, { Location: '/loop' }));
    for (const bad of [-1, Number.NaN, '3' as unknown as number]) {
      let err: unknown;
      try {
        const c = newClient(t, { maxRedirects: bad, timeout: 1000 });
        err = await rejectedWith(c.request(fs.url('/loop')));
      } catch (e) {
        err = e;
      }
      assert.ok(
        err instanceof HourglassError && err.code === 'HG_INVALID_ARG',
        `client maxRedirects ${bad}: ${inspect(err)}`,
      );
      const perRequest = await rejectedWith(
        newClient(t, { timeout: 1000 }).request(fs.url('/loop'), { maxRedirects: bad }),
      );
      assert.ok(
        perRequest instanceof HourglassError && perRequest.code === 'HG_INVALID_ARG',
        `request maxRedirects ${bad}: ${inspect(perRequest)}`,
      );
    }
    assert.equal(fs.connections, 0);
  });

  it('a per-request maxRedirects overrides the client’s', async (t) => {
    const fs = await startServer(t);
    const c = newClient(t, { maxRedirects: 0 });
    const res = await c.request(fs.url('/chain?n=3'), { maxRedirects: 3 });
    assert.equal(await res.text(), 'end');
    const err = await rejectedWith(newClient(t).request(fs.url('/chain?n=3'), { maxRedirects: 2 }));
    assert.ok(err instanceof RedirectError);
  });

  it('followRedirects false (client or request) returns the 3xx with its body', async (t) => {
    const fs = await startServer(t);
    const off = newClient(t, { followRedirects: false });
    const res = await off.request(fs.url('/chain?n=1'));
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/chain?n=0');
    assert.equal(await res.text(), 'hop 1');
    const res2 = await newClient(t).request(fs.url('/chain?n=1'), { followRedirects: false });
    assert.equal(res2.status, 302);
    await res2.dump();
    const res3 = await off.request(fs.url('/chain?n=1'), { followRedirects: true });
    assert.equal(await res3.text(), 'end');
  });

  it('checkRedirect sees next {url, method, headers (lower-cased plain object)} and via oldest first', async (t) => {
    const fs = await startServer(t);
    const calls: { next: RedirectRequest; via: RedirectVia[] }[] = [];
    const c = newClient(t, {
      checkRedirect: (next, via) => {
        calls.push({ next, via });
        return true;
      },
    });
    const first = r(fs, 307, r(fs, 303, '/echo'));
    const res = await c.request(first, { method: 'POST', body: 'x', headers: { 'X-Mixed-Case': 'v' } });
    await res.dump();
    assert.equal(calls.length, 2);
    const [a, b] = calls as [(typeof calls)[0], (typeof calls)[0]];
    assert.equal(a.next.url, r(fs, 303, '/echo'));
    assert.equal(a.next.method, 'POST');
    // SPEC §11: a plain object with a null prototype (`__proto__` is an ordinary name).
    assert.equal(Object.getPrototypeOf(a.next.headers), null);
    assert.equal(a.next.headers['x-mixed-case'], 'v');
    for (const name of Object.keys(a.next.headers)) assert.equal(name, name.toLowerCase());
    assert.deepEqual(a.via, [{ url: first, method: 'POST', status: 307 }]);
    assert.equal(b.next.url, fs.url('/echo'));
    assert.equal(b.next.method, 'GET');
    assert.equal(b.next.headers['content-length'], undefined);
    assert.deepEqual(b.via, [
      { url: first, method: 'POST', status: 307 },
      { url: r(fs, 303, '/echo'), method: 'POST', status: 303 },
    ]);
  });

  it('checkRedirect returning false returns the 3xx itself, body intact (GO-31 b)', async (t) => {
    const fs = await startServer(t);
    fs.route('/hello', (ex) => ex.respond(302, { Location: '/echo' }, 'Hello, world.'));
    const res = await newClient(t, { checkRedirect: () => false }).request(fs.url('/hello'));
    assert.equal(res.status, 302);
    assert.equal(res.redirected, false);
    assert.equal(await res.text(), 'Hello, world.');
    assert.equal(fs.requests.length, 1);
  });

  it('checkRedirect throwing fails with an error whose cause is the thrown one; the 3xx is inspectable', async (t) => {
    const fs = await startServer(t);
    const boom = new Error('no redirects please');
    const err = await rejectedWith(
      newClient(t, {
        checkRedirect: () => {
          throw boom;
        },
      }).request(fs.url('/chain?n=1')),
    );
    assert.ok(err instanceof HourglassError, inspect(err));
    assert.equal(err.cause, boom);
    const res = (err as HourglassError & { response?: { status: number; headers: Record<string, unknown> } })
      .response;
    assert.equal(res?.status, 302);
    assert.equal(res?.headers.location, '/chain?n=0');
    assert.equal(fs.requests.length, 1);
  });

  it('GO-34 d: an abort inside checkRedirect is an AbortError', async (t) => {
    const fs = await startServer(t);
    const ac = new AbortController();
    const c = newClient(t, {
      checkRedirect: () => {
        ac.abort();
        return true;
      },
    });
    const err = await rejectedWith(c.request(fs.url('/chain?n=2'), { signal: ac.signal }));
    assert.ok(err instanceof AbortError, inspect(err));
    assert.equal(fs.requests.length, 1);
  });

  it('res.redirects lists every URL requested because of a redirect; res.url is the last; redirected true', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url('/chain?n=2'));
    await res.dump();
    assert.deepEqual(res.redirects, [fs.url('/chain?n=1'), fs.url('/chain?n=0')]);
    assert.equal(res.url, fs.url('/chain?n=0'));
    assert.equal(res.redirected, true);
  });

  it('GO-34 c: a 302 with a small body is drained, the next hop reuses the one connection', async (t) => {
    const fs = await startServer(t);
    const res = await newClient(t).request(fs.url(`/r?status=302&to=/echo&body=100`));
    await res.dump();
    assert.equal(res.status, 200);
    assert.equal(fs.connections, 1);
    assert.equal(fs.requests[1]!.connectionId, 1);
  });

  it('a 302 with a 1 MiB body is not drained: that connection is closed, the next hop dials anew', async (t) => {
    const fs = await startServer(t);
    const start = performance.now();
    const res = await newClient(t).request(fs.url(`/r?status=302&to=/echo&body=${1024 * 1024}`));
    await res.dump();
    assert.equal(res.status, 200);
    assert.ok(performance.now() - start < 1500, 'no drain of the big body');
    assert.equal(fs.connections, 2);
    assert.equal(fs.requests[1]!.connectionId, 2);
    const info = await fs.waitForClose(1, 2000);
    assert.ok(info.closedAt !== null);
  });
});
