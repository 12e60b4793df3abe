// A real nginx (scripts/nginx.mjs) answers hourglass on loopback: plain and TLS, both
// header sets, many listeners as distinct origins. Skipped when nginx is not installed.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, Transport } from '../src/index.js';
import { nginxSkipReason, startNginx } from './helpers/nginx.js';

const T = { timeout: 30_000, skip: nginxSkipReason() };

describe('nginx (scripts/nginx.mjs)', () => {
  it('serves /small over TLS with the realistic 12-header set, reused over keep-alive', T, async (t) => {
    const ngx = await startNginx({ tls: true, headers: 'realistic', files: false });
    t.after(() => ngx.close());
    const transport = new Transport({ tls: { ca: ngx.ca } });
    t.after(() => transport.close());
    const client = new Client({ transport });
    for (let i = 0; i < 3; i++) {
      const res = await client.request(ngx.url('/small'));
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'hello, world\n');
      const names = Object.keys(res.headers).sort();
      for (const h of ['cache-control', 'etag', 'last-modified', 'strict-transport-security', 'vary', 'x-request-id'])
        assert.ok(names.includes(h), `${h} in ${names.join(', ')}`);
      assert.equal(names.length, 12);
      assert.equal(res.reused, i > 0);
    }
  });

  it('minimal header set; extra listeners are distinct origins; /echo takes a POST body', T, async (t) => {
    const ngx = await startNginx({ files: false, extraListeners: 2 });
    t.after(() => ngx.close());
    const client = new Client();
    t.after(() => client.close());
    assert.equal(ngx.origins.length, 3);
    for (const origin of ngx.origins) {
      const res = await client.request(`${origin}/small`);
      assert.equal(await res.text(), 'hello, world\n');
      assert.equal(Object.keys(res.headers).length, 5);
    }
    const res = await client.request(ngx.url('/echo'), { method: 'POST', body: 'x'.repeat(1024) });
    assert.equal((await res.bytes()).length, 1024);
  });
});
