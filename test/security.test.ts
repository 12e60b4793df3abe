/**
 * security.test — the defences SECURITY.md promises, end to end on loopback, one test
 * per claim:
 *   - request injection: CR/LF/NUL in header names and values, methods and URL strings
 *     (and from a cookie jar) are `HG_INVALID_ARG` before anything is sent;
 *   - redirects: credentials (Authorization, Cookie, Proxy-Authorization, userinfo)
 *     never follow to another host nor from https to http; only http(s) is followed;
 *   - userinfo redaction: never in error messages, `url` fields, `RedirectError.redirects`,
 *     diagnostics_channel messages, nor a redirect's Referer;
 *   - TLS verification on by default, hostname included;
 *   - bounded responses: head size, body size, decompression bombs, 1xx floods;
 *   - no response queue poisoning: bytes beyond a response close the connection;
 *   - proxies: CONNECT credentials go to the proxy only, never through the tunnel.
 *
 * Every server, proxy and client is closed after its test; every wait is bounded.
 */

import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import * as zlib from 'node:zlib';
import { Client, type ClientOptions, type CookieJarLike } from '../src/client.js';
import { ConnectError, HourglassError, ProtocolError, RedirectError } from '../src/errors.js';
import { type Hop, nextHop } from '../src/redirect.js';
import { Response } from '../src/response.js';
import { type Exchange, FaultServer } from '../src/testing/index.js';
import { Transport, type TransportOptions } from '../src/transport.js';

// ---------------------------------------------------------------------------------
// Helpers

const SECRET = 's3cret';
const USERINFO = `user:${SECRET}`;
const BASIC = Buffer.from(USERINFO).toString('base64');

async function server(
  t: TestContext,
  opts: Parameters<typeof FaultServer.start>[0] = {},
): Promise<FaultServer> {
  const fs = await FaultServer.start(opts);
  t.after(() => fs.close());
  return fs;
}

/** A client with a 5 s overall budget (nothing here may hang) closed after the test. */
function client(t: TestContext, opts: ClientOptions = {}, transport: TransportOptions = {}): Client {
  const c = new Client({ timeout: 5_000, transport: new Transport(transport), ...opts });
  t.after(() => c.close());
  return c;
}

/** Resolves every host name to 127.0.0.1 (so `localhost` is another host on the same server). */
const loopbackLookup: net.LookupFunction = (_host, _opts, cb) => {
  (cb as unknown as (err: null, addrs: { address: string; family: number }[]) => void)(null, [
    { address: '127.0.0.1', family: 4 },
  ]);
};

async function rejects(p: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    return err;
  }
  // Release what an unexpected success holds (its connection and budget) before failing.
  if (value instanceof Response) await value.dump();
  assert.fail(
    `expected the request to fail${value instanceof Response ? `, got ${value.status} for ${value.url}` : ''}`,
  );
}

async function invalidArg(p: Promise<unknown>, what: string): Promise<HourglassError> {
  const err = await rejects(p);
  assert.ok(err instanceof HourglassError, `${what}: expected HourglassError, got ${inspect(err)}`);
  assert.equal(err.code, 'HG_INVALID_ARG', `${what}: ${err.message}`);
  return err;
}

function protocolReason(err: unknown, reason: string): void {
  assert.ok(err instanceof ProtocolError, `expected ProtocolError ${reason}, got ${inspect(err)}`);
  assert.equal(err.reason, reason);
  assert.equal(err.code, 'HG_PROTOCOL');
}

