// Adversarial suite: option values and names (SPEC §11: invalid input is HG_INVALID_ARG before
// anything is sent; a misspelt name must not silently leave a default in force, and the error
// suggests the intended name).
import * as assert from 'node:assert/strict';
import { startRawServer } from '../helpers/raw-server.js';
import { describe, it } from 'node:test';
import { Client, fetch, HourglassError, Transport } from '../../src/index.js';
import { closest, TIMEOUT_NAMES } from '../../src/options.js';

async function server(t: { after: (f: () => unknown) => void }): Promise<{ url: string; connections: () => number }> {
  const srv = await startRawServer(t, (s) => {
    s.on('data', () => s.write('HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n'));
  });
  return { url: srv.url(), connections: srv.accepted };
}

async function invalid(p: () => unknown): Promise<HourglassError> {
  let caught: unknown;
  try {
    const r = await p();
    await (r as { dump?: () => Promise<void> } | undefined)?.dump?.();
  } catch (err) {
    caught = err;
  }
  const e = caught instanceof TypeError && caught.cause !== undefined ? caught.cause : caught;
  assert.ok(e instanceof HourglassError, `expected HG_INVALID_ARG, got ${String(caught)}`);
  assert.equal(e.code, 'HG_INVALID_ARG', e.message);
  return e;
}

const bad = <T>(v: unknown): T => v as T;

describe('adversarial: option values of the wrong type are HG_INVALID_ARG before anything is sent', () => {
  const cases: [string, (url: string) => unknown, RegExp][] = [
    ['Transport proxy: {}', () => new Transport({ proxy: bad({}) }), /proxy must be .*got object/],
    ['Transport proxy: 5', () => new Transport({ proxy: bad(5) }), /proxy .*got number 5/],
    ['Client jar: {}', () => new Client({ jar: bad({}) }), /jar must be .*got object/],
    ["retry.methods: 'GET'", () => new Client({ retry: { methods: bad('GET') } }), /retry\.methods .*got string "GET"/],
    ['retry.backoff: 5', (url) => new Client({ retry: { limit: 1, backoff: bad(5) } }).request(url), /retry\.backoff must be a function/],
    ["retry.statusCodes: '503'", () => new Client({ retry: { statusCodes: bad('503') } }), /retry\.statusCodes/],
    ["followRedirects: 'no'", () => new Client({ followRedirects: bad('no') }), /followRedirects must be a boolean/],
    ["disableKeepAlives: 'yes'", () => new Transport({ disableKeepAlives: bad('yes') }), /disableKeepAlives must be a boolean/],
    ["checkRedirect: 'x'", () => new Client({ checkRedirect: bad('x') }), /checkRedirect must be a function/],
    ['request trace: 5', (url) => new Client().request(url, { trace: bad(5) }), /trace must be/],
    ['request maxRedirects: 1.5', (url) => new Client().request(url, { maxRedirects: 1.5 }), /maxRedirects .*1\.5/],
    ['fetch client: {}', (url) => fetch(url, { client: bad({}) }), /client must be a Client/],
  ];
  for (const [name, call, message] of cases) {
    it(name, { timeout: 5_000 }, async (t) => {
      const { url, connections } = await server(t);
      const e = await invalid(() => call(url));
      assert.match(e.message, message);
      assert.equal(connections(), 0, 'nothing was sent');
    });
  }
  it('valid values are still accepted', { timeout: 5_000 }, async () => {
    await new Client({ followRedirects: false, maxRedirects: Infinity, retry: { methods: ['GET'], statusCodes: [503], backoff: () => 1 } }).close();
    await new Transport({ disableKeepAlives: true, proxy: 'http://127.0.0.1:1' }).close();
  });
});

describe('adversarial: misspelt names', () => {
  it('fetch init: timout is refused with a suggestion; standard RequestInit names are accepted', { timeout: 5_000 }, async (t) => {
    const { url, connections } = await server(t);
    const e = await invalid(() => fetch(url, bad({ timout: 50 })));
    assert.match(e.message, /did you mean timeout\?/);
    assert.equal(connections(), 0);
    const res = await fetch(url, { cache: 'no-store', credentials: 'omit', mode: 'cors', redirect: 'follow', referrer: '', integrity: '', keepalive: false, window: null, priority: 'auto', referrerPolicy: 'no-referrer' } as RequestInit);
    assert.equal(res.status, 503);
    await res.arrayBuffer();
  });
  it('trace hook names: gotconn suggests gotConn', { timeout: 5_000 }, async (t) => {
    const { url } = await server(t);
    const e = await invalid(() => new Client().request(url, { trace: bad({ gotconn() {} }) }));
    assert.match(e.message, /did you mean gotConn\?/);
    const e2 = await invalid(() => new Client().request(url, { trace: bad({ gotConn: 5 }) }));
    assert.match(e2.message, /trace\.gotConn must be a function, got number 5/);
  });
  const table: [string, string | undefined][] = [
    ['readTimeout', 'readIdleTimeout'],
    ['writeTimout', 'writeTimeout'],
    ['dialTimeot', 'dialTimeout'],
    ['headerTimeout', 'responseHeaderTimeout'],
    ['expectTimeout', 'expectContinueTimeout'],
    ['banana', undefined],
  ];
  for (const [key, want] of table) {
    it(`closest(${key}) among the timeouts is ${String(want)}`, { timeout: 2_000 }, () => {
      assert.equal(closest(key, TIMEOUT_NAMES), want);
    });
  }
});
