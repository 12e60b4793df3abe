/**
 * decompress — transparent decoding of `Content-Encoding: gzip | x-gzip | deflate | br`
 * (SPEC §6) with `node:zlib` streams.
 *
 * Owns: choosing decoders from the header (stacked codings decoded in reverse order;
 * any unsupported coding → no decoding, headers left as they are), telling a
 * zlib-wrapped deflate stream from a raw one, mapping decoder failures to
 * `ProtocolError` `bad-encoding`, and the decoded-size cap (`maxResponseBytes`).
 *
 * Invariants: errors of the raw body (e.g. `truncated-body`) pass through unchanged;
 * destroying the decoded stream destroys the raw body (the connection closes unless
 * the body was complete); more than 5 codings are refused. Every stage honours
 * backpressure — a stage whose output is not read stops decoding, so memory per response
 * stays bounded whatever the compression ratio (SPEC §11); an empty body is empty for
 * every coding, never `bad-encoding`. Bytes after the end of a compressed stream
 * (trailing CRLF or garbage, a second deflate or brotli stream) are `bad-encoding` for
 * every coding, as zlib's gunzip already does, and the body always settles.
 */

import { type Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { ProtocolError } from './errors.js';
import type { Response } from './response.js';

const MAX_CODINGS = 5;

/** Whether a Content-Encoding value will be decoded (so size caps apply to decoded bytes). */
export function isDecodable(value: string | string[] | undefined): boolean {
  try {
    return parseCodings(value, { method: '', url: '' }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * @internal Installs the decoding stage on a response whose Content-Encoding can be
 * decoded (never for HEAD, 204 or 304): the caller reads decoded bytes, and the
 * `content-encoding` and `content-length` headers go (they described the raw body). The
 * one implementation the transport and MockTransport share. Throws `bad-encoding` for
 * too many codings (the caller discards the body).
 */
export function decodeResponse(res: Response, method: string, url: string, maxBytes: number): void {
  if (res.status === 204 || res.status === 304 || method === 'HEAD') return;
  const ce = res.headers['content-encoding'];
  if (ce === undefined) return;
  const ctx = { method, url };
  const codings = parseCodings(ce, ctx);
  if (codings === undefined) return;
  delete res.headers['content-encoding'];
  delete res.headers['content-length'];
  res.setDecoder((raw) => decodeBody(raw, codings, maxBytes, ctx));
}

/** Parses a Content-Encoding value into decodable codings, or undefined when not decodable. */
export function parseCodings(value: string | string[] | undefined, ctx: { method: string; url: string }): string[] | undefined {
  if (value === undefined) return undefined;
  const list = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'identity');
  if (list.length === 0) return undefined;
  if (list.length > MAX_CODINGS) {
    throw new ProtocolError('bad-encoding', `too many content codings (${list.length})`, ctx);
  }
  for (const c of list) if (c !== 'gzip' && c !== 'x-gzip' && c !== 'deflate' && c !== 'br') return undefined;
  return list;
}

/** Builds the decoding pipeline for `codings` over `raw`; the result is what callers read. */
export function decodeBody(
  raw: Readable,
  codings: string[],
  maxBytes: number,
  ctx: { method: string; url: string },
): Readable {
  const out = new DecodedBody(maxBytes, ctx);
  const stages: NodeJS.ReadWriteStream[] = [];
  for (let i = codings.length - 1; i >= 0; i--) stages.push(makeDecoder(codings[i]!));
  let src: NodeJS.ReadableStream = raw;
  const fail = (err: Error): void => {
    if (out.destroyed) return;
    out.destroy(err instanceof ProtocolError ? err : badEncoding(err, ctx));
  };
  raw.on('error', (err) => {
    if (!out.destroyed) out.destroy(err);
  });
  for (const st of stages) {
    (st as unknown as Readable).on('error', fail);
    src = src.pipe(st);
  }
  src.pipe(out);
  out.on('close', () => {
    if (!raw.destroyed && !raw.readableEnded) raw.destroy();
    for (const st of stages) {
      const s = st as unknown as Readable;
      if (!s.destroyed) s.destroy();
    }
  });
  return out;
}

function makeDecoder(coding: string): NodeJS.ReadWriteStream {
  // Default finishFlush: a stream missing its end (e.g. gzip without trailer) errors at end.
  if (coding === 'br') return new BrotliDecoder();
  if (coding === 'deflate') return new InflateAuto();
  return new GzipDecoder();
}

// zlib's decoders call an input that ended before any byte "unexpected end of file";
// for a response that is an empty body (SPEC §11). zlib honours backpressure itself.

/** Gunzip that takes an empty input as an empty body. */
class GzipDecoder extends zlib.Gunzip {
  override _flush(cb: TransformCallback): void {
    if (this.bytesWritten === 0) cb();
    else super._flush(cb);
  }
}

/**
 * Brotli decoder that takes an empty input as an empty body, and bytes after the end of
 * the compressed stream as a corrupt body (zlib would drop them silently).
 */
class BrotliDecoder extends zlib.BrotliDecompress {
  private fed = 0;

  override _transform(chunk: Buffer, enc: BufferEncoding, cb: TransformCallback): void {
    this.fed += chunk.length;
    super._transform(chunk, enc, cb);
  }

  // zlib ends its output early when the decoder finished with input left over (the
  // same chunk or a later one): that is the moment to call the body corrupt.
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null && this.bytesWritten < this.fed) {
      this.destroy(trailingData());
      return false;
    }
    return super.push(chunk, encoding);
  }

  override _flush(cb: TransformCallback): void {
    if (this.bytesWritten === 0) cb();
    else super._flush(cb);
  }
}

function trailingData(): Error {
  return new Error('data after the end of the compressed stream');
}

function badEncoding(err: Error, ctx: { method: string; url: string }): ProtocolError {
  return new ProtocolError('bad-encoding', `could not decode the response body: ${err.message}`, {
    ...ctx,
    cause: err,
  });
}

/**
 * Inflates either a zlib-wrapped (RFC 1950) or a raw (RFC 1951) deflate stream (chosen on
 * the first bytes; no bytes at all is an empty body). Backpressure crosses the inner
 * inflater: when this stream's buffer is full the inner one is paused, its own buffer
 * fills, it stops inflating and stops taking input — a deflate bomb nobody reads stays
 * a few chunks in memory.
 */
class InflateAuto extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;
  /** Input bytes handed to the inner inflater. */
  private fed = 0;
  /** The inner inflater reached the end of the deflate stream. */
  private innerEnded = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let inner = this.inner;
    if (inner === undefined) {
      const made = looksZlibWrapped(chunk) ? zlib.createInflate() : zlib.createInflateRaw();
      made.on('data', (d: Buffer) => {
        if (!this.push(d)) made.pause();
      });
      made.on('error', (e: Error) => this.destroy(e));
      made.once('end', () => {
        this.innerEnded = true;
      });
      this.inner = inner = made;
    }
    // Bytes after the end of the deflate stream (trailing CRLF, garbage, a second stream)
    // make the body corrupt, as for gzip (SPEC §11: complete framing, corrupt stream).
    if (this.innerEnded) {
      cb(trailingData());
      return;
    }
    this.fed += chunk.length;
    inner.write(chunk, () => cb());
  }

  override _read(size: number): void {
    const inner = this.inner;
    if (inner !== undefined && inner.isPaused()) inner.resume();
    super._read(size);
  }

  override _flush(cb: TransformCallback): void {
    const inner = this.inner;
    if (inner === undefined) {
      cb();
      return;
    }
    const check = (): void => cb(inner.bytesWritten < this.fed ? trailingData() : null);
    if (this.innerEnded) check();
    else {
      inner.once('end', check);
      inner.end();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }
}

function looksZlibWrapped(chunk: Buffer): boolean {
  const cmf = chunk[0]!;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7) return false;
  if (chunk.length < 2) return true;
  return (cmf * 256 + chunk[1]!) % 31 === 0;
}

/** The caller-facing decoded body: counts decoded bytes against the cap. */
class DecodedBody extends Transform {
  private count = 0;
  constructor(
    private readonly maxBytes: number,
    private readonly ctx: { method: string; url: string },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.maxBytes) {
      cb(
        new ProtocolError('body-too-large', `decoded response body exceeds maxResponseBytes (${this.maxBytes})`, this.ctx),
      );
      return;
    }
    cb(null, chunk);
  }
}
