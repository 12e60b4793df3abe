/**
 * differential.test — hourglass against Node's own HTTP/1.1 parser (llhttp, through
 * `node:http` with its default strict settings: no `insecureHTTPParser`, no lenient
 * flags) on loopback.
 *
 * A raw `net` server answers `GET /case/<n>` with the exact bytes of case n and then
 * FIN (so a read-to-close body ends and nothing waits on a timer). The corpus is the
 * malformed-response rows MF-01…MF-28 of SCENARIOS.md §3 with their exact bytes,
 * written out here (not taken from src/testing, so the catalogue is checked too), and
 * random mutations of valid responses from a fixed seed. Each case is fetched by
 * `http.get` (llhttp) and by hourglass's `Client`; both verdicts are recorded
 * (accepted + status + body, or rejected + why).
 *
 * The assertion: hourglass is never more lenient. When hourglass accepts a response,
 * llhttp accepts it too, with the same status and body bytes — except the documented
 * allow-list below. Cases where hourglass is the stricter one are printed as a table
 * (test diagnostics) for the project's records.
 *
 * "llhttp accepts" means `http.get` delivered the response and its 'end' event fired:
 * Node reports some errors only after a response completed (e.g. HPE_CLOSED_CONNECTION
 * for bytes after `Connection: close`), which do not take that response back; those
 * are shown in the table as "late error".
 */

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Client } from '../src/client.js';
import { HourglassError, ProtocolError } from '../src/errors.js';
import { Transport } from '../src/transport.js';

// ---------------------------------------------------------------------------------
// Corpus

interface Case {
  name: string;
  /** SCENARIOS.md row, or `mutation` for the seeded random cases. */
  scenario: string;
  bytes: Buffer;
}

const OK = 'HTTP/1.1 200 OK\r\n';
const CHUNKED = `${OK}Transfer-Encoding: chunked\r\n\r\n`;
const CL0 = 'Content-Length: 0\r\n\r\n';

