// Adversarial suite, seams (issue 15, outside attack, round 2): MockTransport behaves as
// the real transport does — an encoded reply is decoded (unless the caller asked for an
// encoding), a stream body cannot silently answer twice, .error() always rejects with an
// Error, a delayed reply cut before it answered does not count as used, a reply's bad
// header is refused at setup. (The stalled upload under writeTimeout is compared with the
// wire in mock-like-real.test.ts.)
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { AbortError, Client, HourglassError, outgoingRequest, TimeoutError } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 10_000 };
const URL1 = 'http://api.test/x';

function invalidArg(fn: () => unknown): HourglassError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HourglassError && err.code === 'HG_INVALID_ARG', String(err));
    return err;
  }
  return assert.fail('accepted');
}

describe('seams: MockTransport decodes Content-Encoding as the wire transport does', () => {
  const text = 'hello, decoded world '.repeat(20);
  const encoded: Record<string, Buffer> = {
    gzip: zlib.gzipSync(text),
    br: zlib.brotliCompressSync(text),
    deflate: zlib.deflateSync(text),
  };
  for (const [coding, bytes] of Object.entries(encoded)) {
    it(`${coding}: the caller reads decoded text, the encoding headers are gone`, T, async () => {
      const mock = new MockTransport();
      mock.on('GET', URL1).reply(200, bytes, { 'content-encoding': coding, 'content-length': String(bytes.length) });
      const res = await new Client({ transport: mock }).request(URL1);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(await res.text(), text);
    });
  }
  it('a caller that sent its own accept-encoding gets the raw bytes (as from the wire)', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL1).reply(200, encoded.gzip, { 'content-encoding': 'gzip' });
    const res = await new Client({ transport: mock }).request(URL1, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.deepEqual(Buffer.from(await res.bytes()), encoded.gzip);
  });
  it('a corrupt encoded body fails as bad-encoding', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL1).reply(200, 'not gzip at all', { 'content-encoding': 'gzip' });
    const res = await new Client({ transport: mock }).request(URL1);
    const err = await res.text().then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HourglassError && err.code === 'HG_PROTOCOL', String(err));
    assert.equal((err as HourglassError & { reason?: string }).reason, 'bad-encoding');
  });
});

describe('seams: a stream reply body answers once', () => {
  const stream = (): Readable => Readable.from([Buffer.from('once')]);
  it('persist() or times(n > 1) with a static stream body: HG_INVALID_ARG at setup, in either order', T, () => {
    const mock = new MockTransport();
    invalidArg(() => mock.on('GET', URL1).reply(200, stream()).persist());
    invalidArg(() => mock.on('GET', URL1).persist().reply(200, stream()));
    const e = invalidArg(() => mock.on('GET', URL1).reply(200, stream()).times(2));
    assert.match(e.message, /reply with a function/);
  });
  it('a reply function gives each request its own stream', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL1).reply(() => ({ status: 200, body: stream() })).persist();
    const client = new Client({ transport: mock });
    for (let i = 0; i < 2; i++) assert.equal(await (await client.request(URL1)).text(), 'once');
  });
});

describe('seams: MockRoute.error always rejects with an Error', () => {
  it('null or undefined: HG_INVALID_ARG at setup', T, () => {
    const mock = new MockTransport();
    invalidArg(() => mock.on('GET', URL1).error(null));
    invalidArg(() => mock.on('GET', URL1).error(undefined));
  });
  for (const v of ['a string', 42, { code: 'X' }]) {
    it(`${JSON.stringify(v)}: the request rejects with an Error whose cause is the value`, T, async () => {
      const mock = new MockTransport();
      mock.on('GET', URL1).error(v);
      const err = await new Client({ transport: mock }).request(URL1).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error, String(err));
      assert.equal(err.cause, v);
      if (typeof v === 'string') assert.equal(err.message, v);
    });
  }
  it('an Error is rejected as given', T, async () => {
    const given = new Error('boom');
    const mock = new MockTransport();
    mock.on('GET', URL1).error(given);
    await assert.rejects(new Client({ transport: mock }).request(URL1), (e) => e === given);
  });
});

describe('seams: a delayed reply cut before it answered is not used', () => {
  it('an abort during delay(): the route stays live, answers the next request, and only then counts', T, async () => {
    const mock = new MockTransport();
    const route = mock.on('GET', URL1).delay(200).reply(200, 'late');
    const client = new Client({ transport: mock });
    const err = await client.request(URL1, { signal: AbortSignal.timeout(30) }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AbortError, String(err));
    assert.equal(route.used, 0);
    assert.throws(() => mock.assertAllUsed(), /not used up/);
    assert.equal(await (await client.request(URL1)).text(), 'late');
    assert.equal(route.used, 1);
    mock.assertAllUsed();
  });
  it('the overall deadline during delay(): times(1) still answers once', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL1).delay(300).reply(200, 'late');
    await assert.rejects(new Client({ transport: mock, timeout: 30 }).request(URL1), { name: 'TimeoutError' });
    assert.equal(mock.pending().length, 1);
  });
});

describe('seams: a reply\'s headers are checked at setup with the codec\'s validator', () => {
  const bad: Array<[string, Record<string, string> | Array<[string, string]>]> = [
    ['a name with a space', { 'bad name': 'v' }],
    ['a name with a colon', { 'x:y': 'v' }],
    ['an empty name', { '': 'v' }],
    ['a value with CR LF', { 'x-a': 'b\r\nx-injected: 1' }],
    ['a value with NUL', { 'x-a': 'b\u0000c' }],
    ['pairs with a bad name', [['x y', 'v']]],
  ];
  for (const [name, headers] of bad) {
    it(`${name}: HG_INVALID_ARG when the route is set up`, T, () => {
      const mock = new MockTransport();
      invalidArg(() => mock.on('GET', URL1).reply(200, 'x', headers));
    });
  }
  it('headers given as a Map iterator are read once at setup and still answer every request', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL1).reply(200, 'x', new Map([['x-a', '1']]).entries()).times(2);
    const client = new Client({ transport: mock });
    for (let i = 0; i < 2; i++) assert.equal((await client.request(URL1)).headers['x-a'], '1');
  });
});

describe('seams: a request body the mock gave up on is destroyed, as the real writer destroys it', () => {
  it('MockTransport.roundTrip of a hand-built request: writeTimeout fires (phase write), the stream is destroyed', T, async () => {
    const body = new Readable({ read() {} });
    body.push('first bytes'); // then nothing, never ended
    const mock = new MockTransport();
    mock.on('POST', URL1).reply(200);
    const err = await mock.roundTrip(outgoingRequest(URL1, { method: 'POST', body, timeouts: { writeTimeout: 100 } })).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TimeoutError && err.phase === 'write', String(err));
    assert.equal(err.timeout, 100);
    assert.equal(body.destroyed, true);
    assert.equal(mock.pending().length, 1, 'the route never answered');
  });
});
