// Transparent decompression (SPEC §6 disableCompression, §11 "Bodies and connections"),
// through the public Client/Transport against the FaultServer: gzip, deflate
// (zlib-wrapped and raw) and br are decoded with content-encoding/content-length
// dropped; a caller's Accept-Encoding means passthrough; HEAD and Range requests carry
// no Accept-Encoding; corrupt or incomplete streams are `bad-encoding`, cut framing is
// `truncated-body`; maxResponseBytes stops a bomb early. Scenarios GO-27..GO-30,
// UN-20, PF-12.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { Client } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { assertQuiet, clientClosed, reasonIs, setup } from './helpers/setup.js';

const T = { timeout: 20_000 };
const TEXT = FaultServer.compressedText;
const CODECS = ['/gzip', '/deflate', '/deflate-raw', '/br'] as const;

/** A route that answers `body` with the given Content-Encoding (Content-Length framing). */
function encoded(fs: FaultServer, path: string, ce: string, body: Buffer, status = 200): void {
  fs.route(path, (ex) => ex.respond(status, { 'Content-Encoding': ce, 'Content-Type': 'text/plain' }, body));
}

describe('decompression: decoding', () => {
  for (const path of CODECS) {
    for (const chunked of [false, true]) {
      it(
        `${path}${chunked ? ' (chunked)' : ''} is decoded, content-encoding and content-length are dropped`,
        T,
        async (t) => {
          const { fs, transport, client } = await setup(t);
          const res = await client.request(fs.url(`${path}${chunked ? '?chunked=1' : ''}`));
          assert.equal(res.status, 200);
          assert.equal(res.headers['content-encoding'], undefined);
          assert.equal(res.headers['content-length'], undefined);
          assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
          assert.equal(await res.text(), TEXT);
          assert.equal(fs.requests[0]!.headers['accept-encoding'], 'gzip, deflate, br');
          await assertQuiet(transport);
        },
      );
    }
  }

  it(
    'GO-29d: a gzip body read exactly to its end returns the socket (length and chunked, twice each)',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      for (const q of ['', '?chunked=1', '', '?chunked=1']) {
        const res = await client.request(fs.url(`/gzip${q}`));
        const parts: Buffer[] = [];
        for await (const c of res.body) parts.push(c as Buffer);
        assert.equal(Buffer.concat(parts).toString(), TEXT);
      }
      assert.equal(fs.connections, 1);
      await assertQuiet(transport);
    },
  );

  it('GO-29c / UN-20: GZIP (any case) and x-gzip are decoded', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    for (const ce of ['GZIP', 'x-gzip', 'Gzip']) {
      const res = await client.request(fs.url(`/gzip?ce=${ce}`));
      assert.equal(res.headers['content-encoding'], undefined, ce);
      assert.equal(await res.text(), TEXT);
    }
    await assertQuiet(transport);
  });

  it('GO-29b: a gzip of a gzip is decoded exactly one layer', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const inner = zlib.gzipSync(Buffer.from('quine'));
    encoded(fs, '/twice', 'gzip', zlib.gzipSync(inner));
    const res = await client.request(fs.url('/twice'));
    assert.deepEqual(await res.bytes(), inner);
    await assertQuiet(transport);
  });

  it('UN-20: stacked codings (gzip, deflate) are decoded in reverse order', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    encoded(fs, '/stacked', 'gzip, deflate', zlib.deflateSync(zlib.gzipSync(Buffer.from('stacked'))));
    const res = await client.request(fs.url('/stacked'));
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(await res.text(), 'stacked');
    await assertQuiet(transport);
  });

  it('UN-20: 4xx and 5xx bodies are decoded too', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    encoded(fs, '/404', 'gzip', zlib.gzipSync('not here'), 404);
    encoded(fs, '/503', 'br', zlib.brotliCompressSync('later'), 503);
    const a = await client.request(fs.url('/404'));
    assert.equal(a.status, 404);
    assert.equal(await a.text(), 'not here');
    const b = await client.request(fs.url('/503'));
    assert.equal(b.status, 503);
    assert.equal(await b.text(), 'later');
    await assertQuiet(transport);
  });

  it('UN-20: 204, 304 and HEAD responses are left untouched with their headers', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/204', (ex) => ex.write('HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n'));
    fs.route('/304', (ex) =>
      ex.write('HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n'),
    );
    for (const p of ['/204', '/304']) {
      const res = await client.request(fs.url(p));
      assert.equal(res.headers['content-encoding'], 'gzip', p);
      assert.equal(await res.text(), '');
    }
    const head = await client.request(fs.url('/gzip'), { method: 'HEAD' });
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.ok(Number(head.headers['content-length']) > 0);
    assert.equal(await head.text(), '');
    assert.equal(fs.connections, 1);
    await assertQuiet(transport);
  });

  it('Content-Encoding: identity is no coding', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    fs.route('/identity', (ex) => ex.respond(200, { 'Content-Encoding': 'identity' }, 'plain'));
    const res = await client.request(fs.url('/identity'));
    assert.equal(await res.text(), 'plain');
    await assertQuiet(transport);
  });

  it('disableCompression sends no Accept-Encoding and passes a gzip body through', T, async (t) => {
    const { fs, transport, client } = await setup(t, { disableCompression: true });
    const res = await client.request(fs.url('/gzip'));
    assert.equal(fs.requests[0]!.headers['accept-encoding'], undefined);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(await res.bytes()).toString(), TEXT);
    await assertQuiet(transport);
  });
});