/** Every string reachable from `value` (own enumerable properties, Error messages, stacks and causes), cycle-safe. */
function strings(value: unknown, out: string[] = [], seen = new Set<unknown>(), depth = 0): string[] {
  if (typeof value === 'string') {
    out.push(value);
    return out;
  }
  if (typeof value !== 'object' || value === null || seen.has(value) || depth > 8) return out;
  seen.add(value);
  // Sockets, streams and timers lead into Node internals, not into anything we published.
  if (value instanceof EventEmitter || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return out;
  if (value instanceof Error) {
    out.push(value.message, String(value.stack));
    strings((value as { cause?: unknown }).cause, out, seen, depth + 1);
  }
  if (value instanceof URL) out.push(value.href);
  for (const key of Object.keys(value)) {
    out.push(key);
    strings((value as Record<string, unknown>)[key], out, seen, depth + 1);
  }
  return out;
}

/** Asserts that nothing of the userinfo is in `value` (strings, inspect output, JSON). */
function assertNoUserinfo(value: unknown, where: string): void {
  const texts = strings(value);
  texts.push(inspect(value, { depth: 6 }));
  for (const s of texts) {
    assert.ok(!s.includes(SECRET), `${where} leaks the password: ${JSON.stringify(s.slice(0, 300))}`);
    assert.ok(!s.includes('user:'), `${where} leaks the userinfo: ${JSON.stringify(s.slice(0, 300))}`);
  }
}

// ---------------------------------------------------------------------------------

describe('request injection is refused before any connection (HG_INVALID_ARG)', () => {
  it('CR, LF, NUL and other non-token bytes in header names', async (t) => {
    const fs = await server(t);
    const c = client(t);
    for (const name of ['x-a\r\nX-Injected', 'x-a\nX-Injected', 'x-a\r', 'x\0a', 'x a', 'x:a', '', 'x-é']) {
      await invalidArg(
        c.request(fs.url('/ok'), { headers: { [name]: 'v' } }),
        `header name ${JSON.stringify(name)}`,
      );
      await invalidArg(
        c.request(fs.url('/ok'), { headers: [[name, 'v']] }),
        `header pair ${JSON.stringify(name)}`,
      );
    }
    assert.equal(fs.connections, 0);
  });

  it('CR, LF, NUL in header values, given as strings, arrays, pairs or client defaults', async (t) => {
    const fs = await server(t);
    const c = client(t);
    const bad = [
      'a\r\nX-Injected: 1',
      'a\nX-Injected: 1',
      'a\rb',
      'a\0b',
      '\r\n\r\nGET /smuggled HTTP/1.1',
      'a\x7fb',
    ];
    for (const v of bad) {
      const what = JSON.stringify(v);
      await invalidArg(c.request(fs.url('/ok'), { headers: { 'x-a': v } }), `value ${what}`);
      await invalidArg(c.request(fs.url('/ok'), { headers: { 'x-a': ['ok', v] } }), `array value ${what}`);
      await invalidArg(c.request(fs.url('/ok'), { headers: [['x-a', v]] }), `pair value ${what}`);
      await invalidArg(c.request(fs.url('/ok'), { headers: { Host: `127.0.0.1${v}` } }), `Host ${what}`);
      const withDefaults = client(t, { headers: { 'x-default': v } });
      await invalidArg(withDefaults.request(fs.url('/ok')), `default header ${what}`);
    }
    assert.equal(fs.connections, 0);
  });

  it('CR, LF, NUL, SP in the method', async (t) => {
    const fs = await server(t);
    const c = client(t);
    for (const method of [
      'GET\r\n',
      'GET\n',
      'G\0T',
      'GE T',
      'GET /x HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET',
      '',
    ]) {
      await invalidArg(c.request(fs.url('/ok'), { method }), `method ${JSON.stringify(method)}`);
    }
    assert.equal(fs.connections, 0);
  });

  it('raw CR, LF or NUL in a URL string (a percent-encoded one is sent as written)', async (t) => {
    const fs = await server(t);
    const c = client(t);
    // A URL string is what the caller wrote: a control byte in it is an error (as Go's
    // net/url: "invalid control character in URL"), never silently dropped or re-encoded.
    for (const path of ['/a\r\nX-Injected: 1', '/a\rb', '/a\nb', '/a\0b', '/a?q=\r\nX-Injected: 1']) {
      await invalidArg(c.request(`http://127.0.0.1:${fs.port}${path}`), `path ${JSON.stringify(path)}`);
    }
    assert.equal(fs.connections, 0, 'nothing was sent for the raw control bytes');
    assert.equal(fs.requests.length, 0);
    const res = await c.request(fs.url('/a%0D%0AX-Injected:%201'));
    await res.dump();
    assert.equal(fs.requests[0]!.target, '/a%0D%0AX-Injected:%201');
    assert.equal(fs.requests[0]!.headers['x-injected'], undefined);
  });

  it('a cookie jar value with CR/LF is refused before the head is written', async (t) => {
    const fs = await server(t);
    const jar: CookieJarLike = {
      getCookieString: () => 'a=b\r\nX-Injected: 1',
      setCookie: () => undefined,
    };
    const c = client(t, { jar });
    await invalidArg(c.request(fs.url('/ok')), 'jar cookie');
    // The head is validated before any byte is written: the server never sees a request.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.requests.length, 0);
  });
});

describe('redirects never carry credentials to another host', () => {
  const CREDENTIAL_HEADERS = {
    Authorization: `Bearer ${SECRET}`,
    Cookie: `sid=${SECRET}`,
    'Proxy-Authorization': `Basic ${BASIC}`,
    'X-Not-Sensitive': 'kept',
  };

  function redirectTo(fs: FaultServer, path: string, location: () => string, status = 302): void {
    fs.route(path, (ex) => ex.respond(status, { Location: location() }, ''));
  }

  it('127.0.0.1 → localhost (another server): Authorization, Cookie, Proxy-Authorization dropped', async (t) => {
    const a = await server(t);
    const b = await server(t);
    redirectTo(a, '/away', () => `http://localhost:${b.port}/landing`);
    b.route('/landing', (ex) => ex.respond(200, {}, 'landed'));
    const c = client(t, {}, { dialer: { lookup: loopbackLookup } });
    const res = await c.request(a.url('/away'), { headers: CREDENTIAL_HEADERS });
    assert.equal(await res.text(), 'landed');
    assert.equal(a.requests[0]!.headers.authorization, `Bearer ${SECRET}`, 'the first hop carried them');
    const landed = b.requests[0]!;
    assert.equal(landed.headers.authorization, undefined);
    assert.equal(landed.headers.cookie, undefined);
    assert.equal(landed.headers['proxy-authorization'], undefined);
    assert.equal(landed.headers['x-not-sensitive'], 'kept');
    assert.ok(!landed.rawHeaders.join('\n').includes(SECRET));
  });

  it('the same host keeps them (control: the test can see a leak)', async (t) => {
    const a = await server(t);
    redirectTo(a, '/here', () => '/landing');
    a.route('/landing', (ex) => ex.respond(200, {}, 'landed'));
    const c = client(t);
    await (await c.request(a.url('/here'), { headers: CREDENTIAL_HEADERS })).dump();
    assert.equal(a.requests[1]!.headers.authorization, `Bearer ${SECRET}`);
    assert.equal(a.requests[1]!.headers.cookie, `sid=${SECRET}`);
  });

  it('URL userinfo (sent as Basic auth) is dropped on a cross-host redirect and stays dropped coming back', async (t) => {
    const a = await server(t);
    const b = await server(t);
    redirectTo(a, '/away', () => `http://localhost:${b.port}/bounce`);
    redirectTo(b, '/bounce', () => `http://127.0.0.1:${a.port}/home`);
    a.route('/home', (ex) => ex.respond(200, {}, 'home'));
    const c = client(t, {}, { dialer: { lookup: loopbackLookup } });
    const res = await c.request(`http://${USERINFO}@127.0.0.1:${a.port}/away`, {
      headers: { Cookie: `sid=${SECRET}` },
    });
    assert.equal(await res.text(), 'home');
    assert.equal(a.requests[0]!.headers.authorization, `Basic ${BASIC}`);
    for (const r of [b.requests[0]!, a.requests[1]!]) {
      assert.equal(r.headers.authorization, undefined, `${r.path} got Authorization`);
      assert.equal(r.headers.cookie, undefined, `${r.path} got Cookie`);
    }
  });

  it('https → http (nextHop): credentials and Referer are dropped even on the same host', () => {
    const hop: Hop = {
      method: 'GET',
      url: new URL('https://127.0.0.1:8443/secure'),
      headers: Object.entries(CREDENTIAL_HEADERS).flat(),
      hasBody: false,
    };
    const d = nextHop(302, 'http://127.0.0.1:8080/plain', hop, hop.url, true);
    assert.ok(d.follow);
    const names = d.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const n of ['authorization', 'cookie', 'proxy-authorization', 'referer'])
      assert.ok(!names.includes(n), n);
    assert.ok(names.includes('x-not-sensitive'));
  });

  it('https → http end to end: a TLS server redirecting to a plain one', async (t) => {
    const secure = await server(t, { tls: true });
    const plain = await server(t);
    redirectTo(secure, '/down', () => `http://127.0.0.1:${plain.port}/plain`);
    plain.route('/plain', (ex) => ex.respond(200, {}, 'plain'));
    const c = client(t, {}, { tls: { ca: secure.ca } });
    const res = await c.request(secure.url('/down'), { headers: CREDENTIAL_HEADERS });
    assert.equal(await res.text(), 'plain');
    const r = plain.requests[0]!;
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers.cookie, undefined);
    assert.equal(r.headers['proxy-authorization'], undefined);
    assert.equal(r.headers.referer, undefined, 'no Referer from https to http');
  });

  it('only http: and https: redirects are followed (file:, javascript:, data:, ftp: refused)', async (t) => {
    const fs = await server(t);
    const c = client(t);
    for (const location of [
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/plain,hi',
      `ftp://127.0.0.1:${fs.port}/x`,
    ]) {
      fs.route('/scheme', (ex) => ex.respond(302, { Location: location }, ''));
      const before = fs.requests.length;
      const err = await rejects(c.request(fs.url('/scheme')));
      assert.ok(err instanceof HourglassError, `${location}: ${inspect(err)}`);
      assert.equal(err.code, 'HG_BAD_REDIRECT', `${location}: ${err.message}`);
      assert.equal(fs.requests.length, before + 1, `${location}: nothing requested after the 302`);
    }
  });
});

