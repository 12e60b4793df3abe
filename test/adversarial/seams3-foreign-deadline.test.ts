// Adversarial suite, seams 3 (issue 15, third outside attack): a foreign RequestDeadline
// whose remaining() returns no number (or NaN) is HG_INVALID_ARG at the seam — next(),
// Transport.roundTrip, MockTransport.roundTrip — before any timer is armed from it.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, type Interceptor, outgoingRequest, type OutgoingRequest, Transport } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 5000 };
const URL_ = 'http://127.0.0.1:1/x';
const bad: unknown[] = [Number.NaN, '100', undefined, null, {}];

function withRemaining(v: unknown): OutgoingRequest {
  return { ...outgoingRequest(URL_), deadline: { expiresAt: undefined, remaining: () => v as number } };
}
const isInvalid = (e: unknown): boolean => e instanceof HourglassError && e.code === 'HG_INVALID_ARG' && e.message.includes('remaining()');

describe('seams3: a foreign deadline whose remaining() is no number', () => {
  for (const v of bad) {
    it(`remaining() → ${String(v)}: HG_INVALID_ARG at every seam`, T, async () => {
      const t = new Transport();
      try {
        await assert.rejects(t.roundTrip(withRemaining(v)), isInvalid);
      } finally {
        t.close();
      }
      await assert.rejects(new MockTransport().roundTrip(withRemaining(v)), isInvalid);
      const foreign: Interceptor = (req, next) => next({ ...req, deadline: { expiresAt: undefined, remaining: () => v as number } });
      const mock = new MockTransport();
      mock.on('*', URL_).reply(200, 'never');
      await assert.rejects(new Client({ transport: mock, interceptors: [foreign] }).request(URL_), isInvalid);
    });
  }
});

describe('seams3: OutgoingRequest.deadline is read-only at runtime', () => {
  const attempt = (req: OutgoingRequest): void => {
    (req as { deadline: unknown }).deadline = { expiresAt: undefined, remaining: () => 1e9 };
  };
  it('assignment throws (strict mode) on a request an interceptor, a network interceptor or outgoingRequest() hands out', T, async () => {
    assert.throws(() => attempt(outgoingRequest(URL_)), TypeError);
    const seen: string[] = [];
    const check: (name: string) => Interceptor = (name) => (req, next) => {
      const before = req.deadline;
      assert.throws(() => attempt(req), TypeError);
      assert.equal(req.deadline, before);
      seen.push(name);
      return next(req);
    };
    const mock = new MockTransport();
    mock.on('GET', URL_).reply(200, 'ok');
    const c = new Client({ transport: mock, interceptors: [check('outer')], networkInterceptors: [check('network')], timeout: 2000 });
    assert.equal(await (await c.request(URL_)).text(), 'ok');
    assert.deepEqual(seen, ['outer', 'network']);
  });
});
