/**
 * h2-stream — one HTTP/2 request stream of the fault server and the primitives a
 * route uses to answer it (the HTTP/2 counterpart of ./exchange.ts): HEADERS with
 * any fields (split into CONTINUATIONs on demand), flow-controlled DATA (padded,
 * dripped), trailers, RST_STREAM, raw frames, waits on the upload, the stream's
 * receive window held shut or opened by hand.
 *
 * Owns: {@link H2Stream}, {@link H2RecordedRequest}. The connection (./h2-conn.ts)
 * feeds it frames and gives it windows; it never reads the socket.
 *
 * Invariants: frames of one stream go out in the order the script asked (HEADERS,
 * DATA and trailers share one queue); writing to a stream the client reset, a
 * stream above a GOAWAY's last-stream-id or a closed connection is a silent no-op;
 * every wait (`sleep`, `stall`, `readBody`) settles when the stream or the
 * connection closes, so scripts unwind.
 */

import type { H2Connection } from './h2-conn.js';
import { encodeHeaderBlock } from './h2-hpack.js';
import { dataFrame, frame, H2Code, headerFrames, rstFrame, windowUpdateFrame } from './h2-wire.js';
import type { Bytes, HeaderInit, RecordedRequest } from './exchange.js';

/** What a stream needs from its server. */
export interface H2StreamHost {
  readonly origin: string;
  timer(ms: number, fn: () => void, opts?: { unref?: boolean }): () => void;
  fail(err: unknown): void;
  /** Resolves once `pred()` holds (checked every few ms), rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void>;
}

/** A request received over HTTP/2, as `fs.requests` shows it (`httpVersion` `'2.0'`). */
export interface H2RecordedRequest extends RecordedRequest {
  readonly streamId: number;
  /** Pseudo-header fields (`:method`, `:path`, `:scheme`, `:authority`). */
  readonly pseudo: Readonly<Record<string, string>>;
}

/** An HTTP/2 route script. */
export type H2RouteHandler = (stream: H2Stream) => void | Promise<void>;

/** A built-in HTTP/2 route: path pattern, doc line, script. */
export interface H2Route {
  readonly path: string;
  readonly description: string;
  readonly handler: H2RouteHandler;
}

type Item = { kind: 'data'; buf: Buffer; end: boolean; pad: number; done: () => void } | { kind: 'raw'; frames: Buffer[]; end: boolean; done: () => void };

/** One stream and the primitives to answer it. */
export class H2Stream {
  /** Path parameters of a built-in route. */
  params: Record<string, string> = {};
  /** How many requests for this exact path+query the server has seen, this one included. */
  hit = 1;
  readonly request: H2RecordedRequest;
  /** The client's RST_STREAM code, or null. */
  resetCode: number | null = null;
  /** While true, the server does not reopen this stream's receive window (uploads stall at the window). */
  holdWindow = false;
  /** The client ended its side (END_STREAM seen). */
  remoteEnded: boolean;
  private localEnded = false;
  private suppressed = false;
  private connClosed = false;
  private sendWindow: number;
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private trailerFields: Record<string, string> = {};
  private readonly queue: Item[] = [];
  private readonly wakers = new Set<() => void>();

  /** @internal */
  constructor(
    readonly conn: H2Connection,
    readonly id: number,
    /** Request header fields exactly as decoded, pseudo-headers included. */
    readonly fields: readonly [string, string][],
    ended: boolean,
  ) {
    this.remoteEnded = ended;
    this.sendWindow = conn.peerInitialWindow;
    const pseudo: Record<string, string> = {};
    const headers: Record<string, string> = {};
    const raw: string[] = [];
    for (const [n, v] of fields) {
      raw.push(n, v);
      if (n.startsWith(':')) pseudo[n] = v;
      else headers[n] = headers[n] === undefined ? v : `${headers[n]}${n === 'cookie' ? '; ' : ', '}${v}`;
    }
    const target = pseudo[':path'] ?? '';
    const url = new URL(target.startsWith('/') ? target : '/', 'http://h2.invalid');
    const chunks = this.chunks;
    const trailers = (): Record<string, string> => this.trailerFields;
    this.request = {
      method: pseudo[':method'] ?? '',
      target,
      path: url.pathname,
      query: url.searchParams,
      httpVersion: '2.0',
      headers,
      rawHeaders: raw,
      get body() {
        return Buffer.concat(chunks);
      },
      get trailers() {
        return trailers();
      },
      connectionId: conn.id,
      remotePort: conn.info.remotePort,
      receivedAt: Date.now(),
      clientCert: null,
      streamId: id,
      pseudo,
    };
  }

