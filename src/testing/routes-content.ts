/**
 * routes-content — built-in routes about representations: compressed bodies
 * (`/gzip`, `/deflate`, `/deflate-raw`, `/br`) and byte ranges with validators
 * (`/range`). Documented in the table of ./routes.ts; `/range` in detail below.
 *
 * `/range?size=N` serves `rangeContent(N)` with a strong `ETag` (`"hg-N"`),
 * `Last-Modified: Sat, 01 Jan 2000 00:00:00 GMT` and `Accept-Ranges: bytes`.
 * `Range: bytes=a-b`, `bytes=a-` and `bytes=-n` get 206 + `Content-Range: bytes
 * a-b/N`; an unsatisfiable range gets 416 + `Content-Range: bytes <asterisk>/N`;
 * several ranges or an unparsable one are ignored (200). `If-Range` that does not
 * match (strong comparison; a weak ETag never matches; a date must equal
 * Last-Modified) turns the answer into a full 200. Options: `ignoreRange=1` (always
 * 200), `etag=V` (quoted if bare), `weak=1`, `changeEtag=V` (ETag from the second
 * request on), `noEtag=1`, `noLastModified=1`, `lastModified=DATE`, and
 * `resetAt=K1,K2,…` / `stallAt=K1,…`: the n-th request for this exact URL (counted
 * per server) sends its body up to content offset Kn (`max(0, Kn - start)` bytes),
 * then RST after 50 ms / stalls; requests beyond the list are served normally. A
 * single K therefore affects the FIRST request only.
 *
 * Invariants: the content and the compressed bytes are pure functions of their
 * inputs (tests compare against `FaultServer.rangeContent` and `.compressedText`);
 * every `corrupt=1` and `truncate=1` variant fails to decode with node:zlib.
 */

import * as zlib from 'node:zlib';
import type { Exchange } from './exchange.js';
import { type BuiltinRoute, flag, num } from './route-kit.js';

/** The decoded body of every compressed route (about 4 KiB of text). */
export const COMPRESSED_TEXT = Array.from(
  { length: 64 },
  (_, i) => `line ${String(i).padStart(2, '0')}: hourglass never waits forever; every wait has a name.\n`,
).join('');

/** `size` deterministic printable bytes (a-z from an LCG), the same on every call. */
export function rangeContent(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = 0x2545f491;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 97 + ((x >>> 16) % 26);
  }
  return out;
}

interface Codec {
  path: string;
  encoding: string;
  data: Buffer;
  /** Drops the integrity trailer (or the stream's last bytes when it has none). */
  truncate(b: Buffer): Buffer;
  /** Damages the stream while keeping its length. */
  corrupt(b: Buffer): Buffer;
}

/** A copy of `b` with `fn` applied to it. */
function edit(b: Buffer, fn: (c: Buffer) => void): Buffer {
  const c = Buffer.from(b);
  fn(c);
  return c;
}

const text = Buffer.from(COMPRESSED_TEXT);
const CODECS: readonly Codec[] = [
  {
    path: '/gzip',
    encoding: 'gzip',
    data: zlib.gzipSync(text),
    truncate: (b) => b.subarray(0, b.length - 8), // CRC32 + ISIZE
    corrupt: (b) => edit(b, (c) => (c[c.length - 8]! ^= 0xff)), // CRC32 mismatch after all data
  },
  {
    path: '/deflate',
    encoding: 'deflate',
    data: zlib.deflateSync(text),
    truncate: (b) => b.subarray(0, b.length - 4), // Adler-32
    corrupt: (b) => edit(b, (c) => (c[c.length - 1]! ^= 0xff)), // Adler-32 mismatch
  },
  {
    path: '/deflate-raw',
    encoding: 'deflate',
    data: zlib.deflateRawSync(text),
    truncate: (b) => b.subarray(0, b.length - 4),
    corrupt: (b) => edit(b, (c) => (c[0]! |= 0x06)), // reserved block type 11
  },
  {
    path: '/br',
    encoding: 'br',
    data: zlib.brotliCompressSync(text),
    truncate: (b) => b.subarray(0, b.length - 4),
    corrupt: (b) => edit(b, (c) => c.fill(0xff, c.length >> 1, (c.length >> 1) + 8)),
  },
];