/** [name, scenario, bytes as a latin1 string] — exact bytes from SCENARIOS.md §3. */
const MF_ROWS: [string, string, string | Buffer][] = [
  ['cl-differ', 'MF-01', `${OK}Content-Length: 10\r\nContent-Length: 7\r\n\r\nGopher hey\r\n`],
  ['cl-differ-304', 'MF-01', 'HTTP/1.1 304 OK\r\nContent-Length: 880\r\nContent-Length: 1\r\n\r\n'],
  ['cl-same-twice', 'MF-02', `${OK}Content-Length: 7\r\nContent-Length: 7\r\n\r\nGophers`],
  ['cl-list', 'MF-02', `${OK}Content-Length: 7, 7\r\n\r\nGophers`],
  ...['', '+3', '-1', '0x10', '1 2', '9223372036854775808', '99999999999999999999'].map(
    (v): [string, string, string] => [
      `cl-value-${JSON.stringify(v)}`,
      'MF-03',
      `${OK}Content-Length: ${v}\r\n\r\n0123456789abcdef`,
    ],
  ),
  ['cl-ows-tab', 'MF-03', `${OK}Content-Length:\t42\t\r\n\r\n${'x'.repeat(42)}`],
  [
    'cl-and-te',
    'MF-04',
    `${OK}Transfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n0a\r\nBody here\n\r\n0\r\n\r\n`,
  ],
  ['te-chunked-identity', 'MF-05', `${OK}Transfer-Encoding: chunked, identity\r\n\r\nWorld`],
  ['te-two-lines', 'MF-05', `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nWorld`],
  ['te-chunkedchunked', 'MF-06', `${OK}Transfer-Encoding: chunkedchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`],
  ['te-vtab', 'MF-06', `${OK}Transfer-Encoding: \x0bchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`],
  ['te-empty', 'MF-06', `${OK}Transfer-Encoding: \r\n\r\n2\r\nOK\r\n0\r\n\r\n`],
  ['te-gzip-chunked', 'MF-06', `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`],
  [
    'te-in-http10',
    'MF-07',
    'HTTP/1.0 200 OK\r\nTransfer-Encoding: bogus\r\nContent-Length: 10\r\n\r\nBody here\n',
  ],
  ['chunk-size-zz', 'MF-08', `${CHUNKED}zz\r\nabc\r\n0\r\n\r\n`],
  ['chunk-size-17-digits', 'MF-08', `${CHUNKED}10000000000000000\r\nabc\r\n0\r\n\r\n`],
  ['chunk-size-ffff', 'MF-08', `${CHUNKED}ffffffffffffffff\r\nabc\r\n0\r\n\r\n`],
  ['chunk-size-leading-zeros', 'MF-08', `${CHUNKED}0000000000000001\r\nx\r\n0\r\n\r\n`],
  ['chunk-size-garbage', 'MF-09', `${CHUNKED}2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n`],
  ['chunk-size-trailing-sp', 'MF-09', `${CHUNKED}25  \r\n${'x'.repeat(37)}\r\n0\r\n\r\n`],
  ['chunk-ext-empty', 'MF-09', `${CHUNKED}2;\r\naa\r\n0\r\n\r\n`],
  [
    'chunk-ext-valid',
    'MF-09',
    `${CHUNKED}5;ilovew3="I love; extensions";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n`,
  ],
  ['chunk-ext-unbalanced', 'MF-09', `${CHUNKED}5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n`],
  [
    'chunk-ext-flood',
    'MF-10',
    `${CHUNKED}${`1;${'a'.repeat(100)}\r\nX\r\n`.repeat(Math.ceil((1 << 20) / 106))}0\r\n\r\n`,
  ],
  ['chunk-line-1MiB', 'MF-10', CHUNKED + '0'.repeat(1 << 20)],
  // The row's control is 1 MiB of 1-byte chunks; 64 Ki keeps Node's per-chunk 'data' events quick.
  ['chunk-1-byte-x64Ki', 'MF-10', `${CHUNKED}${'1\r\nX\r\n'.repeat(1 << 16)}0\r\n\r\n`],
  ['chunk-missing-crlf', 'MF-11', `${CHUNKED}5\r\nhelloXX0\r\n\r\n`],
  ['chunk-split-then-xx', 'MF-11', `${CHUNKED}7\r\n1234567xx`],
  ['chunked-truncated', 'MF-11', `${OK}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nhel\r\n`],
  [
    'trailer',
    'MF-12',
    `${OK}Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n`,
  ],
  ['bad-trailer', 'MF-12', `${CHUNKED}5\r\nhello\r\n0\r\nbad trailer line\r\n\r\n`],
  ['obs-fold', 'MF-13', `${OK}X-Folded: a\r\n  b\r\n${CL0}`],
  ['obs-fold-te', 'MF-13', `${OK}Transfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n`],
  ['bare-lf', 'MF-14', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
  ['bare-lf-body', 'MF-14', 'HTTP/1.1 200 OK\nFoo: abc\nBar: def\n\nBODY\n'],
  ['bare-cr', 'MF-14', `HTTP/1.1 200 OK\r${CL0}`],
  ['bare-cr-evil', 'MF-14', 'HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil'],
  ['bare-cr-header', 'MF-14', `${OK}Foo: 1\rBar: 2\r\n\r\n`],
  ['nul-in-value', 'MF-15', `${OK}X-Foo: a\x00b\r\n${CL0}`],
  ['space-before-colon', 'MF-15', `${OK}Content-Length: 0\r\nFoo : bar\r\n\r\n`],
  ['cl-space-before-colon', 'MF-15', `${OK}Content-Length : 5\r\n\r\nhello`],
  ['space-in-name', 'MF-15', `${OK}Content-Length: 0\r\nen-US Content-Type: text/xml\r\n\r\n`],
  ['leading-space-field', 'MF-15', `${OK} Content-type: text/html\r\nFoo: bar\r\n\r\n`],
  ['leading-tab-field', 'MF-15', `${OK}\tContent-type: text/html\r\nFoo: bar\r\n\r\n`],
  ['underscore-name', 'MF-15', `${OK}DCLK_imp: v7;x\r\nContent-Length: 2\r\n\r\nok`],
  ['status-no-reason', 'MF-16', 'HTTP/1.1 301\r\n\r\n'],
  ['status-empty-reason', 'MF-16', 'HTTP/1.0 303 \r\n\r\n'],
  ['reason-two-sp', 'MF-16', `HTTP/1.1 200  OK\r\nContent-Length: 2\r\n\r\nok`],
  [
    'reason-utf8',
    'MF-16',
    Buffer.from('HTTP/1.1 500 Oriëntatieprobleem\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'utf8'),
  ],
  ...['20X Unknown', '2 OK', '20 OK', '1000 OK', '-200 OK', '0x12d Moved', 'c8 OK', ' Unknown'].map(
    (s): [string, string, string] => [`status-${JSON.stringify(s)}`, 'MF-16', `HTTP/1.1 ${s}\r\n${CL0}`],
  ),
  ['status-two-sp-before-code', 'MF-16', `HTTP/1.0  401 Unauthorized\r\n${CL0}`],
  ['status-000', 'MF-16', `HTTP/1.1 000 Zero\r\n${CL0}`],
  ['status-999', 'MF-16', `HTTP/1.1 999 Nine\r\n${CL0}`],
  ...[
    'HTP/1.1',
    'HTTP/01.1',
    'HTTP/11.1',
    'HTTP/1.01',
    'http/1.1',
    'HTTP/1',
    'HTTP/5.6',
    'HTTP/1.100000000002',
    'HTTP/0.9',
    'HTTP/2.0',
  ].map((v): [string, string, string] => [`version-${v}`, 'MF-17', `${v} 200 OK\r\n${CL0}`]),
  ['version-tab', 'MF-17', `HTTP/1.1\t200 OK\r\n${CL0}`],
  ['empty', 'MF-18', ''],
  ['head-cut', 'MF-18', 'HTTP/1.1 301 Moved Permanently\r\nFoo: bar'],
  ['status-line-cut', 'MF-18', 'HTTP/1.1'],
  ['leading-crlf', 'MF-18', `\r\n${OK}Header1: Value1\r\n${CL0}`],
  ['close-delimited-10', 'MF-19', 'HTTP/1.0 200 OK\r\n\r\nBody here\n'],
  ['close-delimited-11', 'MF-19', `${OK}Content-Type: text/plain\r\n\r\nhello world`],
  [
    'multipart-206',
    'MF-19',
    'HTTP/1.1 206 Partial Content\r\nConnection: close\r\nContent-Type: multipart/byteranges; boundary=18a75608c8f47cef\r\n\r\nsome body',
  ],
  [
    'bonjourmadame',
    'MF-20',
    'HTTP/1.0 301 Moved Permanently\r\nPragma: \r\nLocation: http://www.bonjourmadame.fr/\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
  ],
  [
    'connection-keepalive-close',
    'MF-20',
    `${OK}Connection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok`,
  ],
  [
    'connection-two-lines',
    'MF-20',
    `${OK}Connection: keep-alive\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok`,
  ],
  [
    '100-then-404',
    'MF-21',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n404: Not Found',
  ],
  [
    '103-then-200',
    'MF-21',
    'HTTP/1.1 103 Early Hints\r\nLink: </styles.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nresponse content',
  ],
  // The row's bytes above declare 17 bytes for a 16-byte body (llhttp's test has a trailing
  // newline the row lost), so with FIN both sides rightly reject it; this is the intended case.
  [
    '103-then-200-cl16',
    'MF-21',
    'HTTP/1.1 103 Early Hints\r\nLink: </styles.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nresponse content',
  ],
  // GO-41: eleven interim responses, then the final one.
  ['1xx-x11', 'GO-41', `${'HTTP/1.1 123 OneTwoThree\r\n\r\n'.repeat(11)}HTTP/1.1 204 No Content\r\n\r\n`],
  ['204-with-body', 'MF-22', 'HTTP/1.1 204 No Content\r\n\r\nBody should not be read!\n'],
  [
    '304-then-200',
    'MF-23',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  ],
  [
    'surplus-response',
    'MF-24',
    `${OK}Content-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nX-Injected: 1\r\n${CL0}`,
  ],
  ['short-body', 'MF-25', `${OK}Content-Length: 123\r\n\r\nShort body, not 123 bytes.`],
  ['close-with-extra', 'MF-26', `${OK}Content-Length: 5\r\nConnection: close\r\n\r\nhello2ad731e3`],
  [
    '204-close-with-extra',
    'MF-26',
    'HTTP/1.1 204 No content\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n',
  ],
  [
    'content-length-x',
    'MF-27',
    `${OK}Content-Length-X: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n`,
  ],
  [
    '101-upgrade',
    'MF-28',
    'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nbody\r\nproto',
  ],
];

/** MF-11: every proper prefix of a valid chunked body, each followed by FIN. */
function prefixRows(): [string, string, string][] {
  const body = '4\r\nabcd\r\n5\r\nabc\r\n\r\n0\r\n\r\n';
  const rows: [string, string, string][] = [];
  for (let n = 0; n < body.length; n++)
    rows.push([`chunked-prefix-${n}`, 'MF-11', `${CHUNKED}${body.slice(0, n)}`]);
  rows.push(['chunked-prefix-full', 'MF-11', `${CHUNKED}${body}`]);
  return rows;
}

/** Valid responses the mutations start from. */
const MUTATION_BASES = [
  `${OK}Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world`,
  `${OK}Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n`,
  'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody to close',
  `${OK}Set-Cookie: a=b\r\nContent-Length: 4\r\nX-A: 1\r\n\r\nbody`,
];

const INJECTED = [
  'Content-Length: 3',
  'Content-Length: 11',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: identity',
  'Transfer-Encoding: chunked, identity',
  ' folded',
  'X-Nul: a\x00b',
  'Content-Length: 0, 0',
];

/** Seeded mutations (mulberry32): flips, CR/LF/NUL/SP/HTAB insertions, deletions, duplicated or injected lines, truncation. */
function mutationRows(seed: number, count: number): [string, string, string][] {
  let state = seed >>> 0;
  const rand = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(rand() * n);
  const rows: [string, string, string][] = [];
  for (let i = 0; i < count; i++) {
    let s = MUTATION_BASES[i % MUTATION_BASES.length]!;
    const ops: string[] = [];
    const n = 1 + int(2);
    for (let k = 0; k < n; k++) {
      const op = int(6);
      const at = int(s.length + 1);
      if (op === 0 && s.length > 0) {
        const p = Math.min(at, s.length - 1);
        const b = int(256);
        s = s.slice(0, p) + String.fromCharCode(b) + s.slice(p + 1);
        ops.push(`flip@${p}=0x${b.toString(16)}`);
      } else if (op === 1) {
        const c = ['\r', '\n', '\x00', ' ', '\t'][int(5)]!;
        s = s.slice(0, at) + c + s.slice(at);
        ops.push(`insert@${at}=${JSON.stringify(c)}`);
      } else if (op === 2) {
        const len = 1 + int(4);
        s = s.slice(0, at) + s.slice(at + len);
        ops.push(`delete@${at}+${len}`);
      } else if (op === 3 || op === 4) {
        // Duplicate (3) or inject (4) a line of the first head.
        const headEnd = s.indexOf('\r\n\r\n');
        const lineStarts = [...s.slice(0, Math.max(0, headEnd)).matchAll(/\r\n/g)].map((m) => m.index + 2);
        if (lineStarts.length === 0) continue;
        const start = lineStarts[int(lineStarts.length)]!;
        if (op === 3) {
          const end = s.indexOf('\r\n', start);
          if (end === -1) continue;
          const line = s.slice(start, end + 2);
          s = s.slice(0, start) + line + s.slice(start);
          ops.push(`dup-line ${JSON.stringify(line.trim())}`);
        } else {
          const line = INJECTED[int(INJECTED.length)]!;
          s = `${s.slice(0, start)}${line}\r\n${s.slice(start)}`;
          ops.push(`inject ${JSON.stringify(line)}`);
        }
      } else {
        s = s.slice(0, at);
        ops.push(`truncate@${at}`);
      }
    }
    rows.push([`mut-${i} ${ops.join(',')}`, 'mutation', s]);
  }
  return rows;
}

const MUTATION_SEED = 0x5eed_2026;

const CORPUS: Case[] = [...MF_ROWS, ...prefixRows(), ...mutationRows(MUTATION_SEED, 64)].map(
  ([name, scenario, b]) => ({
    name,
    scenario,
    bytes: typeof b === 'string' ? Buffer.from(b, 'latin1') : b,
  }),
);

/**
 * Cases where hourglass accepts a response that llhttp rejects, or reads another body,
 * each with the reason that makes it deliberate. None of them is a framing ambiguity.
 */
const ALLOW_MORE_LENIENT: ReadonlyMap<string, string> = new Map([
  [
    'cl-ows-tab',
    'RFC 9110 §5.5: OWS (SP or HTAB) around a field value is not part of it, and SCENARIOS MF-03/MF-27 ' +
      'expect `Content-Length:\\t42\\t` to be 42; llhttp 9.3.1 accepts a trailing SP but rejects a trailing ' +
      'HTAB after the digits (HPE_INVALID_CONTENT_LENGTH) — an llhttp quirk, not a second reading of the length',
  ],
]);

// ---------------------------------------------------------------------------------
// Fetching a case both ways

type Verdict =
  | { accepted: true; status: number; body: Buffer; lateError?: string }
  | { accepted: false; why: string };

const CASE_TIMEOUT_MS = 4_000;

/** `http.get` with Node's default (strict) llhttp settings. */
function viaLlhttp(port: number, path: string): Promise<Verdict> {
  return new Promise((resolve) => {
    let settled = false;
    let response: http.IncomingMessage | undefined;
    let ended = false;
    let body: Buffer[] = [];
    let lateError: string | undefined;
    const done = (v: Verdict): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(v);
    };
    const errorName = (err: NodeJS.ErrnoException): string => `${err.code ?? 'error'}: ${err.message}`;
    const req = http.get(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } },
      (res) => {
        response = res;
        res.on('data', (c: Buffer) => body.push(c));
        res.on('end', () => {
          ended = true;
        });
        res.on('error', (err) => {
          if (!ended) lateError ??= errorName(err);
        });
        res.on('close', () => {
          // 'end' precedes 'close' when the body completed; give a late error a turn to arrive.
          setImmediate(() => {
            if (ended) {
              const v: Verdict = { accepted: true, status: res.statusCode ?? 0, body: Buffer.concat(body) };
              if (lateError !== undefined) v.lateError = lateError;
              done(v);
            } else {
              done({ accepted: false, why: lateError ?? 'response closed before its end' });
            }
          });
        });
      },
    );
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      done({ accepted: false, why: 'upgrade (101) handed over as a raw socket' });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (response === undefined) done({ accepted: false, why: errorName(err) });
      else lateError ??= errorName(err);
    });
    const timer = setTimeout(() => {
      body = [];
      done({ accepted: false, why: `no verdict within ${CASE_TIMEOUT_MS} ms` });
    }, CASE_TIMEOUT_MS);
  });
}