describe('userinfo never leaks', () => {
  it('into error messages, url fields, causes or inspect() output of every error class', async (t) => {
    const fs = await server(t);
    fs.route('/bad', (ex) => ex.end('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'));
    fs.route('/loop', (ex) => ex.respond(302, { Location: '/loop' }, ''));
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const c = client(t, { maxRedirects: 2 }, { responseHeaderTimeout: 100 });
    const base = `http://${USERINFO}@127.0.0.1:${fs.port}`;
    const cases: [string, () => Promise<unknown>, (e: unknown) => void][] = [
      [
        'ConnectError',
        () => c.request(`http://${USERINFO}@127.0.0.1:${closed}/x`),
        (e) => assert.ok(e instanceof ConnectError),
      ],
      [
        'TimeoutError',
        () => c.request(`${base}/never`),
        (e) => assert.equal((e as HourglassError).code, 'ETIMEDOUT'),
      ],
      ['ProtocolError', () => c.request(`${base}/bad`), (e) => protocolReason(e, 'bad-content-length')],
      ['RedirectError', () => c.request(`${base}/loop`), (e) => assert.ok(e instanceof RedirectError)],
      ['HG_INVALID_ARG (header)', () => c.request(`${base}/ok`, { headers: { 'x-a': 'a\r\nb' } }), () => {}],
      ['HG_INVALID_ARG (URL)', () => c.request(`http://${USERINFO}@[::1/x`), () => {}],
    ];
    for (const [what, run, check] of cases) {
      const err = await rejects(run());
      assert.ok(err instanceof HourglassError, `${what}: ${inspect(err)}`);
      check(err);
      assertNoUserinfo(err, what);
      assertNoUserinfo(String(err), `${what} String()`);
      if (err.url !== undefined) assert.ok(err.url.startsWith('http://127.0.0.1:'), `${what} url ${err.url}`);
    }
  });

  it('into the message for an unparsable URL, whatever the password holds', async (t) => {
    const c = client(t);
    // Unparsable because of the userinfo itself: an unencoded '/', '?' or '#' in the
    // password ends the authority early; the message must not echo what came before '@'.
    for (const u of [
      `http://user:s3/cret@127.0.0.1/`,
      `http://user:s3?cret@127.0.0.1/`,
      `http://user:s3#cret@127.0.0.1/`,
      `http://user:${SECRET}@exa mple.com/`,
    ]) {
      const err = await invalidArg(c.request(u), u);
      for (const piece of ['user:', 's3', 'cret']) {
        assert.ok(!err.message.includes(piece), `${u}: message ${JSON.stringify(err.message)} shows ${piece}`);
      }
    }
  });

  it('from a Location with userinfo: not in RedirectError.redirects, messages, nor the next Referer', async (t) => {
    const fs = await server(t);
    fs.route('/start', (ex) =>
      ex.respond(302, { Location: `http://${USERINFO}@127.0.0.1:${fs.port}/with-userinfo` }, ''),
    );
    fs.route('/with-userinfo', (ex) => ex.respond(302, { Location: '/start' }, ''));
    const c = client(t, { maxRedirects: 3 });
    const err = await rejects(c.request(fs.url('/start')));
    assert.ok(err instanceof RedirectError, inspect(err));
    assert.ok(err.redirects.some((u) => u.endsWith('/with-userinfo')));
    assertNoUserinfo(err, 'RedirectError');
    // The hop after the userinfo URL has a Referer without it.
    const after = fs.requests.filter((r) => r.path === '/start').slice(1);
    assert.ok(after.length > 0);
    for (const r of after) {
      assert.ok(r.headers.referer?.endsWith('/with-userinfo'), r.headers.referer);
      assertNoUserinfo(r.headers.referer, 'Referer');
    }
  });

  it('from a Location with userinfo: not in the final res.url, res.redirects nor diagnostics', async (t) => {
    const fs = await server(t);
    fs.route('/start', (ex) => ex.respond(302, { Location: `http://${USERINFO}@127.0.0.1:${fs.port}/end` }, ''));
    fs.route('/end', (ex) => ex.respond(200, {}, 'ok'));
    const published: unknown[] = [];
    const fn = (m: unknown): void => {
      published.push(strings(m));
    };
    for (const n of ['hourglass:request:headers', 'hourglass:request:end']) diagnostics.subscribe(n, fn);
    t.after(() => {
      for (const n of ['hourglass:request:headers', 'hourglass:request:end']) diagnostics.unsubscribe(n, fn);
    });
    const res = await client(t).request(fs.url('/start'));
    assert.equal(await res.text(), 'ok');
    assert.equal(res.url, `http://127.0.0.1:${fs.port}/end`);
    assertNoUserinfo(res.redirects, 'res.redirects');
    assert.ok(published.length >= 2);
    assertNoUserinfo(published, 'diagnostics');
  });

  it('into the Referer of a redirect from a URL with userinfo', async (t) => {
    const fs = await server(t);
    fs.route('/from', (ex) => ex.respond(302, { Location: '/to' }, ''));
    fs.route('/to', (ex) => ex.respond(200, {}, 'ok'));
    const c = client(t);
    await (await c.request(`http://${USERINFO}@127.0.0.1:${fs.port}/from#frag`)).dump();
    assert.equal(fs.requests[1]!.headers.referer, `http://127.0.0.1:${fs.port}/from`);
  });

  it('into any diagnostics_channel message (hourglass:* channels), success or failure', async (t) => {
    const fs = await server(t);
    fs.route('/from', (ex) => ex.respond(302, { Location: '/to' }, ''));
    fs.route('/to', (ex) => ex.respond(200, {}, 'ok'));
    fs.route('/bad', (ex) => ex.end('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'));
    const names = [
      'hourglass:request:start',
      'hourglass:request:headers',
      'hourglass:request:end',
      'hourglass:request:error',
      'hourglass:connection:open',
      'hourglass:connection:close',
    ];
    const published: { name: string; message: unknown; texts: string[] }[] = [];
    const subscribers = names.map((name) => {
      const fn = (message: unknown): void => {
        // Extract now: objects published may be mutated later.
        published.push({ name, message, texts: strings(message) });
      };
      diagnostics.subscribe(name, fn);
      return () => diagnostics.unsubscribe(name, fn);
    });
    t.after(() => {
      for (const u of subscribers) u();
    });
    const c = client(t);
    const res = await c.request(`http://${USERINFO}@127.0.0.1:${fs.port}/from`);
    assert.equal(await res.text(), 'ok');
    await rejects(c.request(`http://${USERINFO}@127.0.0.1:${fs.port}/bad`));
    await c.close();
    await new Promise((r) => setTimeout(r, 20));
    const seen = new Set(published.map((p) => p.name));
    for (const n of [
      'hourglass:request:start',
      'hourglass:request:end',
      'hourglass:request:error',
      'hourglass:connection:open',
    ]) {
      assert.ok(seen.has(n), `nothing published on ${n}`);
    }
    for (const p of published) {
      for (const s of [...p.texts, ...strings(p.message)]) {
        assert.ok(!s.includes(SECRET), `${p.name} carries the password: ${JSON.stringify(s.slice(0, 200))}`);
        assert.ok(!s.includes(USERINFO), `${p.name} carries the userinfo`);
      }
      // The request description is the public shape: credentials in it are redacted too.
      const request = (p.message as { request?: { url?: string; headers?: Record<string, string> } }).request;
      if (request !== undefined) {
        assert.ok(
          !JSON.stringify(request).includes(BASIC),
          `${p.name} request carries the Basic credentials`,
        );
        assert.ok(request.url?.startsWith('http://127.0.0.1:'), request.url);
      }
    }
  });
});

