// adv-otel4 F1 (issue #17): a span's status message and `exception` event (message and
// stack) go through the redaction of `url.full` — query secrets in an error message that
// quotes the URL, and secret header values a ProtocolError quotes from a malformed line.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { redactText } from '../../src/redact.js';
import { makeSdk, type Sdk, spansAfter } from '../otel/sdk.js';

const T = { timeout: 10_000 };

describe('otel4 F1: nothing in a span carries what url.full redacts', () => {
  let sdk: Sdk;
  let inst: Instrumentation;
  let srv: net.Server;
  let port = 0;

  before(async () => {
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    srv = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nSet-Cookie : sid=COOKIESECRET3\r\ncontent-length: 0\r\n\r\n'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as net.AddressInfo).port;
  });
  after(async () => {
    inst.disable();
    await new Promise((r) => srv.close(r));
    await sdk.shutdown();
  });

  it('redactText hides secret query values, userinfo and secret header lines', () => {
    assert.equal(
      redactText('refused for GET http://u:p@h/x?a=1&X-Goog-Signature=TOP&sig=S2#f'),
      'refused for GET http://REDACTED:REDACTED@h/x?a=1&X-Goog-Signature=REDACTED&sig=REDACTED#f',
    );
    assert.equal(redactText('malformed header line "Set-Cookie : sid=C3"'), 'malformed header line "Set-Cookie : [redacted]"');
    assert.equal(redactText('plain ?q=1 text'), 'plain ?q=1 text');
  });

  it('a refused connection: status message and exception event have no query secret', T, async () => {
    sdk.exporter.reset();
    const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
    try {
      await assert.rejects(c.request(`http://127.0.0.1:1/x?X-Goog-Signature=TOPSECRET&Signature=S2`));
    } finally {
      await c.close();
    }
    const [s] = await spansAfter(sdk, 1);
    assert.ok(s);
    const all = JSON.stringify({ st: s.status, ev: s.events, a: s.attributes });
    assert.ok(!all.includes('TOPSECRET') && !all.includes('S2'), all);
    assert.match(s.status.message ?? '', /X-Goog-Signature=REDACTED/);
    assert.ok(s.events.some((e) => e.name === 'exception'));
  });

  it('a ProtocolError quoting a Set-Cookie line: the cookie value stays out of the span', T, async () => {
    sdk.exporter.reset();
    const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
    try {
      await assert.rejects(c.request(`http://127.0.0.1:${port}/bad`), { code: 'HG_PROTOCOL' });
    } finally {
      await c.close();
    }
    const [s] = await spansAfter(sdk, 1);
    assert.ok(s);
    const all = JSON.stringify({ st: s.status, ev: s.events });
    assert.ok(!all.includes('COOKIESECRET3'), all);
  });
});
