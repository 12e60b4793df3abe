/**
 * parser — an incremental, strict HTTP/1.1 response parser (RFC 9112) with no I/O.
 *
 * Owns: turning response bytes into events (interim heads, the final head, body
 * slices, trailers, completion) and deciding how a body is delimited and whether the
 * connection may be reused. It never reads or writes a socket and never times
 * anything: the connection module feeds it bytes, calls `finish()` at EOF, and owns
 * timers, backpressure and what to do with bytes past the end of a response.
 *
 * Invariants:
 * - Any violation throws a `ProtocolError` with a `reason`; after a throw (also one
 *   from an event handler) the parser is dead and rethrows that error.
 * - Body slices are zero-copy `subarray` views of the caller's chunk; only a head or
 *   trailer line split across chunks is copied (by {@link HeadSection}, bounded by
 *   `maxHeaderBytes`). Chunk-size lines are parsed byte by byte and never buffered.
 * - `execute` stops right after `onComplete`, even if the handler calls `expect()`.
 * - Memory and work per response are bounded: heads and trailers by `maxHeaderBytes`,
 *   a chunk-size line by 4096 bytes, chunk overhead as Go bounds it (16 KiB beyond
 *   16 bytes per chunk), interim responses by `maxInterim`.
 */

import { ProtocolError, type ProtocolReason } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { chunkedOnly, CONNECTION_CLOSE, CONNECTION_KEEP_ALIVE, FIELD_CHAR, HEX, HeadSection, TCHAR, UNSUPPORTED_TE } from './headers.js';

/** A parsed response head (interim or final). */
export interface ResponseHead {
  status: number;
  statusText: string;
  httpVersion: '1.0' | '1.1';
  /** [name, value, name, value, ...] as received: names case preserved, values with surrounding OWS trimmed. */
  rawHeaders: string[];
  /** The lower-cased name of each field of `rawHeaders` (for the headers object). */
  headerNames: string[];
  /** How the body is delimited. 'none' for HEAD requests, 1xx, 204, 304 (whatever their headers say). */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The Content-Length when framing === 'length', else -1. */
  contentLength: number;
  /** May the connection be reused after this response? Always false for framing 'close'. */
  keepAlive: boolean;
  /** Value of a Keep-Alive `timeout=N` parameter in seconds, or -1 (unparsable/absent). */
  keepAliveTimeout: number;
}

/** Receives the parser's events; implemented by the connection object (no closures per request). */
export interface ParserEvents {
  /** Every 1xx except 101 (100 included). */
  onInterim(head: ResponseHead): void;
  /** The final response head. */
  onHead(head: ResponseHead): void;
  /** Zero-copy subarray views of the input chunk, never empty. */
  onBody(chunk: Buffer): void;
  /** Chunked only, called (possibly with []) right before onComplete. */
  onTrailers(rawTrailers: string[]): void;
  /** The response finished. */
  onComplete(): void;
}

export interface ParserOptions {
  /** Limit of a head (status line + field lines + CRLFs) and, separately, of a trailer section. */
  maxHeaderBytes?: number;
  /** How many interim (1xx) responses may precede the final one. */
  maxInterim?: number;
}

export class ResponseParser {
  private readonly events: ParserEvents;
  private readonly maxInterim: number;
  private state = S_IDLE;
  /** Set once a throw killed the parser; rethrown by every later call. */
  private failure: unknown;
  /** Incremented right before onComplete: lets `execute` stop even if `expect()` ran inside it. */
  private completions = 0;
  private noBody = false;
  private interimCount = 0;
  private seen = 0;
  private finalHead = false;

  /** The head or trailer section in progress (states S_HEAD, S_TRAILER). */
  private readonly section: HeadSection;

  // Body in progress.
  /** Bytes left of a Content-Length body or of the current chunk's data. */
  private remaining = 0;
  private chunkSize = 0;
  private lineBytes = 0;
  /** Go's chunk overhead accounting (see chunkMeta). */
  private excess = 0;

