// HTTP/2 against a real server (nginx with http2, scripts/nginx.mjs): 100 concurrent
// requests multiplexed on one connection, and a 64 MiB body whose sha256 is the same over
// h2 and over HTTP/1.1. Skipped with a message when nginx is not installed.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';
import { nginxSkipReason, startNginx } from '../helpers/nginx.js';

const T = { timeout: 60_000, skip: nginxSkipReason() };

async function sha256Of(client: Client, url: string): Promise<{ hash: string; bytes: number; version: string }> {
  const res = await client.request(url);
  const h = createHash('sha256');
  let bytes = 0;
  const buf = new Uint8Array(256 * 1024);
  for (;;) {
    const n = await res.readInto(buf);
    if (n === 0) break;
    bytes += n;
    h.update(buf.subarray(0, n));
  }
  return { hash: h.digest('hex'), bytes, version: res.httpVersion };
}

describe('HTTP/2 against nginx', () => {
  it('100 concurrent requests share one connection', T, async (t) => {
    const ngx = await startNginx({ tls: true, http2: true, files: false });
    t.after(() => ngx.close());
    const transport = new Transport({ tls: { ca: ngx.ca } });
    const client = new Client({ transport });
    t.after(() => client.close());
    let dials = 0;
    const bodies = await Promise.all(
      Array.from({ length: 100 }, () =>
        client.request(ngx.url('/small'), { trace: { connectStart: () => dials++ } }).then(async (r) => {
          assert.equal(r.httpVersion, '2');
          return r.text();
        }),
      ),
    );
    assert.ok(bodies.every((b) => b === 'hello, world\n'));
    assert.equal(dials, 1);
    const st = transport.stats().totals;
    assert.equal(st.active + st.idle, 1);
  });

  // Twelfth attack F3: nginx closes a connection after keepalive_requests streams with a
  // graceful GOAWAY; a burst larger than that lost the streams its replay connection went
  // away from again (14 of 40 succeeded at keepalive_requests 7). Each GOAWAY after
  // serving others is progress: such streams are replayed up to 6 times (SPEC §13).
  it('keepalive_requests 7, 40 concurrent GETs: every one succeeds (GOAWAY replays while each connection made progress)', T, async (t) => {
    const ngx = await startNginx({ tls: true, http2: true, files: false, keepaliveRequests: 7 });
    t.after(() => ngx.close());
    const client = new Client({ transport: new Transport({ tls: { ca: ngx.ca } }) });
    t.after(() => client.close());
    const got = await Promise.all(
      Array.from({ length: 40 }, () =>
        client.request(ngx.url('/small')).then(
          async (r) => r.text(),
          (e: Error) => `${e.name}: ${e.message}`,
        ),
      ),
    );
    assert.deepEqual(got.filter((b) => b !== 'hello, world\n'), []);
  });

  it('a 64 MiB body has the same sha256 over h2 and HTTP/1.1', T, async (t) => {
    const ngx = await startNginx({ tls: true, http2: true, files: true });
    t.after(() => ngx.close());
    const h2 = new Client({ transport: new Transport({ tls: { ca: ngx.ca } }) });
    const h1 = new Client({ transport: new Transport({ tls: { ca: ngx.ca }, allowH2: false }) });
    t.after(() => Promise.all([h2.close(), h1.close()]));
    const a = await sha256Of(h2, ngx.url('/64m'));
    const b = await sha256Of(h1, ngx.url('/64m'));
    assert.equal(a.version, '2');
    assert.equal(b.version, '1.1');
    assert.equal(a.bytes, 64 * 1024 * 1024);
    assert.equal(a.hash, b.hash);
  });
});
