// Tests of the strict HTTP/1.1 response parser (src/http1/parser.ts) against the
// malformed-response corpus of SCENARIOS.md §3 (MF-xx, exact bytes) and the parser
// rows GO-20, GO-21, GO-40, GO-41, UN-12, UN-13, UN-14, UN-16. No sockets: bytes are
// fed to the parser directly, in the splits the scenario describes.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError, type ProtocolReason } from '../src/errors.js';
import {
  headersObject,
  type ParserEvents,
  type ParserOptions,
  parseKeepAliveTimeout,
  type ResponseHead,
  ResponseParser,
} from '../src/http1/index.js';

class Recorder implements ParserEvents {
  readonly events: string[] = [];
  readonly interims: ResponseHead[] = [];
  readonly chunks: Buffer[] = [];
  head: ResponseHead | undefined;
  trailers: string[] | undefined;
  completed = 0;

  onInterim(head: ResponseHead): void {
    this.events.push(`interim ${head.status}`);
    this.interims.push(head);
  }
  onHead(head: ResponseHead): void {
    this.events.push(`head ${head.status}`);
    this.head = head;
  }
  onBody(chunk: Buffer): void {
    assert.ok(chunk.length > 0, 'onBody is never called with an empty chunk');
    if (this.events.at(-1) !== 'body') this.events.push('body');
    this.chunks.push(Buffer.from(chunk));
  }
  onTrailers(rawTrailers: string[]): void {
    this.events.push('trailers');
    this.trailers = rawTrailers;
  }
  onComplete(): void {
    this.events.push('complete');
    this.completed++;
  }
  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

interface Options {
  head?: boolean;
  eof?: boolean;
  options?: ParserOptions;
}

interface Outcome {
  rec: Recorder;
  parser: ResponseParser;
  /** Bytes consumed over all pieces. */
  consumed: number;
  /** Bytes left over after the response completed (latin1). */
  leftover: string;
  error: unknown;
}

type Input = string | Buffer | readonly (string | Buffer)[];

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

function attempt(input: Input, opts: Options = {}): Outcome {
  const rec = new Recorder();
  const parser = new ResponseParser(rec, opts.options);
  parser.expect(opts.head ?? false);
  const pieces = typeof input === 'string' || Buffer.isBuffer(input) ? [input] : input;
  const out: Outcome = { rec, parser, consumed: 0, leftover: '', error: undefined };
  try {
    for (const piece of pieces) {
      const b = typeof piece === 'string' ? bytes(piece) : piece;
      if (rec.completed > 0) {
        out.leftover += b.toString('latin1');
        continue;
      }
      const n = parser.execute(b);
      out.consumed += n;
      out.leftover += b.subarray(n).toString('latin1');
    }
    if (opts.eof) parser.finish();
  } catch (err) {
    out.error = err;
  }
  return out;
}

/** Parses, asserting no error. */
function parse(input: Input, opts: Options = {}): Outcome {
  const out = attempt(input, opts);
  if (out.error !== undefined) throw out.error;
  return out;
}

/** Parses, asserting a ProtocolError with exactly `reason`. */
function reject(input: Input, reason: ProtocolReason, opts: Options = {}): Outcome {
  const out = attempt(input, opts);
  assert.ok(out.error instanceof ProtocolError, `expected ProtocolError ${reason}, got ${String(out.error)}`);
  assert.equal(out.error.reason, reason, `${JSON.stringify(input)}: ${out.error.message}`);
  assert.equal(out.error.code, 'HG_PROTOCOL');
  return out;
}

describe('http1 parser: status line', () => {
  it('the next response on the connection reuses the strings of fields spelled as before, at the same place', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: one\r\nContent-Length: 0\r\n\r\n'));
    const first = rec.head!;
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: two\r\ncontent-length: 0\r\n\r\n'));
    const second = rec.head!;
    assert.deepEqual(second.rawHeaders, ['Server', 'nginx', 'Date', 'two', 'content-length', '0']);
    assert.deepEqual(second.headerNames, ['server', 'date', 'content-length']);
    assert.notEqual(second.rawHeaders, first.rawHeaders, 'a fresh array per response');
    assert.deepEqual(first.rawHeaders, ['Server', 'nginx', 'Date', 'one', 'Content-Length', '0'], 'the first head is untouched');
  });

  it('a head with fewer fields than the one before, then more: only the last head is matched, every string right', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    const heads = [
      'HTTP/1.1 200 OK\r\nServer: a\r\nETag: "x"\r\nVary: b\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nServer: a\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nServer: a\r\nContent-Length: 0\r\nVary: c\r\nETag: "x"\r\n\r\n',
    ];
    const seen = heads.map((h) => {
      parser.expect(false);
      parser.execute(bytes(h));
      return rec.head!.rawHeaders;
    });
    assert.deepEqual(seen[1], ['Server', 'a', 'Content-Length', '0']);
    assert.deepEqual(seen[2], ['Server', 'a', 'Content-Length', '0', 'Vary', 'c', 'ETag', '"x"']);
    assert.deepEqual(seen[0], ['Server', 'a', 'ETag', '"x"', 'Vary', 'b', 'Content-Length', '0'], 'the first head is untouched');
  });

  it('a field that differs from the previous head only past the reused part is still validated', () => {
    const first = 'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n';
    for (const [second, what] of [
      ['HTTP/1.1 200 OK\r\nServer: nginx\x01\r\nContent-Length: 0\r\n\r\n', 'control byte after a reused value'],
      ['HTTP/1.1 200 OK\r\nServer : nginx\r\nContent-Length: 0\r\n\r\n', 'space between a reused name and the colon'],
      ['HTTP/1.1 200 OK\r\nServer\r\nContent-Length: 0\r\n\r\n', 'a reused name and no colon'],
      ['HTTP/1.1 200 OK\r\nServers: nginx\r\nContent-Length: 0\r\n\r\n', 'a longer name'],
    ] as const) {
      const rec = new Recorder();
      const parser = new ResponseParser(rec);
      parser.expect(false);
      parser.execute(bytes(first));
      parser.expect(false);
      let err: unknown;
      try {
        parser.execute(bytes(second));
      } catch (e) {
        err = e;
      }
      if (what === 'a longer name') {
        assert.equal(err, undefined, what);
        assert.deepEqual(rec.head!.rawHeaders, ['Servers', 'nginx', 'Content-Length', '0'], what);
      } else {
        assert.ok(err instanceof ProtocolError, `${what}: ${String(err)}`);
        assert.equal(err.reason, 'bad-header', what);
      }
    }
  });