  constructor(events: ParserEvents, options: ParserOptions = {}) {
    this.events = events;
    this.section = new HeadSection(options.maxHeaderBytes ?? DEFAULTS.maxResponseHeaderBytes);
    this.maxInterim = options.maxInterim ?? DEFAULTS.maxInterimResponses;
  }

  /** True after expect() and before onComplete. */
  get busy(): boolean {
    return this.state !== S_IDLE && this.state !== S_DEAD;
  }

  /** True once the final head was parsed for the current response. */
  get headDone(): boolean {
    return this.finalHead;
  }

  /** Bytes of the current response's heads (interim ones included) seen so far; 0 when none. */
  get bytesSeen(): number {
    return this.seen;
  }

  /** Prepares for the response to a new request. noBody=true when the request was HEAD. */
  expect(noBody: boolean): void {
    if (this.state === S_DEAD) throw this.failure;
    if (this.state !== S_IDLE) {
      throw new Error('ResponseParser.expect() called while a response is in progress');
    }
    this.noBody = noBody;
    this.interimCount = 0;
    this.seen = 0;
    this.finalHead = false;
    this.section.begin(false);
    this.state = S_HEAD;
  }

  /**
   * Feeds bytes; returns how many were consumed. A value < chunk.length means the
   * response completed and the rest belongs to no response. Throws ProtocolError.
   */
  execute(chunk: Buffer): number {
    if (this.state === S_DEAD) throw this.failure;
    try {
      return this.run(chunk);
    } catch (err) {
      this.die(err);
      throw err;
    }
  }

  /** The peer closed the connection (EOF). Completes a read-to-close body, else throws if busy. */
  finish(): void {
    const state = this.state;
    if (state === S_IDLE || state === S_DEAD) return;
    if (state === S_BODY_CLOSE) {
      this.complete();
      return;
    }
    const err = this.finalHead
      ? protocolError('truncated-body', 'connection closed before the response body ended')
      : protocolError('connection-closed', 'connection closed before the response head ended');
    this.die(err);
    throw err;
  }

  // Private implementation past this point.

  private die(err: unknown): void {
    this.state = S_DEAD;
    this.failure = err;
    this.section.release();
  }

