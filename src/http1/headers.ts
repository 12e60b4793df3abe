/**
 * headers — reading a response head or trailer section (RFC 9112 §2.2, §4, §5;
 * RFC 9110 §5.5, §5.6.2), and the helpers that read parsed fields: the user-facing
 * headers object and the Keep-Alive `timeout` hint.
 *
 * Owns: byte lookup tables shared by the parser (response side) and the serializer
 * (request side), so both agree on what a token and a field value are; and
 * {@link HeadSection}, which splits a section into CRLF lines (reassembling lines
 * split across chunks), enforces the size limit, validates each status or field line
 * and collects what framing needs (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive). It never decides framing: that is the parser's job.
 *
 * Invariants: tables are indexed by byte and never mutated after load; a section
 * never holds more than `maxBytes` bytes (a split line is copied into a pending
 * buffer, checked before copying); a line is validated in full before anything is
 * decoded from it; field values are decoded as Latin-1 (lossless: one char per byte,
 * as node:http and undici), a reason phrase as UTF-8 only when it holds a byte >= 0x80.
 */

import { ProtocolError, type ProtocolReason } from '../errors.js';

/** 1 for RFC 9110 `tchar`: ALPHA / DIGIT / ``!#$%&'*+-.^_`|~``. */
export const TCHAR: Uint8Array = table((c) => {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
});

/** 1 for a byte allowed in a field value or reason phrase: HTAB / SP / VCHAR / obs-text. */
export const FIELD_CHAR: Uint8Array = table((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f));

/** Hex digit value of a byte, or -1. */
export const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0; c < 256; c++) {
    if (c >= 0x30 && c <= 0x39) t[c] = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) t[c] = c - 0x41 + 10;
    else if (c >= 0x61 && c <= 0x66) t[c] = c - 0x61 + 10;
  }
  return t;
})();

/** True when `s` is a non-empty RFC 9110 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/** True when `s` may be a field value (HTAB, SP, VCHAR, obs-text: {@link FIELD_CHAR}); characters above 0xFF are allowed. */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0xff && FIELD_CHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Builds the user-facing headers object from a flat `[name, value, ...]` list: names
 * lower-cased, repeated fields joined with `', '`, except `set-cookie`, which is
 * always a `string[]` (its values may contain commas). The object has a null
 * prototype: `__proto__`, `constructor` or `toString` are ordinary header names.
 */
export function headersObject(
  rawHeaders: readonly string[],
  lowerNames?: readonly string[],
): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    // `lowerNames` (the parser's, one per field): the lower-cased names, already made.
    const name = lowerNames?.[i >> 1] ?? rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    const prev = out[name];
    if (name === 'set-cookie') {
      if (prev === undefined) out[name] = [value];
      else (prev as string[]).push(value);
    } else {
      out[name] = prev === undefined ? value : `${prev as string}, ${value}`;
    }
  }
  return out;
}

/**
 * Adds a flat `[name, value, ...]` list to `into` (a null-prototype object, made when
 * not given): names lower-cased, every repeated field joined with `', '`. For
 * trailers and the request-side header records (checkRedirect, diagnostics).
 */