  it('parses a Content-Length response into head, body and completion', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
    const { rec, consumed, leftover, parser } = parse(raw);
    assert.deepEqual(rec.head, {
      status: 200,
      statusText: 'OK',
      httpVersion: '1.1',
      rawHeaders: ['Content-Type', 'text/plain', 'Content-Length', '5'],
      headerNames: ['content-type', 'content-length'],
      framing: 'length',
      contentLength: 5,
      keepAlive: true,
      keepAliveTimeout: -1,
    });
    assert.equal(rec.body, 'hello');
    assert.deepEqual(rec.events, ['head 200', 'body', 'complete']);
    assert.equal(consumed, raw.length);
    assert.equal(leftover, '');
    assert.equal(parser.busy, false);
  });

  it('MF-16 accepts an empty or missing reason phrase and keeps extra spaces in it', () => {
    assert.equal(parse('HTTP/1.1 301\r\n\r\n', { eof: true }).rec.head?.statusText, '');
    const h = parse('HTTP/1.0 303 \r\n\r\n', { eof: true }).rec.head;
    assert.equal(h?.status, 303);
    assert.equal(h?.statusText, '');
    assert.equal(h?.httpVersion, '1.0');
    assert.equal(parse('HTTP/1.1 200  OK\r\nContent-Length: 0\r\n\r\n').rec.head?.statusText, ' OK');
  });

  it('MF-16 decodes a UTF-8 reason phrase', () => {
    const raw = Buffer.from(
      'HTTP/1.1 500 Oriëntatieprobleem\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      'utf8',
    );
    const { rec } = parse(raw);
    assert.equal(rec.head?.status, 500);
    assert.equal(rec.head?.statusText, 'Oriëntatieprobleem');
    assert.equal(rec.head?.keepAlive, false);
  });

  it('MF-16 rejects status codes that are not exactly three digits in 100..999 (bad-status-line)', () => {
    for (const line of [
      'HTTP/1.1 20X Unknown',
      'HTTP/1.1 2 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 1000 OK',
      'HTTP/1.1 -200 OK',
      'HTTP/1.1 0x12d Moved',
      'HTTP/1.1 c8 OK',
      'HTTP/1.1 000 Zero',
      'HTTP/1.1 099 Low',
      ' Unknown',
      'HTTP/1.1  Unknown',
      'HTTP/1.0  401 Unauthorized',
      'HTTP/1.1 200\tOK',
    ]) {
      const out = reject(`${line}\r\nContent-Length: 0\r\n\r\n`, 'bad-status-line');
      assert.equal(out.rec.head, undefined);
    }
  });

  it('accepts status 999 (the spec allows any three digits from 100)', () => {
    assert.equal(parse('HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n').rec.head?.status, 999);
  });

  it('MF-17 accepts only HTTP/1.0 and HTTP/1.1 (bad-status-line)', () => {
    for (const start of [
      'HTP/1.1 200 OK',
      'HTTP/01.1 200 OK',
      'HTTP/11.1 200 OK',
      'HTTP/1.01 200 OK',
      'HTTP/1.1\t200 OK',
      'http/1.1 200 OK',
      'HTTP/1 200 OK',
      'HTTP/5.6 200 OK',
      'HTTP/1.100000000002 200 OK',
      'HTTP/0.9 200 OK',
      'HTTP/2.0 200 OK',
      'HTTP/1.2 200 OK',
    ]) {
      reject(`${start}\r\nContent-Length: 0\r\n\r\n`, 'bad-status-line');
    }
  });

  it('MF-18 EOF before any byte, inside the headers or inside the status line is connection-closed', () => {
    const empty = reject('', 'connection-closed', { eof: true });
    assert.equal(empty.parser.bytesSeen, 0);
    const partial = reject('HTTP/1.1 301 Moved Permanently\r\nFoo: bar', 'connection-closed', { eof: true });
    assert.equal(partial.parser.bytesSeen, 40);
    assert.equal(partial.rec.head, undefined);
    reject('HTTP/1.1', 'connection-closed', { eof: true });
  });

  it('MF-18 rejects a CRLF before the status line (bad-status-line)', () => {
    reject('\r\nHTTP/1.1 200 OK\r\nHeader1: Value1\r\nContent-Length: 0\r\n\r\n', 'bad-status-line');
  });

  it('UN-12 rejects garbage as a status line before its line ends', () => {
    reject('HTT/1.1 200 OK\r\n', 'bad-status-line', { eof: true });
    reject('asd\n\r213123', 'bad-status-line');
    // Fails on the first impossible byte, without waiting for a line end.
    reject('HTT/', 'bad-status-line');
    reject('HTTP/1.1 2x', 'bad-status-line');
  });

  it('rejects NUL, DEL and other control bytes in the reason phrase (bad-status-line)', () => {
    for (const reason of ['O\x00K', 'O\x7fK', 'O\x1bK']) {
      reject(`HTTP/1.1 200 ${reason}\r\nContent-Length: 0\r\n\r\n`, 'bad-status-line');
    }
    assert.equal(parse('HTTP/1.1 200 a\tb\r\nContent-Length: 0\r\n\r\n').rec.head?.statusText, 'a\tb');
  });

  it('MF-14 rejects bare LF as a line ending', () => {
    reject('HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'bad-status-line');
    reject('HTTP/1.1 200 OK\nFoo: abc\nBar: def\n\nBODY\n', 'bad-status-line');
    reject('HTTP/1.1 200 OK\r\nFoo: abc\nContent-Length: 0\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n', 'bad-header');
  });

  it('MF-14 rejects bare CR in the status line (bad-status-line) and in a header (bad-header)', () => {
    reject('HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', 'bad-status-line');
    const evil = reject('HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil', 'bad-status-line');
    assert.equal(evil.rec.head, undefined);
    assert.equal(evil.rec.body, '');
    reject('HTTP/1.1 200 OK\r\nFoo: 1\rBar: 2\r\n\r\n', 'bad-header');
  });
});