async function viaHourglass(client: Client, url: string): Promise<Verdict> {
  try {
    const res = await client.request(url);
    const body = await res.bytes();
    return { accepted: true, status: res.status, body };
  } catch (err) {
    if (err instanceof ProtocolError) return { accepted: false, why: `ProtocolError ${err.reason}` };
    if (err instanceof HourglassError) return { accepted: false, why: `${err.name} ${err.code}` };
    return { accepted: false, why: String(err) };
  }
}

function show(v: Verdict, bodyToo: boolean): string {
  if (!v.accepted) return `rejected (${v.why})`;
  const body = v.body.length > 40 ? `${v.body.length} bytes` : JSON.stringify(v.body.toString('latin1'));
  return `accepted ${v.status}${bodyToo ? ` ${body}` : ''}${v.lateError !== undefined ? ` + late error ${v.lateError}` : ''}`;
}

// ---------------------------------------------------------------------------------
// The raw server

interface RawServer {
  port: number;
  close(): Promise<void>;
}

/** Answers `GET /case/<n> …\r\n\r\n` with `cases[n].bytes`, then FIN. */
async function startRawServer(cases: readonly Case[]): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    let answered = false;
    socket.on('data', (d: Buffer) => {
      if (answered) return;
      head += d.toString('latin1');
      if (head.length > 16_384) socket.destroy();
      if (!head.includes('\r\n\r\n')) return;
      answered = true;
      const m = /^GET \/case\/(\d+) HTTP\/1\.1\r\n/.exec(head);
      const c = m === null ? undefined : cases[Number(m[1])];
      if (c === undefined) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.end(c.bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------
// The test

interface Row {
  c: Case;
  index: number;
  hg: Verdict;
  ll: Verdict;
}

describe('differential: hourglass vs llhttp (node:http, strict) on the MF corpus and seeded mutations', () => {
  let server: RawServer;
  let client: Client;
  const rows: Row[] = [];

  before(async () => {
    server = await startRawServer(CORPUS);
    client = new Client({
      followRedirects: false,
      timeout: CASE_TIMEOUT_MS,
      transport: new Transport({
        disableCompression: true,
        disableKeepAlives: true,
        responseHeaderTimeout: CASE_TIMEOUT_MS,
        readIdleTimeout: CASE_TIMEOUT_MS,
      }),
    });
    // A few cases at a time: each takes two loopback connections.
    const queue = CORPUS.map((c, index) => ({ c, index }));
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const path = `/case/${next.index}`;
        const [hg, ll] = await Promise.all([
          viaHourglass(client, `http://127.0.0.1:${server.port}${path}`),
          viaLlhttp(server.port, path),
        ]);
        rows.push({ ...next, hg, ll });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    rows.sort((a, b) => a.index - b.index);
  });

  after(async () => {
    await client?.close();
    await server?.close();
  });

  it('has at least 60 cases, MF-01…MF-28 all present', () => {
    assert.ok(CORPUS.length >= 60, `${CORPUS.length} cases`);
    for (let i = 1; i <= 28; i++) {
      const id = `MF-${String(i).padStart(2, '0')}`;
      assert.ok(
        CORPUS.some((c) => c.scenario === id),
        `${id} missing`,
      );
    }
    assert.equal(rows.length, CORPUS.length);
  });

  it('hourglass is never more lenient than llhttp: what it accepts, llhttp accepts with the same status and body', (t: TestContext) => {
    const lenient: string[] = [];
    for (const r of rows) {
      if (!r.hg.accepted) continue;
      const allowed = ALLOW_MORE_LENIENT.get(r.c.name);
      const same = r.ll.accepted && r.ll.status === r.hg.status && r.ll.body.equals(r.hg.body);
      if (same) continue;
      const line = `${r.c.scenario} ${r.c.name}: hourglass ${show(r.hg, true)}, llhttp ${show(r.ll, true)}`;
      if (allowed !== undefined) t.diagnostic(`allowed (${allowed}): ${line}`);
      else lenient.push(`${line}\n    bytes ${JSON.stringify(r.c.bytes.toString('latin1').slice(0, 300))}`);
    }
    assert.deepEqual(lenient, [], `hourglass accepted what llhttp did not:\n${lenient.join('\n')}`);
  });

  it('reports where hourglass is stricter than llhttp (table in the diagnostics)', (t: TestContext) => {
    const stricter = rows.filter((r) => !r.hg.accepted && r.ll.accepted);
    t.diagnostic(`hourglass stricter than llhttp: ${stricter.length} of ${rows.length} cases`);
    t.diagnostic('| scenario | case | hourglass | llhttp |');
    t.diagnostic('|---|---|---|---|');
    for (const r of stricter) {
      const name = r.c.name.length > 70 ? `${r.c.name.slice(0, 67)}...` : r.c.name;
      t.diagnostic(
        `| ${r.c.scenario} | ${name.replaceAll('|', '\\|')} | ${show(r.hg, false)} | ${show(r.ll, true).replaceAll('|', '\\|')} |`,
      );
    }
    const agreeAccept = rows.filter((r) => r.hg.accepted && r.ll.accepted).length;
    const agreeReject = rows.filter((r) => !r.hg.accepted && !r.ll.accepted).length;
    t.diagnostic(
      `both accept: ${agreeAccept}; both reject: ${agreeReject}; hourglass stricter: ${stricter.length}`,
    );
    // Every case got a verdict from both sides (no case hit the per-case timeout).
    for (const r of rows) {
      for (const v of [r.hg, r.ll]) {
        assert.ok(v.accepted || !v.why.startsWith('no verdict'), `${r.c.name}: ${show(v, false)}`);
      }
    }
  });

  it('agrees with the SCENARIOS.md expectation on the cases llhttp also rejects (sanity of the harness)', () => {
    // Shapes both parsers must refuse: if llhttp accepted one of these the harness is broken.
    for (const name of [
      'cl-differ',
      'cl-and-te',
      'bare-lf',
      'obs-fold',
      'chunk-size-zz',
      'short-body',
      'empty',
    ]) {
      const r = rows.find((x) => x.c.name === name);
      assert.ok(r !== undefined, name);
      assert.equal(r.hg.accepted, false, `hourglass accepted ${name}`);
      assert.equal(r.ll.accepted, false, `llhttp accepted ${name}: ${show(r.ll, true)}`);
    }
    // And shapes both must accept with the exact body.
    for (const [name, body] of [
      ['chunk-ext-valid', 'hello world'],
      ['trailer', 'hello'],
      ['close-delimited-11', 'hello world'],
      ['103-then-200-cl16', 'response content'],
      ['surplus-response', 'abc'],
    ] as const) {
      const r = rows.find((x) => x.c.name === name)!;
      assert.ok(
        r.hg.accepted && r.ll.accepted,
        `${name}: hourglass ${show(r.hg, true)}, llhttp ${show(r.ll, true)}`,
      );
      assert.equal(r.hg.body.toString('latin1'), body);
      assert.equal(r.ll.body.toString('latin1'), body);
    }
  });
});
