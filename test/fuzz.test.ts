/**
 * fuzz.test — property tests of the strict response parser (src/http1/parser.ts) with
 * fast-check, plus its memory and work bounds.
 *
 * Properties (each runs in a worker thread under a watchdog, so a parser that loops
 * forever fails the test instead of hanging it; the worker reports every case before
 * running it, so a hang names its input):
 *   1. splits — a random VALID response (1xx first or not; status 200–599 but 204/304;
 *      random token headers and field values; body framed by Content-Length, chunked
 *      with random sizes, extensions and trailers, or read to close) parses the same
 *      whether fed whole or cut at random points, and as the generator built it.
 *   2. mutations — the same responses with byte flips, CR/LF/NUL/SP/HTAB insertions,
 *      deletions, duplicated or injected header lines, broken chunk sizes and
 *      truncation: the parser throws nothing but a `ProtocolError` with a known
 *      reason, gives the same verdict whole and split, and never accepts a smuggling
 *      shape found by an oracle written here independently of the parser (CL + TE,
 *      two Content-Lengths, a Transfer-Encoding other than exactly `chunked`, obs-fold,
 *      a bad chunk size or chunk framing, control bytes in a head, a malformed status
 *      line, 101).
 *
 * Seeds: `FUZZ_SEED=<n>` replays a run; otherwise a fresh seed is drawn and printed
 * (as a test diagnostic and in every failure message). `FUZZ_RUNS=<n>` sets the number
 * of cases per property (defaults keep this file well under 20 s).
 */

import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { ProtocolError, type ProtocolReason } from '../src/errors.js';
import {
  type ParserEvents,
  type ParserOptions,
  type ResponseHead,
  ResponseParser,
} from '../src/http1/index.js';

// ---------------------------------------------------------------------------------
// Configuration

const WORKER_ROLE = 'hourglass-parser-fuzz';
const SEED = envInt('FUZZ_SEED') ?? (Date.now() ^ (process.pid << 8)) & 0x7fffffff;
const RUNS = envInt('FUZZ_RUNS');
const SPLIT_RUNS = RUNS ?? 2_000;
const MUTATION_RUNS = RUNS ?? 10_000;
/** A single case (two parses of a few KiB) taking longer than this is a work-bound failure. */
const CASE_BUDGET_MS = 1_000;

/**
 * Every reason the parser may give. SPEC §4 lists its reasons as "e.g."; `too-many-1xx`
 * comes from §11 and `bad-upgrade` from MF-28 (a 101 to a request that did not ask to
 * upgrade) — SPEC §4 should name it.
 */
const PARSER_REASONS: ReadonlySet<ProtocolReason> = new Set<ProtocolReason>([
  'bad-status-line',
  'bad-header',
  'headers-too-large',
  'bad-content-length',
  'bad-chunk',
  'conflicting-framing',
  'truncated-body',
  'connection-closed',
  'too-many-1xx',
  'bad-upgrade',
]);

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

// ---------------------------------------------------------------------------------
// Feeding the parser

/** A head as the events reported it (arrays copied). */
interface HeadView {
  status: number;
  statusText: string;
  httpVersion: string;
  rawHeaders: string[];
  framing: ResponseHead['framing'];
  contentLength: number;
  keepAlive: boolean;
  keepAliveTimeout: number;
}

/** What one parse produced. */
interface Outcome {
  interims: HeadView[];
  head: HeadView | undefined;
  /** Body bytes delivered (also those delivered before an error). */
  body: Buffer;
  trailers: string[] | undefined;
  completions: number;
  /** Sum of execute() results. */
  consumed: number;
  error: unknown;
  /** Events in order: interim/head/body/trailers/complete (consecutive body merged). */
  order: string[];
}

class Recorder implements ParserEvents {
  readonly interims: HeadView[] = [];
  head: HeadView | undefined;
  readonly chunks: Buffer[] = [];
  trailers: string[] | undefined;
  completions = 0;
  readonly order: string[] = [];

  onInterim(head: ResponseHead): void {
    this.interims.push(view(head));
    this.order.push('interim');
  }
  onHead(head: ResponseHead): void {
    this.head = view(head);
    this.order.push('head');
  }
  onBody(chunk: Buffer): void {
    if (chunk.length === 0) throw new Error('onBody called with an empty chunk');
    this.chunks.push(Buffer.from(chunk));
    if (this.order.at(-1) !== 'body') this.order.push('body');
  }
  onTrailers(raw: string[]): void {
    this.trailers = [...raw];
    this.order.push('trailers');
  }
  onComplete(): void {
    this.completions++;
    this.order.push('complete');
  }
}

function view(h: ResponseHead): HeadView {
  return {
    status: h.status,
    statusText: h.statusText,
    httpVersion: h.httpVersion,
    rawHeaders: [...h.rawHeaders],
    framing: h.framing,
    contentLength: h.contentLength,
    keepAlive: h.keepAlive,
    keepAliveTimeout: h.keepAliveTimeout,
  };
}

