// Scenario corpus §7.3 (SE-11 … SE-14): MockTransport (SPEC §12), an in-process
// RoundTripper, driven through a Client: routes by URL, RegExp and predicate; reply
// functions; recording; unmatched and used-up routes; times/persist/assertAllUsed;
// delay, stall (with the same TimeoutError fields as a real transport), abort and error.
// A real loopback listener proves nothing falls through to the network.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { AbortError, Client, HourglassError, TimeoutError, Transport } from '../../src/index.js';
import { MockTransport, type MockReplyRequest } from '../../src/testing/index.js';
import { countingListener, rejection } from './helpers.js';

const T = { timeout: 10_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function mockClient(t: TestContext, opts: ConstructorParameters<typeof MockTransport>[0] = {}, timeout?: number): { mock: MockTransport; client: Client<MockTransport> } {
  const mock = new MockTransport(opts);
  const client = new Client({ transport: mock, ...(timeout === undefined ? {} : { timeout }) });
  t.after(() => client.close());
  return { mock, client };
}

describe('SE-11: routes, reply functions and recording', () => {
  it('SE-11: URL, RegExp and predicate routes; set-cookie as string[]; an async reply sees the request (string and stream bodies); calls in order; the network sees nothing', T, async (t) => {
    const real = await countingListener(t);
    const { mock, client } = mockClient(t);
    mock.on('GET', 'https://x.test/foo').reply(200, 'foo', { 'set-cookie': ['a=1', 'b=2'] });
    mock.on('GET', /foo/).reply(201, 'regexp');
    mock.on('GET', (url) => url.pathname === '/pred').reply(202, 'predicate');
    const got: MockReplyRequest[] = [];
    mock
      .on('POST', `http://127.0.0.1:${real.port}/echo`)
      .reply(async (req) => {
        got.push(req);
        await sleep(5);
        return { status: 200, body: req.body ?? '' };
      })
      .times(2);

    const r1 = await client.request('https://x.test/foo');
    assert.equal(r1.status, 200);
    assert.equal(await r1.text(), 'foo');
    assert.deepEqual(r1.headers['set-cookie'], ['a=1', 'b=2']);

    const r2 = await client.request('https://x.test/hello/foobar');
    assert.equal(r2.status, 201);
    assert.equal(await r2.text(), 'regexp');

    const r3 = await client.request('https://x.test/pred');
    assert.equal(r3.status, 202);
    assert.equal(await r3.text(), 'predicate');

    const echoUrl = `http://127.0.0.1:${real.port}/echo`;
    const r4 = await client.request(echoUrl, { method: 'POST', body: 'string body', headers: { 'X-Tag': 's' } });
    assert.equal(await r4.text(), 'string body');
    const r5 = await client.request(echoUrl, {
      method: 'POST',
      body: Readable.from([Buffer.from('stream '), Buffer.from('body')]),
      headers: { 'X-Tag': 'r' },
    });
    assert.equal(await r5.text(), 'stream body');

    // The reply function's argument: SPEC §12 does not name its type; hourglass hands a
    // snapshot (MockReplyRequest) with the fields the row lists.
    assert.equal(got.length, 2);
    assert.equal(got[0]!.method, 'POST');
    assert.ok(got[0]!.url instanceof URL);
    assert.equal(got[0]!.url.href, echoUrl);
    assert.equal(got[0]!.headers['x-tag'], 's');
    assert.equal(got[0]!.body?.toString(), 'string body');
    assert.equal(got[1]!.headers['x-tag'], 'r');
    assert.equal(got[1]!.body?.toString(), 'stream body');

    assert.deepEqual(
      mock.calls.map((c) => [c.method, c.url, c.body?.toString()]),
      [
        ['GET', 'https://x.test/foo', undefined],
        ['GET', 'https://x.test/hello/foobar', undefined],
        ['GET', 'https://x.test/pred', undefined],
        ['POST', echoUrl, 'string body'],
        ['POST', echoUrl, 'stream body'],
      ],
    );
    assert.equal(mock.calls[3]!.headers['x-tag'], 's');
    assert.equal(mock.calls[4]!.headers['x-tag'], 'r');
    assert.equal(real.accepts(), 0, 'the real listener saw nothing');
  });
});

describe('SE-12: unmatched and used-up routes', () => {
  it('SE-12: an unmatched GET names the closest route; a second POST on a used-up route says so; nothing reaches the network', T, async (t) => {
    const { mock, client } = mockClient(t);
    mock.on('GET', 'https://x.test/wrong').reply(200, 'wrong');
    mock.on('POST', 'https://x.test/foo').reply(200, 'posted');

    const { err: e1 } = await rejection(client.request('https://x.test/foo'));
    assert.ok(e1 instanceof HourglassError, String(e1));
    assert.equal(e1.code, 'HG_MOCK_UNMATCHED');
    assert.ok(/\/wrong/.test(e1.message) || /POST https:\/\/x\.test\/foo/.test(e1.message), e1.message);

    const ok = await client.request('https://x.test/foo', { method: 'POST', body: 'x' });
    assert.equal(await ok.text(), 'posted');

    const { err: e2 } = await rejection(client.request('https://x.test/foo', { method: 'POST', body: 'x' }));
    assert.ok(e2 instanceof HourglassError, String(e2));
    assert.equal(e2.code, 'HG_MOCK_UNMATCHED');
    assert.match(e2.message, /https:\/\/x\.test\/foo/);
    assert.match(e2.message, /used|exhaust|remaining|answered/i, 'says the route was used up');
    assert.equal(mock.calls.length, 3);
  });
});

describe('SE-13: times(), persist() and assertAllUsed()', () => {
  it('SE-13: plain once, times(2) twice, persist() always (wins over times); assertAllUsed lists the partly used times(5) and the unused persisted route, then passes', T, async (t) => {
    const { mock, client } = mockClient(t);
    mock.on('GET', 'https://x.test/plain').reply(200, 'plain');
    mock.on('GET', 'https://x.test/twice').reply(200, 'twice').times(2);
    mock.on('GET', 'https://x.test/persist').reply(200, 'persist').persist();
    mock.on('GET', 'https://x.test/times-persist').reply(200, 'tp').times(2).persist();
    mock.on('GET', 'https://x.test/five').reply(200, 'five').times(5);
    mock.on('GET', 'https://x.test/never').reply(200, 'never').persist();

    const get = async (p: string): Promise<string> => (await client.request(`https://x.test/${p}`)).text();
    const unmatched = async (p: string): Promise<void> => {
      const { err } = await rejection(client.request(`https://x.test/${p}`));
      assert.ok(err instanceof HourglassError && err.code === 'HG_MOCK_UNMATCHED', `${p}: ${String(err)}`);
    };

    assert.equal(await get('plain'), 'plain');
    await unmatched('plain');
    assert.equal(await get('twice'), 'twice');
    assert.equal(await get('twice'), 'twice');
    await unmatched('twice');
    for (let i = 0; i < 5; i++) assert.equal(await get('persist'), 'persist');
    for (let i = 0; i < 4; i++) assert.equal(await get('times-persist'), 'tp');
    assert.equal(await get('five'), 'five');

    let message = '';
    assert.throws(
      () => mock.assertAllUsed(),
      (e: unknown) => {
        message = (e as Error).message;
        return true;
      },
    );
    assert.match(message, /https:\/\/x\.test\/five/);
    assert.match(message, /\b1\s*(?:of|\/)\s*5\b/, 'says 1 of 5 used');
    assert.match(message, /https:\/\/x\.test\/never/);
    assert.doesNotMatch(message, /x\.test\/(plain|twice|persist|times-persist)\b/);

    for (let i = 0; i < 4; i++) assert.equal(await get('five'), 'five');
    assert.equal(await get('never'), 'never');
    mock.assertAllUsed();
  });
});

describe('SE-14: delay, stall, abort and error', () => {
  it('SE-14a: reply(200, hello).delay(50): hello after ≥ 50 ms', T, async (t) => {
    const { mock, client } = mockClient(t);
    mock.on('GET', 'https://x.test/d').reply(200, 'hello').delay(50);
    const start = performance.now();
    const res = await client.request('https://x.test/d');
    assert.equal(await res.text(), 'hello');
    assert.ok(performance.now() - start >= 49, `${performance.now() - start} ms`);
  });

  it('SE-14b: delay(100) with a signal aborted at 10 ms: AbortError at ≈ 10 ms; no late callback, event or uncaught error', T, async (t) => {
    const late: unknown[] = [];
    const on = (e: unknown): void => void late.push(e);
    process.on('unhandledRejection', on);
    process.on('uncaughtException', on);
    t.after(() => {
      process.off('unhandledRejection', on);
      process.off('uncaughtException', on);
    });
    const { mock, client } = mockClient(t);
    let replied = 0;
    mock
      .on('GET', 'https://x.test/slow')
      .reply(() => {
        replied++;
        return { status: 200, body: 'late' };
      })
      .delay(100);
    const ac = new AbortController();
    const start = performance.now();
    setTimeout(() => ac.abort(), 10);
    const { err } = await rejection(client.request('https://x.test/slow', { signal: ac.signal }));
    const ms = performance.now() - start;
    assert.ok(err instanceof AbortError, String(err));
    assert.ok(ms >= 9 && ms < 80, `${ms} ms`);
    await sleep(150);
    assert.equal(replied, 0, 'the reply callback never ran');
    assert.deepEqual(late, []);
  });

  it('SE-14c: stall(): responseHeaderTimeout → response-headers with a real transport’s fields; timeout → request; signal → AbortError', T, async (t) => {
    const TT = 150;
    // The real transport's error against a loopback peer that never answers.
    const real = await countingListener(t);
    const transport = new Transport({ responseHeaderTimeout: TT });
    const realClient = new Client({ transport });
    t.after(() => realClient.close());
    const { err: realErr } = await rejection(realClient.request(`http://127.0.0.1:${real.port}/stall`));
    assert.ok(realErr instanceof TimeoutError, String(realErr));

    const { mock, client } = mockClient(t, { responseHeaderTimeout: TT });
    mock.on('GET', 'https://x.test/stall').stall().persist();
    const { err, ms } = await rejection(client.request('https://x.test/stall'));
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.phase, 'response-headers');
    assert.equal(err.timeout, TT);
    assert.equal(err.requestSent, true);
    assert.equal(typeof err.elapsed, 'number');
    assert.ok(err.elapsed >= TT - 5 && err.elapsed < TT + 250, `elapsed ${err.elapsed}`);
    assert.ok(ms >= TT - 5 && ms < TT + 250, `${ms} ms`);
    assert.equal(err.method, 'GET');
    assert.equal(err.url, 'https://x.test/stall');
    // The same fields as the real transport's error.
    for (const k of ['name', 'code', 'phase', 'timeout', 'requestSent', 'method'] as const) {
      assert.equal(err[k], realErr[k], `field ${k}`);
    }
    assert.deepEqual(Object.keys(err).sort(), Object.keys(realErr).sort());

    // Only an overall timeout.
    const { mock: m2, client: c2 } = mockClient(t, { responseHeaderTimeout: 0 }, TT);
    m2.on('GET', 'https://x.test/stall').stall();
    const { err: e2, ms: ms2 } = await rejection(c2.request('https://x.test/stall'));
    assert.ok(e2 instanceof TimeoutError, String(e2));
    assert.equal(e2.phase, 'request');
    assert.ok(ms2 >= TT - 5 && ms2 < TT + 250, `${ms2} ms`);

    // Only a signal.
    const { mock: m3, client: c3 } = mockClient(t, { responseHeaderTimeout: 0 });
    m3.on('GET', 'https://x.test/stall').stall();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), TT);
    const { err: e3, ms: ms3 } = await rejection(c3.request('https://x.test/stall', { signal: ac.signal }));
    assert.ok(e3 instanceof AbortError, String(e3));
    assert.ok(ms3 >= TT - 5 && ms3 < TT + 250, `${ms3} ms`);
  });

  it('SE-14d: error(err) rejects with err (the same object or as cause, as SE-07)', T, async (t) => {
    const { mock, client } = mockClient(t);
    const boom = new Error('mock failure');
    mock.on('GET', 'https://x.test/err').error(boom);
    const { err } = await rejection(client.request('https://x.test/err'));
    assert.ok(err === boom || (err instanceof Error && err.cause === boom), String(err));
  });
});
