// Adversarial suite, seams 2 (issue 15, second outside attack): a misspelt MockTransport
// option is HG_INVALID_ARG naming the intended one, as the Transport's (SPEC §11: a misspelt
// timeout never silently leaves a default).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HourglassError } from '../../src/index.js';
import { MockTransport, type MockTransportOptions } from '../../src/testing/index.js';

describe('seams2: MockTransport options', () => {
  for (const typo of ['responseHeadersTimeout', 'responseHeaderTimout', 'readTimeout']) {
    it(`new MockTransport({ ${typo} }) is HG_INVALID_ARG`, { timeout: 5000 }, () => {
      assert.throws(
        () => new MockTransport({ [typo]: 5 } as unknown as MockTransportOptions),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG' && e.message.includes(typo),
      );
    });
  }
  it('the right names are taken', { timeout: 5000 }, () => {
    assert.ok(new MockTransport({ responseHeaderTimeout: 5, readIdleTimeout: 5, writeTimeout: 5 }));
  });
});