export function joinedFields(raw: readonly string[], into?: Record<string, string>): Record<string, string> {
  const out = into ?? (Object.create(null) as Record<string, string>);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]!}`;
  }
  return out;
}

/**
 * Reads the `timeout` parameter of a Keep-Alive header value (`timeout=5, max=100`),
 * in seconds. Returns -1 when it is absent or unparsable. Accepts 1*DIGIT, optionally
 * quoted, and (as undici does) a trailing `s` unit (`timeout=2s`).
 */
export function parseKeepAliveTimeout(value: string): number {
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim().toLowerCase() !== 'timeout') continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v.endsWith('s') || v.endsWith('S')) v = v.slice(0, -1);
    if (!/^[0-9]{1,15}$/.test(v)) return -1;
    return Number(v);
  }
  return -1;
}

/** Bits of {@link HeadSection.connFlags}: a `close` / `keep-alive` token in a Connection header. */
export const CONNECTION_CLOSE = 1;
export const CONNECTION_KEEP_ALIVE = 2;

/**
 * One head or trailer section being read: for a head, a status line and field lines;
 * for trailers, field lines; either ends with an empty line. Reused across responses
 * through begin(). Throws ProtocolError `bad-status-line`, `bad-header`,
 * `bad-content-length` or `headers-too-large`.
 */
export class HeadSection {
  status = 0;
  statusText = '';
  /** HTTP minor version: 0 or 1. */
  minor = 1;
  /** [name, value, ...] of the section; a fresh array after every begin(). */
  raw: string[] = [];
  /** The lower-cased name of each field of `raw`; a fresh array after every begin(). */
  lower: string[] = [];
  /**
   * `[name, lower-cased name, value]` of each field of the section being read, and of the
   * previous one: a field spelled as the field at the same place there (most, on a
   * keep-alive connection) reuses its strings instead of decoding new ones. Two arrays
   * swapped at begin(), overwritten in place (`memoLen`/`prevLen` entries are current, so
   * a keep-alive connection allocates no memo array per response). Only values of
   * {@link REUSABLE_VALUES} are kept ('' otherwise): a connection never holds on to a past
   * response's Location, cookies or credentials.
   */
  private memo: string[] = [];
  private prevMemo: string[] = [];
  private memoLen = 0;
  private prevLen = 0;
  clCount = 0;
  /** Value of the (single) Content-Length, -1 when absent. */
  clValue = -1;
  teCount = 0;
  /** The last Transfer-Encoding value (only meaningful when teCount === 1). */
  teValue = '';
  /** CONNECTION_* bits of every Connection header. */
  connFlags = 0;
  /** First Keep-Alive `timeout` hint in seconds, -1 when none. */
  kaTimeout = -1;

  private readonly maxBytes: number;
  private kind = KIND_HEAD;
  /** Whether the next line is a status line. */
  private atStatus = true;
  /** Bytes of this section so far, CRLFs included. */
  private bytes = 0;
  /** A line split across chunks (valid bytes are [0, pendingLen)). */
  private pending: Buffer = Buffer.allocUnsafe(256);
  private pendingLen = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Starts a new head (trailers=false: status line first) or trailer section. */
  begin(trailers: boolean): void {
    this.kind = trailers ? KIND_TRAILERS : KIND_HEAD;
    this.atStatus = !trailers;
    this.bytes = 0;
    this.pendingLen = 0;
    // Do not keep a buffer grown by one large split head for the connection's life.
    if (this.pending.length > 4096) this.pending = Buffer.allocUnsafe(256);
    const memo = this.prevMemo;
    this.prevMemo = this.memo;
    this.prevLen = this.memoLen;
    // Reused in place, unless one huge head grew it (not kept for the connection's life).
    this.memo = memo.length > MEMO_KEEP ? [] : memo;
    this.memoLen = 0;
    this.raw = [];
    this.lower = [];
    this.clCount = 0;
    this.clValue = -1;
    this.teCount = 0;
    this.teValue = '';
    this.connFlags = 0;
    this.kaTimeout = -1;
  }

  /**
   * Reads lines from chunk[pos, len). Returns the index just past the empty line that
   * ends the section, or -1 when every byte was consumed and the section goes on.
   */
  read(chunk: Buffer, pos: number, len: number): number {
    while (pos < len) {
      const lf = chunk.indexOf(LF, pos);
      const stop = lf === -1 ? len : lf + 1;
      this.bytes += stop - pos;
      if (this.bytes > this.maxBytes) {
        const what = this.kind === KIND_HEAD ? 'head' : 'trailer section';
        throw new ProtocolError('headers-too-large', `response ${what} exceeds ${this.maxBytes} bytes`);
      }
      if (lf === -1) {
        this.stash(chunk, pos, len);
        if (this.atStatus && !statusPrefixOk(this.pending, 0, this.pendingLen)) {
          throw new ProtocolError(
            'bad-status-line',
            `malformed status line ${quote(this.pending, 0, this.pendingLen)}`,
          );
        }
        return -1;
      }
      let buf = chunk;
      let start = pos;
      let end = stop;
      if (this.pendingLen > 0) {
        this.stash(chunk, pos, stop);
        buf = this.pending;
        start = 0;
        end = this.pendingLen;
        this.pendingLen = 0;
      }
      pos = stop;
      if (end - start < 2 || buf[end - 2] !== CR) {
        const reason: ProtocolReason = this.atStatus ? 'bad-status-line' : 'bad-header';
        throw new ProtocolError(reason, 'bare LF in the response head');
      }
      if (this.atStatus) {
        this.statusLine(buf, start, end - 2);
        this.atStatus = false;
      } else if (end - start === 2) {
        return pos;
      } else {
        this.fieldLine(buf, start, end - 2);
      }
    }
    return -1;
  }

  /** Drops the pending buffer (the parser died). */
  release(): void {
    this.pending = EMPTY;
    this.pendingLen = 0;
    this.memo = [];
    this.prevMemo = [];
    this.memoLen = 0;
    this.prevLen = 0;
  }

  /** `HTTP/1.[01] SP 3DIGIT [SP reason]` in buf[s, e). */
  private statusLine(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n < 12 || !statusPrefixOk(buf, s, 12) || (n > 12 && buf[s + 12] !== SP)) {
      throw new ProtocolError('bad-status-line', `malformed status line ${quote(buf, s, e)}`);
    }
    const status = (buf[s + 9]! - 0x30) * 100 + (buf[s + 10]! - 0x30) * 10 + (buf[s + 11]! - 0x30);
    if (status < 100) {
      throw new ProtocolError('bad-status-line', `invalid status code ${quote(buf, s + 9, s + 12)}`);
    }
    let ascii = true;
    for (let i = s + 13; i < e; i++) {
      const c = buf[i]!;
      if (FIELD_CHAR[c] === 0) {
        throw new ProtocolError('bad-status-line', 'invalid character in the reason phrase');
      }
      if (c >= 0x80) ascii = false;
    }
    this.status = status;
    this.minor = buf[s + 7]! - 0x30;
    this.statusText = n > 13 ? buf.toString(ascii ? 'latin1' : 'utf8', s + 13, e) : '';
  }

  /**
   * `token ":" OWS value OWS` in buf[s, e) (non-empty). In a head, the fields that
   * decide framing and reuse are noted.
   */
  private fieldLine(buf: Buffer, s: number, e: number): void {
    const framing = this.kind === KIND_HEAD;
    // The previous section's field at this place (most, on a keep-alive connection): bytes
    // equal to its name or value are the same strings, and need no validation again (every
    // memo string was validated when it was first decoded).
    const m = this.memoLen;
    const prev = this.prevMemo;
    const inPrev = m < this.prevLen;
    const prevName = inPrev ? prev[m] : undefined;
    let name: string | undefined;
    let i: number;
    if (prevName !== undefined && buf[s + prevName.length] === COLON && s + prevName.length < e && sameBytes(buf, s, s + prevName.length, prevName)) {
      name = prevName;
      i = s + prevName.length;
    } else {
      i = s;
      while (i < e && TCHAR[buf[i]!] === 1) i++;
      // i === s also covers obs-fold and whitespace before the first field line.
      if (i === s || i === e || buf[i] !== COLON) {
        throw new ProtocolError('bad-header', malformedLine(framing ? 'header' : 'trailer', buf, s, i, e));
      }
    }
    const nameEnd = i++;
    while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++;
    let ve = e;
    while (ve > i && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    const prevValue = inPrev ? prev[m + 2] : undefined;
    let value: string;
    if (i === ve) value = '';
    else if (ve - i >= LONG_VALUE) {
      // A long value (a cookie, a CSP): decoded once by native code and compared whole
      // with the previous head's, validated four bytes at a time only when it is new.
      const v = buf.toString('latin1', i, ve);
      if (v === prevValue) value = prevValue;
      else if (!fieldBytesOk(buf, i, ve)) throw new ProtocolError('bad-header', 'invalid character in a header value');
      else value = v;
    } else if (prevValue !== undefined && sameBytes(buf, i, ve, prevValue)) value = prevValue;
    else {
      for (let j = i; j < ve; j++) {
        if (FIELD_CHAR[buf[j]!] === 0) throw new ProtocolError('bad-header', 'invalid character in a header value');
      }
      // Latin-1, as node:http and undici: one char per byte, so obs-text (0x80-0xFF) is kept.
      value = buf.toString('latin1', i, ve);
    }
    let lower: string;
    if (name !== undefined) lower = prev[m + 1]!;
    else {
      name = buf.toString('latin1', s, nameEnd);
      lower = name.toLowerCase();
    }
    // Sequential writes from 0: each index is at most the array's length (no holes).
    const memo = this.memo;
    memo[m] = name;
    memo[m + 1] = lower;
    memo[m + 2] = REUSABLE_VALUES.has(lower) ? value : '';
    this.memoLen = m + 3;
    this.raw.push(name, value);
    this.lower.push(lower);
    if (!framing) return;
    switch (nameEnd - s) {
      case 10:
        if (nameIs(buf, s, 'connection')) this.connFlags |= connectionTokens(value);
        else if (nameIs(buf, s, 'keep-alive') && this.kaTimeout === -1) {
          this.kaTimeout = parseKeepAliveTimeout(value);
        }
        break;
      case 14:
        if (nameIs(buf, s, 'content-length')) this.contentLength(buf, i, ve);
        break;
      case 17:
        if (nameIs(buf, s, 'transfer-encoding')) {
          this.teCount++;
          this.teValue = value;
        }
        break;
    }
  }

  /** 1*DIGIT up to Number.MAX_SAFE_INTEGER, only once per head; never Number()/parseInt. */
  private contentLength(buf: Buffer, s: number, e: number): void {
    if (++this.clCount > 1) {
      throw new ProtocolError('bad-content-length', 'more than one Content-Length header');
    }
    if (e === s) throw new ProtocolError('bad-content-length', 'empty Content-Length');
    let n = 0;
    for (let i = s; i < e; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) {
        throw new ProtocolError(
          'bad-content-length',
          `Content-Length ${quote(buf, s, e)} is not a decimal number`,
        );
      }
      // MAX_SAFE_INTEGER = 900719925474099 * 10 + 1
      if (n > 900719925474099 || (n === 900719925474099 && d > 1)) {
        throw new ProtocolError('bad-content-length', `Content-Length ${quote(buf, s, e)} is too large`);
      }
      n = n * 10 + d;
    }
    this.clValue = n;
  }

  private stash(src: Buffer, start: number, end: number): void {
    const need = this.pendingLen + (end - start);
    if (need > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pending.length * 2));
      this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    src.copy(this.pending, this.pendingLen, start, end);
    this.pendingLen = need;
  }
}

// Private implementation past this point.

/**
 * Whether the first min(n, 12) bytes at s match `HTTP/1.[01] DDD`. Also checked on a
 * partial line, so a response that cannot be HTTP/1.x fails before its line ends.
 */
function statusPrefixOk(buf: Buffer, s: number, n: number): boolean {
  const end = Math.min(n, 12);
  for (let i = 0; i < end; i++) {
    const c = buf[s + i]!;
    if (i < 7) {
      if (c !== STATUS_PREFIX[i]) return false;
    } else if (i === 7) {
      if (c !== 0x30 && c !== 0x31) return false;
    } else if (i === 8) {
      if (c !== SP) return false;
    } else if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Fields whose values a connection may remember from one response to the next (to reuse
 * the strings): framing, caching and content metadata that repeats. Never Location,
 * Set-Cookie, authentication or anything application-defined.
 */
const REUSABLE_VALUES: ReadonlySet<string> = new Set([
  'accept-ranges',
  'age',
  'cache-control',
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'date',
  'etag',
  'expires',
  'keep-alive',
  'last-modified',
  'server',
  'strict-transport-security',
  'transfer-encoding',
  'vary',
  'via',
  'x-content-type-options',
  'x-frame-options',
]);

/**
 * Values at least this long are compared and validated as wholes (a byte loop in
 * JavaScript costs ~3 ns a byte: a 40 KB header cost 1.5 × undici's CPU per request).
 */
const LONG_VALUE = 128;

/**
 * Whether buf[s, e) holds only field-value bytes ({@link FIELD_CHAR}: HTAB, SP, VCHAR,
 * obs-text), four at a time: a word with a byte below 0x20 or equal to 0x7F is flagged by
 * the bit tricks below (never missed; HTAB is flagged too) and its bytes looked at one by one.
 */
function fieldBytesOk(buf: Buffer, s: number, e: number): boolean {
  let j = s;
  const base = buf.byteOffset;
  while (j < e && ((base + j) & 3) !== 0) {
    if (FIELD_CHAR[buf[j]!] === 0) return false;
    j++;
  }
  const words = (e - j) >> 2;
  if (words > 0) {
    const u = new Int32Array(buf.buffer, base + j, words);
    for (let k = 0; k < words; k++) {
      const w = u[k]!;
      const x = w ^ 0x7f7f7f7f;
      // (w - 0x20…) & ~w: a byte below 0x20; (x - 0x01…) & ~x: a byte equal to 0x7F.
      if ((((w - 0x20202020) & ~w) | ((x - 0x01010101) & ~x)) & 0x80808080) {
        const b = j + k * 4;
        for (let q = b; q < b + 4; q++) if (FIELD_CHAR[buf[q]!] === 0) return false;
      }
    }
    j += words * 4;
  }
  for (; j < e; j++) if (FIELD_CHAR[buf[j]!] === 0) return false;
  return true;
}

/** Whether buf[s, e) holds exactly the Latin-1 string `str` (one char per byte). */
function sameBytes(buf: Buffer, s: number, e: number, str: string): boolean {
  if (str.length !== e - s) return false;
  for (let j = 0; j < str.length; j++) if (buf[s + j] !== str.charCodeAt(j)) return false;
  return true;
}

/** A printable excerpt of untrusted bytes for error messages. */
/**
 * The message for a field line that is not `name ":" value`, from its name (the token
 * chars at its start, buf[s, i), in the line buf[s, e)) and the byte that ended it. The value is never
 * quoted: it may be a secret (a folded `Set-Cookie` continuation, `Cookie sid=…` with no
 * colon), and error messages reach logs and span status.
 */
function malformedLine(what: string, buf: Buffer, s: number, i: number, e: number): string {
  const c = buf[i];
  if (i === s) {
    return c === SP || c === HTAB
      ? `malformed ${what} line: a line starting with whitespace (obsolete line folding)`
      : `malformed ${what} line: it starts with ${quote(buf, s, s + 1)}`;
  }
  // A line that is one token may be a value on its own line: not quoted either.
  if (i === e) return `malformed ${what} line: no ":" in it`;
  return `malformed ${what} line: the name ${quote(buf, s, i)} is followed by ${quote(buf, i, i + 1)}, not ":"`;
}

function quote(buf: Buffer, s: number, e: number): string {
  return JSON.stringify(buf.toString('latin1', s, Math.min(e, s + 64)));
}

/** Memo entries (3 per field) a section may leave for reuse: 64 fields. */
const MEMO_KEEP = 3 * 64;
const KIND_HEAD = 0;
const KIND_TRAILERS = 1;
const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const COLON = 0x3a;
const EMPTY = Buffer.alloc(0);
/** `HTTP/1.` — the fixed part of a status line. */
const STATUS_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

/** Flags of a comma-separated Connection value. */
function connectionTokens(value: string): number {
  // The usual values, whole (the memo hands back the same string every response): no split.
  if (value === 'keep-alive') return CONNECTION_KEEP_ALIVE;
  if (value === 'close') return CONNECTION_CLOSE;
  let flags = 0;
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === 'close') flags |= CONNECTION_CLOSE;
    else if (token === 'keep-alive') flags |= CONNECTION_KEEP_ALIVE;
  }
  return flags;
}

/** Case-insensitive comparison of the token at buf[s] with a lower-case name of letters and '-'. */
function nameIs(buf: Buffer, s: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[s + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function table(member: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = member(c) ? 1 : 0;
  return t;
}

/**
 * The codec's rule for a response's Transfer-Encoding (RFC 9112 §6.1): exactly one field,
 * and it is `chunked`; anything else is `conflicting-framing`. Shared by the parser and
 * the responses no connection produced (`Response.from`, `MockTransport` replies).
 */
export function chunkedOnly(count: number, value: string): boolean {
  return count === 1 && value.length === 7 && value.toLowerCase() === 'chunked';
}

/** The codec's message for a Transfer-Encoding {@link chunkedOnly} refuses. */
export const UNSUPPORTED_TE = 'unsupported Transfer-Encoding (only "chunked" is accepted)';
