// Adversarial suite, seams 2 (issue 15, second outside attack): a request that gives up while
// its dial is in flight makes the pool cancel that dial (no waiter left). A request queued in
// the same macrotask as the give-up — a retry loop — must not be handed that cancelled dial's
// failure (HG_CLOSED "dial (no waiter left)"): it gets a dial of its own. Over HTTP, HTTPS, a
// Unix socket, h2c, and Transport.roundTrip directly.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Client, outgoingRequest, Transport, type TransportOptions } from '../../src/index.js';
import { CA_CERT, SERVER_CERTS } from '../../src/testing/index.js';

type Srv = http.Server | https.Server | http2.Http2Server;

async function listen(t: TestContext, s: Srv, where: string | number): Promise<void> {
  await new Promise<void>((r) => (typeof where === 'string' ? s.listen(where, r) : s.listen(where, '127.0.0.1', r)));
  t.after(() => {
    if ('closeAllConnections' in s) s.closeAllConnections();
    s.close();
  });
}

const ok = (_req: unknown, res: http.ServerResponse | http2.Http2ServerResponse): void => void res.end('ok');

/** A server of the given kind; returns the URL and the transport options that reach it. */
async function serve(t: TestContext, kind: string): Promise<{ url: string; opts: TransportOptions }> {
  if (kind === 'unix') {
    const p = path.join(os.tmpdir(), `hg-s2-${process.pid}.sock`);
    fs.rmSync(p, { force: true });
    t.after(() => fs.rmSync(p, { force: true }));
    await listen(t, http.createServer(ok), p);
    return { url: 'http://localhost/', opts: { socketPath: p } };
  }
  const s: Srv =
    kind === 'https' ? https.createServer({ ...SERVER_CERTS.localhost }, ok)
    : kind === 'h2c' ? http2.createServer(ok)
    : http.createServer(ok);
  await listen(t, s, 0);
  const port = (s.address() as AddressInfo).port;
  if (kind === 'https') return { url: `https://localhost:${port}/`, opts: { tls: { ca: CA_CERT } } };
  return { url: `http://127.0.0.1:${port}/`, opts: kind === 'h2c' ? { h2c: true } : {} };
}

describe('seams2: an abandoned dial does not fail the next request', () => {
  for (const kind of ['http', 'https', 'unix', 'h2c']) {
    it(`${kind}: abort during the dial, retry in the same tick`, { timeout: 10_000 }, async (t) => {
      const { url, opts } = await serve(t, kind);
      const c = new Client({ transport: new Transport(opts) });
      t.after(() => c.close());
      const ac = new AbortController();
      const first = c.request(url, { signal: ac.signal });
      queueMicrotask(() => ac.abort());
      // The retry is issued in the same macrotask as the first request's rejection.
      const second = first.then(
        () => assert.fail('the first request was aborted'),
        () => c.request(url, { timeout: 5000 }),
      );
      const res = await second;
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
    });
  }

  it('Transport.roundTrip: a 1 ms deadline during the dial, then another roundTrip', { timeout: 10_000 }, async (t) => {
    const { url } = await serve(t, 'http');
    const tr = new Transport();
    t.after(() => tr.close());
    const res = await tr.roundTrip(outgoingRequest(url, { timeout: 1 })).then(
      (r) => r,
      () => tr.roundTrip(outgoingRequest(url, { timeout: 5000 })),
    );
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
  });

  it('maxConnsPerHost 1: the queued retry dials once the cancelled dial is gone', { timeout: 10_000 }, async (t) => {
    const { url } = await serve(t, 'http');
    const c = new Client({ transport: new Transport({ maxConnsPerHost: 1 }) });
    t.after(() => c.close());
    const ac = new AbortController();
    const first = c.request(url, { signal: ac.signal });
    queueMicrotask(() => ac.abort());
    const res = await first.then(
      () => assert.fail('aborted'),
      () => c.request(url, { timeout: 5000 }),
    );
    assert.equal(res.status, 200);
    await res.text();
  });
});
