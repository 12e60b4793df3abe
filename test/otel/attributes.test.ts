// The pure attribute mapping of hourglass/otel (SPEC §14), by table: methods (_OTHER and
// method_original), span names, url.full redaction (userinfo, the convention's secret
// query parameters, nothing else re-encoded), server attributes and default ports,
// resend_count only on resends, error.type for timeouts, codes, names and statuses,
// the abort rule, and pool keys.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, ConnectError, ProtocolError, TimeoutError } from '../../src/errors.js';
import {
  errorAttributes,
  errorType,
  fullUrl,
  keyAttributes,
  methodAttributes,
  protocolVersion,
  requestAttributes,
  spanName,
  statusErrorType,
} from '../../src/otel/attributes.js';

const T = { timeout: 5_000 };

describe('otel attributes', () => {
  it('methods: known ones as is, others _OTHER with the original; span name HTTP for those', T, () => {
    const table: [string, Record<string, string>, string][] = [
      ['GET', { 'http.request.method': 'GET' }, 'GET'],
      ['PATCH', { 'http.request.method': 'PATCH' }, 'PATCH'],
      ['get', { 'http.request.method': '_OTHER', 'http.request.method_original': 'get' }, 'HTTP'],
      ['PURGE', { 'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE' }, 'HTTP'],
    ];
    for (const [m, attrs, name] of table) {
      assert.deepEqual(methodAttributes(m), attrs, m);
      assert.equal(spanName(m), name, m);
    }
  });

  it('url.full: userinfo and secret query values redacted, the rest byte for byte', T, () => {
    const table: [string, string][] = [
      ['http://a.test/x?y=1', 'http://a.test/x?y=1'],
      ['https://u:p@a.test/', 'https://REDACTED:REDACTED@a.test/'],
      ['https://u@a.test/', 'https://REDACTED:REDACTED@a.test/'],
      [
        'https://s3.test/o?AWSAccessKeyId=AK&Signature=s%2Bg&x=%20&sig=1&X-Goog-Signature=g#frag',
        'https://s3.test/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&x=%20&sig=REDACTED&X-Goog-Signature=REDACTED#frag',
      ],
      ['http://a.test/?signature=lower&Signature', 'http://a.test/?signature=lower&Signature'],
      ['http://[::1]:8080/p', 'http://[::1]:8080/p'],
      // The server decodes a percent-encoded name: Sig%6eature is Signature, %73ig is sig.
      ['http://a.test/?Sig%6eature=s1&%73ig=s2&%zz=k', 'http://a.test/?Sig%6eature=REDACTED&%73ig=REDACTED&%zz=k'],
    ];
    for (const [input, want] of table) assert.equal(fullUrl(new URL(input)), want, input);
  });

  it('request attributes: server.* with default ports, IPv6 unbracketed, resend_count only on a resend', T, () => {
    assert.deepEqual(requestAttributes('GET', new URL('https://a.test/x'), 0), {
      'http.request.method': 'GET',
      'url.full': 'https://a.test/x',
      'server.address': 'a.test',
      'server.port': 443,
      'url.scheme': 'https',
    });
    const v6 = requestAttributes('POST', new URL('http://[::1]/'), 2);
    assert.equal(v6['server.address'], '::1');
    assert.equal(v6['server.port'], 80);
    assert.equal(v6['http.request.resend_count'], 2);
  });

  it('error.type and hourglass.timeout.phase', T, () => {
    const timeout = new TimeoutError({ phase: 'read-idle', timeout: 10, elapsed: 11, requestSent: true });
    const wrapped = new Error('outer', { cause: timeout });
    const table: [unknown, Record<string, string>][] = [
      [timeout, { 'error.type': 'timeout', 'hourglass.timeout.phase': 'read-idle' }],
      [wrapped, { 'error.type': 'timeout', 'hourglass.timeout.phase': 'read-idle' }],
      [new ConnectError('refused', 'ECONNREFUSED', {}), { 'error.type': 'ECONNREFUSED' }],
      [new ProtocolError('bad-chunk', 'bad chunk'), { 'error.type': 'HG_PROTOCOL' }],
      [new TypeError('x'), { 'error.type': 'TypeError' }],
      [new Error('x'), { 'error.type': '_OTHER' }],
      ['a string', { 'error.type': '_OTHER' }],
      [new AbortError(undefined), {}],
    ];
    for (const [err, want] of table) assert.deepEqual(errorAttributes(err), want, String(err));
    assert.equal(errorType(new AbortError('why')), undefined);
  });

  it('statuses, protocol versions and pool keys', T, () => {
    assert.equal(statusErrorType(200), undefined);
    assert.equal(statusErrorType(399), undefined);
    assert.equal(statusErrorType(404), '404');
    assert.equal(statusErrorType(503), '503');
    assert.equal(protocolVersion('1.1'), '1.1');
    assert.equal(protocolVersion('1.0'), '1.0');
    assert.equal(protocolVersion('h2'), '2');
    assert.deepEqual(keyAttributes('https://[::1]:8443|proxy=http://p:1'), {
      'server.address': '::1',
      'server.port': 8443,
      'url.scheme': 'https',
    });
    assert.deepEqual(keyAttributes('not a key'), {});
  });
});