  get query(): URLSearchParams {
    return this.request.query;
  }
  /** Nothing more can be sent on this stream. */
  get closed(): boolean {
    return this.localEnded || this.suppressed || this.resetCode !== null || this.connClosed || this.conn.closed;
  }
  /** Upload bytes received so far (padding excluded). */
  get bodyBytes(): number {
    return this.received;
  }

  /** Resolves with the whole upload once the client ended it (or what came, if the stream closes first). */
  async readBody(): Promise<Buffer> {
    await this.until(() => this.remoteEnded);
    return this.request.body;
  }

  /** Resolves once `n` upload bytes arrived (or the stream closes). */
  async waitForBody(n: number): Promise<void> {
    await this.until(() => this.received >= n || this.remoteEnded);
  }

  /**
   * HEADERS: `:status` then `headers`, exactly as given (no lower-casing). `fields`
   * instead of a status sends that list alone (no `:status` added). `split` cuts the
   * block into that many frames (HEADERS + CONTINUATIONs).
   */
  headers(status: number | readonly (readonly [string, string])[], headers: HeaderInit = {}, opts: { end?: boolean; split?: number } = {}): Promise<void> {
    const fields = typeof status === 'number' ? [[':status', String(status)] as const, ...pairs(headers)] : status;
    const frames = headerFrames(this.id, encodeHeaderBlock(fields), opts.end === true, opts.split ?? 1, this.conn.peerMaxFrame);
    return this.enqueue({ kind: 'raw', frames, end: opts.end === true, done: () => {} });
  }

  /** A complete response: `content-length` added unless given; no DATA for HEAD, 204, 304 or an empty body. */
  async respond(status: number, headers: HeaderInit = {}, body: Bytes = ''): Promise<void> {
    const buf = toBuffer(body);
    const list = pairs(headers);
    const bodiless = status === 204 || status === 304 || this.request.method === 'HEAD';
    if (!list.some(([n]) => n.toLowerCase() === 'content-length') && status !== 204 && status !== 304) {
      list.push(['content-length', String(buf.length)]);
    }
    const empty = bodiless || buf.length === 0;
    await this.headers(status, list, { end: empty });
    if (!empty) await this.data(buf, { end: true });
  }

  /** DATA, within the client's windows (waits for WINDOW_UPDATEs); `pad` adds padding bytes. */
  data(bytes: Bytes, opts: { end?: boolean; pad?: number } = {}): Promise<void> {
    return this.enqueue({ kind: 'data', buf: toBuffer(bytes), end: opts.end === true, pad: opts.pad ?? 0, done: () => {} });
  }

  /** Ends the stream with an empty DATA frame. */
  end(): Promise<void> {
    return this.data('', { end: true });
  }

  /** Trailers: HEADERS with END_STREAM after the DATA queued so far. */
  trailers(headers: HeaderInit): Promise<void> {
    return this.headers(pairs(headers), {}, { end: true });
  }

  /** DATA `chunkSize` bytes every `intervalMs` (the first at once); END_STREAM with the last unless `end` is false. */
  async drip(bytes: Bytes, opts: { chunkSize?: number; intervalMs?: number; end?: boolean } = {}): Promise<void> {
    const buf = toBuffer(bytes);
    const size = Math.max(1, opts.chunkSize ?? 1);
    for (let off = 0; off < buf.length && !this.closed; off += size) {
      if (off > 0) await this.sleep(opts.intervalMs ?? 10);
      const last = off + size >= buf.length;
      await this.data(buf.subarray(off, off + size), { end: last && opts.end !== false });
    }
    if (buf.length === 0 && opts.end !== false) await this.end();
  }

  /** RST_STREAM now (whatever is still queued is dropped). */
  rst(code: number = H2Code.CANCEL): Promise<void> {
    if (this.closed && this.localEnded) return this.conn.send(rstFrame(this.id, code), this.id);
    this.dropQueue();
    const p = this.suppressed ? Promise.resolve() : this.conn.send(rstFrame(this.id, code), this.id);
    this.localEnded = true;
    this.remoteEnded = true;
    this.conn.forget(this);
    this.wake();
    return p;
  }

  /** Any frame, verbatim (default on this stream); `length` lies in the frame header. */
  frame(type: number, flags: number, payload: Bytes = '', opts: { stream?: number; length?: number } = {}): Promise<void> {
    if (this.suppressed) return Promise.resolve();
    return this.conn.send(frame(type, flags, opts.stream ?? this.id, toBuffer(payload), opts.length), this.id);
  }

