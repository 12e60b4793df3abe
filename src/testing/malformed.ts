/**
 * malformed — the malformed responses of SCENARIOS.md §3 (and a few from §1–§2), by
 * short name, as exact bytes; plus well-formed-but-unusual "edge" responses that a
 * strict client must still accept. Served by `/malformed/:name` and `/edge/:name`.
 *
 * Owns: {@link MALFORMED_CASES} / {@link EDGE_CASES} (bytes, how the server ends
 * the connection afterwards, the scenario row, and what SPEC §4/§6/§11 expect), and
 * {@link MALFORMED}, the plain name → bytes record.
 *
 * Invariants: the route writes `bytes` verbatim in one write (no header is added),
 * then FIN when `end` is `'fin'`, else keeps the connection open and answers the
 * next request on it normally. `expect.reasons` lists the acceptable
 * `ProtocolError.reason`s, the one SPEC names first; `kind: 'response'` means the
 * response must succeed (with `reusable: false`, the connection must then be
 * discarded).
 */

import type { ProtocolReason } from '../errors.js';
import type { Exchange } from './exchange.js';
import type { BuiltinRoute } from './route-kit.js';

/** What a strict client does with a case. */
export type MalformedExpectation =
  | { kind: 'error'; reasons: readonly ProtocolReason[] }
  | { kind: 'response'; status: number; body: string; reusable: boolean };

export interface MalformedCase {
  /** Exact bytes written (strings in the table are latin1: one byte per char). */
  readonly bytes: Buffer;
  /** After writing: FIN, or leave the connection open. */
  readonly end: 'fin' | 'open';
  /** SCENARIOS.md row. */
  readonly scenario: string;
  readonly expect: MalformedExpectation;
}

type Row = [
  name: string,
  bytes: string | Buffer,
  end: 'fin' | 'open',
  scenario: string,
  expect: MalformedExpectation,
];

const err = (...reasons: ProtocolReason[]): MalformedExpectation => ({ kind: 'error', reasons });
const ok = (status: number, body: string, reusable: boolean): MalformedExpectation => ({
  kind: 'response',
  status,
  body,
  reusable,
});

const OK = 'HTTP/1.1 200 OK\r\n';
const CHUNKED = `${OK}Transfer-Encoding: chunked\r\n\r\n`;
const EMPTY_END = 'Content-Length: 0\r\n\r\n';

/** `1;aaa…\r\nX\r\n` repeated to about 1 MiB: chunk-extension overhead flood (MF-10). */
function extensionFlood(): string {
  const piece = `1;${'a'.repeat(100)}\r\nX\r\n`;
  return `${CHUNKED}${piece.repeat(Math.ceil((1 << 20) / piece.length))}0\r\n\r\n`;
}

