// Adversarial suite: URL userinfo credentials and redirects. SPEC §7 keeps the caller's
// Authorization on a same-host port change (Go ≥ 1.21), but is silent on userinfo: curl
// (CVE-2022-27776) and Go (which derives them per request from the URL) never send URL
// credentials to another origin, so hourglass drops them on any scheme, host or port change.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { request } from '../../src/index.js';
import { nextHop } from '../../src/redirect.js';
import { takeUserinfo } from '../../src/request-init.js';

function authAfter(from: string, location: string, callerAuth = false): string | undefined {
  const url = new URL(from);
  const headers: string[] = callerAuth ? ['authorization', 'Bearer caller'] : [];
  takeUserinfo(url, headers);
  const d = nextHop(302, location, { method: 'GET', url, headers, hasBody: false }, url, true);
  assert.equal(d.follow, true);
  if (!d.follow) return undefined;
  const i = d.headers.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === 'authorization');
  return i === -1 ? undefined : d.headers[i + 1];
}

describe('adversarial: URL userinfo credentials never follow a redirect to another origin', () => {
  const basic = `Basic ${Buffer.from('alice:S3cret').toString('base64')}`;
  const table: [string, string, string, string | undefined][] = [
    ['same origin', 'http://alice:S3cret@a.test:8080/x', '/y', basic],
    ['same origin, absolute', 'http://alice:S3cret@a.test:8080/x', 'http://a.test:8080/y', basic],
    ['another port', 'http://alice:S3cret@a.test:8080/x', 'http://a.test:9090/y', undefined],
    ['default port made explicit is the same origin', 'http://alice:S3cret@a.test/x', 'http://a.test:80/y', basic],
    ['another scheme', 'http://alice:S3cret@a.test/x', 'https://a.test/y', undefined],
    ['a subdomain', 'http://alice:S3cret@a.test/x', 'http://sub.a.test/y', undefined],
    ['another host', 'http://alice:S3cret@a.test/x', 'http://b.test/y', undefined],
  ];
  for (const [name, from, to, want] of table) {
    it(`${name}: ${to} → ${want === undefined ? 'dropped' : 'kept'}`, { timeout: 2_000 }, () => {
      assert.equal(authAfter(from, to), want);
    });
  }
  it("the caller's own Authorization keeps SPEC §7's rule (a port change alone keeps it)", { timeout: 2_000 }, () => {
    assert.equal(authAfter('http://alice:S3cret@a.test:8080/x', 'http://a.test:9090/y', true), 'Bearer caller');
  });
  it('a chain of same-origin hops keeps them, then a port change drops them', { timeout: 2_000 }, () => {
    const url = new URL('http://alice:S3cret@a.test:8080/x');
    const headers: string[] = [];
    takeUserinfo(url, headers);
    const d1 = nextHop(302, '/y', { method: 'GET', url, headers, hasBody: false }, url, true);
    assert.ok(d1.follow);
    const d2 = nextHop(302, 'http://a.test:9090/z', { method: 'GET', url: d1.url, headers: d1.headers, hasBody: false }, url, true);
    assert.ok(d2.follow);
    assert.ok(!d2.headers.some((h, j) => j % 2 === 0 && h.toLowerCase() === 'authorization'));
  });

  it('end to end: a 302 to another port on the same host does not receive the credentials', { timeout: 5_000 }, async (t) => {
    let seen = '';
    const other = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        seen = String(d);
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      });
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as net.AddressInfo).port;
    const first = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end(`HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:${port}/collect\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
    });
    await new Promise<void>((r) => first.listen(0, '127.0.0.1', r));
    t.after(() => {
      first.close();
      other.close();
    });
    const res = await request(`http://alice:S3cret@127.0.0.1:${(first.address() as net.AddressInfo).port}/start`);
    assert.equal(await res.text(), 'ok');
    assert.match(seen, /^GET \/collect /);
    assert.doesNotMatch(seen, /authorization/i);
  });
});