describe('http1 parser: header lines', () => {
  it('MF-15 rejects NUL in a value, space before the colon, space inside a name (bad-header)', () => {
    reject('HTTP/1.1 200 OK\r\nX-Foo: a\x00b\r\nContent-Length: 0\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nFoo : bar\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nen-US Content-Type: text/xml\r\nContent-Length: 0\r\n\r\n', 'bad-header');
  });

  it('MF-15 rejects whitespace before the first header line (bad-header)', () => {
    reject('HTTP/1.1 200 OK\r\n Content-type: text/html\r\nFoo: bar\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\n\tContent-type: text/html\r\nFoo: bar\r\n\r\n', 'bad-header');
  });

  it('MF-15 accepts an underscore in a header name', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nDCLK_imp: v7;x;114750856;0-0;0;17820020;0/0;21603567/21621457/1\r\nContent-Length: 0\r\n\r\n';
    const { rec } = parse(raw);
    assert.equal(rec.head?.rawHeaders[0], 'DCLK_imp');
    assert.equal(rec.head?.rawHeaders[1], 'v7;x;114750856;0-0;0;17820020;0/0;21603567/21621457/1');
  });

  it('MF-13 rejects obs-fold, also inside Transfer-Encoding (bad-header)', () => {
    reject('HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 0\r\n\r\n', 'bad-header');
    const te = reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
      'bad-header',
    );
    assert.equal(te.rec.head, undefined);
  });

  it('rejects other control characters and DEL in a value, a missing colon, an empty name', () => {
    reject('HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\n: value\r\n\r\n', 'bad-header');
    reject('HTTP/1.1 200 OK\r\nNa\xe9me: v\r\n\r\n', 'bad-header');
  });

  it('trims OWS around values, keeps inner whitespace, keeps empty values and name case', () => {
    const raw = 'HTTP/1.1 200 OK\r\nX-A: \t a  b \t\r\nX-Empty:\r\nx-LOWER:v\r\nContent-Length: 0\r\n\r\n';
    assert.deepEqual(parse(raw).rec.head?.rawHeaders, [
      'X-A',
      'a  b',
      'X-Empty',
      '',
      'x-LOWER',
      'v',
      'Content-Length',
      '0',
    ]);
  });

  it('decodes obs-text in a header value as Latin-1 (one char per byte, as node:http and undici)', () => {
    const raw = Buffer.from('HTTP/1.1 200 OK\r\nX-Name: Jürgen ✓\r\nContent-Length: 0\r\n\r\n', 'utf8');
    const v = parse(raw).rec.head?.rawHeaders[1] ?? '';
    assert.equal(v, Buffer.from('Jürgen ✓', 'utf8').toString('latin1'));
    assert.equal(Buffer.from(v, 'latin1').toString('utf8'), 'Jürgen ✓', 'the bytes are recoverable');
  });

  it('UN-13 reassembles a header name split across chunks', () => {
    const { rec } = parse(['HTTP/1.1 200 OK\r\nA', 'SD: asd,asd\r\nContent-Length: 0\r\n\r\n']);
    assert.deepEqual(rec.head?.rawHeaders, ['ASD', 'asd,asd', 'Content-Length', '0']);
    assert.equal(rec.completed, 1);
  });

  it('reassembles a 10 KiB header value fed one byte at a time', () => {
    const long = 'v'.repeat(10_240);
    const raw = `HTTP/1.1 200 OK\r\nX-Long: ${long}\r\nContent-Length: 2\r\n\r\nok`;
    const { rec } = parse([...raw]);
    assert.equal(rec.head?.rawHeaders[1], long);
    assert.equal(rec.body, 'ok');
  });

  it('UN-08 reassembles a Connection value split across chunks (keep- / alive)', () => {
    const { rec } = parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-', 'alive\r\n\r\n']);
    assert.deepEqual(rec.head?.rawHeaders.slice(2), ['Connection', 'keep-alive']);
    assert.equal(rec.head?.keepAlive, true);
  });

  it('MF-27 does not take Content-Length-X for Content-Length', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nContent-Length-X: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n';
    const { rec } = parse(raw);
    assert.equal(rec.head?.framing, 'chunked');
    assert.equal(rec.body, 'OK');
  });
});