// one scenario per line reads as a table
const MALFORMED_ROWS: Row[] = [
  // Content-Length (MF-01..03)
  ['duplicate-cl', `${OK}Content-Length: 10\r\nContent-Length: 7\r\n\r\nGopher hey\r\n`, 'fin', 'MF-01', err('bad-content-length')],
  ['duplicate-cl-304', 'HTTP/1.1 304 OK\r\nContent-Length: 880\r\nContent-Length: 1\r\n\r\n', 'open', 'MF-01', err('bad-content-length')],
  ['duplicate-cl-same', `${OK}Content-Length: 7\r\nContent-Length: 7\r\n\r\nGophers`, 'open', 'MF-02', err('bad-content-length')],
  ['cl-list', `${OK}Content-Length: 7, 7\r\n\r\nGophers`, 'open', 'MF-02', err('bad-content-length')],
  ['cl-empty', `${OK}Content-Length: \r\n\r\n`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-plus', `${OK}Content-Length: +3\r\n\r\nabc`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-negative', `${OK}Content-Length: -1\r\n\r\nabc`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-hex', `${OK}Content-Length: 0x10\r\n\r\n0123456789abcdef`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-space', `${OK}Content-Length: 1 2\r\n\r\nabcdefghijkl`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-overflow', `${OK}Content-Length: 9223372036854775808\r\n\r\nabc`, 'fin', 'MF-03', err('bad-content-length')],
  ['cl-huge', `${OK}Content-Length: 99999999999999999999\r\n\r\nabc`, 'fin', 'MF-03', err('bad-content-length')],
  // Transfer-Encoding (MF-04..07)
  ['cl-and-te', `${OK}Transfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n0a\r\nBody here\n\r\n0\r\n\r\n`, 'open', 'MF-04', err('conflicting-framing')],
  ['te-chunked-identity', `${OK}Transfer-Encoding: chunked, identity\r\n\r\nWorld`, 'fin', 'MF-05', err('conflicting-framing')],
  ['te-duplicate', `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nWorld`, 'fin', 'MF-05', err('conflicting-framing')],
  ['te-unknown', `${OK}Transfer-Encoding: chunkedchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`, 'fin', 'MF-06', err('conflicting-framing')],
  ['te-vt', `${OK}Transfer-Encoding: \x0bchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`, 'fin', 'MF-06', err('conflicting-framing', 'bad-header')],
  ['te-empty', `${OK}Transfer-Encoding: \r\n\r\n2\r\nOK\r\n0\r\n\r\n`, 'fin', 'MF-06', err('conflicting-framing', 'bad-header')],
  ['te-gzip-chunked', `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`, 'fin', 'MF-06', err('conflicting-framing')],
  ['te-http10', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: bogus\r\nContent-Length: 10\r\n\r\nBody here\n', 'fin', 'MF-07', err('conflicting-framing')],
  // Chunked framing (MF-08..12)
  ['bad-chunk-size', `${CHUNKED}zz\r\nabc\r\n0\r\n\r\n`, 'open', 'MF-08', err('bad-chunk')],
  ['chunk-size-overflow', `${CHUNKED}10000000000000000\r\nabc\r\n0\r\n\r\n`, 'fin', 'MF-08', err('bad-chunk')],
  ['chunk-size-max', `${CHUNKED}ffffffffffffffff\r\nabc\r\n0\r\n\r\n`, 'fin', 'MF-08', err('bad-chunk')],
  ['chunk-size-garbage', `${CHUNKED}2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n`, 'open', 'MF-09', err('bad-chunk')],
  ['chunk-size-trailing-space', `${CHUNKED}25  \r\n${'x'.repeat(37)}\r\n0\r\n\r\n`, 'open', 'MF-09', err('bad-chunk')],
  ['chunk-ext-empty', `${CHUNKED}2;\r\naa\r\n0\r\n\r\n`, 'open', 'MF-09', err('bad-chunk')],
  ['chunk-ext-unbalanced', `${CHUNKED}5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n`, 'open', 'MF-09', err('bad-chunk')],
  ['chunk-ext-flood', extensionFlood(), 'open', 'MF-10', err('bad-chunk')],
  ['chunk-line-huge', CHUNKED + '0'.repeat(1 << 20), 'open', 'MF-10', err('bad-chunk')],
  ['chunk-missing-crlf', `${CHUNKED}5\r\nhelloXX0\r\n\r\n`, 'open', 'MF-11', err('bad-chunk')],
  ['chunked-truncated', `${OK}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nhel\r\n`, 'fin', 'MF-11', err('truncated-body')],
  ['bad-trailer', `${CHUNKED}5\r\nhello\r\n0\r\nbad trailer line\r\n\r\n`, 'open', 'MF-12', err('bad-header')],
  // Field syntax (MF-13..15)
  ['obs-fold', `${OK}X-Folded: a\r\n  b\r\n${EMPTY_END}`, 'open', 'MF-13', err('bad-header')],
  ['obs-fold-te', `${OK}Transfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n`, 'open', 'MF-13', err('bad-header')],
  ['bare-lf', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'open', 'MF-14', err('bad-status-line', 'bad-header')],
  ['bare-lf-body', 'HTTP/1.1 200 OK\nFoo: abc\nBar: def\n\nBODY\n', 'fin', 'MF-14', err('bad-status-line', 'bad-header')],
  ['bare-lf-header', `${OK}Foo: abc\nContent-Length: 0\r\n\r\n`, 'open', 'MF-14', err('bad-header')],
  ['bare-cr', 'HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', 'open', 'MF-14', err('bad-status-line')],
  ['bare-cr-status', 'HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil', 'fin', 'MF-14', err('bad-status-line')],
  ['bare-cr-header', `${OK}Foo: 1\rBar: 2\r\n\r\n`, 'fin', 'MF-14', err('bad-header')],
  ['nul-in-header', `${OK}X-Foo: a\x00b\r\n${EMPTY_END}`, 'open', 'MF-15', err('bad-header')],
  ['space-before-colon', `${OK}Content-Length: 0\r\nFoo : bar\r\n\r\n`, 'open', 'MF-15', err('bad-header')],
  ['cl-space-before-colon', `${OK}Content-Length : 5\r\n\r\nhello`, 'fin', 'MF-15', err('bad-header', 'bad-content-length')],
  ['space-in-name', `${OK}Content-Length: 0\r\nen-US Content-Type: text/xml\r\n\r\n`, 'open', 'MF-15', err('bad-header')],
  ['leading-space-header', `${OK} Content-type: text/html\r\nFoo: bar\r\n\r\n`, 'fin', 'MF-15', err('bad-header')],
  ['leading-tab-header', `${OK}\tContent-type: text/html\r\nFoo: bar\r\n\r\n`, 'fin', 'MF-15', err('bad-header')],
  ['huge-header', `${OK}Long: ${'a'.repeat(1 << 20)}\r\n${EMPTY_END}`, 'open', 'GO-42', err('headers-too-large')],
  // Status line (MF-16..18, UN-12)
  ['bad-status', `HTTP/1.1 20X Unknown\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-1-digit', `HTTP/1.1 2 OK\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-2-digits', `HTTP/1.1 20 OK\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-4-digits', `HTTP/1.1 1000 OK\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-negative', `HTTP/1.1 -200 OK\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-hex', `HTTP/1.1 0x12d Moved\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-letters', `HTTP/1.1 c8 OK\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-missing', `HTTP/1.1  Unknown\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['status-double-space', `HTTP/1.0  401 Unauthorized\r\n${EMPTY_END}`, 'open', 'MF-16', err('bad-status-line')],
  ['version-htp', `HTP/1.1 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-leading-zero', `HTTP/01.1 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-11-1', `HTTP/11.1 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-1-01', `HTTP/1.01 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-tab', `HTTP/1.1\t200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-lowercase', `http/1.1 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-no-minor', `HTTP/1 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-5-6', `HTTP/5.6 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['version-long', `HTTP/1.100000000002 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['http09-version', `HTTP/0.9 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['http2-version', `HTTP/2.0 200 OK\r\n${EMPTY_END}`, 'open', 'MF-17', err('bad-status-line')],
  ['empty-response', '', 'fin', 'MF-18', err('connection-closed')],
  ['headers-eof', 'HTTP/1.1 301 Moved Permanently\r\nFoo: bar', 'fin', 'MF-18', err('connection-closed', 'bad-header')],
  ['status-line-eof', 'HTTP/1.1', 'fin', 'MF-18', err('connection-closed', 'bad-status-line')],
  ['htt-version', 'HTT/1.1 200 OK\r\n', 'fin', 'UN-12', err('bad-status-line')],
  ['garbage-status', 'asd\n\r213123', 'fin', 'UN-12', err('bad-status-line')],
  // Interim responses and upgrades (MF-28, GO-41, UN-16)
  ['101-upgrade', 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nbody\r\nproto', 'open', 'MF-28', err('bad-upgrade')],
  ['101-then-204', 'HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', 'open', 'GO-41', err('bad-upgrade')],
  ['too-many-1xx', `${'HTTP/1.1 123 OneTwoThree\r\n\r\n'.repeat(11)}HTTP/1.1 204 No Content\r\n\r\n`, 'open', 'GO-41', err('too-many-1xx')],
  ['1xx-with-body', 'HTTP/1.1 103 Early Hints\r\nContent-Length: 1\r\n\r\na\r\n', 'open', 'UN-16', err('bad-status-line')],
  // Bodies that do not match their framing (MF-22, MF-24..26)
  ['extra-after-body', `${OK}Content-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nX-Injected: 1\r\n${EMPTY_END}`, 'open', 'MF-24', ok(200, 'abc', false)],
  ['204-with-body', 'HTTP/1.1 204 No Content\r\n\r\nBody should not be read!\n', 'open', 'MF-22', ok(204, '', false)],
  ['truncated-cl', `${OK}Content-Length: 123\r\n\r\nShort body, not 123 bytes.`, 'fin', 'MF-25', err('truncated-body')],
  ['close-with-extra', `${OK}Content-Length: 5\r\nConnection: close\r\n\r\nhello2ad731e3`, 'fin', 'MF-26', ok(200, 'hello', false)],
  ['204-close-with-extra', 'HTTP/1.1 204 No content\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n', 'fin', 'MF-26', ok(204, '', false)],
];

// one scenario per line reads as a table
const EDGE_ROWS: Row[] = [
  ['cl-tab', `${OK}Content-Length:\t42\t\r\n\r\n${'x'.repeat(42)}`, 'open', 'MF-27', ok(200, 'x'.repeat(42), true)],
  ['content-length-x', `${OK}Content-Length-X: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`, 'open', 'MF-27', ok(200, 'OK', true)],
  ['chunk-leading-zeros', `${CHUNKED}0000000000000001\r\nx\r\n0\r\n\r\n`, 'open', 'MF-08', ok(200, 'x', true)],
  ['chunk-extensions', `${CHUNKED}5;ilovew3="I love; extensions";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n`, 'open', 'MF-09', ok(200, 'hello world', true)],
  ['trailer', `${OK}Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n`, 'open', 'MF-12', ok(200, 'hello', true)],
  ['status-no-reason', 'HTTP/1.1 301\r\n\r\n', 'fin', 'MF-16', ok(301, '', false)],
  ['status-empty-reason', 'HTTP/1.0 303 \r\n\r\n', 'fin', 'MF-16', ok(303, '', false)],
  ['reason-double-space', `HTTP/1.1 200  OK\r\nContent-Length: 2\r\n\r\nok`, 'open', 'MF-16', ok(200, 'ok', true)],
  ['reason-utf8', Buffer.from('HTTP/1.1 500 Oriëntatieprobleem\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'utf8'), 'fin', 'MF-16', ok(500, '', false)],
  ['read-to-close-10', 'HTTP/1.0 200 OK\r\n\r\nBody here\n', 'fin', 'MF-19', ok(200, 'Body here\n', false)],
  ['read-to-close', `${OK}Content-Type: text/plain\r\n\r\nhello world`, 'fin', 'MF-19', ok(200, 'hello world', false)],
  ['multipart-206', 'HTTP/1.1 206 Partial Content\r\nConnection: close\r\nContent-Type: multipart/byteranges; boundary=18a75608c8f47cef\r\n\r\nsome body', 'fin', 'MF-19', ok(206, 'some body', false)],
  ['http10-keepalive', 'HTTP/1.0 301 Moved Permanently\r\nPragma: \r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n', 'open', 'MF-20', ok(301, '', true)],
  ['connection-keepalive-close', `${OK}Connection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok`, 'open', 'MF-20', ok(200, 'ok', false)],
  ['connection-two-lines', `${OK}Connection: keep-alive\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok`, 'open', 'MF-20', ok(200, 'ok', false)],
  ['100-then-404', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n404: Not Found', 'open', 'MF-21', ok(404, '404: Not Found', true)],
  ['103-then-200', 'HTTP/1.1 103 Early Hints\r\nLink: </styles.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nresponse content', 'open', 'MF-21', ok(200, 'response content', true)],
  ['123-then-200', 'HTTP/1.1 123 OneTwoThree\r\nFoo: bar\r\n\r\nHTTP/1.1 200 OK\r\nBar: baz\r\nContent-Length: 5\r\n\r\nHello', 'open', 'GO-40', ok(200, 'Hello', true)],
  ['304-with-cl', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', 'open', 'MF-23', ok(304, '', true)],
  ['underscore-header', `${OK}DCLK_imp: v7;x\r\nContent-Length: 2\r\n\r\nok`, 'open', 'MF-15', ok(200, 'ok', true)],
];

function toCases(rows: Row[]): Readonly<Record<string, MalformedCase>> {
  const out: Record<string, MalformedCase> = {};
  for (const [name, bytes, end, scenario, expect] of rows) {
    out[name] = Object.freeze({
      bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes,
      end,
      scenario,
      expect,
    });
  }
  return Object.freeze(out);
}

/** Malformed responses by name, with how they end and what SPEC expects. */
export const MALFORMED_CASES = toCases(MALFORMED_ROWS);
/** Valid but unusual responses by name (served by `/edge/:name`). */
export const EDGE_CASES = toCases(EDGE_ROWS);
/** Malformed responses by name: the exact bytes `/malformed/:name` writes. */
export const MALFORMED: Readonly<Record<string, Buffer>> = Object.freeze(
  Object.fromEntries(Object.entries(MALFORMED_CASES).map(([name, c]) => [name, c.bytes])),
);

function serve(cases: Readonly<Record<string, MalformedCase>>) {
  return async (ex: Exchange): Promise<void> => {
    const c = cases[ex.params.name ?? ''];
    if (!c) {
      await ex.respond(
        404,
        { 'Content-Type': 'text/plain' },
        `unknown case; known: ${Object.keys(cases).join(' ')}`,
      );
      return;
    }
    await ex.write(c.bytes);
    if (c.end === 'fin') await ex.end();
  };
}

export const MALFORMED_ROUTES: readonly BuiltinRoute[] = [
  {
    path: '/malformed/:name',
    description: 'the exact bytes of FaultServer.malformed[name]',
    handler: serve(MALFORMED_CASES),
  },
  {
    path: '/edge/:name',
    description: 'the exact bytes of FaultServer.edgeCases[name] (valid, unusual)',
    handler: serve(EDGE_CASES),
  },
];
