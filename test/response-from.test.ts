// Response.from (SPEC §12): a response no connection produced — body from a string, bytes
// or a stream — reads like any other: text/json/bytes/arrayBuffer/readInto/body/dump,
// one consumer (HG_BODY_USED on a second read), null-prototype lower-cased headers;
// a stream source is pulled as read and destroyed when the body is abandoned.
import * as assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, HourglassError, Response, type ResponseHeaders, type RoundTripper, TimeoutError } from '../src/index.js';

const T = { timeout: 5_000 };
const URL_ = 'http://example.test/a';

function isCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof HourglassError && err.code === code;
}

describe('Response.from', () => {
  it('string body: text, status, url, headers with a null prototype', T, async () => {
    const res = Response.from({
      status: 201,
      statusText: 'Created',
      headers: { 'Content-Type': 'text/plain', 'Set-Cookie': ['a=1', 'b=2'], 'X-N': 5, __proto__x: 'p' },
      body: 'héllo',
      url: new URL(URL_),
    });
    assert.equal(res.status, 201);
    assert.equal(res.statusText, 'Created');
    assert.equal(res.url, URL_);
    assert.equal(res.method, 'GET');
    assert.equal(res.reused, false);
    assert.equal(res.httpVersion, '1.1');
    assert.equal(Object.getPrototypeOf(res.headers), null);
    const ct: string | undefined = res.headers['content-type'];
    assert.equal(ct, 'text/plain');
    const cookies: ResponseHeaders['set-cookie'] = res.headers['set-cookie'];
    assert.deepEqual(cookies, ['a=1', 'b=2']);
    assert.equal(res.headers['x-n'], '5');
    assert.deepEqual(res.rawHeaders.slice(0, 2), ['Content-Type', 'text/plain']);
    assert.equal(res.bodyUsed, false);
    assert.equal(await res.text(), 'héllo');
    assert.equal(res.bodyUsed, true);
    assert.equal(typeof res.timings.end, 'number');
  });

  it('a second read fails with HG_BODY_USED, whatever the readers', T, async () => {
    // readInto after readInto is the same consumer reading on (as Go's Body.Read).
    const readers: Array<[string, (r: Response) => Promise<unknown>]> = [
      ['text', (r) => r.text()],
      ['json', (r) => r.json()],
      ['bytes', (r) => r.bytes()],
      ['arrayBuffer', (r) => r.arrayBuffer()],
      ['readInto', (r) => r.readInto(new Uint8Array(4))],
    ];
    for (const [a, first] of readers) {
      for (const [b, second] of readers) {
        if (a === 'readInto' && b === 'readInto') continue;
        const res = Response.from({ status: 200, body: '{"a":1}', url: URL_ });
        await first(res);
        await assert.rejects(second(res), isCode('HG_BODY_USED'), `${a} then ${b}`);
      }
      const res = Response.from({ status: 200, body: '{"a":1}', url: URL_ });
      await first(res);
      assert.throws(() => res.body, isCode('HG_BODY_USED'));
    }
  });

  it('json, bytes, arrayBuffer from bytes and an ArrayBuffer', T, async () => {
    assert.deepEqual(await Response.from({ status: 200, body: '{"x":[1,2]}', url: URL_ }).json(), { x: [1, 2] });
    const bytes = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 4);
    const b = await Response.from({ status: 200, body: bytes, url: URL_ }).bytes();
    assert.deepEqual([...b], [2, 3, 4]);
    const ab = await Response.from({ status: 200, body: new Uint8Array([9, 8]).buffer, url: URL_ }).arrayBuffer();
    assert.ok(ab instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(ab)], [9, 8]);
    assert.equal(await Response.from({ status: 200, url: URL_ }).text(), '');
  });

  it('arrayBuffer is a new ArrayBuffer of exactly the body: never the caller\'s memory, nor a pooled slab (one or many chunks)', T, async () => {
    const mine = new Uint8Array(64).fill(7);
    const ab = await Response.from({ status: 200, body: mine.subarray(8, 40), url: URL_ }).arrayBuffer();
    assert.equal(ab.byteLength, 32);
    new Uint8Array(ab).fill(1);
    assert.ok(mine.every((x) => x === 7), 'writing the result does not write the caller\'s bytes');
    for (const sizes of [[3], [100, 200, 5], [3000, 3000], [70_000, 1, 70_000]]) {
      const parts = sizes.map((n, i) => Buffer.alloc(n, 65 + i));
      const res = Response.from({ status: 200, body: Readable.from(parts), url: URL_ });
      const out = await res.arrayBuffer();
      const want = Buffer.concat(parts);
      assert.equal(out.byteLength, want.length, `sizes ${sizes.join('+')}`);
      assert.ok(Buffer.from(out).equals(want));
    }
  });

  it('readInto copies a body out in pieces and ends with 0', T, async () => {
    const res = Response.from({ status: 200, body: 'abcdefghij', url: URL_ });
    const buf = new Uint8Array(4);
    const parts: string[] = [];
    for (let i = 0, n; i < 10 && (n = await res.readInto(buf)) > 0; i++) {
      parts.push(Buffer.from(buf.subarray(0, n)).toString());
    }
    assert.deepEqual(parts, ['abcd', 'efgh', 'ij']);
    assert.equal(await res.readInto(buf), 0);
  });

  it('body stream from a Node Readable, pulled with backpressure', T, async () => {
    let pulled = 0;
    const src = new Readable({
      read() {
        pulled++;
        this.push(pulled <= 50 ? Buffer.alloc(16 * 1024, 97) : null);
      },
    });
    const res = Response.from({ status: 200, body: src, url: URL_ });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pulled, 0, 'nothing is pulled before a consumer asks');
    let total = 0;
    for await (const c of res.body) total += (c as Buffer).length;
    assert.equal(total, 50 * 16 * 1024);
    assert.equal(res.bodyUsed, true);
  });

  it('stream body: text from an async generator and a web ReadableStream', T, async () => {
    async function* gen(): AsyncGenerator<string | Uint8Array> {
      yield 'ab';
      yield new Uint8Array([99]);
      yield 'd';
    }
    assert.equal(await Response.from({ status: 200, body: gen(), url: URL_ }).text(), 'abcd');
    const web = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('we'));
        c.enqueue(new TextEncoder().encode('b'));
        c.close();
      },
    });
    assert.equal(await Response.from({ status: 200, body: web, url: URL_ }).text(), 'web');
  });

  it('a failing stream fails the read with its error', T, async () => {
    const src = new PassThrough();
    const res = Response.from({ status: 200, body: src, url: URL_ });
    const p = res.text();
    src.write('x');
    src.destroy(new Error('boom'));
    await assert.rejects(p, /boom/);
  });

  it('dump() destroys an unfinished stream source; dump of a string body settles', T, async () => {
    const src = new PassThrough();
    src.write(Buffer.alloc(10));
    const res = Response.from({ status: 200, body: src, url: URL_ });
    await res.dump(4, 200);
    assert.equal(src.destroyed, true);
    assert.equal(res.bodyUsed, true);
    const res2 = Response.from({ status: 200, body: 'abc', url: URL_ });
    await res2.dump();
    await assert.rejects(res2.text(), isCode('HG_BODY_USED'));
  });

  it('destroying res.body destroys the stream source', T, async () => {
    const src = new PassThrough();
    src.write('partial');
    const res = Response.from({ status: 200, body: src, url: URL_ });
    const body = res.body;
    await new Promise<void>((r) => body.once('data', () => r()));
    body.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(src.destroyed, true);
  });

  it('headers from pairs; method recorded', T, () => {
    const res = Response.from({
      status: 404,
      headers: new Map([['X-A', '1']]),
      url: URL_,
      method: 'post',
    });
    assert.equal(res.headers['x-a'], '1');
    assert.equal(res.method, 'POST');
  });

  it('bad input is HG_INVALID_ARG', T, () => {
    const bad: unknown[] = [
      { status: 99, url: URL_ },
      { status: 600, url: URL_ },
      { status: 200.5, url: URL_ },
      { status: 200, url: 'not a url' },
      { status: 200 },
      { status: 200, url: URL_, headers: { 'bad name': 'x' } },
      { status: 200, url: URL_, headers: { 'x-a': 'a\r\nb: c' } },
      { status: 200, url: URL_, body: 42 },
      { status: 204, url: URL_, body: 'x' },
      { status: 200, url: URL_, statusText: 'a\nb' },
      null,
    ];
    for (const init of bad) {
      assert.throws(() => Response.from(init as Parameters<typeof Response.from>[0]), isCode('HG_INVALID_ARG'), JSON.stringify(init));
    }
  });
});

describe('Response.from under the client budget (SPEC §12: an interceptor cannot make a request hang)', () => {
  const endless = (): { stream: Readable; client: Client<RoundTripper> } => {
    const stream = new Readable({ read() {} });
    const client = new Client<RoundTripper>({
      transport: { roundTrip: (q) => Promise.resolve(Response.from({ status: 200, body: stream, url: q.url })) },
    });
    return { stream, client };
  };

  it('the overall timeout cuts a never-ending from-body and destroys the stream', T, async () => {
    const { stream, client } = endless();
    const t0 = Date.now();
    const res = await client.request('http://a.test/', { timeout: 200 });
    const err = await res.text().then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.requestSent, true);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(stream.destroyed, true);
    await client.close();
  });

  it('the signal cuts a never-ending from-body', T, async () => {
    const { stream, client } = endless();
    const ac = new AbortController();
    const res = await client.request('http://a.test/', { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(res.text(), (e: Error) => e.name === 'AbortError');
    assert.equal(stream.destroyed, true);
    await client.close();
  });
});
