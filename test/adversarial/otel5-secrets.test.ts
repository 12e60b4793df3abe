// adv-otel5 N1, N4 (issue #17): what url.full, HAR and logger() hide stays out of spans.
// N1: a ProtocolError about a malformed header line names the line's field name and the
// byte that broke it, never its value — a folded Set-Cookie/Authorization continuation, a
// line with no colon, a control byte or TAB before the colon quoted the secret verbatim
// into the message, and so into span status and the exception event.
// N4: secret parameters in a URL fragment (an OAuth implicit grant's
// `#access_token=…&token_type=bearer`) are redacted as in the query, in url.full, span
// status and the exception event.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { redactText, redactUrl } from '../../src/redact.js';
import { makeSdk, type Sdk, spansAfter } from '../otel/sdk.js';

const T = { timeout: 10_000 };

const LINES: [string, string][] = [
  ['a folded Set-Cookie', 'Set-Cookie: a=b\r\n sid=SEC_FOLD1'],
  ['a folded Authorization', 'Authorization: Bearer\r\n\tSEC_FOLD2'],
  ['no colon', 'Set-Cookie sid=SEC_NOCOLON'],
  ['a control byte in the name', 'X-Api-Key\x01: SEC_CTLNAME'],
  ['a TAB before the colon', 'Cookie\t: SEC_TABNAME'],
  ['a line that is one token', 'SEC_ALLNAME'],
];

describe('otel5: malformed header lines and URL fragments keep their secrets', () => {
  let sdk: Sdk;
  let inst: Instrumentation;
  let srv: net.Server;
  let port = 0;
  const heads = new Map<string, string>();

  before(async () => {
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
    srv = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        const path = /^GET (\S+)/.exec(d.toString('latin1'))?.[1] ?? '';
        const line = heads.get(path) ?? 'X-Ok: 1';
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\n${line}\r\n\r\n`);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as net.AddressInfo).port;
  });
  after(async () => {
    inst.disable();
    await new Promise((r) => srv.close(r));
    await sdk.shutdown();
  });

  LINES.forEach(([name, line], i) => {
    it(`${name}: bad-header, the message names the field but not its value, the span neither`, T, async () => {
      heads.set(`/l${i}`, line);
      const secret = /SEC_[A-Z0-9]+/.exec(line)![0];
      sdk.exporter.reset();
      const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
      try {
        const err = await c.request(`http://127.0.0.1:${port}/l${i}`).then(
          () => assert.fail('accepted'),
          (e: unknown) => e as Error & { reason?: string },
        );
        assert.equal(err.reason, 'bad-header');
        assert.ok(!err.message.includes(secret), err.message);
        assert.match(err.message, /^malformed header line: /);
      } finally {
        await c.close();
      }
      const [s] = await spansAfter(sdk, 1);
      assert.ok(s);
      const all = JSON.stringify({ st: s.status, ev: s.events });
      assert.ok(!all.includes(secret), all);
    });
  });

  it('the message still says what broke: the name and the byte after it', T, async () => {
    heads.set('/named', 'X-Thing\x01: v');
    const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
    try {
      await assert.rejects(c.request(`http://127.0.0.1:${port}/named`), {
        message: /malformed header line: the name "X-Thing" is followed by "\\u0001", not ":"/,
      });
    } finally {
      await c.close();
    }
  });

  it('redactUrl and redactText redact secret fragment parameters as query ones', () => {
    assert.equal(
      redactUrl('http://u:p@h/cb?a=1#access_token=FRAG1&token_type=bearer'),
      'http://REDACTED:REDACTED@h/cb?a=1#access_token=REDACTED&token_type=bearer',
    );
    assert.equal(redactUrl('/cb#x=1&sig=S'), '/cb#x=1&sig=REDACTED');
    assert.equal(redactUrl('http://h/p#/callback?access_token=S&x=1'), 'http://h/p#/callback?access_token=REDACTED&x=1');
    assert.equal(redactUrl('http://h/p?sig=Q#plain'), 'http://h/p?sig=REDACTED#plain');
    assert.equal(redactUrl('http://h/p#plain'), 'http://h/p#plain');
    assert.equal(redactText('GET http://h/cb#access_token=FRAG2 failed'), 'GET http://h/cb#access_token=REDACTED failed');
  });

  it('a failed request to a URL with a token in its fragment: url.full, status and exception carry no token', T, async () => {
    sdk.exporter.reset();
    const c = new Client({ transport: new Transport(), retry: { limit: 0 } });
    try {
      await assert.rejects(c.request('http://127.0.0.1:1/cb#access_token=FRAGTOKEN2&token_type=bearer'));
    } finally {
      await c.close();
    }
    const [s] = await spansAfter(sdk, 1);
    assert.ok(s);
    const all = JSON.stringify({ st: s.status, ev: s.events, a: s.attributes });
    assert.ok(!all.includes('FRAGTOKEN2'), all);
  });
});
