// readFields' check (src/h2/head.ts): the HTTP/1.1 codec's field rules and maxResponseHeaderBytes
// applied to an HTTP/2 header block. The nghttp2 in node 20 drops such fields itself
// before node sees them (spec-malformed.test.ts, the `DROPPED` todos), so the check is
// exercised here directly: it is what holds when a node build passes one through.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/errors.js';
import { readFields } from '../../src/h2/head.js';

/** The check alone: the block's error, or undefined when it passes. */
function checkFields(h: string[], maxBytes: number, trailers: boolean): ProtocolError | undefined {
  const r = readFields(h, [], { maxBytes, trailers });
  return r instanceof ProtocolError ? r : undefined;
}

const T = { timeout: 5000 };
/** A block as node hands it over: `[name, value, ...]`, a list value as repeated fields. */
const h = (o: Record<string, string | string[]>): string[] => Object.entries(o).flatMap(([n, v]) => (Array.isArray(v) ? v : [v]).flatMap((one) => [n, one]));

describe('h2 readFields check', () => {
  it('a valid head passes; pseudo-headers are not names to check', T, () => {
    assert.equal(checkFields(h({ ':status': '200', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-tab': 'a\tb', 'x-latin': 'caf\u00e9' }), 65_536, false), undefined);
  });

  for (const [what, fields] of [
    ['a space in a name', { '  content-type': 'x' }],
    ['an empty name', { '': 'x' }],
    ['LF in a value', { 'x-bad': 'a\nb' }],
    ['CR in a value', { 'x-bad': 'a\rb' }],
    ['NUL in a value', { 'x-bad': 'a\u0000b' }],
    ['0x01 in a value', { 'x-bad': 'a\u0001b' }],
    ['DEL in one of several values', { 'x-bad': ['ok', 'a\u007fb'] }],
  ] as const) {
    it(`${what}: h2-protocol-error with h2Code 1`, T, () => {
      const e = checkFields(h(fields as Record<string, string | string[]>), 65_536, true);
      assert.ok(e instanceof ProtocolError, String(e));
      assert.equal(e.reason, 'h2-protocol-error');
      assert.equal(e.h2Code, 1);
      assert.match(e.message, /trailer section/);
    });
  }

  it('the pass that checks also converts: pseudo-headers left out, set-cookie an array, pairs in order', T, () => {
    const raw: string[] = [];
    const out = readFields(h({ ':status': '200', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], vary: 'a, b' }), raw, { maxBytes: 65_536, trailers: false });
    assert.ok(!(out instanceof ProtocolError));
    assert.deepEqual({ ...out }, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], vary: 'a, b' });
    assert.deepEqual(raw, ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'vary', 'a, b']);
    assert.deepEqual({ ...readFields(h({ 'set-cookie': 'c=3' }), []) }, { 'set-cookie': ['c=3'] });
  });

  it('a block beyond maxBytes (name + value + 4 per field, as its HTTP/1.1 text): headers-too-large; at the limit it passes', T, () => {
    // 'x-big' (5) + 91 + 4 = 100.
    assert.equal(checkFields(h({ 'x-big': 'a'.repeat(91) }), 100, false), undefined);
    const e = checkFields(h({ 'x-big': 'a'.repeat(92) }), 100, false);
    assert.ok(e instanceof ProtocolError && e.reason === 'headers-too-large', String(e));
  });
});
