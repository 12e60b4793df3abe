// Adversarial suite, "what goes on the wire" (SPEC §11, "Framing belongs to hourglass"):
// a stock node:http server must see exactly the requests a caller meant, with exactly
// their bytes. Body chunks of any ArrayBufferView type are framed by bytes; a caller's
// content-length must equal the body's bytes; content-length / transfer-encoding on a
// bodiless request, transfer-encoding other than chunked, and upgrade are refused
// before anything is sent; CR/LF/NUL in a header is refused; `headers` accepts a plain
// object, Headers, Map or iterable of pairs and refuses everything else.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { errorOf, hasCode, recorder } from './recorder.js';

const T = { timeout: 5000 };

/** Bytes that, framed by element count instead of bytes, end the chunked body and start a second request. */
function smugglingBytes(): Buffer {
  const tail = Buffer.from('\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n', 'latin1');
  const head = Buffer.alloc(tail.length, 0x41); // 'AAAA...'
  const b = Buffer.concat([head, tail]);
  return b.length % 8 === 0 ? b : Buffer.concat([b, Buffer.alloc(8 - (b.length % 8), 0x42)]);
}

/** A fresh ArrayBuffer holding `b` at offset 8 (views with a non-zero byteOffset). */
function at8(b: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(b.length + 16);
  new Uint8Array(ab).set(b, 8);
  return ab;
}

