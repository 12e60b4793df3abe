// Adversarial suite, seams 4 (issue 15, third outside attack F4, F6): a mock reply the
// codec or JSON cannot carry is the mock author's mistake, refused at setup — a
// transfer-encoding other than one `chunked` (the HTTP/1.1 parser's own rule), a JSON body
// JSON.stringify refuses (BigInt, a cycle) — and a reply stream yielding a non-bytes value
// fails the body with an HourglassError (cause: a TypeError), not Node's raw error.
// Response.from applies the parser's transfer-encoding rule as the wire does.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, ProtocolError, Response } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const invalidArg = (re: RegExp) => (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG' && re.test(e.message);

describe('seams4: mock reply headers the codec refuses', () => {
  it('transfer-encoding other than chunked is refused at setup', { timeout: 5_000 }, () => {
    const mock = new MockTransport();
    assert.throws(() => mock.on('GET', 'http://a.test/').reply(200, 'abc', { 'transfer-encoding': 'gzip' }), invalidArg(/transfer-encoding "gzip"/));
    assert.throws(() => mock.on('GET', 'http://a.test/').reply(200, 'abc', [['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']]), invalidArg(/only "chunked"/));
    assert.throws(() => mock.on('GET', 'http://a.test/').reply(200, 'abc', { 'transfer-encoding': 'gzip, chunked' }), invalidArg(/only "chunked"/));
    mock.on('GET', 'http://a.test/').reply(200, 'abc', { 'transfer-encoding': 'chunked' });
  });

  it('a reply function or Response.from with such a header fails as the wire does (conflicting-framing)', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://a.test/').reply(() => ({ status: 200, body: 'abc', headers: { 'transfer-encoding': 'gzip' } }));
    const c = new Client({ transport: mock, timeout: 2000 });
    await assert.rejects(c.request('http://a.test/'), (e: unknown) => e instanceof ProtocolError && e.reason === 'conflicting-framing');
    assert.throws(
      () => Response.from({ status: 200, url: 'http://a.test/', headers: { 'transfer-encoding': 'gzip' }, body: 'abc' }),
      (e: unknown) => e instanceof ProtocolError && e.reason === 'conflicting-framing',
    );
    // As on the wire, a response that has no body is not framed by it.
    Response.from({ status: 204, url: 'http://a.test/', headers: { 'transfer-encoding': 'gzip' } });
  });
});

describe('seams4: mock reply bodies that cannot be sent', () => {
  it('a JSON body JSON.stringify refuses is HG_INVALID_ARG at setup', { timeout: 5_000 }, () => {
    const mock = new MockTransport();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.throws(() => mock.on('GET', 'http://a.test/').reply(200, { a: 1n } as unknown as Record<string, unknown>), invalidArg(/cannot be sent as JSON/));
    assert.throws(() => mock.on('GET', 'http://a.test/').reply(200, circular), invalidArg(/cannot be sent as JSON/));
  });

  it('a reply function returning such a body fails with an HourglassError', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://a.test/').reply(() => ({ status: 200, body: { a: 1n } as unknown as Record<string, unknown> }));
    const c = new Client({ transport: mock, timeout: 2000 });
    await assert.rejects(c.request('http://a.test/'), (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_RESPONSE' && e.cause instanceof TypeError);
  });

  it('a stream body yielding non-bytes fails the read with an HourglassError whose cause is a TypeError', { timeout: 5_000 }, async () => {
    for (const bad of [{ a: 1 }, 42, undefined]) {
      const mock = new MockTransport();
      mock.on('GET', 'http://a.test/').reply(200, (async function* () {
        yield 'ok';
        yield bad as unknown as string;
      })());
      const c = new Client({ transport: mock, timeout: 2000 });
      const res = await c.request('http://a.test/');
      await assert.rejects(res.text(), (e: unknown) => e instanceof HourglassError && e.code === 'HG_BAD_RESPONSE' && e.cause instanceof TypeError);
    }
  });
});

describe('seams4: a transport whose close is not a function', () => {
  it('is HG_INVALID_ARG at construction', { timeout: 5_000 }, async () => {
    const roundTrip = () => Promise.resolve(Response.from({ status: 200, url: 'http://a.test/' }));
    assert.throws(() => new Client({ transport: { roundTrip, close: 'nope' } as never }), invalidArg(/transport\.close must be a function/));
    await new Client({ transport: { roundTrip } }).close();
    await new Client({ transport: { roundTrip, close: undefined } }).close();
  });
});
