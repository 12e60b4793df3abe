// Adversarial suite, seams (issue 15, third outside attack F1): a network interceptor that
// signs the query in place (req.url.searchParams.append) signs each request on the wire
// once — a retry or a redirect hop starts from the URL the retry/redirect stage built, so
// signatures never pile up and never reach the next hop's Referer.
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';

describe('seams: a network interceptor mutating req.url', () => {
  it('each retry and hop gets a fresh URL; Referer carries no earlier signature', { timeout: 10_000 }, async (t) => {
    const seen: { url: string; referer: string | undefined }[] = [];
    let r1 = 0;
    const srv = createServer((req, res) => {
      seen.push({ url: req.url!, referer: req.headers.referer });
      if (req.url!.startsWith('/r1') && ++r1 <= 2) {
        res.writeHead(503, { 'content-length': '0' });
        res.end();
      } else if (req.url!.startsWith('/r1')) {
        res.writeHead(307, { location: '/r2', 'content-length': '0' });
        res.end();
      } else res.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => {
      srv.closeAllConnections();
      srv.close();
    });
    let n = 0;
    const c = new Client({
      transport: new Transport(),
      timeout: 5_000,
      retry: { limit: 3, backoff: () => 0 },
      networkInterceptors: [
        (req, next) => {
          req.url.searchParams.append('sig', String(n++));
          return next(req);
        },
      ],
    });
    t.after(() => c.close());
    const res = await c.request(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/r1`);
    assert.equal(await res.text(), 'ok');
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/r1?sig=0', '/r1?sig=1', '/r1?sig=2', '/r2?sig=3'],
    );
    assert.ok(!/sig/.test(seen[3]!.referer ?? ''), `referer ${seen[3]!.referer}`);
    assert.ok(!/sig=\d+&sig/.test(res.url), res.url);
  });
});