describe('http1 parser: head size limit', () => {
  const head = 'HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n';

  it('accepts a head of exactly maxHeaderBytes and rejects one byte more (CRLFs counted)', () => {
    parse(head, { options: { maxHeaderBytes: head.length } });
    reject(head, 'headers-too-large', { options: { maxHeaderBytes: head.length - 1 } });
  });

  it('UN-12 rejects two small headers with maxHeaderBytes 10 and accepts 64 headers by default', () => {
    reject('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n', 'headers-too-large', {
      options: { maxHeaderBytes: 10 },
    });
    let many = 'HTTP/1.1 200 OK\r\n';
    for (let i = 0; i < 64; i++) many += `X-Header-${i}: value-${i}\r\n`;
    assert.equal(parse(`${many}Content-Length: 0\r\n\r\n`).rec.head?.rawHeaders.length, 130);
  });

  it('GO-42 fails a 1 MiB header as soon as the limit is passed, without buffering it', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec, { maxHeaderBytes: 65_536 });
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nLong: '));
    const piece = Buffer.alloc(16_384, 'a');
    let fed = 0;
    let error: unknown;
    for (; fed < 64; fed++) {
      try {
        parser.execute(piece);
      } catch (err) {
        error = err;
        break;
      }
    }
    assert.ok(error instanceof ProtocolError && error.reason === 'headers-too-large');
    assert.equal(fed, 3, 'the fourth 16 KiB piece passes 64 KiB');
    assert.throws(
      () => parser.execute(piece),
      (e: unknown) => e === error,
      'a dead parser rethrows',
    );
  });

  it('counts each interim head separately against the limit', () => {
    const interim = 'HTTP/1.1 100 Continue\r\n\r\n';
    const final = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    const out = parse(interim.repeat(5) + final, { options: { maxHeaderBytes: final.length } });
    assert.equal(out.rec.interims.length, 5);
    assert.equal(out.parser.bytesSeen, interim.length * 5 + final.length);
  });

  it('limits a trailer section by maxHeaderBytes too', () => {
    const raw = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${'t'.repeat(100)}\r\n\r\n`;
    reject(raw, 'headers-too-large', { options: { maxHeaderBytes: 64 } });
  });
});

describe('http1 parser: Content-Length', () => {
  it('MF-01 rejects differing duplicate Content-Length, also on a 304 (bad-content-length)', () => {
    reject(
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 7\r\n\r\nGopher hey\r\n',
      'bad-content-length',
    );
    reject('HTTP/1.1 304 OK\r\nContent-Length: 880\r\nContent-Length: 1\r\n\r\n', 'bad-content-length');
    reject('HTTP/1.1 204 OK\r\nContent-Length: 880\r\nContent-Length: 1\r\n\r\n', 'bad-content-length');
  });

  it('MF-02 rejects identical duplicates and a "7, 7" list (bad-content-length)', () => {
    reject('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\nGophers', 'bad-content-length');
    reject('HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\nGophers', 'bad-content-length');
  });

  it('MF-03 rejects every Content-Length that is not 1*DIGIT within 2^53-1 (bad-content-length)', () => {
    for (const v of [
      '',
      '+3',
      '-1',
      '0x10',
      '1 2',
      '9223372036854775808',
      '99999999999999999999',
      '9007199254740992',
    ]) {
      reject(`HTTP/1.1 200 OK\r\nContent-Length: ${v}\r\n\r\n`, 'bad-content-length');
    }
  });

  it('MF-03/MF-27 reads a tab-wrapped Content-Length as 42 and accepts 2^53-1', () => {
    const body = 'b'.repeat(42);
    const { rec } = parse(`HTTP/1.1 200 OK\r\nContent-Length:\t42\t\r\n\r\n${body}`);
    assert.equal(rec.head?.contentLength, 42);
    assert.equal(rec.body, body);
    const big = attempt('HTTP/1.1 200 OK\r\nContent-Length: 9007199254740991\r\n\r\nabc');
    assert.equal(big.error, undefined);
    assert.equal(big.rec.head?.contentLength, Number.MAX_SAFE_INTEGER);
    assert.equal(big.parser.busy, true);
  });

  it('MF-25 delivers a short body, then EOF is truncated-body', () => {
    const out = reject(
      'HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\nShort body, not 123 bytes.',
      'truncated-body',
      {
        eof: true,
      },
    );
    assert.equal(out.rec.body, 'Short body, not 123 bytes.');
    assert.equal(out.rec.body.length, 26);
    assert.equal(out.rec.completed, 0);
  });

  it('MF-24 stops at the declared length and leaves the surplus unconsumed', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n';
    const extra = 'HTTP/1.1 200 OK\r\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n';
    const out = parse(`${head}abc${extra}`);
    assert.equal(out.rec.body, 'abc');
    assert.equal(out.consumed, head.length + 3);
    assert.equal(out.leftover, extra);
    assert.equal(out.rec.completed, 1);
  });

  it('delivers body bytes as they arrive, as zero-copy views of the input', () => {
    const rec = new Recorder();
    const seen: Buffer[] = [];
    const parser = new ResponseParser(
      {
        onInterim: (h) => rec.onInterim(h),
        onHead: (h) => rec.onHead(h),
        onBody: (c) => seen.push(c),
        onTrailers: (t) => rec.onTrailers(t),
        onComplete: () => rec.onComplete(),
      },
      {},
    );
    parser.expect(false);
    const input = bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello');
    parser.execute(input);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, input.buffer, 'same memory as the input chunk');
    assert.equal(seen[0]!.toString(), 'hello');
    const rest = bytes('world');
    assert.equal(parser.execute(rest), 5);
    assert.equal(seen[1], rest, 'a chunk that is all body is passed as is');
    assert.equal(rec.completed, 1);
  });
});

describe('http1 parser: Transfer-Encoding', () => {
  it('MF-04 rejects Transfer-Encoding together with Content-Length (conflicting-framing)', () => {
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n0a\r\nBody here\n\r\n0\r\n\r\n',
      'conflicting-framing',
    );
  });

  it('MF-05 rejects "chunked, identity" and two Transfer-Encoding lines (conflicting-framing)', () => {
    reject('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nWorld', 'conflicting-framing');
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nWorld',
      'conflicting-framing',
    );
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'conflicting-framing',
    );
  });

  it('MF-06 rejects unknown or empty codings; \\x0b before chunked is a bad header byte', () => {
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n',
      'conflicting-framing',
    );
    reject('HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n2\r\nOK\r\n0\r\n\r\n', 'conflicting-framing');
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n',
      'conflicting-framing',
    );
    reject('HTTP/1.1 200 OK\r\nTransfer-Encoding: \x0bchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n', 'bad-header');
  });

  it('MF-07 rejects Transfer-Encoding in an HTTP/1.0 response (conflicting-framing)', () => {
    reject(
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: bogus\r\nContent-Length: 10\r\n\r\nBody here\n',
      'conflicting-framing',
    );
    reject(
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n',
      'conflicting-framing',
    );
  });

  it('accepts "chunked" in any case with surrounding OWS', () => {
    const { rec } = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: \t CHUNKED \r\n\r\n2\r\nOK\r\n0\r\n\r\n');
    assert.equal(rec.head?.framing, 'chunked');
    assert.equal(rec.body, 'OK');
  });
});

describe('http1 parser: chunked bodies', () => {
  const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';

  it('MF-08 delivers the head, then fails a non-hex chunk size (bad-chunk)', () => {
    const out = reject(`${CHUNKED}zz\r\nabc\r\n0\r\n\r\n`, 'bad-chunk');
    assert.equal(out.rec.head?.status, 200);
  });

  it('MF-08 rejects chunk sizes above 2^53-1 and accepts leading zeros', () => {
    reject(`${CHUNKED}10000000000000000\r\n`, 'bad-chunk');
    reject(`${CHUNKED}ffffffffffffffff\r\n`, 'bad-chunk');
    reject(`${CHUNKED}20000000000000\r\n`, 'bad-chunk');
    const max = attempt(`${CHUNKED}1fffffffffffff\r\nabc`);
    assert.equal(max.error, undefined, '2^53-1 is a valid size');
    assert.equal(max.rec.body, 'abc');
    assert.equal(parse(`${CHUNKED}0000000000000001\r\nx\r\n0\r\n\r\n`).rec.body, 'x');
  });

  it('MF-09 rejects garbage after the size, trailing spaces, an empty extension, an unbalanced quote', () => {
    reject(`${CHUNKED}2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}25  \r\n${'x'.repeat(37)}\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}2;\r\naa\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n`, 'bad-chunk');
  });

  it('MF-09 ignores valid chunk extensions (token and quoted values)', () => {
    const raw = `${CHUNKED}5;ilovew3="I love; extensions";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n`;
    assert.equal(parse(raw).rec.body, 'hello world');
    assert.equal(parse(`${CHUNKED}1;a="x\\"y";b=c\r\nZ\r\n0;last\r\n\r\n`).rec.body, 'Z');
  });

  it('rejects an empty extension value, junk after a quoted value and whitespace around ";"', () => {
    reject(`${CHUNKED}1;a=\r\nZ\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}1;a="x"y\r\nZ\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}1; a=b\r\nZ\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}1 ;a=b\r\nZ\r\n0\r\n\r\n`, 'bad-chunk');
  });

  it('rejects a bare LF or a CR without LF in a chunk-size line', () => {
    reject(`${CHUNKED}1\nZ\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}1\rZ\r\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}\r\n`, 'bad-chunk');
  });

  it('MF-10 fails a chunk-extension flood after bounded work', () => {
    const unit = `1;${'a'.repeat(100)}\r\nX\r\n`;
    const out = reject(CHUNKED + unit.repeat(1000), 'bad-chunk');
    assert.ok(out.rec.body.length < 250, `stopped after ${out.rec.body.length} chunks`);
  });

  it('MF-10 fails a 1 MiB chunk-size line after 4096 bytes, without buffering it', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes(`${CHUNKED}1;`));
    let fed = 0;
    assert.throws(
      () => {
        for (; fed < 1024; fed++) parser.execute(Buffer.alloc(1024, 'a'));
      },
      (e: unknown) => e instanceof ProtocolError && e.reason === 'bad-chunk',
    );
    assert.equal(fed, 3, 'the fourth 1 KiB piece passes 4096 bytes');
    reject(`${CHUNKED}${'0'.repeat(5000)}1\r\nx\r\n0\r\n\r\n`, 'bad-chunk');
  });

  it('MF-10 control: 1 MiB of one-byte chunks succeeds', () => {
    let received = 0;
    let complete = false;
    const parser = new ResponseParser({
      onInterim() {},
      onHead() {},
      onBody(c) {
        received += c.length;
      },
      onTrailers() {},
      onComplete() {
        complete = true;
      },
    });
    parser.expect(false);
    const input = bytes(`${CHUNKED}${'1\r\nX\r\n'.repeat(1 << 20)}0\r\n\r\n`);
    assert.equal(parser.execute(input), input.length);
    assert.equal(received, 1 << 20);
    assert.equal(complete, true);
  });

  it('MF-11 rejects chunk data not followed by CRLF (bad-chunk)', () => {
    const out = reject(`${CHUNKED}5\r\nhelloXX0\r\n\r\n`, 'bad-chunk');
    assert.equal(out.rec.body, 'hello');
    reject(`${CHUNKED}5\r\nhelloX\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}5\r\nhello\n0\r\n\r\n`, 'bad-chunk');
    reject(`${CHUNKED}5\r\nhello\r\r0\r\n\r\n`, 'bad-chunk');
  });

  it('MF-11 delivers a partial chunk at once, then fails when CRLF is missing', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes(`${CHUNKED}7\r\n1234567`));
    assert.equal(rec.body, '1234567', 'the first read returns without waiting for the chunk end');
    assert.throws(
      () => parser.execute(bytes('xx')),
      (e: unknown) => e instanceof ProtocolError && e.reason === 'bad-chunk',
    );
  });

  it('MF-11/UN-14 EOF inside a chunked body is truncated-body after the bytes received', () => {
    const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nhel\r\n';
    const out = reject(raw, 'truncated-body', { eof: true });
    assert.equal(out.rec.body, 'hel');
    assert.equal(out.rec.completed, 0);
  });

  it('MF-11 every proper prefix of a chunked body ends in truncated-body at EOF', () => {
    const body = '4\r\nabcd\r\n5\r\nabc\r\n\r\n0\r\n\r\n';
    assert.equal(parse(CHUNKED + body).rec.body, 'abcdabc\r\n');
    for (let i = 0; i < body.length; i++) {
      const out = reject(CHUNKED + body.slice(0, i), 'truncated-body', { eof: true });
      assert.equal(out.rec.completed, 0);
    }
  });

  it('MF-12 delivers trailers after the body, right before completion', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n';
    const { rec, consumed } = parse(raw);
    assert.equal(rec.body, 'hello');
    assert.deepEqual(rec.trailers, ['X-Sum', 'abc']);
    assert.deepEqual(rec.events, ['head 200', 'body', 'trailers', 'complete']);
    assert.equal(rec.head?.keepAlive, true);
    assert.equal(consumed, raw.length);
  });

  it('MF-12 rejects a malformed trailer line (bad-header)', () => {
    reject(`${CHUNKED}5\r\nhello\r\n0\r\nbad trailer line\r\n\r\n`, 'bad-header');
    reject(`${CHUNKED}0\r\nX-A: 1\r\n folded\r\n\r\n`, 'bad-header');
    reject(`${CHUNKED}0\r\nX-A: 1\n\r\n`, 'bad-header');
  });

  it('reports an empty trailer list when there are no trailers', () => {
    const { rec } = parse(`${CHUNKED}0\r\n\r\n`);
    assert.deepEqual(rec.trailers, []);
    assert.deepEqual(rec.events, ['head 200', 'trailers', 'complete']);
  });

  it('GO-21 reports the trailers actually sent (A and C, not the declared B)', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nTrailer: Server-Trailer-A, Server-Trailer-B\r\nTrailer: Server-Trailer-C\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nServer-Trailer-A: valuea\r\nServer-Trailer-C: valuec\r\n\r\n';
    const { rec } = parse(raw);
    assert.deepEqual(
      headersObject(rec.head!.rawHeaders).trailer,
      'Server-Trailer-A, Server-Trailer-B, Server-Trailer-C',
    );
    assert.deepEqual(rec.trailers, ['Server-Trailer-A', 'valuea', 'Server-Trailer-C', 'valuec']);
    assert.equal(rec.body, 'body');
  });

  it('UN-13 parses heartbeat chunks of a single LF byte', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes(CHUNKED));
    for (let i = 0; i < 4; i++) parser.execute(bytes('1\r\n\n\r\n'));
    assert.equal(rec.body, '\n\n\n\n');
    assert.equal(parser.busy, true);
    parser.execute(bytes('0\r\n\r\n'));
    assert.equal(rec.completed, 1);
  });

  it('parses a sample with a 100, extensions and trailers identically byte by byte and at every split point', () => {
    const sample =
      'HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
      '7;ext="a;b"\r\nMozilla\r\n9\r\nDeveloper\r\n7;x=y\r\nNetwork\r\n0\r\nX-Checksum: 42\r\nX-Other: \t z \r\n\r\n';
    const summary = (out: Outcome) => ({
      events: out.rec.events,
      interims: out.rec.interims,
      head: out.rec.head,
      body: out.rec.body,
      trailers: out.rec.trailers,
      consumed: out.consumed,
      bytesSeen: out.parser.bytesSeen,
      leftover: out.leftover,
    });
    const whole = summary(parse(sample));
    assert.equal(whole.body, 'MozillaDeveloperNetwork');
    assert.deepEqual(whole.trailers, ['X-Checksum', '42', 'X-Other', 'z']);
    assert.deepEqual(whole.events, ['interim 100', 'head 200', 'body', 'trailers', 'complete']);
    assert.deepEqual(summary(parse([...sample])), whole, 'byte at a time');
    for (let i = 1; i < sample.length; i++) {
      assert.deepEqual(summary(parse([sample.slice(0, i), sample.slice(i)])), whole, `split at ${i}`);
    }
  });
});

