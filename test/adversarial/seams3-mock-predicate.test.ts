// Adversarial suite, seams 3 (issue 15, third outside attack): a MockTransport route
// predicate that throws fails the request with the predicate's own error — as a throwing
// reply function does — instead of being swallowed into HG_MOCK_UNMATCHED.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 5000 };
const URL_ = 'http://api.test/x';

describe('seams3: a throwing MockTransport predicate surfaces', () => {
  it('the request rejects with the predicate\'s error, not HG_MOCK_UNMATCHED', T, async () => {
    const bug = new TypeError('predicate bug');
    const mock = new MockTransport();
    mock.on('GET', () => {
      throw bug;
    }).reply(200, 'never');
    const c = new Client({ transport: mock });
    await assert.rejects(c.request(URL_), (e: unknown) => e === bug);
    assert.equal(mock.calls.length, 1);
    assert.equal(mock.calls[0]!.route, undefined);
  });

  it('same treatment as a reply function that throws (sync or async)', T, async () => {
    const bug = new RangeError('reply bug');
    for (const fn of [
      (): never => {
        throw bug;
      },
      (): Promise<never> => Promise.reject(bug),
    ]) {
      const mock = new MockTransport();
      mock.on('GET', URL_).reply(fn);
      await assert.rejects(new Client({ transport: mock }).request(URL_), (e: unknown) => e === bug);
    }
    const direct = new MockTransport();
    direct.on('GET', () => {
      throw bug;
    });
    await assert.rejects(new Client({ transport: direct }).request(URL_), (e: unknown) => e === bug);
  });

  it('an earlier route that matches answers before a later throwing predicate runs', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', URL_).reply(200, 'ok');
    mock.on('GET', () => {
      throw new Error('not reached');
    });
    assert.equal(await (await new Client({ transport: mock }).request(URL_)).text(), 'ok');
  });

  it('naming the closest route for an unmatched request never throws', T, async () => {
    const mock = new MockTransport();
    let n = 0;
    mock.on('POST', () => {
      n++;
      throw new Error('only for POST');
    });
    // The method differs: the predicate is not asked to match, only to be ranked.
    await assert.rejects(
      new Client({ transport: mock }).request(URL_),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_MOCK_UNMATCHED' && e.message.includes('<predicate'),
    );
    assert.equal(n, 1);
  });
});
