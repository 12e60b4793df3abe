// Adversarial suite, seams 3 (issue 15, third outside attack): a MockTransport string (or
// URL) route with a `#fragment` matches its request, whose URL carries none on the wire
// (curl and fetch never send one).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, outgoingRequest } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 5000 };

describe('seams3: MockTransport routes ignore the fragment', () => {
  const cases: Array<[string, string | URL, string]> = [
    ['a string route with a fragment', 'http://api.test/a?q=1#frag', 'http://api.test/a?q=1'],
    ['a URL route with a fragment', new URL('http://api.test/a#top'), 'http://api.test/a'],
    ['a request URL with a fragment', 'http://api.test/a', 'http://api.test/a#x'],
    ['both with different fragments', 'http://api.test/a#one', 'http://api.test/a#two'],
    ['an empty fragment', 'http://api.test/a#', 'http://api.test/a'],
  ];
  for (const [name, route, request] of cases) {
    it(name, T, async () => {
      const mock = new MockTransport();
      mock.on('GET', route).reply(200, 'ok');
      const res = await new Client({ transport: mock }).request(request);
      assert.equal(await res.text(), 'ok');
      mock.assertAllUsed();
    });
  }

  it('the MockTransport itself (a request built by hand keeps its fragment) matches too', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/b#f').reply(200, 'ok');
    const res = await mock.roundTrip(outgoingRequest('http://api.test/b#g'));
    assert.equal(await res.text(), 'ok');
  });

  it('the path, query and host still count', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/a?q=1#frag').reply(200, 'ok');
    const c = new Client({ transport: mock });
    for (const other of ['http://api.test/a?q=2', 'http://api.test/b?q=1', 'http://other.test/a?q=1']) {
      await assert.rejects(c.request(other), (e: unknown) => e instanceof HourglassError && e.code === 'HG_MOCK_UNMATCHED');
    }
  });
});