describe('http1 parser: read-to-close and bodiless responses', () => {
  it('MF-19 reads a body without length to EOF and never reuses the connection', () => {
    for (const [raw, body] of [
      ['HTTP/1.0 200 OK\r\n\r\nBody here\n', 'Body here\n'],
      ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world', 'hello world'],
      [
        'HTTP/1.1 206 Partial Content\r\nConnection: close\r\nContent-Type: multipart/byteranges; boundary=18a75608c8f47cef\r\n\r\nsome body',
        'some body',
      ],
    ] as const) {
      const rec = new Recorder();
      const parser = new ResponseParser(rec);
      parser.expect(false);
      assert.equal(parser.execute(bytes(raw)), raw.length);
      assert.equal(rec.head?.framing, 'close');
      assert.equal(rec.head?.keepAlive, false);
      assert.equal(rec.head?.contentLength, -1);
      assert.equal(rec.completed, 0, 'not complete before EOF');
      parser.finish();
      assert.equal(rec.completed, 1);
      assert.equal(rec.body, body);
      assert.equal(parser.busy, false);
    }
  });

  it('MF-23 HEAD: a Content-Length is not a body and the response completes at the head end', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 256\r\n\r\n';
    const { rec, consumed } = parse(raw, { head: true });
    assert.equal(rec.head?.framing, 'none');
    assert.equal(rec.head?.contentLength, -1);
    assert.equal(rec.head?.keepAlive, true);
    assert.deepEqual(rec.events, ['head 200', 'complete']);
    assert.equal(consumed, raw.length);
  });

  it('GO-20 HEAD with Transfer-Encoding: chunked or no length has no body and stays reusable', () => {
    const chunked = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { head: true });
    assert.equal(chunked.rec.head?.framing, 'none');
    assert.equal(chunked.rec.completed, 1);
    const none = parse('HTTP/1.1 200 OK\r\n\r\n', { head: true });
    assert.equal(none.rec.head?.framing, 'none');
    assert.equal(none.rec.head?.keepAlive, true);
    assert.equal(none.rec.completed, 1);
  });

  it('MF-23 a 304 with Content-Length has no body; the next response parses on its own', () => {
    const first = 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n';
    const second = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    const input = bytes(first + second);
    const n = parser.execute(input);
    assert.equal(n, first.length);
    assert.equal(rec.head?.status, 304);
    assert.equal(rec.head?.keepAlive, true);
    parser.expect(false);
    assert.equal(parser.execute(input.subarray(n)), second.length);
    assert.equal(rec.head?.status, 200);
    assert.equal(rec.body, 'hello');
    assert.equal(rec.completed, 2);
  });

  it('GO-20 a chunked 304 ends at its head; "0\\r\\n\\r\\n" is left over', () => {
    const out = parse('HTTP/1.1 304 NOT MODIFIED\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.equal(out.rec.head?.framing, 'none');
    assert.equal(out.rec.body, '');
    assert.equal(out.leftover, '0\r\n\r\n');
  });

  it('MF-22 a 204 ends at its head; the bytes after it are left over', () => {
    const out = parse('HTTP/1.1 204 No Content\r\n\r\nBody should not be read!\n');
    assert.equal(out.rec.head?.framing, 'none');
    assert.equal(out.rec.completed, 1);
    assert.equal(out.leftover, 'Body should not be read!\n');
  });

  it('MF-26 a complete response succeeds; trailing bytes are left over, never an error', () => {
    const a = parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello2ad731e3');
    assert.equal(a.rec.body, 'hello');
    assert.equal(a.rec.head?.keepAlive, false);
    assert.equal(a.leftover, '2ad731e3');
    const b = parse('HTTP/1.1 204 No content\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n');
    assert.equal(b.rec.completed, 1);
    assert.equal(b.leftover, 'HTTP/1.1 200 OK\r\n');
  });

  it('rejects Transfer-Encoding with Content-Length even on a response without body', () => {
    reject(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'conflicting-framing',
      {
        head: true,
      },
    );
  });

  it('does not check the Transfer-Encoding codings of a response that has no body', () => {
    const { rec } = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', { head: true });
    assert.equal(rec.head?.framing, 'none');
    assert.equal(parse('HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n').rec.completed, 1);
  });

  it('completes a Content-Length: 0 response at its head end', () => {
    const { rec, leftover } = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX');
    assert.equal(rec.head?.framing, 'length');
    assert.equal(rec.head?.contentLength, 0);
    assert.deepEqual(rec.events, ['head 200', 'complete']);
    assert.equal(leftover, 'X');
  });
});