describe('TLS verification is on by default, hostname included', () => {
  function certCode(err: unknown): string {
    assert.ok(err instanceof ConnectError, `expected ConnectError, got ${inspect(err)}`);
    return err.code;
  }

  it('an unknown CA fails with a certificate code and no request is sent', async (t) => {
    const fs = await server(t, { tls: true });
    const err = await rejects(client(t).request(fs.url('/ok')));
    const code = certCode(err);
    assert.ok(
      [
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
        'SELF_SIGNED_CERT_IN_CHAIN',
      ].includes(code),
      code,
    );
    assert.equal(fs.requests.length, 0);
  });

  it('the right CA but a certificate for another name fails ERR_TLS_CERT_ALTNAME_INVALID', async (t) => {
    const wrong = await server(t, { tls: { cert: 'wrong-name' } });
    const err = await rejects(client(t, {}, { tls: { ca: wrong.ca } }).request(wrong.url('/ok')));
    assert.equal(certCode(err), 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(wrong.requests.length, 0);
  });

  it('connecting by a name the certificate does not carry fails ERR_TLS_CERT_ALTNAME_INVALID', async (t) => {
    const fs = await server(t, { tls: true });
    const c = client(t, {}, { tls: { ca: fs.ca }, dialer: { lookup: loopbackLookup } });
    const err = await rejects(c.request(`https://not-in-the-cert.test:${fs.port}/ok`));
    assert.equal(certCode(err), 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(fs.requests.length, 0);
  });

  it('an expired certificate fails CERT_HAS_EXPIRED', async (t) => {
    const fs = await server(t, { tls: { cert: 'expired' } });
    const err = await rejects(client(t, {}, { tls: { ca: fs.ca } }).request(fs.url('/ok')));
    assert.equal(certCode(err), 'CERT_HAS_EXPIRED');
  });

  it('control: the right CA and name succeed', async (t) => {
    const fs = await server(t, { tls: true });
    const res = await client(t, {}, { tls: { ca: fs.ca } }).request(fs.url('/ok'));
    assert.equal(await res.text(), 'ok');
  });
});

describe('responses are bounded', () => {
  it('a 100 KiB header fails headers-too-large under the default 64 KiB limit', async (t) => {
    const fs = await server(t);
    fs.route('/big-head', (ex) =>
      ex.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 0\r\n\r\n`),
    );
    protocolReason(await rejects(client(t).request(fs.url('/big-head'))), 'headers-too-large');
  });

  it('maxResponseHeaderBytes: a custom smaller limit is enforced, a head below it passes', async (t) => {
    const fs = await server(t);
    fs.route('/head', (ex) => {
      const n = Number(ex.query.get('n'));
      return ex.write(`HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(n)}\r\nContent-Length: 2\r\n\r\nok`);
    });
    const c = client(t, {}, { maxResponseHeaderBytes: 1024 });
    protocolReason(await rejects(c.request(fs.url('/head?n=2048'))), 'headers-too-large');
    assert.equal(await (await c.request(fs.url('/head?n=512'))).text(), 'ok');
  });

  for (const [framing, write] of [
    ['Content-Length', (ex: Exchange, body: Buffer) => ex.respond(200, {}, body)],
    [
      'chunked',
      async (ex: Exchange, body: Buffer) => {
        await ex.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let i = 0; i < body.length; i += 256 * 1024) {
          const part = body.subarray(i, i + 256 * 1024);
          await ex.write(
            Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]),
          );
        }
        await ex.write('0\r\n\r\n');
      },
    ],
    [
      'read-to-close',
      (ex: Exchange, body: Buffer) => ex.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body])),
    ],
  ] as const) {
    it(`maxResponseBytes: a ${framing} body over the limit fails body-too-large (compression on and off)`, async (t) => {
      const fs = await server(t);
      const limit = 1 << 20;
      fs.route('/big', (ex) => write(ex, Buffer.alloc(2 * limit, 0x61)));
      fs.route('/exact', (ex) => write(ex, Buffer.alloc(limit, 0x62)));
      for (const disableCompression of [false, true]) {
        const c = client(t, {}, { maxResponseBytes: limit, disableCompression });
        const res = await c.request(fs.url('/big'));
        protocolReason(await rejects(res.bytes()), 'body-too-large');
        const ok = await c.request(fs.url('/exact'));
        assert.equal((await ok.bytes()).length, limit, 'a body of exactly the limit passes');
      }
    });
  }

  /** Counts the bytes every zlib/brotli decoder pushes while `fn` runs. */
  async function countDecoded(fn: () => Promise<void>): Promise<number> {
    type Pushable = { push(chunk: Buffer | null): boolean };
    const protos = [zlib.Gunzip, zlib.Inflate, zlib.InflateRaw, zlib.BrotliDecompress].map(
      (k) => k.prototype as unknown as Pushable,
    );
    let decoded = 0;
    const restore = protos.map((proto) => {
      const own = Object.hasOwn(proto, 'push');
      const inherited = proto.push;
      proto.push = function push(this: unknown, chunk: Buffer | null): boolean {
        if (chunk !== null) decoded += chunk.length;
        return inherited.call(this, chunk);
      };
      return () => {
        if (own) proto.push = inherited;
        else delete (proto as Partial<Pushable>).push;
      };
    });
    try {
      await fn();
    } finally {
      for (const r of restore) r();
    }
    return decoded;
  }

  it('decompression bombs (gzip, nested gzip, deflate, br) stop early with body-too-large', async (t) => {
    const fs = await server(t);
    // 100 gzip members of 1 MiB of zeros (a gzip stream may hold several): ~100 KiB that
    // decodes to 100 MiB; the others are one stream each.
    const member = zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 });
    const bombs: [string, Buffer, number][] = [
      ['gzip', Buffer.concat(Array.from({ length: 100 }, () => member)), 100 << 20],
      ['gzip, gzip', zlib.gzipSync(zlib.gzipSync(Buffer.alloc(64 << 20))), 64 << 20],
      ['deflate', zlib.deflateSync(Buffer.alloc(32 << 20), { level: 9 }), 32 << 20],
      [
        'br',
        zlib.brotliCompressSync(Buffer.alloc(32 << 20), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }),
        32 << 20,
      ],
    ];
    assert.equal(zlib.gunzipSync(bombs[0]![1]).length, 100 << 20, 'the multi-member bomb is what it claims');
    fs.route('/bomb', (ex) => {
      const [coding, bytes] = bombs[Number(ex.query.get('i'))]!;
      return ex.respond(200, { 'Content-Encoding': coding, 'Content-Type': 'text/plain' }, bytes);
    });
    const limit = 1 << 20;
    const c = client(t, {}, { maxResponseBytes: limit });
    for (const [i, [coding, bytes, size]] of bombs.entries()) {
      const t0 = performance.now();
      const decoded = await countDecoded(async () => {
        const res = await c.request(fs.url(`/bomb?i=${i}`));
        protocolReason(await rejects(res.bytes()), 'body-too-large');
      });
      const ms = performance.now() - t0;
      t.diagnostic(`${coding} bomb (${bytes.length} bytes → ${size}): ${decoded} bytes decoded, ${ms.toFixed(0)} ms`);
      assert.ok(decoded < 8 * limit, `${coding}: decoded ${decoded} bytes for a ${limit}-byte limit`);
      assert.ok(ms < 2_000, `${coding}: took ${ms.toFixed(0)} ms`);
    }
  });

  it('more than 10 interim (1xx) responses fail too-many-1xx', async (t) => {
    const fs = await server(t);
    fs.route('/1xx-flood', (ex) =>
      ex.write(`${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(50)}HTTP/1.1 204 No Content\r\n\r\n`),
    );
    protocolReason(await rejects(client(t).request(fs.url('/1xx-flood'))), 'too-many-1xx');
  });
});

describe('bytes beyond a response never reach the next request (no response queue poisoning)', () => {
  const INJECTED = 'HTTP/1.1 200 OK\r\nX-Injected: 1\r\nContent-Length: 8\r\n\r\ninjected';

  async function nextRequestIsClean(t: TestContext, fs: FaultServer, c: Client): Promise<void> {
    fs.route('/next', (ex) => ex.respond(200, {}, 'clean'));
    const res = await c.request(fs.url('/next'));
    assert.equal(res.headers['x-injected'], undefined);
    assert.equal(await res.text(), 'clean');
    assert.equal(res.reused, false, 'the poisoned connection was not reused');
    const last = fs.requests.at(-1)!;
    assert.equal(last.path, '/next');
    assert.notEqual(
      last.connectionId,
      fs.requests[0]!.connectionId,
      'the next request went out on a new socket',
    );
    t.diagnostic(`connections: ${fs.connections}`);
  }

  it('a body longer than its Content-Length (MF-24): the response succeeds, the socket is closed', async (t) => {
    const fs = await server(t);
    fs.route('/surplus', (ex) => ex.write(`HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc${INJECTED}`));
    const c = client(t);
    const res = await c.request(fs.url('/surplus'));
    assert.equal(await res.text(), 'abc');
    await nextRequestIsClean(t, fs, c);
  });

  it('an unsolicited response on an idle kept-alive socket closes it', async (t) => {
    const fs = await server(t);
    fs.route('/later', async (ex) => {
      await ex.respond(200, {}, 'ok');
      ex.after(30, (e) => e.write(INJECTED));
    });
    const c = client(t);
    assert.equal(await (await c.request(fs.url('/later'))).text(), 'ok');
    await new Promise((r) => setTimeout(r, 150));
    await nextRequestIsClean(t, fs, c);
  });

  it('a 204 followed by bytes (MF-22) and a chunked body followed by bytes close the socket', async (t) => {
    for (const bytes of [
      `HTTP/1.1 204 No Content\r\n\r\n${INJECTED}`,
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n${INJECTED}`,
    ]) {
      const fs = await server(t);
      fs.route('/first', (ex) => ex.write(bytes));
      const c = client(t);
      await (await c.request(fs.url('/first'))).dump();
      await nextRequestIsClean(t, fs, c);
    }
  });
});