describe('decompression: passthrough and request headers', () => {
  it('GO-27a: the caller header object is not mutated when the client adds Accept-Encoding', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const headers = { 'x-a': '1' };
    const res = await client.request(fs.url('/gzip'), { headers });
    assert.equal(await res.text(), TEXT);
    assert.deepEqual(headers, { 'x-a': '1' });
    await assertQuiet(transport);
  });

  it(
    'GO-27b: a caller-set Accept-Encoding: gzip gets the raw gzip bytes with their headers',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const res = await client.request(fs.url('/gzip'), { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(fs.requests[0]!.headers['accept-encoding'], 'gzip', 'sent as given');
      assert.equal(res.headers['content-encoding'], 'gzip');
      const raw = await res.bytes();
      assert.equal(Number(res.headers['content-length']), raw.length);
      assert.equal(zlib.gunzipSync(raw).toString(), TEXT);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-27c: a caller-set Accept-Encoding: foo is sent as given and the body is passed through',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      fs.route('/ae', (ex) => {
        const ae = ex.request.headers['accept-encoding'] ?? '';
        if (/gzip/.test(ae)) return ex.respond(200, { 'Content-Encoding': 'gzip' }, zlib.gzipSync('zipped'));
        return ex.respond(200, { 'Content-Encoding': ae }, 'as-is');
      });
      const res = await client.request(fs.url('/ae'), { headers: { 'Accept-Encoding': 'foo' } });
      assert.equal(res.headers['content-encoding'], 'foo');
      assert.equal(await res.text(), 'as-is');
      await assertQuiet(transport);
    },
  );

  for (const ce of ['compress', 'foo', 'gzip, foo']) {
    it(`UN-20: an unsupported coding (${ce}) is passed through untouched`, T, async (t) => {
      const { fs, transport, client } = await setup(t);
      const res = await client.request(fs.url(`/gzip?ce=${encodeURIComponent(ce)}`));
      assert.equal(res.headers['content-encoding'], ce);
      assert.ok(res.headers['content-length'] !== undefined);
      assert.equal(zlib.gunzipSync(await res.bytes()).toString(), TEXT);
      await assertQuiet(transport);
    });
  }

  it('GO-28: a HEAD request carries no Accept-Encoding', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/ok'), { method: 'HEAD' });
    await res.dump();
    assert.equal(fs.requests[0]!.headers['accept-encoding'], undefined);
    await assertQuiet(transport);
  });

  it('GO-30 / HG-09c: a request with Range carries no Accept-Encoding', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/range?size=20'), { headers: { Range: 'bytes=7-11' } });
    assert.equal(res.status, 206);
    assert.deepEqual(await res.bytes(), FaultServer.rangeContent(20).subarray(7, 12));
    assert.equal(fs.requests[0]!.headers['accept-encoding'], undefined);
    assert.equal(fs.requests[0]!.headers.range, 'bytes=7-11');
    await assertQuiet(transport);
  });

  it(
    'GO-28: a partly read large gzip body can be destroyed; then a small GET is decoded and a HEAD has no Accept-Encoding',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const big = Buffer.concat([Buffer.from('the beginning of a large body; '), randomBytes(1024 * 1024)]);
      fs.route('/big', (ex) =>
        ex.write(
          Buffer.concat([
            Buffer.from('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
            ...chunks(zlib.gzipSync(big), 16 * 1024),
            Buffer.from('0\r\n\r\n'),
          ]),
        ),
      );
      const res = await client.request(fs.url('/big'));
      const it = res.body[Symbol.asyncIterator]();
      const first = (await it.next()).value as Buffer;
      assert.ok(first.subarray(0, 31).equals(big.subarray(0, 31)));
      res.body.destroy();
      await assert.rejects(async () => {
        const more = await it.next();
        if (more.done) throw new Error('ended');
      });
      const small = await client.request(fs.url('/gzip'));
      assert.equal(small.headers['content-encoding'], undefined);
      assert.equal(small.headers['content-length'], undefined);
      assert.equal(await small.text(), TEXT);
      const head = await client.request(fs.url('/gzip'), { method: 'HEAD' });
      await head.dump();
      assert.equal(fs.requests[2]!.headers['accept-encoding'], undefined);
      await assertQuiet(transport);
    },
  );
});

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) {
    const piece = data.subarray(off, off + size);
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  return out;
}