  private run(chunk: Buffer): number {
    const len = chunk.length;
    const generation = this.completions;
    let pos = 0;
    while (pos < len && this.completions === generation) {
      switch (this.state) {
        case S_IDLE:
          return pos;
        case S_HEAD:
        case S_TRAILER: {
          const end = this.section.read(chunk, pos, len);
          const stop = end === -1 ? len : end;
          if (this.state === S_HEAD) this.seen += stop - pos;
          pos = stop;
          if (end !== -1) {
            if (this.state === S_HEAD) this.endHead();
            else this.endTrailers();
          }
          break;
        }
        case S_BODY_CLOSE:
          this.events.onBody(pos === 0 ? chunk : chunk.subarray(pos));
          return len;
        case S_BODY_LENGTH:
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, len - pos);
          const slice = pos === 0 && n === len ? chunk : chunk.subarray(pos, pos + n);
          const lengthBody = this.state === S_BODY_LENGTH;
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0 && !lengthBody) this.state = S_DATA_CR;
          this.events.onBody(slice);
          if (this.remaining === 0 && lengthBody) this.complete();
          break;
        }
        default:
          pos = this.chunkMeta(chunk, pos, len);
      }
    }
    return pos;
  }

  /** The blank line after a head: decides framing and reuse, then reports the head. */
  private endHead(): void {
    const h = this.section;
    const status = h.status;
    if (status === 101) {
      throw protocolError('bad-upgrade', '101 Switching Protocols without an upgrade request');
    }
    if (h.teCount > 0 && h.clCount > 0) {
      throw protocolError('conflicting-framing', 'both Transfer-Encoding and Content-Length');
    }
    const interim = status < 200;
    let framing: ResponseHead['framing'];
    let next: number;
    if (interim || this.noBody || status === 204 || status === 304) {
      framing = 'none';
      next = S_IDLE;
    } else if (h.teCount > 0) {
      if (h.minor === 0) {
        throw protocolError('conflicting-framing', 'Transfer-Encoding in an HTTP/1.0 response');
      }
      if (!chunkedOnly(h.teCount, h.teValue)) throw protocolError('conflicting-framing', UNSUPPORTED_TE);
      framing = 'chunked';
      next = S_SIZE_START;
    } else if (h.clCount > 0) {
      framing = 'length';
      next = h.clValue === 0 ? S_IDLE : S_BODY_LENGTH;
    } else {
      framing = 'close';
      next = S_BODY_CLOSE;
    }
    const head: ResponseHead = {
      status,
      statusText: h.statusText,
      httpVersion: h.minor === 1 ? '1.1' : '1.0',
      rawHeaders: h.raw,
      headerNames: h.lower,
      framing,
      contentLength: framing === 'length' ? h.clValue : -1,
      keepAlive:
        framing !== 'close' &&
        (h.connFlags & CONNECTION_CLOSE) === 0 &&
        (h.minor === 1 || (h.connFlags & CONNECTION_KEEP_ALIVE) !== 0),
      keepAliveTimeout: h.kaTimeout,
    };
    if (interim) {
      if (++this.interimCount > this.maxInterim) {
        throw protocolError('too-many-1xx', `more than ${this.maxInterim} interim (1xx) responses`);
      }
      this.section.begin(false);
      this.events.onInterim(head);
      return;
    }
    this.finalHead = true;
    this.remaining = head.contentLength;
    this.excess = 0;
    // A bodiless response stays busy (in S_HEAD) until onHead returns, then completes.
    if (next !== S_IDLE) this.state = next;
    this.events.onHead(head);
    if (next === S_IDLE) this.complete();
  }

  private endTrailers(): void {
    const trailers = this.section.raw;
    this.events.onTrailers(trailers);
    this.complete();
  }

  private complete(): void {
    this.state = S_IDLE;
    this.completions++;
    this.events.onComplete();
  }

  /**
   * Chunk-size lines (`1*HEXDIG *(";" ext-name ["=" token / quoted-string]) CRLF`) and
   * the CRLF after chunk data, one byte at a time so a line split across chunks needs
   * no buffer. Leaves at the start of chunk data or of the trailer section.
   */
  private chunkMeta(chunk: Buffer, pos: number, len: number): number {
    let state = this.state;
    let size = this.chunkSize;
    let lineBytes = this.lineBytes;
    while (pos < len) {
      const c = chunk[pos++]!;
      if (state === S_DATA_CR) {
        if (c !== CR) throw badChunk('missing CRLF after chunk data');
        state = S_DATA_LF;
        continue;
      }
      if (state === S_DATA_LF) {
        if (c !== LF) throw badChunk('missing CRLF after chunk data');
        state = S_SIZE_START;
        size = 0;
        lineBytes = 0;
        continue;
      }
      if (++lineBytes > MAX_CHUNK_LINE) throw badChunk(`chunk-size line longer than ${MAX_CHUNK_LINE} bytes`);
      switch (state) {
        case S_SIZE_START:
        case S_SIZE: {
          const d = HEX[c]!;
          if (d !== -1) {
            if (size > MAX_SAFE_DIV_16) throw badChunk('chunk size too large');
            size = size * 16 + d;
            state = S_SIZE;
          } else if (state === S_SIZE && c === SEMI) state = S_EXT_NAME_START;
          else if (state === S_SIZE && c === CR) state = S_SIZE_LF;
          else throw badChunk('invalid character in chunk size');
          break;
        }
        case S_EXT_NAME_START:
          if (TCHAR[c] === 0) throw badChunk('invalid chunk extension name');
          state = S_EXT_NAME;
          break;
        case S_EXT_NAME:
          if (c === EQUALS) state = S_EXT_VALUE_START;
          else if (c === SEMI) state = S_EXT_NAME_START;
          else if (c === CR) state = S_SIZE_LF;
          else if (TCHAR[c] === 0) throw badChunk('invalid chunk extension name');
          break;
        case S_EXT_VALUE_START:
          if (c === DQUOTE) state = S_EXT_QUOTED;
          else if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else throw badChunk('invalid chunk extension value');
          break;
        case S_EXT_TOKEN:
        case S_EXT_AFTER_QUOTED:
          if (c === SEMI) state = S_EXT_NAME_START;
          else if (c === CR) state = S_SIZE_LF;
          else if (state === S_EXT_AFTER_QUOTED || TCHAR[c] === 0) {
            throw badChunk('invalid chunk extension value');
          }
          break;
        case S_EXT_QUOTED:
          if (c === DQUOTE) state = S_EXT_AFTER_QUOTED;
          else if (c === BACKSLASH) state = S_EXT_QUOTED_ESCAPE;
          else if (FIELD_CHAR[c] === 0) throw badChunk('invalid chunk extension quoted value');
          break;
        case S_EXT_QUOTED_ESCAPE:
          if (FIELD_CHAR[c] === 0) throw badChunk('invalid chunk extension quoted value');
          state = S_EXT_QUOTED;
          break;
        case S_SIZE_LF: {
          if (c !== LF) throw badChunk('missing LF after chunk size');
          // Go's bound on non-data bytes: the size line and the CRLF after the data,
          // less 16 bytes and twice the data size, may not accumulate beyond 16 KiB.
          this.excess = Math.max(0, this.excess + lineBytes - 16 - 2 * size);
          if (this.excess > MAX_CHUNK_EXCESS) throw badChunk('chunked encoding contains too much non-data');
          this.chunkSize = 0;
          this.lineBytes = 0;
          if (size === 0) {
            this.section.begin(true);
            this.state = S_TRAILER;
          } else {
            this.remaining = size;
            this.state = S_CHUNK_DATA;
          }
          return pos;
        }
        default:
          throw new Error(`unreachable parser state ${state}`);
      }
    }
    this.state = state;
    this.chunkSize = size;
    this.lineBytes = lineBytes;
    return pos;
  }
}

