// adv-otel4 F6 (issue #17): a request body whose source fails with another request's
// error (a piped download's TimeoutError, a ConnectError from inside a generator) makes
// the upload fail with HG_REQUEST_BODY for *its* method/url, the source's error as
// `cause`; it is never retried as a connect failure, and its span books no timeout.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, ConnectError, HourglassError, TimeoutError, Transport } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { makeSdk, type Sdk, spansAfter } from '../otel/sdk.js';

const T = { timeout: 10_000 };

describe('otel4 F6: a failed body source is HG_REQUEST_BODY of the upload', () => {
  let sdk: Sdk;
  let inst: Instrumentation;
  let srv: http.Server;
  let base = '';

  before(async () => {
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    srv = http.createServer((req, res) => {
      if (req.url === '/stall') {
        // Half a body, then silence: the reader's read-idle timeout fires.
        res.writeHead(200, { 'content-length': '100' });
        res.write('x'.repeat(50));
        return;
      }
      req.on('error', () => {});
      req.resume();
      req.on('end', () => res.end('stored'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  after(async () => {
    inst.disable();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
    await sdk.shutdown();
  });

  it('piped download that times out: PUT rejects HG_REQUEST_BODY, cause the GET timeout; span not a timeout', T, async () => {
    const c = new Client({ transport: new Transport({ readIdleTimeout: 150 }), retry: { limit: 0 } });
    try {
      const src = await c.request(`${base}/stall`);
      sdk.exporter.reset();
      const err = await c.request(`${base}/upload`, { method: 'PUT', body: src.body }).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HourglassError);
      assert.equal(err.code, 'HG_REQUEST_BODY');
      assert.equal(err.method, 'PUT');
      assert.match(err.url ?? '', /\/upload$/);
      assert.ok(err.cause instanceof TimeoutError);
      const spans = await spansAfter(sdk, 1);
      const put = spans.find((s) => s.attributes['http.request.method'] === 'PUT');
      assert.ok(put);
      assert.equal(put.attributes['error.type'], 'HG_REQUEST_BODY');
      assert.equal(put.attributes['hourglass.timeout.phase'], undefined);
    } finally {
      await c.close();
    }
  });

  it('a ConnectError from inside a body generator is not retried as the PUT\'s connect failure', T, async () => {
    const c = new Client({ transport: new Transport(), retry: { limit: 2, backoff: () => 5 } });
    let runs = 0;
    async function* gen(): AsyncGenerator<Buffer> {
      runs++;
      yield Buffer.from('part1');
      await c.request('http://127.0.0.1:1/source', { retry: { limit: 0 } });
      yield Buffer.from('never');
    }
    try {
      const err = await c.request(`${base}/upload`, { method: 'PUT', body: () => gen() }).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HourglassError);
      assert.equal(err.code, 'HG_REQUEST_BODY');
      assert.ok(err.cause instanceof ConnectError);
      assert.equal(runs, 1);
    } finally {
      await c.close();
    }
  });
});