  /** WINDOW_UPDATE for this stream (e.g. with `holdWindow`, to open it by hand). */
  grantWindow(increment: number): Promise<void> {
    return this.conn.send(windowUpdateFrame(this.id, increment), this.id);
  }

  /** Resolves after `ms`, or earlier when the stream or connection closes. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.conn.timer(ms, () => {
        this.wakers.delete(wake);
        resolve();
      });
      const wake = (): void => {
        if (!this.gone) return;
        cancel();
        this.wakers.delete(wake);
        resolve();
      };
      this.wakers.add(wake);
    });
  }

  /** Never answers: resolves only when the client resets the stream or the connection closes. */
  stall(): Promise<void> {
    return this.until(() => false);
  }

  // Called by the connection.

  /** @internal */
  addSendWindow(delta: number): void {
    this.sendWindow += delta;
  }
  /** @internal */
  onData(data: Buffer, flowLength: number, end: boolean, reopen: boolean): void {
    if (data.length > 0) {
      this.chunks.push(data);
      this.received += data.length;
    }
    if (reopen && !this.holdWindow && !end && flowLength > 0) void this.conn.send(windowUpdateFrame(this.id, flowLength), this.id);
    if (end) this.remoteEnded = true;
    this.wake();
    this.maybeDone();
  }
  /** @internal */
  onTrailers(fields: [string, string][], end: boolean): void {
    for (const [n, v] of fields) this.trailerFields[n] = v;
    if (end) this.remoteEnded = true;
    this.wake();
    this.maybeDone();
  }
  /** @internal */
  onReset(code: number): void {
    this.resetCode = code;
    this.dropQueue();
    this.conn.forget(this);
    this.wake();
  }
  /** @internal The connection closed. */
  onClosed(): void {
    this.connClosed = true;
    this.dropQueue();
    this.wake();
  }
  /** @internal Above a GOAWAY's last-stream-id: never answered. */
  suppress(): void {
    this.suppressed = true;
    this.dropQueue();
    this.conn.forget(this);
    this.wake();
  }
  /** @internal Sends what the windows allow. */
  pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const item = this.queue[0]!;
      if (item.kind === 'raw') {
        this.queue.shift();
        let last: Promise<void> = Promise.resolve();
        for (const f of item.frames) last = this.conn.send(f, this.id);
        if (item.end) this.localEnded = true;
        void last.then(item.done);
        continue;
      }
      const room = Math.min(this.sendWindow, this.conn.sendWindow) - item.pad;
      const n = Math.min(item.buf.length, room, this.conn.peerMaxFrame - item.pad);
      if (item.buf.length > 0 && n <= 0) return; // wait for a WINDOW_UPDATE
      const piece = item.buf.subarray(0, n);
      item.buf = item.buf.subarray(n);
      const finished = item.buf.length === 0;
      this.sendWindow -= piece.length + item.pad;
      this.conn.sendWindow -= piece.length + item.pad;
      const written = this.conn.send(dataFrame(this.id, piece, finished && item.end, item.pad), this.id);
      if (!finished) continue;
      this.queue.shift();
      if (item.end) this.localEnded = true;
      void written.then(item.done);
    }
    this.maybeDone();
  }

  // Private implementation past this point.

  private get gone(): boolean {
    return this.resetCode !== null || this.connClosed || this.suppressed || this.conn.closed;
  }

  private enqueue(item: Item): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      item.done = resolve;
      this.queue.push(item);
      this.pump();
    });
  }

  private dropQueue(): void {
    for (const item of this.queue.splice(0)) item.done();
  }

  private maybeDone(): void {
    if (this.localEnded && this.remoteEnded && this.queue.length === 0) this.conn.forget(this);
  }

  private until(pred: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred() && !this.gone) return;
        this.wakers.delete(check);
        resolve();
      };
      this.wakers.add(check);
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Header input as ordered pairs, names exactly as given. */
function pairs(h: HeaderInit): [string, string][] {
  const out: [string, string][] = [];
  if (Array.isArray(h)) {
    for (const [n, v] of h as ReadonlyArray<readonly [string, string | number]>) out.push([n, String(v)]);
    return out;
  }
  for (const [n, v] of Object.entries(h as Record<string, string | number | readonly string[]>)) {
    if (Array.isArray(v)) for (const x of v as readonly string[]) out.push([n, x]);
    else out.push([n, String(v as string | number)]);
  }
  return out;
}