/** Feeds `pieces` in order, then signals EOF, as a connection would. */
function parse(pieces: readonly Buffer[], options?: ParserOptions): Outcome {
  const rec = new Recorder();
  const parser = new ResponseParser(rec, options);
  parser.expect(false);
  let consumed = 0;
  let error: unknown;
  try {
    for (const piece of pieces) {
      const n = parser.execute(piece);
      if (!Number.isInteger(n) || n < 0 || n > piece.length) {
        throw new Error(`execute() returned ${n} for a piece of ${piece.length} bytes`);
      }
      consumed += n;
    }
    parser.finish();
  } catch (err) {
    error = err;
  }
  return {
    interims: rec.interims,
    head: rec.head,
    body: Buffer.concat(rec.chunks),
    trailers: rec.trailers,
    completions: rec.completions,
    consumed,
    error,
    order: rec.order,
  };
}

/** Cuts `buf` at `cuts` (any naturals; taken modulo length + 1, sorted; empty pieces allowed). */
function split(buf: Buffer, cuts: readonly number[], byteAtATime: boolean): Buffer[] {
  if (byteAtATime) {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
    return out;
  }
  const points = cuts.map((c) => c % (buf.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** A comparable summary of an outcome: same verdict, same events, same bytes. */
function summary(o: Outcome): unknown {
  const err = o.error;
  return {
    verdict:
      err === undefined
        ? 'ok'
        : err instanceof ProtocolError
          ? `ProtocolError(${err.reason})`
          : `other: ${describeThrown(err)}`,
    interims: o.interims,
    head: o.head,
    body: o.body.toString('hex'),
    trailers: o.trailers,
    completions: o.completions,
    // Pieces fed before a throw are counted, the throwing one is not: compare only on success.
    consumed: err === undefined ? o.consumed : 'n/a',
    order: o.order,
  };
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}`;
  return `non-Error ${typeof err}: ${String(err)}`;
}

// ---------------------------------------------------------------------------------
// Generating valid responses

type PartKind =
  | 'status'
  | 'field'
  | 'end-head'
  | 'body'
  | 'size-line'
  | 'data'
  | 'data-crlf'
  | 'trailer'
  | 'end';

/** One piece of a generated message; mutations work on these before joining them. */
interface Part {
  kind: PartKind;
  bytes: Buffer;
}

interface ExpectedHead {
  status: number;
  statusText: string;
  httpVersion: '1.0' | '1.1';
  rawHeaders: string[];
}

/** A valid response and what a correct parser must report for it. */
interface Message {
  parts: Part[];
  interims: ExpectedHead[];
  final: ExpectedHead & { framing: 'length' | 'chunked' | 'close'; contentLength: number };
  body: Buffer;
  trailers: string[] | undefined;
}

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
/** Names the generator never uses at random: they decide framing and reuse. */
const RESERVED_NAMES = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const SP = 0x20;
const HTAB = 0x09;

const tokenArb = fc.array(fc.constantFrom(...TCHARS), { minLength: 1, maxLength: 14 }).map((a) => a.join(''));
const headerNameArb = tokenArb.filter((n) => !RESERVED_NAMES.has(n.toLowerCase()));
/** A field-value byte: mostly VCHAR, some SP/HTAB, some obs-text. */
const fieldByteArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 2, arbitrary: fc.constantFrom(SP, HTAB) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
/** A field value without leading or trailing OWS (the parser trims those). */
const fieldValueArb = fc.array(fieldByteArb, { maxLength: 40 }).map((bytes) => {
  let s = 0;
  let e = bytes.length;
  while (s < e && (bytes[s] === SP || bytes[s] === HTAB)) s++;
  while (e > s && (bytes[e - 1] === SP || bytes[e - 1] === HTAB)) e--;
  return Buffer.from(bytes.slice(s, e));
});
const owsArb = fc.constantFrom('', '', ' ', '\t', '  ', ' \t ');

/** How the parser decodes a value: Latin-1, one char per byte. */
function decodeField(b: Buffer): string {
  return b.toString('latin1');
}

/** How the parser decodes a reason phrase: latin1 when ASCII, else UTF-8. */
function decodeReason(b: Buffer): string {
  return b.toString(b.some((c) => c >= 0x80) ? 'utf8' : 'latin1');
}

interface Field {
  name: string;
  value: Buffer;
  pre: string;
  post: string;
}

const fieldArb: fc.Arbitrary<Field> = fc.record({
  name: headerNameArb,
  value: fieldValueArb,
  pre: owsArb,
  post: owsArb,
});

function fieldBytes(f: Field): Buffer {
  return Buffer.concat([
    Buffer.from(`${f.name}:${f.pre}`, 'latin1'),
    f.value,
    Buffer.from(`${f.post}\r\n`, 'latin1'),
  ]);
}

/** Reason phrase: absent (no SP), empty, or HTAB/SP/VCHAR/obs-text. */
const reasonArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Buffer | null>(null) },
  { weight: 6, arbitrary: fc.array(fieldByteArb, { maxLength: 24 }).map((b) => Buffer.from(b)) },
);

interface HeadSpec {
  status: number;
  minor: 0 | 1;
  reason: Buffer | null;
  fields: Field[];
}

function headParts(h: HeadSpec, extra: Buffer | undefined, extraAt: number): Part[] {
  const statusLine = Buffer.concat([
    Buffer.from(`HTTP/1.${h.minor} ${h.status}`, 'latin1'),
    h.reason === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from(' '), h.reason]),
    Buffer.from('\r\n'),
  ]);
  const parts: Part[] = [{ kind: 'status', bytes: statusLine }];
  const lines = h.fields.map(fieldBytes);
  if (extra !== undefined) lines.splice(extraAt % (lines.length + 1), 0, extra);
  for (const l of lines) parts.push({ kind: 'field', bytes: l });
  parts.push({ kind: 'end-head', bytes: Buffer.from('\r\n') });
  return parts;
}

function expectedHead(h: HeadSpec, extra: [string, string] | undefined, extraAt: number): ExpectedHead {
  const raw: [string, string][] = h.fields.map((f) => [f.name, decodeField(f.value)]);
  if (extra !== undefined) raw.splice(extraAt % (raw.length + 1), 0, extra);
  return {
    status: h.status,
    statusText: h.reason === null || h.reason.length === 0 ? '' : decodeReason(h.reason),
    httpVersion: h.minor === 1 ? '1.1' : '1.0',
    rawHeaders: raw.flat(),
  };
}

const interimArb: fc.Arbitrary<HeadSpec> = fc.record({
  status: fc.constantFrom(100, 102, 103, 150, 199),
  minor: fc.constantFrom<0 | 1>(1, 1, 0),
  reason: reasonArb,
  fields: fc.array(fieldArb, { maxLength: 3 }),
});

const finalHeadArb: fc.Arbitrary<HeadSpec> = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  minor: fc.constantFrom<0 | 1>(1, 1, 1, 0),
  reason: reasonArb,
  fields: fc.array(fieldArb, { maxLength: 8 }),
});

const extArb = fc.oneof(
  tokenArb.map((n) => `;${n}`),
  fc.tuple(tokenArb, tokenArb).map(([n, v]) => `;${n}=${v}`),
  fc
    .tuple(
      tokenArb,
      fc.array(
        fc.oneof(
          {
            weight: 8,
            arbitrary: fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c),
          },
          { weight: 1, arbitrary: fc.constant(HTAB) },
          { weight: 1, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => -c) },
        ),
        { maxLength: 12 },
      ),
    )
    .map(([n, cs]) => {
      // A negative entry is a quoted-pair: backslash + the character.
      const text = cs.map((c) => (c < 0 ? `\\${String.fromCharCode(-c)}` : String.fromCharCode(c))).join('');
      return `;${n}="${text}"`;
    }),
);

interface ChunkSpec {
  data: Buffer;
  zeros: number;
  upper: boolean;
  exts: string[];
}

const chunkArb: fc.Arbitrary<ChunkSpec> = fc.record({
  data: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)),
  zeros: fc.constantFrom(0, 0, 0, 1, 3),
  upper: fc.boolean(),
  exts: fc.array(extArb, { maxLength: 2 }),
});

const bodyArb = fc.uint8Array({ maxLength: 1500 }).map((u) => Buffer.from(u));

type FramingSpec =
  | { kind: 'length'; body: Buffer; clZeros: number; pre: string; post: string }
  | {
      kind: 'chunked';
      chunks: ChunkSpec[];
      lastZeros: number;
      lastExts: string[];
      trailers: Field[];
      teSpelling: string;
      pre: string;
      post: string;
    }
  | { kind: 'close'; body: Buffer; connectionClose: boolean };

const framingArb: fc.Arbitrary<FramingSpec> = fc.oneof(
  fc.record({
    kind: fc.constant<'length'>('length'),
    body: bodyArb,
    clZeros: fc.constantFrom(0, 0, 0, 2),
    pre: owsArb,
    post: owsArb,
  }),
  fc.record({
    kind: fc.constant<'chunked'>('chunked'),
    chunks: fc.array(chunkArb, { maxLength: 10 }),
    lastZeros: fc.integer({ min: 1, max: 3 }),
    lastExts: fc.array(extArb, { maxLength: 1 }),
    trailers: fc.array(fieldArb, { maxLength: 3 }),
    teSpelling: fc.constantFrom('chunked', 'Chunked', 'CHUNKED'),
    pre: owsArb,
    post: owsArb,
  }),
  fc.record({ kind: fc.constant<'close'>('close'), body: bodyArb, connectionClose: fc.boolean() }),
);

/** Builds a message (parts + expectations) from its specification. */
function buildMessage(
  interims: HeadSpec[],
  final: HeadSpec,
  framing: FramingSpec,
  framingAt: number,
): Message {
  const parts: Part[] = [];
  const expInterims: ExpectedHead[] = [];
  for (const h of interims) {
    parts.push(...headParts(h, undefined, 0));
    expInterims.push(expectedHead(h, undefined, 0));
  }
  // HTTP/1.0 cannot carry chunked (the parser rejects TE in 1.0): use a length instead.
  const f: FramingSpec =
    framing.kind === 'chunked' && final.minor === 0
      ? {
          kind: 'length',
          body: Buffer.concat(framing.chunks.map((c) => c.data)),
          clZeros: 0,
          pre: ' ',
          post: '',
        }
      : framing;
  let extra: [string, string] | undefined;
  let extraLine: Buffer | undefined;
  let body: Buffer;
  let trailers: string[] | undefined;
  let contentLength = -1;
  if (f.kind === 'length') {
    body = f.body;
    contentLength = body.length;
    const digits = '0'.repeat(f.clZeros) + String(body.length);
    extra = ['Content-Length', digits];
    extraLine = Buffer.from(`Content-Length:${f.pre}${digits}${f.post}\r\n`, 'latin1');
  } else if (f.kind === 'chunked') {
    body = Buffer.concat(f.chunks.map((c) => c.data));
    extra = ['Transfer-Encoding', f.teSpelling];
    extraLine = Buffer.from(`Transfer-Encoding:${f.pre}${f.teSpelling}${f.post}\r\n`, 'latin1');
    trailers = f.trailers.flatMap((t) => [t.name, decodeField(t.value)]);
  } else {
    body = f.body;
    if (f.connectionClose) {
      extra = ['Connection', 'close'];
      extraLine = Buffer.from('Connection: close\r\n', 'latin1');
    }
  }
  parts.push(...headParts(final, extraLine, framingAt));
  if (f.kind === 'chunked') {
    for (const c of f.chunks) {
      let hex = c.data.length.toString(16);
      if (c.upper) hex = hex.toUpperCase();
      parts.push({
        kind: 'size-line',
        bytes: Buffer.from(`${'0'.repeat(c.zeros)}${hex}${c.exts.join('')}\r\n`, 'latin1'),
      });
      parts.push({ kind: 'data', bytes: c.data });
      parts.push({ kind: 'data-crlf', bytes: Buffer.from('\r\n') });
    }
    parts.push({
      kind: 'size-line',
      bytes: Buffer.from(`${'0'.repeat(f.lastZeros)}${f.lastExts.join('')}\r\n`, 'latin1'),
    });
    for (const t of f.trailers) parts.push({ kind: 'trailer', bytes: fieldBytes(t) });
    parts.push({ kind: 'end', bytes: Buffer.from('\r\n') });
  } else if (body.length > 0) {
    parts.push({ kind: 'body', bytes: body });
  }
  return {
    parts,
    interims: expInterims,
    final: { ...expectedHead(final, extra, framingAt), framing: f.kind, contentLength },
    body,
    trailers,
  };
}

const messageArb: fc.Arbitrary<Message> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<HeadSpec[]>([]) },
      { weight: 1, arbitrary: fc.array(interimArb, { minLength: 1, maxLength: 3 }) },
    ),
    finalHeadArb,
    framingArb,
    fc.nat(),
  )
  .map(([interims, final, framing, at]) => buildMessage(interims, final, framing, at));

const splitArb = fc.record({
  cuts: fc.array(fc.nat(), { maxLength: 10 }),
  byteAtATime: fc.oneof(
    { weight: 9, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

function join(parts: readonly Part[]): Buffer {
  return Buffer.concat(parts.map((p) => p.bytes));
}

// ---------------------------------------------------------------------------------
// Mutations

/** Header lines whose injection creates (or may create) a smuggling shape. */
const INJECTED_LINES = [
  'Content-Length: 0',
  'Content-Length: 5',
  'content-length: 123',
  'Content-Length: 1, 1',
  'Content-Length: +1',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: Chunked',
  'Transfer-Encoding: identity',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunkedx',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding: "chunked"',
  'Transfer-Encoding: \x0bchunked',
  'Transfer-Encoding:',
  ' chunked',
  '\tX-Folded: yes',
  '  continuation',
];

/** Replacement chunk-size lines (without CRLF); all but the last two are malformed sizes. */
const BAD_SIZE_LINES = [
  'zz',
  '-1',
  '0x5',
  ' 5',
  '5 ',
  '+5',
  '',
  '5\x00',
  'ffffffffffffffffff',
  '10000000000000000',
  '20000000000000',
  '5;',
  '5;a=',
];

type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'dup-line'; which: number }
  | { kind: 'inject'; which: number; text: string }
  | { kind: 'size'; which: number; text: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant<'flip'>('flip'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant<'insert'>('insert'),
    at: fc.nat(),
    byte: fc.constantFrom(0x0d, 0x0a, 0x00, SP, HTAB),
  }),
  fc.record({ kind: fc.constant<'delete'>('delete'), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant<'truncate'>('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant<'dup-line'>('dup-line'), which: fc.nat() }),
  fc.record({
    kind: fc.constant<'inject'>('inject'),
    which: fc.nat(),
    text: fc.constantFrom(...INJECTED_LINES),
  }),
  fc.record({ kind: fc.constant<'size'>('size'), which: fc.nat(), text: fc.constantFrom(...BAD_SIZE_LINES) }),
);

/** Applies structural mutations to the parts, then byte mutations to the joined bytes. */
function mutate(msg: Message, muts: readonly Mutation[]): Buffer {
  const parts = msg.parts.map((p) => ({ ...p }));
  for (const m of muts) {
    if (m.kind === 'dup-line') {
      const lines = parts.map((p, i) => (p.kind === 'field' ? i : -1)).filter((i) => i >= 0);
      if (lines.length === 0) continue;
      const i = lines[m.which % lines.length]!;
      parts.splice(i, 0, { ...parts[i]! });
    } else if (m.kind === 'inject') {
      const anchors = parts
        .map((p, i) => (p.kind === 'status' || p.kind === 'field' ? i : -1))
        .filter((i) => i >= 0);
      const i = anchors[m.which % anchors.length]!;
      parts.splice(i + 1, 0, { kind: 'field', bytes: Buffer.from(`${m.text}\r\n`, 'latin1') });
    } else if (m.kind === 'size') {
      const sizes = parts.map((p, i) => (p.kind === 'size-line' ? i : -1)).filter((i) => i >= 0);
      if (sizes.length === 0) continue;
      const i = sizes[m.which % sizes.length]!;
      parts[i] = { kind: 'size-line', bytes: Buffer.from(`${m.text}\r\n`, 'latin1') };
    }
  }
  let buf = join(parts);
  for (const m of muts) {
    if (m.kind === 'flip' && buf.length > 0) {
      buf = Buffer.from(buf);
      buf[m.at % buf.length] = m.byte;
    } else if (m.kind === 'insert') {
      const at = m.at % (buf.length + 1);
      buf = Buffer.concat([buf.subarray(0, at), Buffer.of(m.byte), buf.subarray(at)]);
    } else if (m.kind === 'delete' && buf.length > 0) {
      const at = m.at % buf.length;
      buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
    } else if (m.kind === 'truncate') {
      buf = buf.subarray(0, m.at % (buf.length + 1));
    }
  }
  return buf;
}

// ---------------------------------------------------------------------------------
// The smuggling oracle — written from RFC 9112 and SPEC §6/§11, not from the parser.
//
// It walks heads the way any strict reader must: a head ends at the first CRLF CRLF,
// 1xx heads are followed by another head, 204/304 have no body, and a chunked body is
// size lines, data and CRLFs. It claims only shapes a strict parser must refuse, and
// makes no claim where the bytes run out (EOF then fails the parse anyway).

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The smuggling (and other must-reject) shapes found in a response, in order. */
function mustRejectShapes(buf: Buffer): string[] {
  const s = buf.toString('latin1');
  const shapes: string[] = [];
  let pos = 0;
  for (let heads = 0; heads < 32; heads++) {
    const end = s.indexOf('\r\n\r\n', pos);
    // A head cut short: nothing to claim (finish() fails it).
    if (end === -1) return shapes;
    // The empty line right after the status line is found at `end` when there are no fields.
    const lines = s.slice(pos, end).split('\r\n');
    const m = /^HTTP\/1\.([01]) ([0-9]{3})(?: |$)/.exec(lines[0]!);
    if (lines.some((l) => /[\0\r\n]/.test(l))) shapes.push('control byte or bare CR/LF in a head');
    if (m === null) {
      shapes.push('malformed status line');
      return shapes;
    }
    const minor = m[1]!;
    const status = Number(m[2]);
    if (status < 100) shapes.push('status below 100');
    if (status === 101) shapes.push('101 without an upgrade request');
    let contentLengths = 0;
    const transferEncodings: string[] = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith(' ') || line.startsWith('\t')) {
        shapes.push('obs-fold');
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) {
        shapes.push('field line without a name or colon');
        continue;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (name === 'content-length') contentLengths++;
      else if (name === 'transfer-encoding') transferEncodings.push(value);
    }
    if (contentLengths > 1) shapes.push('two Content-Length headers');
    if (contentLengths > 0 && transferEncodings.length > 0)
      shapes.push('Content-Length with Transfer-Encoding');
    pos = end + 4;
    if (status >= 100 && status <= 199) continue; // an interim head: the next head follows
    if (status === 204 || status === 304 || transferEncodings.length === 0) return shapes;
    if (transferEncodings.length > 1 || transferEncodings[0]!.toLowerCase() !== 'chunked') {
      shapes.push('Transfer-Encoding other than exactly "chunked"');
      return shapes;
    }
    if (minor === '0') {
      shapes.push('Transfer-Encoding in HTTP/1.0');
      return shapes;
    }
    chunkShapes(s, pos, shapes);
    return shapes;
  }
  return shapes;
}

function chunkShapes(s: string, start: number, shapes: string[]): void {
  let pos = start;
  for (;;) {
    const eol = s.indexOf('\r\n', pos);
    if (eol === -1) return;
    const line = s.slice(pos, eol);
    const semi = line.indexOf(';');
    const size = semi === -1 ? line : line.slice(0, semi);
    if (!/^[0-9a-fA-F]+$/.test(size) || BigInt(`0x${size}`) > MAX_SAFE) {
      shapes.push(`bad chunk size ${JSON.stringify(size.slice(0, 24))}`);
      return;
    }
    const n = Number.parseInt(size, 16);
    pos = eol + 2;
    if (n === 0) break;
    if (pos + n + 2 > s.length) return;
    if (s.slice(pos + n, pos + n + 2) !== '\r\n') {
      shapes.push('chunk data not followed by CRLF');
      return;
    }
    pos += n + 2;
  }
  if (s.startsWith('\r\n', pos)) return;
  const end = s.indexOf('\r\n\r\n', pos);
  if (end === -1) return;
  for (const line of s.slice(pos, end).split('\r\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) shapes.push('obs-fold in trailers');
  }
}

// ---------------------------------------------------------------------------------
// Properties (run inside the worker)

type Report = (input: Buffer) => void;

interface Stats {
  cases: number;
  accepted: number;
  rejected: Record<string, number>;
  shapes: Record<string, number>;
}

function checkSplits(msg: Message, cuts: { cuts: number[]; byteAtATime: boolean }, report: Report): void {
  const bytes = join(msg.parts);
  report(bytes);
  const t0 = performance.now();
  const whole = parse([bytes]);
  const pieces = parse(split(bytes, cuts.cuts, cuts.byteAtATime));
  const ms = performance.now() - t0;
  assert.ok(ms < CASE_BUDGET_MS, `a case took ${ms.toFixed(0)} ms`);
  if (whole.error !== undefined) {
    assert.fail(
      `a valid response was rejected: ${describeThrown(whole.error)}\n${JSON.stringify(bytes.toString('latin1'))}`,
    );
  }
  assert.deepEqual(summary(pieces), summary(whole), 'split feed differs from the whole feed');
  // And both match what the generator built.
  assert.equal(whole.completions, 1);
  assert.equal(whole.consumed, bytes.length, 'a complete response consumes every byte');
  assert.deepEqual(
    whole.interims.map((h) => ({
      status: h.status,
      statusText: h.statusText,
      httpVersion: h.httpVersion,
      rawHeaders: h.rawHeaders,
    })),
    msg.interims,
  );
  const head = whole.head!;
  assert.deepEqual(
    {
      status: head.status,
      statusText: head.statusText,
      httpVersion: head.httpVersion,
      rawHeaders: head.rawHeaders,
      framing: head.framing,
      contentLength: head.contentLength,
    },
    msg.final,
  );
  assert.equal(whole.body.toString('hex'), msg.body.toString('hex'), 'body bytes');
  assert.deepEqual(whole.trailers, msg.trailers, 'trailers');
  if (head.framing === 'close') assert.equal(head.keepAlive, false, 'a read-to-close body is never reusable');
}

function checkMutation(
  msg: Message,
  muts: Mutation[],
  cuts: { cuts: number[]; byteAtATime: boolean },
  report: Report,
  stats: Stats,
): void {
  const bytes = mutate(msg, muts);
  report(bytes);
  const t0 = performance.now();
  const whole = parse([bytes]);
  const pieces = parse(split(bytes, cuts.cuts, cuts.byteAtATime));
  const ms = performance.now() - t0;
  assert.ok(ms < CASE_BUDGET_MS, `a case took ${ms.toFixed(0)} ms`);
  for (const o of [whole, pieces]) {
    if (o.error !== undefined) {
      if (!(o.error instanceof ProtocolError)) {
        assert.fail(`threw something other than a ProtocolError: ${describeThrown(o.error)}`);
      }
      assert.ok(PARSER_REASONS.has(o.error.reason), `unexpected reason ${o.error.reason}`);
      assert.equal(o.error.code, 'HG_PROTOCOL');
    } else {
      assert.equal(o.completions, 1, 'no error, so the response completed');
      assert.ok(o.head !== undefined);
    }
  }
  assert.deepEqual(summary(pieces), summary(whole), 'split feed gives another verdict than the whole feed');
  const shapes = mustRejectShapes(bytes);
  stats.cases++;
  if (whole.error === undefined) stats.accepted++;
  else {
    const r = (whole.error as ProtocolError).reason;
    stats.rejected[r] = (stats.rejected[r] ?? 0) + 1;
  }
  for (const sh of new Set(shapes.map((x) => (x.startsWith('bad chunk size') ? 'bad chunk size' : x)))) {
    stats.shapes[sh] = (stats.shapes[sh] ?? 0) + 1;
  }
  if (shapes.length > 0 && whole.error === undefined) {
    assert.fail(
      `accepted a response the oracle must reject (${shapes.join('; ')}): ` +
        `${JSON.stringify(bytes.toString('latin1').slice(0, 600))}`,
    );
  }
}

interface WorkerJob {
  role: typeof WORKER_ROLE;
  property: 'splits' | 'mutations';
  seed: number;
  runs: number;
}

type WorkerMessage =
  | { type: 'case'; input: Uint8Array }
  | { type: 'done'; stats: Stats | undefined }
  | { type: 'fail'; message: string };

function runJob(job: WorkerJob, post: (m: WorkerMessage) => void): void {
  const report: Report = (input) => post({ type: 'case', input });
  const params = { seed: job.seed, numRuns: job.runs };
  try {
    if (job.property === 'splits') {
      fc.assert(
        fc.property(messageArb, splitArb, (msg, cuts) => checkSplits(msg, cuts, report)),
        params,
      );
      post({ type: 'done', stats: undefined });
    } else {
      const stats: Stats = { cases: 0, accepted: 0, rejected: {}, shapes: {} };
      fc.assert(
        fc.property(
          messageArb,
          fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
          splitArb,
          (msg, muts, cuts) => checkMutation(msg, muts, cuts, report, stats),
        ),
        params,
      );
      post({ type: 'done', stats });
    }
  } catch (err) {
    const cause =
      err instanceof Error && err.cause !== undefined ? `\nCause: ${describeThrown(err.cause)}` : '';
    post({ type: 'fail', message: `${err instanceof Error ? err.message : String(err)}${cause}` });
  }
}

/**
 * Runs one property in a worker under a watchdog: the worker reports each case before
 * parsing it, and `stallMs` without a report means the parser did not return. Resolves
 * with the stats; rejects with fast-check's report (seed, path, counterexample), or
 * with the input the parser was stuck on.
 */
function runInWorker(job: Omit<WorkerJob, 'role'>, stallMs = 5_000): Promise<Stats | undefined> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...job, role: WORKER_ROLE } });
    let last: Uint8Array | undefined;
    let cases = 0;
    let settled = false;
    const finish = (err: Error | undefined, stats?: Stats): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err !== undefined) reject(err);
      else resolve(stats);
    };
    const stalled = (): void => {
      const input = last === undefined ? '(none yet)' : JSON.stringify(Buffer.from(last).toString('latin1'));
      finish(
        new Error(
          `${job.property}: the parser did not return within ${stallMs} ms (case ${cases}; seed ${job.seed}; ` +
            `replay with FUZZ_SEED=${job.seed}); input: ${input}`,
        ),
      );
    };
    const timer = setTimeout(stalled, stallMs);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'case') {
        last = m.input;
        cases++;
        timer.refresh();
      } else if (m.type === 'done') {
        finish(undefined, m.stats);
      } else {
        finish(
          new Error(`${job.property} (seed ${job.seed}; replay with FUZZ_SEED=${job.seed}):\n${m.message}`),
        );
      }
    });
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => finish(new Error(`fuzz worker exited with code ${code} before reporting`)));
  });
}

// ---------------------------------------------------------------------------------
// Entry: the worker runs one job; the main thread registers the tests.

const job = isMainThread ? undefined : (workerData as Partial<WorkerJob> | undefined);
if (job?.role === WORKER_ROLE) {
  runJob(job as WorkerJob, (m) => parentPort!.postMessage(m));
} else {
  registerTests();
}

function registerTests(): void {
  describe('fuzz: valid responses split at random points', () => {
    it('parse identically to the whole feed and as generated (1xx, CL, chunked, read-to-close)', async (t: TestContext) => {
      t.diagnostic(`seed ${SEED} (FUZZ_SEED=${SEED} replays), ${SPLIT_RUNS} runs`);
      await runInWorker({ property: 'splits', seed: SEED, runs: SPLIT_RUNS });
    });
  });

  describe('fuzz: mutated responses', () => {
    it('only ProtocolErrors, the same verdict whole or split, and no smuggling shape accepted', async (t: TestContext) => {
      t.diagnostic(`seed ${SEED} (FUZZ_SEED=${SEED} replays), ${MUTATION_RUNS} runs`);
      const stats = await runInWorker({ property: 'mutations', seed: SEED, runs: MUTATION_RUNS });
      assert.ok(stats !== undefined);
      t.diagnostic(
        `accepted ${stats.accepted} of ${stats.cases}; rejected by reason ${JSON.stringify(stats.rejected)}`,
      );
      t.diagnostic(`oracle shapes seen ${JSON.stringify(stats.shapes)}`);
      // The generator must actually reach the shapes it is meant to test.
      if (stats.cases >= 500) {
        for (const shape of [
          'two Content-Length headers',
          'Content-Length with Transfer-Encoding',
          'Transfer-Encoding other than exactly "chunked"',
          'obs-fold',
          'bad chunk size',
        ]) {
          assert.ok((stats.shapes[shape] ?? 0) > 0, `no case exercised "${shape}"`);
        }
        assert.ok(stats.accepted > 0, 'some mutations leave the response valid');
      }
    });
  });

  describe('memory and work bounds', () => {
    const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    const MiB = 1 << 20;

    /** Feeds `prefix` + `fill` repeated up to `total` bytes in `step` pieces; stops at the first throw. */
    function feedUntilThrow(
      prefix: string,
      fill: number,
      total: number,
      step: number,
      options?: ParserOptions,
    ): { fed: number; error: unknown; ms: number } {
      const parser = new ResponseParser(new Recorder(), options);
      parser.expect(false);
      const piece = Buffer.alloc(step, fill);
      const t0 = performance.now();
      let fed = 0;
      try {
        parser.execute(Buffer.from(prefix, 'latin1'));
        fed += prefix.length;
        while (fed < total) {
          parser.execute(piece);
          fed += step;
        }
        parser.finish();
      } catch (err) {
        return { fed, error: err, ms: performance.now() - t0 };
      }
      return { fed, error: undefined, ms: performance.now() - t0 };
    }

    function assertReason(err: unknown, reason: ProtocolReason): void {
      assert.ok(err instanceof ProtocolError, `expected ProtocolError ${reason}, got ${describeThrown(err)}`);
      assert.equal(err.reason, reason);
    }

    it('a 1 MiB header line without CRLF fails headers-too-large once the 64 KiB limit is passed', () => {
      const r = feedUntilThrow('HTTP/1.1 200 OK\r\nX-Big: ', 0x61, MiB, 1024);
      assertReason(r.error, 'headers-too-large');
      // It stopped within one piece of the limit: the rest of the MiB was never buffered.
      assert.ok(r.fed <= 65_536 + 1024, `fed ${r.fed} bytes before failing`);
      assert.ok(r.ms < 500, `took ${r.ms.toFixed(0)} ms`);
    });

    it('a 1 MiB status line fails headers-too-large; a custom smaller limit is honoured', () => {
      const r = feedUntilThrow('HTTP/1.1 200 ', 0x61, MiB, 4096);
      assertReason(r.error, 'headers-too-large');
      assert.ok(r.fed <= 65_536 + 4096, `fed ${r.fed} bytes before failing`);
      const small = feedUntilThrow('HTTP/1.1 200 OK\r\nX-Big: ', 0x61, MiB, 100, { maxHeaderBytes: 1024 });
      assertReason(small.error, 'headers-too-large');
      assert.ok(small.fed <= 1024 + 100, `fed ${small.fed} bytes before failing`);
    });

    it('a 1 MiB head in one piece fails at once without copying it', () => {
      const parser = new ResponseParser(new Recorder());
      parser.expect(false);
      const big = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX-Big: '), Buffer.alloc(MiB, 0x61)]);
      const t0 = performance.now();
      assert.throws(
        () => parser.execute(big),
        (err: unknown) => {
          assertReason(err, 'headers-too-large');
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 100);
      // A dead parser keeps failing with the same error and buffers nothing more.
      assert.throws(() => parser.execute(Buffer.from('\r\n\r\n')), ProtocolError);
    });

    it('a 1 MiB chunk-size line fails bad-chunk within 4 KiB of it', () => {
      const zeros = feedUntilThrow(CHUNKED_HEAD, 0x30, MiB, 1024);
      assertReason(zeros.error, 'bad-chunk');
      assert.ok(zeros.fed - CHUNKED_HEAD.length <= 4096 + 1024, `fed ${zeros.fed} bytes`);
      const ext = feedUntilThrow(`${CHUNKED_HEAD}1;`, 0x61, MiB, 1024);
      assertReason(ext.error, 'bad-chunk');
      assert.ok(ext.fed - CHUNKED_HEAD.length <= 4096 + 1024, `fed ${ext.fed} bytes`);
      const quoted = feedUntilThrow(`${CHUNKED_HEAD}1;a="`, 0x61, MiB, 1024);
      assertReason(quoted.error, 'bad-chunk');
    });

    it('a 1 MiB chunk-size line in one piece fails bad-chunk quickly', () => {
      const parser = new ResponseParser(new Recorder());
      parser.expect(false);
      const t0 = performance.now();
      assert.throws(
        () => parser.execute(Buffer.concat([Buffer.from(CHUNKED_HEAD), Buffer.alloc(MiB, 0x30)])),
        (err: unknown) => {
          assertReason(err, 'bad-chunk');
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 100);
    });

    it('a chunk-extension flood fails bad-chunk; 1-byte chunks without extensions pass (MF-10)', () => {
      const flood = `1;${'a'.repeat(100)}\r\nX\r\n`.repeat(Math.ceil(MiB / 106));
      const r1 = parse([Buffer.from(CHUNKED_HEAD + flood, 'latin1')]);
      assertReason(r1.error, 'bad-chunk');
      assert.ok(r1.body.length < 1024, `only a bounded prefix was delivered (${r1.body.length} bytes)`);
      const plain = Buffer.from(`${CHUNKED_HEAD}${'1\r\nX\r\n'.repeat(200_000)}0\r\n\r\n`, 'latin1');
      const t0 = performance.now();
      const r2 = parse([plain]);
      assert.equal(r2.error, undefined);
      assert.equal(r2.body.length, 200_000);
      assert.ok(performance.now() - t0 < 3_000);
    });

    it('a trailer section over the limit fails headers-too-large', () => {
      const r = feedUntilThrow(`${CHUNKED_HEAD}1\r\nX\r\n0\r\nX-Trailer: `, 0x61, MiB, 1024);
      assertReason(r.error, 'headers-too-large');
      assert.ok(r.fed <= 65_536 + 1024 + 80, `fed ${r.fed} bytes`);
    });

    it('an endless stream of 1xx heads fails too-many-1xx after the eleventh', () => {
      const parser = new ResponseParser(new Recorder());
      parser.expect(false);
      const one = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');
      let sent = 0;
      assert.throws(
        () => {
          for (; sent < 10_000; sent++) parser.execute(one);
        },
        (err: unknown) => {
          assertReason(err, 'too-many-1xx');
          return true;
        },
      );
      assert.equal(sent, 10, 'the eleventh interim head fails');
    });

    it('a head of 64 KiB of small header lines stays within the limit only when below it', () => {
      const line = 'X-A: b\r\n';
      const fits = `HTTP/1.1 200 OK\r\n${line.repeat(Math.floor((65_536 - 40) / line.length))}Content-Length: 0\r\n\r\n`;
      assert.ok(fits.length <= 65_536);
      assert.equal(parse([Buffer.from(fits)]).error, undefined);
      const over = `HTTP/1.1 200 OK\r\n${line.repeat(8200)}Content-Length: 0\r\n\r\n`;
      assertReason(parse([Buffer.from(over)]).error, 'headers-too-large');
    });
  });

  describe('the oracle itself', () => {
    // The oracle must be sound (claim only what a strict parser must refuse); these pin it.
    const ok = [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;a="b;c"\r\nhello\r\n0\r\nX: y\r\n\r\n',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.0 200 OK\r\n\r\nbody Content-Length: 1\r\nContent-Length: 2\r\n\r\n',
    ];
    const bad: [string, string][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 'two Content-Length headers'],
      [
        'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        'Content-Length with Transfer-Encoding',
      ],
      [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n',
        'Transfer-Encoding other than exactly "chunked"',
      ],
      ['HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n', 'obs-fold'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad chunk size "zz"'],
      [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n',
        'bad chunk size "10000000000000000"',
      ],
      ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'Transfer-Encoding in HTTP/1.0'],
    ];
    it('claims nothing for valid responses and names each shape', () => {
      for (const s of ok) {
        assert.deepEqual(mustRejectShapes(Buffer.from(s, 'latin1')), [], s);
        assert.equal(parse([Buffer.from(s, 'latin1')]).error, undefined, s);
      }
      for (const [s, shape] of bad) {
        assert.ok(
          mustRejectShapes(Buffer.from(s, 'latin1')).includes(shape),
          `${shape}: ${JSON.stringify(s)}`,
        );
        assert.ok(parse([Buffer.from(s, 'latin1')]).error instanceof ProtocolError, s);
      }
    });
  });
}
