// UrlMemo (request-init.ts): a client sending to one URL string again and again shares one
// parsed URL between those requests — only while no user code can see req.url, and only
// while the kept URL still has the href it was parsed to (issue #16: a URL object per
// request was ~5 % of an HTTP/2 small GET's CPU).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, type OutgoingRequest, Transport } from '../src/index.js';
import { UrlMemo } from '../src/request-init.js';
import { TargetMemo } from '../src/url-target.js';
import { FaultServer } from '../src/testing/index.js';

const T = { timeout: 15_000 };

describe('UrlMemo', () => {
  it('hands the kept URL for the string last parsed, a new one for another string', () => {
    const m = new UrlMemo();
    const a = m.parse('http://127.0.0.1:8080/x?q=1');
    assert.equal(m.parse('http://127.0.0.1:8080/x?q=1'), a);
    assert.equal(m.redact(a), 'http://127.0.0.1:8080/x?q=1');
    const b = m.parse('http://127.0.0.1:8080/y');
    assert.notEqual(b, a);
    assert.equal(b.pathname, '/y');
    // The string parsed last is the one kept.
    assert.equal(m.parse('http://127.0.0.1:8080/y'), b);
    assert.notEqual(m.parse('http://127.0.0.1:8080/x?q=1'), a);
  });

  it('parses afresh once the kept URL was changed (its href no longer the one parsed)', () => {
    const m = new UrlMemo();
    const a = m.parse('http://127.0.0.1:8080/x');
    a.searchParams.set('sig', 'abc');
    const b = m.parse('http://127.0.0.1:8080/x');
    assert.notEqual(b, a);
    assert.equal(b.href, 'http://127.0.0.1:8080/x');
  });

  it('never keeps a URL with userinfo (the client moves it to Authorization, rewriting the URL)', () => {
    const m = new UrlMemo();
    const s = 'http://user:pw@127.0.0.1:8080/x';
    const a = m.parse(s);
    a.username = '';
    a.password = '';
    const b = m.parse(s);
    assert.notEqual(b, a);
    assert.equal(b.username, 'user');
    assert.equal(m.redact(b), 'http://127.0.0.1:8080/x'); // userinfo never in the text
  });

  it("a URL object given by the caller is parsed into one of the request's own (the caller may change theirs)", () => {
    const m = new UrlMemo();
    const given = new URL('http://127.0.0.1:8080/x');
    const a = m.parse(given);
    assert.notEqual(a, given);
    assert.notEqual(m.parse(given), a);
  });

  it('refuses what parseRequestUrl refuses', () => {
    const m = new UrlMemo();
    assert.throws(() => m.parse('ftp://127.0.0.1/x'), /unsupported URL scheme/);
    assert.throws(() => m.parse('http://127.0.0.1/\n'), /control character/);
  });
});

describe('a client with user code in its chain never shares a URL', () => {
  it('an interceptor that signs the query in place: each request is signed once, and sees a URL of its own', T, async () => {
    const fs = await FaultServer.start();
    const seen: URL[] = [];
    const client = new Client({
      transport: new Transport(),
      interceptors: [
        (req: OutgoingRequest, next) => {
          seen.push(req.url);
          req.url.searchParams.append('sig', String(seen.length));
          return next(req);
        },
      ],
    });
    try {
      const url = fs.url('/echo');
      const bodies = await Promise.all(
        [1, 2, 3].map(async () => JSON.parse(await (await client.request(url)).text()) as { query?: string; target?: string }),
      );
      assert.equal(new Set(seen).size, 3, 'three requests, three URL objects');
      for (const b of bodies) {
        const target = String(b.target);
        assert.equal(target.match(/sig=/g)?.length, 1, `one signature per request: ${target}`);
      }
      const sigs = bodies.map((b) => /sig=(\d)/.exec(String(b.target))![1]).sort();
      assert.deepEqual(sigs, ['1', '2', '3']);
    } finally {
      await client.close();
      await fs.close();
    }
  });
});

describe('TargetMemo (the transport reads a URL object once while its href stays)', () => {
  it('the same object: the same target; changed in place: read again', () => {
    const m = new TargetMemo();
    const u = new URL('https://[::1]:8443/a?x=1');
    const t = m.of(u);
    assert.deepEqual({ https: t.https, host: t.host, port: t.port, path: t.path }, { https: true, host: '::1', port: 8443, path: '/a?x=1' });
    assert.equal(m.of(u), t);
    u.pathname = '/b';
    u.search = '';
    const t2 = m.of(u);
    assert.notEqual(t2, t);
    assert.equal(t2.path, '/b');
    u.port = '';
    assert.equal(m.of(u).port, 443);
    const other = new URL('http://127.0.0.1/c');
    assert.deepEqual({ https: m.of(other).https, port: m.of(other).port, path: m.of(other).path }, { https: false, port: 80, path: '/c' });
  });

  it('on the wire: an interceptor sending one URL object it changes between requests reaches each path it set', T, async () => {
    const a = await FaultServer.start();
    const b = await FaultServer.start();
    const shared = new URL(a.url('/echo?n=0'));
    const client = new Client({
      transport: new Transport(),
      interceptors: [(req: OutgoingRequest, next) => next({ ...req, url: shared })],
    });
    try {
      const seen: string[] = [];
      for (let i = 1; i <= 3; i++) {
        shared.search = `?n=${i}`;
        if (i === 3) shared.port = new URL(b.url('/')).port; // another origin: another connection
        const res = await client.request(a.url('/ignored'));
        const echo = JSON.parse(await res.text()) as { target: string; connectionId: number };
        seen.push(`${echo.target}@${i === 3 ? 'b' : 'a'}`);
      }
      assert.deepEqual(seen, ['/echo?n=1@a', '/echo?n=2@a', '/echo?n=3@b']);
      assert.equal(b.requests.length, 1, 'the third request went to the second server');
    } finally {
      await client.close();
      await a.close();
      await b.close();
    }
  });
});