describe('proxy credentials go to the proxy only', () => {
  interface Proxy {
    port: number;
    /** Heads received (lower-cased header names). */
    heads: { method: string; target: string; headers: Record<string, string> }[];
  }

  /** A minimal CONNECT proxy: records each head, answers `status`, tunnels on 200. */
  async function connectProxy(t: TestContext, status = 200): Promise<Proxy> {
    const proxy: Proxy = { port: 0, heads: [] };
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((client) => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => {});
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        client.off('data', onData);
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = ''] = lines[0]!.split(' ');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        proxy.heads.push({ method, target, headers });
        if (method !== 'CONNECT' || status !== 200) {
          client.end(`HTTP/1.1 ${method === 'CONNECT' ? status : 405} No\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        const [host, port] = [
          target.slice(0, target.lastIndexOf(':')),
          Number(target.slice(target.lastIndexOf(':') + 1)),
        ];
        const upstream = net.connect({ host: host.replace(/^\[|\]$/g, ''), port }, () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          const rest = buf.subarray(end + 4);
          if (rest.length > 0) upstream.write(rest);
          client.pipe(upstream);
          upstream.pipe(client);
        });
        sockets.add(upstream);
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
      };
      client.on('data', onData);
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    proxy.port = (srv.address() as net.AddressInfo).port;
    t.after(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          srv.close(() => resolve());
        }),
    );
    return proxy;
  }

  it('the proxy URL credentials are sent on CONNECT and never through the tunnel', async (t) => {
    const origin = await server(t, { tls: true });
    const proxy = await connectProxy(t);
    const c = client(t, {}, { proxy: `http://p${USERINFO}@127.0.0.1:${proxy.port}`, tls: { ca: origin.ca } });
    const res = await c.request(origin.url('/ok'));
    assert.equal(await res.text(), 'ok');
    assert.equal(proxy.heads.length, 1);
    assert.equal(proxy.heads[0]!.method, 'CONNECT');
    assert.equal(proxy.heads[0]!.target, `127.0.0.1:${origin.port}`);
    const proxyBasic = Buffer.from(`p${USERINFO}`).toString('base64');
    assert.equal(proxy.heads[0]!.headers['proxy-authorization'], `Basic ${proxyBasic}`);
    const seen = origin.requests[0]!;
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.equal(seen.headers.authorization, undefined);
    assert.ok(!seen.rawHeaders.join('\n').includes(proxyBasic), 'the proxy credentials reached the origin');
  });

  it('a caller-supplied Proxy-Authorization is not forwarded through the tunnel to the origin', async (t) => {
    const origin = await server(t, { tls: true });
    const proxy = await connectProxy(t);
    const c = client(t, {}, { proxy: `http://127.0.0.1:${proxy.port}`, tls: { ca: origin.ca } });
    const res = await c.request(origin.url('/ok'), { headers: { 'Proxy-Authorization': `Basic ${BASIC}` } });
    assert.equal(await res.text(), 'ok');
    assert.equal(proxy.heads[0]!.method, 'CONNECT');
    const seen = origin.requests[0]!;
    assert.equal(
      seen.headers['proxy-authorization'],
      undefined,
      'Proxy-Authorization meant for the proxy reached the origin through the CONNECT tunnel',
    );
  });

  it('a refused CONNECT (407) names no credentials in the error', async (t) => {
    const origin = await server(t, { tls: true });
    const proxy = await connectProxy(t, 407);
    const c = client(t, {}, { proxy: `http://${USERINFO}@127.0.0.1:${proxy.port}`, tls: { ca: origin.ca } });
    const err = await rejects(c.request(origin.url('/ok')));
    assert.ok(err instanceof ConnectError, inspect(err));
    assertNoUserinfo(err, 'proxy ConnectError');
    assert.ok(!inspect(err, { depth: 6 }).includes(BASIC));
    assert.equal(origin.requests.length, 0);
  });
});
