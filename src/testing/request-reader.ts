/**
 * request-reader — a minimal, tolerant reader of HTTP/1.x requests from one socket,
 * for the fault server. It is not the client's parser (src/http1) and never judges a
 * request: it accepts bare LF, obs-fold, leading blank lines and odd spacing, because
 * a fault server must keep answering whatever a client under test sends.
 *
 * Owns: the per-connection input buffer, backpressure towards the client (the socket
 * is paused while more than {@link HIGH_WATER} bytes wait unread, so a route that
 * does not read an upload really stops the uploader), the request head, and body
 * decoding by Content-Length or chunked (with trailers).
 *
 * Invariants: bytes are consumed strictly in order; `buffered` bytes are the start of
 * whatever the client sends next; after `detach()` the reader never touches the
 * socket again. Mutated only by socket events and by the one consumer (the
 * connection loop, or the route it is running).
 */

import type { Duplex } from 'node:stream';

/** How the request body is delimited. */
export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** `'1.1'`, `'1.0'`, or whatever followed `HTTP/` (`'0.9'` when absent). */
  httpVersion: string;
  /** Lower-cased names; repeated fields joined with `', '`. */
  headers: Record<string, string>;
  /** Name/value pairs as received (values trimmed). */
  rawHeaders: string[];
  framing: Framing;
}

/** Unread input above which the socket is paused. */
export const HIGH_WATER = 64 * 1024;
/** A head or a chunk line longer than this is an error (keeps memory bounded). */
const MAX_LINE = 1024 * 1024;

