// Adversarial suite, seams (issue 15, outside attack): a bearerAuth token() that hangs does
// not poison later calls. token() gets the caller's signal; the in-flight promise is shared
// only while the caller that started it still waits, and dropped when it gives up (its
// deadline or signal), so the next call meeting the challenge asks again.
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { bearerAuth, type BearerChallenge, Client, TimeoutError } from '../../src/index.js';

describe('seams: bearerAuth token() that hangs', () => {
  it('a caller that timed out while token() hangs does not make later calls wait on it', { timeout: 10_000 }, async (t) => {
    const srv = createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer T1') {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.example/t",scope="s"' });
        return res.end();
      }
      res.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => {
      srv.closeAllConnections();
      srv.close();
    });
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`;
    const signals: (AbortSignal | undefined)[] = [];
    let n = 0;
    const c = new Client({
      interceptors: [
        bearerAuth({
          token: (_c: BearerChallenge, signal?: AbortSignal) => {
            signals.push(signal);
            return ++n === 1 ? new Promise<string>(() => undefined) : 'T1';
          },
        }),
      ],
    });
    t.after(() => c.close());
    const first = await c.request(url, { timeout: 200 }).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    assert.ok(first instanceof TimeoutError, String(first));
    assert.ok(signals[0] instanceof AbortSignal, 'token() gets a signal');
    assert.equal(signals[0].aborted, true, "token()'s signal aborts when its caller gives up");
    const t0 = Date.now();
    const res = await c.request(url, { timeout: 2_000 });
    assert.equal(await res.text(), 'ok');
    assert.ok(Date.now() - t0 < 1_000, `the second call waited ${Date.now() - t0} ms`);
    assert.equal(n, 2);
  });
});