describe('http1 parser: interim (1xx) responses', () => {
  it('MF-21 skips a 100 Continue and parses the final 404 with its body', () => {
    const { rec } = parse(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n404: Not Found',
    );
    assert.deepEqual(rec.events, ['interim 100', 'head 404', 'body', 'complete']);
    assert.equal(rec.interims[0]?.framing, 'none');
    assert.equal(rec.body, '404: Not Found');
  });

  it('MF-21 keeps 103 headers out of the final head (exact bytes: 16 of 17 declared body bytes)', () => {
    const raw =
      'HTTP/1.1 103 Early Hints\r\nLink: </styles.css>; rel=preload; as=style\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nresponse content';
    const out = parse(raw);
    assert.deepEqual(out.rec.interims[0]?.rawHeaders, ['Link', '</styles.css>; rel=preload; as=style']);
    assert.deepEqual(out.rec.head?.rawHeaders, ['Content-Length', '17']);
    assert.equal(out.rec.body, 'response content');
    assert.equal(out.parser.busy, true, 'one declared byte is still missing');
  });

  it('GO-40 reports a 123 with its headers and returns the final 200 with its own', () => {
    const raw =
      'HTTP/1.1 123 OneTwoThree\r\nFoo: bar\r\n\r\nHTTP/1.1 200 OK\r\nBar: baz\r\nContent-Length: 5\r\n\r\nHello';
    const { rec } = parse(raw);
    assert.equal(rec.interims[0]?.status, 123);
    assert.equal(rec.interims[0]?.statusText, 'OneTwoThree');
    assert.deepEqual(rec.interims[0]?.rawHeaders, ['Foo', 'bar']);
    assert.deepEqual(rec.head?.rawHeaders, ['Bar', 'baz', 'Content-Length', '5']);
    assert.equal(rec.body, 'Hello');
  });

  it('GO-40 reports each of two 103s with its Link headers', () => {
    const raw =
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' +
      'HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\nLink: </c.js>; rel=preload\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    const { rec } = parse(raw);
    assert.equal(rec.interims.length, 2);
    assert.deepEqual({ ...headersObject(rec.interims[1]!.rawHeaders) }, {
      link: '</b.js>; rel=preload, </c.js>; rel=preload',
    });
    assert.equal(rec.interims[0]?.framing, 'none');
  });

  it('GO-41 accepts 10 interim responses and rejects the 11th (too-many-1xx)', () => {
    const interim = 'HTTP/1.1 123 OneTwoThree\r\n\r\n';
    const ok = parse(`${interim.repeat(10)}HTTP/1.1 204 No Content\r\n\r\n`);
    assert.equal(ok.rec.interims.length, 10);
    assert.equal(ok.rec.head?.status, 204);
    const bad = reject(`${interim.repeat(11)}HTTP/1.1 204 No Content\r\n\r\n`, 'too-many-1xx');
    assert.equal(bad.rec.interims.length, 10);
    reject(interim.repeat(3), 'too-many-1xx', { options: { maxInterim: 2 } });
  });

  it('GO-41/MF-28/UN-16 rejects an unrequested 101 and never parses what follows (bad-upgrade)', () => {
    reject('HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', 'bad-upgrade');
    const out = reject(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nbody\r\nproto',
      'bad-upgrade',
    );
    assert.deepEqual(out.rec.events, []);
    reject(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: example/1\r\nConnection: Upgrade\r\n\r\n',
      'bad-upgrade',
    );
  });

  it('UN-16 a 1xx has no body: bytes after its head that are no status line are bad-status-line', () => {
    const out = reject('HTTP/1.1 103 Early Hints\r\nContent-Length: 1\r\n\r\na\r\n', 'bad-status-line');
    assert.equal(out.rec.interims.length, 1);
    assert.equal(out.rec.interims[0]?.framing, 'none');
  });

  it('UN-16 after a lone 100 the parser keeps waiting; EOF then is connection-closed', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 100 Early Hints\r\n\r\n'));
    assert.equal(rec.interims.length, 1);
    assert.equal(parser.busy, true);
    assert.equal(parser.headDone, false);
    assert.ok(parser.bytesSeen > 0);
    assert.throws(
      () => parser.finish(),
      (e: unknown) => e instanceof ProtocolError && e.reason === 'connection-closed',
    );
  });
});