describe('decompression: broken streams', () => {
  for (const path of CODECS) {
    it(`${path}?corrupt=1 fails the body read with bad-encoding`, T, async (t) => {
      const { fs, transport, client } = await setup(t);
      const res = await client.request(fs.url(`${path}?corrupt=1`));
      assert.equal(res.status, 200);
      await assert.rejects(res.text(), reasonIs('bad-encoding'));
      const next = await client.request(fs.url('/ok'));
      assert.equal(await next.text(), 'ok');
      await assertQuiet(transport);
    });

    it(
      `PF-12b: ${path}?truncate=1 (no trailer, framing complete) is bad-encoding, never a silent short body`,
      T,
      async (t) => {
        const { fs, transport, client } = await setup(t);
        const res = await client.request(fs.url(`${path}?truncate=1`));
        await assert.rejects(res.text(), reasonIs('bad-encoding'));
        await assertQuiet(transport);
      },
    );

    it(`PF-12a: ${path}?cut=40 (framing cut by FIN mid-stream) is truncated-body`, T, async (t) => {
      const { fs, transport, client } = await setup(t);
      const res = await client.request(fs.url(`${path}?cut=40`));
      await assert.rejects(res.text(), reasonIs('truncated-body'));
      await assertQuiet(transport);
    });
  }

  it('PF-12a: a chunked gzip body cut by FIN mid-deflate is truncated-body', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const gz = zlib.gzipSync(TEXT);
    fs.route('/cut', (ex) =>
      ex.end(
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
          ...chunks(gz.subarray(0, gz.length >> 1), 64),
        ]),
      ),
    );
    const res = await client.request(fs.url('/cut'));
    await assert.rejects(res.text(), reasonIs('truncated-body'));
    await assertQuiet(transport);
  });

  it(
    'GO-29a: Content-Encoding gzip with the 2-byte body "\\x1f\\x8b" fails as bad-encoding (SPEC §11: framing complete)',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      encoded(fs, '/short', 'gzip', Buffer.from([0x1f, 0x8b]));
      const res = await client.request(fs.url('/short'));
      assert.equal(res.status, 200);
      await assert.rejects(res.text(), reasonIs('bad-encoding'));
      await assertQuiet(transport);
    },
  );

  it('a body that is not gzip at all is bad-encoding', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    encoded(fs, '/plain', 'gzip', Buffer.from('this is not compressed'));
    const res = await client.request(fs.url('/plain'));
    await assert.rejects(res.text(), reasonIs('bad-encoding'));
    await assertQuiet(transport);
  });

  it('UN-20: more than 5 codings is bad-encoding, and the connection is not leaked', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    let body: Buffer = Buffer.from('deep');
    for (let i = 0; i < 6; i++) body = zlib.gzipSync(body);
    encoded(fs, '/deep', 'gzip, gzip, gzip, gzip, gzip, gzip', body);
    let res: Awaited<ReturnType<Client['request']>> | undefined;
    await assert.rejects(async () => {
      res = await client.request(fs.url('/deep'));
      await res.text();
    }, reasonIs('bad-encoding'));
    await assertQuiet(transport);
    const next = await client.request(fs.url('/ok'));
    assert.equal(await next.text(), 'ok');
    await assertQuiet(transport);
  });
});

describe('decompression: maxResponseBytes', () => {
  it(
    'stops a decompression bomb early with body-too-large (the rest of the bomb is never sent)',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { maxResponseBytes: 1024 * 1024 });
      const bomb = zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024));
      fs.route('/bomb', async (ex) => {
        await ex.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': bomb.length });
        await ex.write(bomb.subarray(0, 64 * 1024)); // ~64 MiB once inflated
        await ex.stall(); // the rest never comes: only an early stop can end this read
      });
      const res = await client.request(fs.url('/bomb'));
      const started = performance.now();
      await assert.rejects(res.text(), reasonIs('body-too-large'));
      assert.ok(performance.now() - started < 2000);
      assert.ok(await clientClosed(fs, 1), 'the client closed the bomb connection');
      await assertQuiet(transport);
    },
  );

  it('a decoded body just under maxResponseBytes is delivered whole', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxResponseBytes: Buffer.byteLength(TEXT) });
    const res = await client.request(fs.url('/gzip'));
    assert.equal(await res.text(), TEXT);
    await assertQuiet(transport);
  });

  it('maxResponseBytes caps an identity body even though compression is enabled', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxResponseBytes: 1000 });
    const res = await client.request(fs.url('/bytes?n=10000'));
    await assert.rejects(res.bytes(), reasonIs('body-too-large'));
    await assertQuiet(transport);
  });

  it('maxResponseBytes caps a passed-through (unsupported coding) body', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxResponseBytes: 100 });
    const res = await client.request(fs.url('/gzip?ce=foo'));
    await assert.rejects(res.bytes(), reasonIs('body-too-large'));
    await assertQuiet(transport);
  });

  it('maxResponseBytes caps an identity body when compression is disabled (control)', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxResponseBytes: 1000, disableCompression: true });
    const res = await client.request(fs.url('/bytes?n=10000'));
    await assert.rejects(res.bytes(), reasonIs('body-too-large'));
    await assertQuiet(transport);
  });
});