// States. S_IDLE: no response expected. S_HEAD: status line and headers (interim heads
// included). Bodies: S_BODY_*, chunked S_SIZE_START..S_DATA_LF, then S_TRAILER.
const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_BODY_CLOSE = 3;
const S_SIZE_START = 4;
const S_SIZE = 5;
const S_EXT_NAME_START = 6;
const S_EXT_NAME = 7;
const S_EXT_VALUE_START = 8;
const S_EXT_TOKEN = 9;
const S_EXT_QUOTED = 10;
const S_EXT_QUOTED_ESCAPE = 11;
const S_EXT_AFTER_QUOTED = 12;
const S_SIZE_LF = 13;
const S_CHUNK_DATA = 14;
const S_DATA_CR = 15;
const S_DATA_LF = 16;
const S_TRAILER = 17;
const S_DEAD = 18;

const LF = 0x0a;
const CR = 0x0d;
const DQUOTE = 0x22;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const MAX_CHUNK_LINE = 4096;
const MAX_CHUNK_EXCESS = 16 * 1024;
/** A hex size n with n <= this can take one more digit without passing MAX_SAFE_INTEGER. */
const MAX_SAFE_DIV_16 = 562949953421311;

function protocolError(reason: ProtocolReason, message: string): ProtocolError {
  return new ProtocolError(reason, message);
}

function badChunk(message: string): ProtocolError {
  return new ProtocolError('bad-chunk', message);
}