describe('http1 parser: keep-alive', () => {
  it('MF-20 HTTP/1.0 with Connection: keep-alive and a length is reusable; an empty Pragma stays separate', () => {
    const raw =
      'HTTP/1.0 301 Moved Permanently\r\nPragma: \r\nLocation: http://www.bonjourmadame.fr/\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n';
    const { rec } = parse(raw);
    assert.equal(rec.head?.keepAlive, true);
    assert.deepEqual(rec.head?.rawHeaders.slice(0, 4), [
      'Pragma',
      '',
      'Location',
      'http://www.bonjourmadame.fr/',
    ]);
  });

  it('MF-20 any close token wins over keep-alive', () => {
    const a = parse('HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n');
    assert.equal(a.rec.head?.keepAlive, false);
    const b = parse(
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(b.rec.head?.keepAlive, false);
    const c = parse('HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n');
    assert.equal(c.rec.head?.keepAlive, false);
  });

  it('HTTP/1.1 is reusable by default, HTTP/1.0 only with keep-alive, read-to-close never', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').rec.head?.keepAlive, true);
    assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').rec.head?.keepAlive, false);
    assert.equal(
      parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').rec.head?.keepAlive,
      true,
    );
    const close = parse('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc', { eof: true });
    assert.equal(close.rec.head?.framing, 'close');
    assert.equal(close.rec.head?.keepAlive, false);
  });

  it('reports the Keep-Alive timeout hint in seconds, -1 when absent or unparsable', () => {
    const raw = 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n';
    assert.equal(parse(raw).rec.head?.keepAliveTimeout, 5);
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').rec.head?.keepAliveTimeout, -1);
    const bad = 'HTTP/1.1 200 OK\r\nKeep-Alive: timeoutasdasd=1s\r\nContent-Length: 0\r\n\r\n';
    assert.equal(parse(bad).rec.head?.keepAliveTimeout, -1);
  });

  it('parseKeepAliveTimeout reads timeout=N (quoted, with spaces, with an s unit) and nothing else', () => {
    const cases: [string, number][] = [
      ['timeout=2', 2],
      ['timeout=2s', 2],
      ['timeout=30s', 30],
      ['max=100, timeout=7', 7],
      ['Timeout = 9', 9],
      ['timeout="3"', 3],
      ['timeout=0', 0],
      ['timeoutasdasd=1s', -1],
      ['timeout=', -1],
      ['timeout=abc', -1],
      ['timeout=-1', -1],
      ['timeout=1.5', -1],
      ['timeout=0x10', -1],
      ['max=5', -1],
      ['', -1],
    ];
    for (const [value, expected] of cases) assert.equal(parseKeepAliveTimeout(value), expected, value);
  });
});

