// Adversarial suite: SPEC §11 — bad input is HG_INVALID_ARG; the message names the value's
// type (describeValue), so "got 5" is "got number 5" and an object says it is one.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, request, Transport } from '../../src/index.js';

const bad = <T>(v: unknown): T => v as T;

describe('adversarial: HG_INVALID_ARG messages show the value and its type', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['header value object', () => request('http://127.0.0.1:1/', { headers: bad({ 'x-a': {} }) }), /header "x-a" must be a string, got object/],
    ['header value boolean', () => request('http://127.0.0.1:1/', { headers: bad({ 'x-a': true }) }), /got boolean true/],
    ['body number', () => request('http://127.0.0.1:1/', { method: 'POST', body: bad(5) }), /body must be .*got number 5/],
    ['socketPath number', () => new Transport({ socketPath: bad(5) }), /socketPath .*got number 5/],
    ['URL number', () => request(bad(5)), /URL must be a string or a URL, got number 5/],
    ['dialer.lookup number', () => new Transport({ dialer: { lookup: bad(5) } }), /dialer\.lookup .*got number 5/],
  ];
  for (const [name, call, message] of cases) {
    it(name, { timeout: 3_000 }, async () => {
      let caught: unknown;
      try {
        await call();
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof HourglassError, String(caught));
      assert.equal(caught.code, 'HG_INVALID_ARG');
      assert.match(caught.message, message);
    });
  }
  it('a Client still builds', { timeout: 2_000 }, async () => {
    await new Client().close();
  });
});