async function compressed(ex: Exchange, codec: Codec): Promise<void> {
  const q = ex.query;
  let data = codec.data;
  if (flag(q, 'truncate')) data = codec.truncate(data);
  if (flag(q, 'corrupt')) data = codec.corrupt(data);
  const headers: [string, string][] = [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Encoding', q.get('ce') ?? codec.encoding],
  ];
  if (flag(q, 'chunked')) {
    await ex.writeHead(200, [...headers, ['Transfer-Encoding', 'chunked']]);
    if (ex.request.method === 'HEAD') return;
    const third = Math.ceil(data.length / 3);
    for (let off = 0; off < data.length; off += third) {
      const piece = data.subarray(off, off + third);
      await ex.write(
        Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]),
      );
    }
    await ex.write('0\r\n\r\n');
    return;
  }
  const cut = num(q, 'cut', -1);
  if (cut >= 0) {
    await ex.writeHead(200, [...headers, ['Content-Length', String(data.length)]]);
    await ex.end(data.subarray(0, cut));
    return;
  }
  await ex.respond(200, headers, data);
}

const LAST_MODIFIED = 'Sat, 01 Jan 2000 00:00:00 GMT';

/** `[start, end]` (inclusive), `'unsatisfiable'`, or `null` to ignore the header. */
function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return null;
  return [start, Math.min(end, size - 1)];
}

/** `"K1,K2"` → `[K1, K2]` (non-numbers dropped). */
function offsets(v: string | null): number[] {
  return (v ?? '')
    .split(',')
    .filter((x) => x.trim() !== '' && Number.isFinite(Number(x)))
    .map(Number);
}

function quoteEtag(v: string): string {
  return v.startsWith('"') || v.startsWith('W/') ? v : `"${v}"`;
}

async function range(ex: Exchange): Promise<void> {
  const q = ex.query;
  const size = Math.max(0, num(q, 'size', 1024));
  const content = rangeContent(size);
  const changed = q.get('changeEtag');
  let etag: string | null = quoteEtag(
    changed !== null && ex.hit > 1 ? changed : (q.get('etag') ?? `hg-${size}`),
  );
  if (flag(q, 'weak') && !etag.startsWith('W/')) etag = `W/${etag}`;
  if (flag(q, 'noEtag')) etag = null;
  const lastModified = flag(q, 'noLastModified') ? null : (q.get('lastModified') ?? LAST_MODIFIED);
  const headers: [string, string][] = [
    ['Content-Type', 'application/octet-stream'],
    ['Accept-Ranges', 'bytes'],
  ];
  if (etag !== null) headers.push(['ETag', etag]);
  if (lastModified !== null) headers.push(['Last-Modified', lastModified]);

  let status = 200;
  let [start, end] = [0, size - 1];
  const rangeHeader = ex.request.headers.range;
  const ifRange = ex.request.headers['if-range'];
  const validatorOk =
    ifRange === undefined ||
    (ifRange.startsWith('"')
      ? etag !== null && !etag.startsWith('W/') && ifRange === etag
      : ifRange === lastModified);
  if (rangeHeader !== undefined && !flag(q, 'ignoreRange') && validatorOk) {
    const r = parseRange(rangeHeader, size);
    if (r === 'unsatisfiable') {
      await ex.respond(416, [...headers, ['Content-Range', `bytes */${size}`]], '');
      return;
    }
    if (r !== null) {
      status = 206;
      [start, end] = r;
      headers.push(['Content-Range', `bytes ${start}-${end}/${size}`]);
    }
  }
  const body = content.subarray(start, end + 1);
  // resetAt / stallAt: the n-th value applies to the n-th request for this exact URL.
  const resetAt = offsets(q.get('resetAt'))[ex.hit - 1];
  const stallAt = offsets(q.get('stallAt'))[ex.hit - 1];
  const cutAt = resetAt ?? stallAt;
  if (cutAt !== undefined) {
    await ex.writeHead(status, [...headers, ['Content-Length', String(body.length)]]);
    await ex.write(body.subarray(0, Math.max(0, cutAt - start)));
    if (resetAt !== undefined) {
      await ex.sleep(50);
      ex.reset();
    } else {
      await ex.stall();
    }
    return;
  }
  await ex.respond(status, headers, body);
}

export const CONTENT_ROUTES: readonly BuiltinRoute[] = [
  ...CODECS.map(
    (codec): BuiltinRoute => ({
      path: codec.path,
      description: `compressedText as ${codec.path.slice(1)}; ?corrupt=1, ?truncate=1 (no trailer), ?cut=N (N bytes then FIN), ?chunked=1, ?ce=VALUE`,
      handler: (ex) => compressed(ex, codec),
    }),
  ),
  {
    path: '/range',
    description:
      '`?size=1024`: rangeContent(size) with ETag/Last-Modified, 206/416, If-Range; ignoreRange, etag, weak, changeEtag, noEtag, noLastModified, lastModified, resetAt=K1,K2 / stallAt=K1 (n-th request cut at content offset Kn)',
    handler: range,
  },
];
