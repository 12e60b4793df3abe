// Tests of the request-side serializer (src/http1/serializer.ts): every invalid input
// throws HG_INVALID_ARG before anything is produced (GO-26 (c)), valid heads are
// byte-exact, and chunk framing matches RFC 9112 §7.1.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HourglassError } from '../src/errors.js';
import {
  CRLF,
  chunkHeader,
  LAST_CHUNK,
  serializeRequestHead,
  validateHeaderName,
  validateHeaderValue,
  validateMethod,
} from '../src/http1/index.js';

function invalid(fn: () => unknown, what: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
    `${what} must be rejected with HG_INVALID_ARG`,
  );
}

describe('http1 serializer: request head', () => {
  it('builds the request line, header lines in order, and the blank line', () => {
    const head = serializeRequestHead('POST', '/upload?x=1', [
      'Host',
      'example.com:8080',
      'X-Multi',
      'a',
      'X-Multi',
      'b',
      'Content-Length',
      '2',
    ]);
    assert.equal(
      head,
      'POST /upload?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Multi: a\r\nX-Multi: b\r\nContent-Length: 2\r\n\r\n',
    );
    assert.equal(serializeRequestHead('GET', '/', []), 'GET / HTTP/1.1\r\n\r\n');
  });

  it('accepts absolute-form and authority-form targets', () => {
    assert.equal(serializeRequestHead('GET', 'http://h/p', []), 'GET http://h/p HTTP/1.1\r\n\r\n');
    assert.equal(serializeRequestHead('CONNECT', 'h:443', []), 'CONNECT h:443 HTTP/1.1\r\n\r\n');
  });

  it('keeps non-ASCII and empty header values as given', () => {
    const head = serializeRequestHead('GET', '/', ['X-Name', 'Jürgen ✓', 'X-Empty', '', 'X-Tab', 'a\tb']);
    assert.equal(head, 'GET / HTTP/1.1\r\nX-Name: Jürgen ✓\r\nX-Empty: \r\nX-Tab: a\tb\r\n\r\n');
  });

  it('rejects CR, LF, NUL in a header value anywhere in the list, before producing anything', () => {
    for (const value of ['foo\x00bar', 'two\nlines', 'a\rb', 'x\r\nInjected: 1']) {
      invalid(() => serializeRequestHead('GET', '/', ['A', 'ok', 'X-Bad', value]), JSON.stringify(value));
    }
  });

  it('rejects an odd-length header list', () => {
    invalid(() => serializeRequestHead('GET', '/', ['A']), 'odd list');
  });

  it('rejects an empty target and targets with SP, CR, LF, NUL or other controls', () => {
    for (const target of ['', '/a b', '/a\r\nX: y', '/a\nb', '/\x00', '/\x7f', '/\t']) {
      invalid(() => serializeRequestHead('GET', target, []), JSON.stringify(target));
    }
  });

  it('rejects a bad method in the head', () => {
    invalid(() => serializeRequestHead('GET /evil HTTP/1.1\r\nX:', '/', []), 'injected method');
  });
});

describe('http1 serializer: validation', () => {
  it('validateMethod accepts tokens (including extension methods) and rejects the rest', () => {
    for (const m of ['GET', 'POST', 'M-SEARCH', 'PROPFIND', 'get', "A!#$%&'*+-.^_`|~9"]) validateMethod(m);
    for (const m of ['', 'G ET', 'GET\r\n', 'GE\x00T', 'GET\n', 'имя', 'GET(1)', 'A"B']) {
      invalid(() => validateMethod(m), JSON.stringify(m));
    }
  });

  it('validateHeaderName rejects "A space", "имя", empty, control characters and separators', () => {
    for (const n of ['A space', 'имя', '', 'bogus\nkey', 'a\rb', 'a\x00b', 'a:b', 'a\tb', '(x)', 'é']) {
      invalid(() => validateHeaderName(n), JSON.stringify(n));
    }
    for (const n of ['X-Custom', 'x_underscore', 'A', "!#$%&'*+-.^_`|~"]) validateHeaderName(n);
  });

  it('validateHeaderValue rejects CR, LF, NUL, other CTLs and DEL; allows HTAB, non-ASCII, empty', () => {
    for (const v of ['foo\x00bar', 'two\nlines', 'a\rb', '\x01', 'a\x1fb', 'del\x7f']) {
      invalid(() => validateHeaderValue('X', v), JSON.stringify(v));
    }
    for (const v of ['', 'plain', 'a\tb', 'ünïcödé', '日本語', ' spaced ']) validateHeaderValue('X', v);
  });

  it('validation errors name the offending header', () => {
    assert.throws(() => validateHeaderValue('X-Secret-Name', 'a\nb'), /X-Secret-Name/);
  });
});

describe('http1 serializer: chunk framing', () => {
  it('chunkHeader writes the size in lower-case hex followed by CRLF', () => {
    assert.equal(chunkHeader(31), '1f\r\n');
    assert.equal(chunkHeader(1), '1\r\n');
    assert.equal(chunkHeader(65_536), '10000\r\n');
  });

  it('chunkHeader refuses zero, negative and fractional sizes (the last chunk is LAST_CHUNK)', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) assert.throws(() => chunkHeader(n), RangeError);
  });

  it('CRLF and LAST_CHUNK are the exact framing bytes', () => {
    assert.equal(CRLF.toString('latin1'), '\r\n');
    assert.equal(LAST_CHUNK.toString('latin1'), '0\r\n\r\n');
  });
});
