// Adversarial suite, header objects and credentials in messages (SPEC §11):
// - every header object hourglass builds (response headers, trailers, 1xx headers,
//   checkRedirect's next.headers, diagnostics payloads) has a null prototype, so
//   `__proto__`, `constructor`, `toString`, `hasOwnProperty` are ordinary header names;
// - no message, error field or diagnostic contains URL userinfo, including from URLs
//   that fail to parse and from Location values;
// - a redirect to port 0 is the server's fault: HG_BAD_REDIRECT.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { httpUrl } from '../../src/cli/args.js';
import { Client, type ClientOptions, fetch } from '../../src/index.js';
import { errorOf, hasCode, rawServer } from './recorder.js';

const T = { timeout: 5000 };

function newClient(t: { after(fn: () => unknown): void }, opts: ClientOptions = {}): Client {
  const c = new Client(opts);
  t.after(() => c.close());
  return c;
}

/** Every way an error can be looked at: message, String(), inspect (stack, own fields, cause), JSON of own fields. */
function views(err: unknown): string {
  const parts: string[] = [String(err), inspect(err, { depth: 6, showHidden: true })];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const o = e as Record<string, unknown>;
    parts.push(String(o.message), String(o.stack), String(o.url));
    const own: Record<string, unknown> = {};
    for (const k of Object.getOwnPropertyNames(o)) own[k] = o[k];
    parts.push(JSON.stringify(own, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    e = o.cause;
  }
  return parts.join('\n');
}

function assertNoSecret(err: unknown, secrets: string[]): void {
  const all = views(err);
  for (const s of secrets) assert.ok(!all.includes(s), `${JSON.stringify(s)} leaked in:\n${all.slice(0, 2000)}`);
}

const PROTO_NAMES_HEAD =
  'Constructor: evil\r\n__proto__: polluted\r\ntoString: ts\r\nhasOwnProperty: hop\r\nvalueOf: vo\r\n';

describe('adversarial: header objects have a null prototype', () => {
  it('response headers and trailers named like Object.prototype members are ordinary headers', T, async (t) => {
    const srv = await rawServer(
      t,
      () =>
        'HTTP/1.1 200 OK\r\n' +
        PROTO_NAMES_HEAD +
        'Transfer-Encoding: chunked\r\n\r\n' +
        '2\r\nhi\r\n0\r\nConstructor: evil\r\n__proto__: p\r\ntoString: t\r\nhasOwnProperty: h\r\nx-t: 1\r\nx-t: 2\r\n\r\n',
    );
    const c = newClient(t);
    const res = await c.request(srv.url('/'));
    const h = res.headers;
    assert.equal(Object.getPrototypeOf(h), null);
    assert.equal(h.constructor, 'evil');
    assert.ok(Object.hasOwn(h, '__proto__'));
    assert.equal(h['__proto__' as string], 'polluted');
    assert.equal(h.tostring, 'ts');
    assert.equal(h.hasownproperty, 'hop');
    assert.equal(h.valueof, 'vo');
    assert.equal(await res.text(), 'hi');
    const tr = res.trailers;
    assert.equal(Object.getPrototypeOf(tr), null);
    assert.equal(tr.constructor, 'evil', 'not "function Object() { [native code] }, evil"');
    assert.ok(Object.hasOwn(tr, '__proto__'), '__proto__ trailer kept');
    assert.equal(tr['__proto__' as string], 'p');
    assert.equal(tr.tostring, 't');
    assert.equal(tr.hasownproperty, 'h');
    assert.equal(tr['x-t'], '1, 2');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.toString.call({}), '[object Object]');
  });

  it('a response with a repeated Constructor header and set-cookie joins only its own values', T, async (t) => {
    const srv = await rawServer(
      t,
      () =>
        'HTTP/1.1 200 OK\r\nconstructor: a\r\nConstructor: b\r\nset-cookie: x=1\r\n' +
        'Content-Length: 0\r\n\r\n',
    );
    const res = await newClient(t).request(srv.url('/'));
    assert.equal(res.headers.constructor, 'a, b');
    assert.deepEqual(res.headers['set-cookie'], ['x=1']);
    await res.dump();
  });

  it('1xx headers given to got1xxResponse have a null prototype', T, async (t) => {
    const srv = await rawServer(
      t,
      () => 'HTTP/1.1 103 Early Hints\r\nconstructor: early\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    );
    let got: Record<string, string | string[]> | undefined;
    const res = await newClient(t).request(srv.url('/'), {
      trace: {
        got1xxResponse: ({ headers }) => {
          got = headers;
        },
      },
    });
    await res.dump();
    assert.ok(got !== undefined);
    assert.equal(Object.getPrototypeOf(got), null);
    assert.equal(got.constructor, 'early');
  });

  it("checkRedirect's next.headers and diagnostics request headers carry __proto__ and constructor as headers", T, async (t) => {
    const srv = await rawServer(t, (n) =>
      n === 0
        ? 'HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    );
    const messages: { request: { headers: Record<string, string> } }[] = [];
    const onStart = (m: unknown): void => {
      messages.push(m as { request: { headers: Record<string, string> } });
    };
    diagnostics.subscribe('hourglass:request:start', onStart);
    t.after(() => diagnostics.unsubscribe('hourglass:request:start', onStart));
    let next: { headers: Record<string, string> } | undefined;
    const c = newClient(t, {
      checkRedirect: (n) => {
        next = n;
      },
    });
    const res = await c.request(srv.url('/a'), {
      headers: [
        ['__proto__', 'b'],
        ['constructor', 'a'],
        ['toString', 't'],
      ],
    });
    await res.dump();
    assert.ok(srv.heads[0]!.includes('\r\n__proto__: b'), 'sent on the wire');
    assert.ok(next !== undefined);
    assert.equal(Object.getPrototypeOf(next.headers), null);
    assert.ok(Object.hasOwn(next.headers, '__proto__'));
    assert.equal(next.headers['__proto__' as string], 'b');
    assert.equal(next.headers.constructor, 'a');
    assert.equal(next.headers.tostring, 't');
    const mine = messages.find((m) => m.request.headers['constructor' as string] === 'a');
    assert.ok(mine !== undefined, 'diagnostics saw the request');
    assert.equal(Object.getPrototypeOf(mine.request.headers), null);
    assert.equal(mine.request.headers['__proto__' as string], 'b');
  });
});

describe('adversarial: URL userinfo never appears in messages or error fields', () => {
  const UNPARSABLE = [
    'http://admin:s3cr@t-pass@ho st/',
    'http://admin:s3cr@t-pass@[::1/',
    'http://admin:s3cr/t-pass@127.0.0.1:99999/',
    'https://admin:s3cr@t-pass@host:port/x',
    'http:\\\\admin:s3cr@t-pass@ho st/',
  ];
  for (const url of UNPARSABLE) {
    it(`an unparsable ${JSON.stringify(url)} is HG_INVALID_ARG with no credentials in it`, T, async (t) => {
      const e = await errorOf(newClient(t).request(url));
      assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
      assertNoSecret(e, ['admin', 's3cr', 't-pass']);
      const f = await errorOf(fetch(url));
      assertNoSecret(f, ['admin', 's3cr', 't-pass']);
    });
  }

  it('the CLI refuses an unparsable URL without echoing its userinfo', T, () => {
    // (The CLI reads `http:\\...` as a host-less string and prefixes http://, which parses.)
    for (const url of UNPARSABLE.filter((u) => u.includes('://'))) {
      const e = (() => {
        try {
          httpUrl(url, 'URL');
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      assert.ok(e instanceof Error && e.name === 'UsageError', String(e));
      assertNoSecret(e, ['admin', 's3cr', 't-pass']);
    }
  });

  for (const loc of ['http://evil:sup3r@s3cret@ho st/', 'http://evil:sup3r@s3cret@[::1/', '//evil:sup3r@s3cret@host:99999/']) {
    it(`a bad Location ${JSON.stringify(loc)} is HG_BAD_REDIRECT and is not echoed with its userinfo`, T, async (t) => {
      const srv = await rawServer(t, () => `HTTP/1.1 302 Found\r\nLocation: ${loc}\r\nContent-Length: 0\r\n\r\n`);
      const e = await errorOf(newClient(t).request(srv.url('/')));
      assert.ok(hasCode(e, 'HG_BAD_REDIRECT'), String(e));
      assertNoSecret(e, ['evil', 'sup3r', 's3cret']);
    });
  }

  it('a Location with credentials that then fails to connect, or exceeds maxRedirects, leaks nothing', T, async (t) => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const srv = await rawServer(
      t,
      () => `HTTP/1.1 302 Found\r\nLocation: http://evil:sup3rs3cret@127.0.0.1:${deadPort}/x\r\nContent-Length: 0\r\n\r\n`,
    );
    const c = newClient(t);
    const e1 = await errorOf(c.request(srv.url('/')));
    assert.equal(e1.name, 'ConnectError', String(e1));
    assertNoSecret(e1, ['evil', 'sup3rs3cret']);
    const e2 = await errorOf(c.request(srv.url('/'), { maxRedirects: 0 }));
    assert.equal(e2.name, 'RedirectError', String(e2));
    assertNoSecret(e2, ['evil', 'sup3rs3cret']);
  });
});

describe('adversarial: redirect to port 0', () => {
  for (const loc of ['http://127.0.0.1:0/', 'https://127.0.0.1:0/x']) {
    it(`Location ${loc} is HG_BAD_REDIRECT, not HG_INVALID_ARG`, T, async (t) => {
      const srv = await rawServer(t, () => `HTTP/1.1 302 Found\r\nLocation: ${loc}\r\nContent-Length: 0\r\n\r\n`);
      const e = await errorOf(newClient(t).request(srv.url('/')));
      assert.ok(hasCode(e, 'HG_BAD_REDIRECT'), String(e));
    });
  }

  it('a caller URL with port 0 stays HG_INVALID_ARG', T, async (t) => {
    const e = await errorOf(newClient(t).request('http://127.0.0.1:0/'));
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
  });
});