/** Input buffer of one connection with async, ordered reads. */
export class RequestReader {
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  private wake: (() => void) | null = null;
  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > HIGH_WATER) this.socket.pause();
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.eof = true;
    this.notify();
  };

  constructor(private readonly socket: Duplex) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.buf.length;
  }

  /** The client finished sending (FIN, reset or close). */
  get ended(): boolean {
    return this.eof;
  }

  /** Reads the next request head; `null` when the input ends before any byte of one. */
  async readHead(): Promise<RequestHead | null> {
    for (;;) {
      let skip = 0;
      while (skip < this.buf.length && (this.buf[skip] === 13 || this.buf[skip] === 10)) skip++;
      if (skip > 0) this.take(skip);
      const end = headEnd(this.buf);
      if (end >= 0) return parseHead(this.take(end).toString('latin1'));
      if (this.buf.length > MAX_LINE) throw new Error('request head larger than 1 MiB');
      if (this.eof) {
        if (this.buf.length === 0) return null;
        throw new Error('connection ended inside a request head');
      }
      await this.more();
    }
  }

  /** A reader of the body that follows a head with this framing. */
  body(framing: Framing): BodyReader {
    return new BodyReader(this, framing);
  }

  /** Up to `max` buffered bytes, waiting for at least one; empty at end of input. */
  async readSome(max: number): Promise<Buffer> {
    while (this.buf.length === 0 && !this.eof) await this.more();
    return this.take(Math.min(max, this.buf.length));
  }

  /** Next line without its terminator (LF or CRLF); `null` if input ends first. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const lf = this.buf.indexOf(10);
      if (lf >= 0) {
        const line = this.take(lf + 1).toString('latin1');
        return line.endsWith('\r\n') ? line.slice(0, -2) : line.slice(0, -1);
      }
      if (this.buf.length > MAX_LINE) throw new Error('request line longer than 1 MiB');
      if (this.eof) return null;
      await this.more();
    }
  }

  /** Stops reading the socket and returns what was buffered (for tunnels). */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    this.eof = true;
    this.notify();
    return rest;
  }

  // Private implementation past this point.

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    if (this.buf.length <= HIGH_WATER && this.socket.isPaused() && !this.eof) this.socket.resume();
    return out;
  }

  /** Resolves when more input arrived or the input ended. */
  private more(): Promise<void> {
    if (this.eof) return Promise.resolve();
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** Decodes one request body; `read()` returns `null` at its end. */
export class BodyReader {
  /** Trailer name/value pairs (chunked bodies only), filled at the end. */
  readonly trailers: string[] = [];
  private remaining: number;
  private state: 'data' | 'size' | 'done';
  private readonly chunked: boolean;

  constructor(
    private readonly reader: RequestReader,
    framing: Framing,
  ) {
    this.remaining = framing.kind === 'length' ? framing.length : 0;
    this.state = framing.kind === 'chunked' ? 'size' : this.remaining > 0 ? 'data' : 'done';
    this.chunked = framing.kind === 'chunked';
  }

  /** The whole body has been read (or the input ended). */
  get done(): boolean {
    return this.state === 'done';
  }

  /** Up to `max` decoded body bytes; `null` when the body (or the input) ended. */
  async read(max = Number.POSITIVE_INFINITY): Promise<Buffer | null> {
    for (;;) {
      if (this.state === 'done') return null;
      if (this.state === 'size') {
        await this.readChunkSize();
        continue;
      }
      const data = await this.reader.readSome(Math.min(max, this.remaining));
      if (data.length === 0) {
        this.state = 'done';
        return null;
      }
      this.remaining -= data.length;
      if (this.remaining === 0) {
        if (this.chunked) {
          await this.reader.readLine(); // CRLF after the chunk data (tolerant: not checked)
          this.state = 'size';
        } else {
          this.state = 'done';
        }
      }
      return data;
    }
  }

  private async readChunkSize(): Promise<void> {
    const line = await this.reader.readLine();
    if (line === null) {
      this.state = 'done';
      return;
    }
    const hex = /^[ \t]*([0-9a-fA-F]+)/.exec(line);
    if (!hex) throw new Error(`bad chunk size line in request body: ${JSON.stringify(line.slice(0, 40))}`);
    const size = Number.parseInt(hex[1]!, 16);
    if (!Number.isSafeInteger(size)) throw new Error('request chunk size too large');
    if (size > 0) {
      this.remaining = size;
      this.state = 'data';
      return;
    }
    for (;;) {
      const trailer = await this.reader.readLine();
      if (trailer === null || trailer === '') break;
      const colon = trailer.indexOf(':');
      if (colon > 0) this.trailers.push(trailer.slice(0, colon).trim(), trailer.slice(colon + 1).trim());
    }
    this.state = 'done';
  }
}

/** Index just past the blank line ending a head (CRLF or bare LF), or -1. */
function headEnd(buf: Buffer): number {
  let from = 0;
  for (;;) {
    const lf = buf.indexOf(10, from);
    if (lf < 0) return -1;
    if (buf[lf + 1] === 10) return lf + 2;
    if (buf[lf + 1] === 13 && buf[lf + 2] === 10) return lf + 3;
    from = lf + 1;
  }
}

function parseHead(text: string): RequestHead {
  const lines = text.split(/\r?\n/);
  const [method = '', target = '', version = ''] = lines[0]!.trim().split(/[ \t]+/);
  const rawHeaders: string[] = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && rawHeaders.length > 0) {
      rawHeaders[rawHeaders.length - 1] += ` ${line.trim()}`; // obs-fold
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    rawHeaders.push(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const httpVersion = version.toUpperCase().startsWith('HTTP/') ? version.slice(5) : '0.9';
  return { method, target, httpVersion, headers, rawHeaders, framing: framingOf(headers) };
}

function framingOf(headers: Record<string, string>): Framing {
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    const codings = te.toLowerCase().split(',');
    return codings[codings.length - 1]!.trim() === 'chunked' ? { kind: 'chunked' } : { kind: 'none' };
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const first = /^\s*(\d+)/.exec(cl);
    if (first) return { kind: 'length', length: Number(first[1]) };
  }
  return { kind: 'none' };
}
