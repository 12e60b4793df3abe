// Adversarial suite: SPEC §11 "No message, error field or diagnostic ever contains URL
// userinfo, including from URLs that fail to parse and from `Location` values."
import * as assert from 'node:assert/strict';
import { redactLocation } from '../../src/redirect.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dc from 'node:diagnostics_channel';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { Client, download, fetch, HourglassError, request } from '../../src/index.js';
import { redactUrl } from '../../src/errors.js';

const SECRET = 'hunter2-S3cr3t';

/** Every string field of an error (and of its cause) must be free of the secret. */
function assertNoSecret(e: unknown, what: string): void {
  for (let err = e as Record<string, unknown> | undefined, depth = 0; err != null && depth < 3; depth++) {
    for (const k of ['message', 'url', 'stack']) {
      const v = err[k];
      if (typeof v === 'string') assert.ok(!v.includes(SECRET), `${what}: ${k} carries the password: ${v}`);
    }
    err = err.cause as Record<string, unknown> | undefined;
  }
}

describe('adversarial: credentials in URLs typed without a scheme', () => {
  const inputs = [`admin:${SECRET}@127.0.0.1:5984/db`, `admin:${SECRET}@db.internal/`, `admin:${SECRET}@db.internal`];
  it('redactUrl drops what stands before the @ of a scheme-less URL', { timeout: 2_000 }, () => {
    assert.equal(redactUrl(`admin:${SECRET}@db.internal/x`), 'db.internal/x');
    assert.equal(redactUrl(`admin:${SECRET}@db.internal`), 'db.internal');
    assert.equal(redactUrl('urn:isbn:0451450523'), 'urn:isbn:0451450523');
    assert.equal(redactUrl('foo:bar/x@y'), 'foo:bar/x@y', "an '@' after the first '/' is path");
    assert.equal(redactUrl(`http://admin:${SECRET}@h.test/`), 'http://h.test/');
  });
  for (const input of inputs) {
    it(`request, fetch and download refuse ${JSON.stringify(input.replace(SECRET, '…'))} without echoing the password`, { timeout: 5_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'hg-creds-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      for (const [api, call] of [
        ['request', () => request(input)],
        ['fetch', () => fetch(input)],
        ['download', () => download(input, join(dir, 'never'))],
      ] as const) {
        let caught: unknown;
        try {
          await call();
        } catch (err) {
          caught = err;
        }
        assert.ok(caught instanceof Error, `${api} must reject`);
        assertNoSecret(caught, api);
      }
    });
  }
});

describe('adversarial: a refused redirect whose Location carries credentials', () => {
  it('redactLocation strips only an authority\'s userinfo: a relative Location with @ is kept whole', () => {
    const cases: [string, string][] = [
      ['http://u:p@h.test/x', 'http://h.test/x'],
      ['https://a@b:c@h.test:8443/x?y=@z', 'https://h.test:8443/x?y=@z'],
      ['//u:p@h.test/x', '//h.test/x'],
      ['/users/@me', '/users/@me'],
      ['users/@me?q=a@b', 'users/@me?q=a@b'],
      ['http://h.test/@me', 'http://h.test/@me'],
    ];
    for (const [given, want] of cases) {
      const res = { headers: { location: given }, rawHeaders: ['Location', given] };
      redactLocation(res);
      assert.equal(res.headers.location, want, given);
      assert.equal(res.rawHeaders[1], want, given);
    }
  });

  it('HG_REDIRECT_REFUSED carries the 3xx response with the Location redacted (headers, rawHeaders, diagnostics)', { timeout: 5_000 }, async (t) => {
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () =>
        s.end(`HTTP/1.1 302 Found\r\nLocation: http://deploy:${SECRET}@127.0.0.1:1/next\r\nX-Kept: yes\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const published: unknown[] = [];
    const onError = (m: unknown): void => void published.push(m);
    dc.subscribe('hourglass:request:error', onError);
    t.after(() => {
      dc.unsubscribe('hourglass:request:error', onError);
      server.close();
    });
    const client = new Client({
      checkRedirect: () => {
        throw new Error('not allowed');
      },
    });
    let caught: unknown;
    try {
      await client.request(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof HourglassError);
    assert.equal(caught.code, 'HG_REDIRECT_REFUSED');
    const res = (caught as HourglassError & { response?: { status: number; headers: Record<string, unknown>; rawHeaders: string[] } }).response;
    assert.ok(res !== undefined, 'the error still carries the 3xx response');
    assert.equal(res.status, 302);
    assert.equal(res.headers['x-kept'], 'yes');
    assert.equal(res.headers.location, 'http://127.0.0.1:1/next');
    assert.ok(!res.rawHeaders.some((v) => v.includes(SECRET)), `rawHeaders: ${res.rawHeaders.join(' | ')}`);
    assert.ok(published.length > 0, 'the failure was published');
    for (const m of published) {
      const r = (m as { error?: { response?: { headers: Record<string, unknown>; rawHeaders: string[] } } }).error?.response;
      if (r === undefined) continue;
      assert.ok(!JSON.stringify(r.headers).includes(SECRET) && !r.rawHeaders.some((v) => v.includes(SECRET)));
    }
  });
});