describe('adversarial: body bytes are framed by bytes, never by element count', () => {
  it('a chunked Uint16Array chunk: the server sees one request with exactly its bytes, nothing smuggled', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    const bytes = smugglingBytes();
    const view = new Uint16Array(at8(bytes), 8, bytes.length / 2);
    async function* gen(): AsyncGenerator<Uint16Array> {
      yield view;
    }
    const res = await client.request(rec.url('/up'), { method: 'POST', body: gen() as AsyncIterable<Uint8Array> });
    assert.equal(await res.text(), 'ok');
    // Another caller's request on the same connection.
    assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
    assert.deepEqual(
      rec.seen.map((s) => `${s.method} ${s.url}`),
      ['POST /up', 'GET /next'],
    );
    assert.equal(rec.seen[0]!.headers['transfer-encoding'], 'chunked');
    assert.ok(rec.seen[0]!.body.equals(bytes), 'the body is the view bytes');
    assert.equal(rec.seen[0]!.conn, rec.seen[1]!.conn);
    assert.equal(rec.clientErrors, 0);
  });

  it('stream chunks of every ArrayBufferView type and ArrayBuffer are sent as their bytes', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    const bytes = smugglingBytes();
    const pieces = [
      new Uint16Array(at8(bytes), 8, bytes.length / 2),
      new Float64Array(at8(bytes), 8, bytes.length / 8),
      new DataView(at8(bytes), 8, bytes.length),
      new Int32Array(at8(bytes), 8, bytes.length / 4),
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
      'é',
    ];
    const res = await client.request(rec.url('/up'), {
      method: 'POST',
      body: Readable.from(pieces, { objectMode: true }),
    });
    assert.equal(await res.text(), 'ok');
    assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
    assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url}`), ['POST /up', 'GET /next']);
    const want = Buffer.concat([bytes, bytes, bytes, bytes, bytes, Buffer.from('é')]);
    assert.ok(rec.seen[0]!.body.equals(want));
  });

  it('a stream of typed arrays with a matching content-length is sent unchunked, byte-exact', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    const bytes = smugglingBytes();
    const body = Readable.from([new Uint16Array(at8(bytes), 8, bytes.length / 2)], { objectMode: true });
    const res = await client.request(rec.url('/up'), {
      method: 'PUT',
      headers: { 'content-length': String(bytes.length) },
      body,
    });
    assert.equal(await res.text(), 'ok');
    assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
    assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url}`), ['PUT /up', 'GET /next']);
    assert.equal(rec.seen[0]!.headers['content-length'], String(bytes.length));
    assert.ok(rec.seen[0]!.body.equals(bytes));
  });

  for (const [name, make] of [
    ['Uint16Array', (b: Buffer) => new Uint16Array(at8(b), 8, b.length / 2)],
    ['Float64Array', (b: Buffer) => new Float64Array(at8(b), 8, b.length / 8)],
    ['DataView', (b: Buffer) => new DataView(at8(b), 8, b.length)],
    ['BigInt64Array', (b: Buffer) => new BigInt64Array(at8(b), 8, b.length / 8)],
    ['ArrayBuffer', (b: Buffer) => at8(b).slice(8, 8 + b.length)],
  ] as const) {
    it(`a ${name} body gets the content-length of its bytes and is sent whole`, T, async (t) => {
      const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
      const bytes = smugglingBytes();
      const res = await client.request(rec.url('/up'), { method: 'POST', body: make(bytes) });
      assert.equal(await res.text(), 'ok');
      assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
      assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url}`), ['POST /up', 'GET /next']);
      assert.equal(rec.seen[0]!.headers['content-length'], String(bytes.length));
      assert.ok(rec.seen[0]!.body.equals(bytes));
      assert.equal(rec.seen[0]!.conn, rec.seen[1]!.conn);
    });
  }
});

describe('adversarial: framing headers set by the caller', () => {
  it('content-length on a bodiless request is HG_INVALID_ARG and cannot swallow the next request', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    assert.equal(await (await client.request(rec.url('/warm'))).text(), 'ok');
    for (const method of ['GET', 'POST', 'DELETE']) {
      const e = await errorOf(client.request(rec.url('/bad'), { method, headers: { 'content-length': '40' } }));
      assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    }
    assert.equal(await (await client.request(rec.url('/after'))).text(), 'ok');
    assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url} ${s.body.length}`), ['GET /warm 0', 'GET /after 0']);
    assert.equal(rec.seen[0]!.conn, rec.seen[1]!.conn);
  });

  it('transfer-encoding on a bodiless request is HG_INVALID_ARG before anything is sent', T, async (t) => {
    const { rec, client } = await recorder(t);
    const e = await errorOf(client.request(rec.url('/bad'), { headers: { 'transfer-encoding': 'chunked' } }));
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(rec.seen.length, 0);
    assert.equal(rec.raw.length, 0, 'no connection was even opened');
  });

  for (const te of ['identity', 'gzip', 'chunked, gzip', 'gzip, chunked', 'chunked, chunked', 'x']) {
    it(`transfer-encoding ${JSON.stringify(te)} with a stream or bytes body is HG_INVALID_ARG before anything is sent`, T, async (t) => {
      const { rec, client } = await recorder(t);
      for (const body of [Readable.from([Buffer.from('hello')]), 'hello', Buffer.from('hello')]) {
        const e = await errorOf(
          client.request(rec.url('/bad'), { method: 'POST', headers: { 'transfer-encoding': te }, body }),
        );
        assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
      }
      assert.equal(rec.raw.length, 0);
    });
  }

  it('a repeated content-length or transfer-encoding header is HG_INVALID_ARG', T, async (t) => {
    const { rec, client } = await recorder(t);
    const cl = await errorOf(
      client.request(rec.url('/bad'), { method: 'POST', headers: { 'content-length': ['5', '5'] }, body: 'hello' }),
    );
    assert.ok(hasCode(cl, 'HG_INVALID_ARG'), String(cl));
    const te = await errorOf(
      client.request(rec.url('/bad'), {
        method: 'POST',
        headers: [
          ['transfer-encoding', 'chunked'],
          ['Transfer-Encoding', 'chunked'],
        ],
        body: Readable.from([Buffer.from('hello')]),
      }),
    );
    assert.ok(hasCode(te, 'HG_INVALID_ARG'), String(te));
    assert.equal(rec.raw.length, 0);
  });

  it('an upgrade header is HG_INVALID_ARG before anything is sent', T, async (t) => {
    const { rec, client } = await recorder(t);
    const e = await errorOf(
      client.request(rec.url('/ws'), { headers: { connection: 'upgrade', Upgrade: 'websocket' } }),
    );
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(rec.raw.length, 0);
  });

  it('transfer-encoding: chunked (any case) on a stream body is accepted and chunk-framed', T, async (t) => {
    const { rec, client } = await recorder(t);
    const res = await client.request(rec.url('/up'), {
      method: 'POST',
      headers: { 'Transfer-Encoding': ' Chunked ' },
      body: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
    });
    assert.equal(await res.text(), 'ok');
    assert.equal(rec.seen.length, 1);
    assert.equal(rec.seen[0]!.body.toString(), 'abcdef');
  });

  it('a bytes body with a content-length that differs from its bytes is HG_INVALID_ARG before anything is sent', T, async (t) => {
    const { rec, client } = await recorder(t);
    // 4 elements, 8 bytes: the element count is not the length.
    const body = new Uint16Array([0x4141, 0x4141, 0x4141, 0x4141]);
    const e = await errorOf(
      client.request(rec.url('/up'), { method: 'POST', headers: { 'content-length': '4' }, body }),
    );
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(rec.raw.length, 0);
    const ok = await client.request(rec.url('/up'), {
      method: 'POST',
      headers: { 'content-length': '8' },
      body,
    });
    assert.equal(await ok.text(), 'ok');
    assert.equal(rec.seen[0]!.body.toString('latin1'), 'AAAAAAAA');
  });

  it('a stream longer than its content-length fails before a surplus byte leaves; the next caller is unaffected', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    const surplus = 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n';
    async function* gen(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      yield Buffer.from(`de${surplus}`);
    }
    const e = await errorOf(
      client.request(rec.url('/up'), { method: 'POST', headers: { 'content-length': '5' }, body: gen() }),
    );
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
    // The failed request's head waits for the end of the turn with its first pieces, so a
    // body that fails within the turn leaves nothing at all on the wire (as Go's buffered
    // writer): the server sees the POST's head or nothing, never its surplus.
    assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url}`).filter((x) => x !== 'POST /up'), ['GET /next']);
    assert.equal(rec.seen.at(-1)!.url, '/next');
    assert.ok(!rec.raw.some((b) => b.includes('smuggled')), 'no surplus byte reached the server');
    assert.ok(!rec.raw.some((b) => b.includes('abcde')), 'not even the bytes up to the length: the chunk holding the surplus is not written');
    assert.equal(rec.seen.at(-1)!.body.length, 0);
  });

  it('a stream shorter than its content-length fails, and its connection is not reused', T, async (t) => {
    const { rec, client } = await recorder(t, { maxConnsPerHost: 1 });
    const e = await errorOf(
      client.request(rec.url('/up'), {
        method: 'POST',
        headers: { 'content-length': '10' },
        body: Readable.from([Buffer.from('abc')]),
      }),
    );
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(await (await client.request(rec.url('/next'))).text(), 'ok');
    // The POST's head reaches the server or nothing does (see above); either way the next
    // request is not read as the short one's missing body.
    assert.deepEqual(rec.seen.map((s) => `${s.method} ${s.url}`).filter((x) => x !== 'POST /up'), ['GET /next']);
    const next = rec.seen.at(-1)!;
    if (rec.seen.length === 2) assert.notEqual(rec.seen[0]!.conn, next.conn, 'the short request did not leave the next one as its body');
    assert.equal(next.body.length, 0);
  });

  for (const [what, headers] of [
    ['CR in a value', { 'x-a': 'v\r\nx-injected: 1' }],
    ['LF in a value', { 'x-a': 'v\nGET /smuggled HTTP/1.1' }],
    ['NUL in a value', { 'x-a': 'v\0w' }],
    ['CR/LF in a name', { 'x-a\r\nx-injected': 'v' }],
    ['NUL in a name', { 'x\0a': 'v' }],
    ['a space in a name', { 'x a': 'v' }],
    ['an empty name', { '': 'v' }],
  ] as const) {
    it(`a header with ${what} is HG_INVALID_ARG before anything is sent`, T, async (t) => {
      const { rec, client } = await recorder(t);
      const e = await errorOf(client.request(rec.url('/x'), { headers }));
      assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
      assert.equal(rec.raw.length, 0);
    });
  }
});

describe('adversarial: the forms `headers` may take', () => {
  function* pairs(): Generator<[string, string]> {
    yield ['x-a', '1'];
    yield ['x-b', '2'];
  }
  const accepted: [string, () => unknown][] = [
    ['a plain object', () => ({ 'x-a': '1', 'x-b': ['2'] })],
    ['a null-prototype object', () => Object.assign(Object.create(null) as object, { 'x-a': '1', 'x-b': 2 })],
    ['a Headers', () => new Headers({ 'x-a': '1', 'x-b': '2' })],
    ['a Map', () => new Map<string, string | string[]>([['x-a', '1'], ['x-b', ['2']]])],
    ['an array of pairs', () => [['x-a', '1'], ['x-b', '2']]],
    ['an iterable of pairs (generator)', () => pairs()],
    ['a Set of pairs', () => new Set([['x-a', '1'], ['x-b', '2']])],
    ['a flat [name, value, ...] array', () => ['x-a', '1', 'x-b', '2']],
  ];
  for (const [what, make] of accepted) {
    it(`${what} reaches the server`, T, async (t) => {
      const { rec, client } = await recorder(t);
      const res = await client.request(rec.url('/h'), { headers: make() as Record<string, string> });
      assert.equal(await res.text(), 'ok');
      assert.equal(rec.seen.length, 1);
      assert.equal(rec.seen[0]!.headers['x-a'], '1');
      assert.equal(rec.seen[0]!.headers['x-b'], '2');
      assert.ok(!rec.seen[0]!.rawHeaders.includes('0'), 'no index-named header');
    });
  }

  const refused: [string, unknown][] = [
    ['a string', 'x-a: 1'],
    ['a number', 5],
    ['a boolean', true],
    ['null', null],
    ['a Set of names (non-pair iterable)', new Set(['x-a'])],
    ['a Set of strings of even count (not the flat array form)', new Set(['x-a', '1'])],
    ['a generator of strings', (function* () {
      yield 'x-a';
      yield '1';
    })()],
    ['an odd-length flat list', ['x-a', '1', 'x-b']],
    ['an array of one-element arrays', [['x-a']]],
    ['an array of three-element arrays', [['x-a', '1', '2']]],
    ['a non-iterable class instance', new Date(0)],
    ['an array of numbers', [1, 2]],
    ['a Map with a non-string name', new Map([[1, 'v']])],
  ];
  for (const [what, headers] of refused) {
    it(`${what} is HG_INVALID_ARG before anything is sent`, T, async (t) => {
      const { rec, client } = await recorder(t);
      const e = await errorOf(client.request(rec.url('/h'), { headers: headers as Record<string, string> }));
      assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
      assert.equal(rec.raw.length, 0);
    });
  }

  it('client default headers are checked the same way', T, async (t) => {
    const { rec } = await recorder(t);
    const { Client } = await import('../../src/index.js');
    const c = new Client({ headers: 'x-a: 1' as unknown as Record<string, string> });
    t.after(() => c.close());
    const e = await errorOf(c.request(rec.url('/h')));
    assert.ok(hasCode(e, 'HG_INVALID_ARG'), String(e));
    assert.equal(rec.raw.length, 0);
  });
});