describe('http1 parser: lifecycle', () => {
  it('consumes nothing before expect() and reports busy/headDone/bytesSeen through a response', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    assert.equal(parser.execute(bytes('HTTP/1.1 200 OK\r\n')), 0);
    assert.equal(parser.busy, false);
    parser.finish();
    parser.expect(false);
    assert.equal(parser.busy, true);
    assert.equal(parser.bytesSeen, 0);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Le'));
    assert.equal(parser.bytesSeen, 27);
    assert.equal(parser.headDone, false);
    parser.execute(bytes('ngth: 2\r\n\r\na'));
    assert.equal(parser.headDone, true);
    assert.equal(parser.bytesSeen, 38);
    assert.equal(parser.busy, true);
    parser.execute(bytes('b'));
    assert.equal(parser.busy, false);
    parser.finish();
    assert.equal(rec.completed, 1);
    parser.expect(true);
    assert.equal(parser.headDone, false);
    assert.equal(parser.bytesSeen, 0);
  });

  it('refuses expect() while a response is in progress', () => {
    const parser = new ResponseParser(new Recorder());
    parser.expect(false);
    assert.throws(() => parser.expect(false), /in progress/);
  });

  it('is dead after a throw: execute, expect and the handler error are rethrown', () => {
    const out = reject('HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n', 'bad-header');
    assert.throws(
      () => out.parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\n')),
      (e: unknown) => e === out.error,
    );
    assert.throws(
      () => out.parser.expect(false),
      (e: unknown) => e === out.error,
    );
    assert.equal(out.parser.busy, false);
    out.parser.finish();

    const boom = new Error('consumer failed');
    const parser = new ResponseParser({
      onInterim() {},
      onHead() {
        throw boom;
      },
      onBody() {},
      onTrailers() {},
      onComplete() {},
    });
    parser.expect(false);
    assert.throws(() => parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')), boom);
    assert.throws(() => parser.execute(bytes('x')), boom);
  });

  it('stops right after onComplete even when the handler calls expect() for the next request', () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA';
    const second = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB';
    let parser: ResponseParser | undefined;
    const rec = new Recorder();
    const events: ParserEvents = {
      onInterim: (h) => rec.onInterim(h),
      onHead: (h) => rec.onHead(h),
      onBody: (c) => rec.onBody(c),
      onTrailers: (t) => rec.onTrailers(t),
      onComplete: () => {
        rec.onComplete();
        parser?.expect(false);
      },
    };
    parser = new ResponseParser(events);
    parser.expect(false);
    const input = bytes(first + second);
    assert.equal(parser.execute(input), first.length);
    assert.equal(rec.body, 'A');
    assert.equal(parser.busy, true);
    assert.equal(parser.execute(input.subarray(first.length)), second.length);
    assert.equal(rec.body, 'AB');
  });

  it('parses several responses on one connection in sequence (length, chunked, HEAD)', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none'));
    parser.expect(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n'));
    parser.expect(true);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'));
    assert.equal(rec.body, 'onetwo');
    assert.equal(rec.completed, 3);
    assert.equal(rec.head?.framing, 'none');
  });
});

describe('headersObject', () => {
  it('lower-cases names and joins repeated headers with ", "', () => {
    assert.deepEqual({ ...headersObject(['Content-Type', 'text/plain', 'X-A', '1', 'x-a', '2', 'X-A', '']) }, {
      'content-type': 'text/plain',
      'x-a': '1, 2, ',
    });
  });

  it('always makes set-cookie a string[]', () => {
    assert.deepEqual({ ...headersObject(['Set-Cookie', 'a=1']) }, { 'set-cookie': ['a=1'] });
    assert.deepEqual({ ...headersObject(['Set-Cookie', 'a=1; Expires=Wed, 21 Oct 2015', 'set-cookie', 'b=2']) }, {
      'set-cookie': ['a=1; Expires=Wed, 21 Oct 2015', 'b=2'],
    });
  });

  it('treats a header named __proto__ as data', () => {
    const h = headersObject(['__proto__', 'x', 'A', '1']);
    assert.equal(Object.getPrototypeOf(h), null, 'SPEC §11: header objects have a null prototype');
    assert.equal(Object.getOwnPropertyDescriptor(h, '__proto__')?.value, 'x');
    assert.equal(h.a, '1');
  });
});

// Values of 128 bytes or more are compared and validated as wholes, four bytes at a time
// (issue #18, outside attack of 2026-12-07: a 40 KB header cost 1.5 × undici's CPU).
describe('http1 parser: long header values', () => {
  const FORBIDDEN = [...Array.from({ length: 0x20 }, (_, c) => c).filter((c) => c !== 0x09 && c !== 0x0a), 0x7f];
  /** A response whose one header `x-long` has `value`, starting `shift` bytes into its buffer. */
  const response = (value: Buffer, shift: number): Buffer =>
    Buffer.concat([Buffer.alloc(shift, 0x20), bytes('HTTP/1.1 200 OK\r\nx-long: '), value, bytes('\r\ncontent-length: 0\r\n\r\n')]).subarray(shift);
  // Ends in a non-space: trailing whitespace is OWS, not part of the value.
  const longValue = (n: number): Buffer => Buffer.from(`${'a=b; c=d; '.repeat(Math.ceil(n / 10)).slice(0, n - 1)}z`, 'latin1');

  it('every forbidden byte, at every place within a word and every buffer alignment: bad-header', () => {
    for (const c of FORBIDDEN) {
      for (const at of [0, 1, 2, 3, 4, 5, 6, 7, 150, 297, 298, 299]) {
        for (let shift = 0; shift < 4; shift++) {
          const v = longValue(300);
          v[at] = c;
          // A bad byte at either end is trimmed as whitespace only when it is SP/HTAB: never here.
          reject(response(v, shift), 'bad-header');
        }
      }
    }
  });

  it('HTAB, SP and obs-text anywhere in a long value are kept, byte for byte (latin1)', () => {
    for (const c of [0x09, 0x20, 0x80, 0xa0, 0xff]) {
      for (const at of [1, 2, 3, 4, 149, 150, 151, 298]) {
        for (let shift = 0; shift < 4; shift++) {
          const v = longValue(300);
          v[at] = c;
          const out = parse(response(v, shift));
          assert.equal(out.rec.head!.rawHeaders[1], v.toString('latin1'), `byte ${c} at ${at}, shift ${shift}`);
        }
      }
    }
  });

  it('lengths around the limit (127, 128, 129) and long ones decide alike', () => {
    for (const n of [127, 128, 129, 1_000, 40_000]) {
      const v = longValue(n);
      assert.equal(parse(response(v, 0)).rec.head!.rawHeaders[1], v.toString('latin1'));
      v[n >> 1] = 0x00;
      reject(response(v, 1), 'bad-header');
    }
  });

  it('on one connection: a repeated long value is the same string; a changed one is validated again', () => {
    const rec = new Recorder();
    const parser = new ResponseParser(rec);
    const v = longValue(5_000);
    parser.expect(false);
    parser.execute(response(v, 0));
    const first = rec.head!.rawHeaders[1];
    parser.expect(false);
    parser.execute(response(v, 0));
    assert.equal(rec.head!.rawHeaders[1], first);
    const bad = Buffer.from(v);
    bad[2_500] = 0x7f;
    parser.expect(false);
    assert.throws(() => parser.execute(response(bad, 2)), (e: unknown) => e instanceof ProtocolError && e.reason === 'bad-header');
  });
});
