/**
 * exchange — the scripting vocabulary of the fault server: one request and the
 * primitives a route uses to answer it (OkHttp mockwebserver's `SocketEffect`:
 * byte-exact writes, slow writes, FIN, RST, stall, delays, partial reads).
 *
 * Owns: {@link Exchange} (what a route receives), the recorded form of a request
 * ({@link openExchange} builds both), and head formatting. Connection state lives
 * in ./conn.ts.
 *
 * Invariants: raw writes are byte-exact (a string is written one byte per char,
 * latin1); writing to a closed connection is a silent no-op, never an error, so a
 * script that races with the client cannot crash the server; every timer goes
 * through the host and dies with `close()`; `stall()` and `sleep()` settle when the
 * connection closes, so scripts unwind. Never imports the server (no cycle).
 */

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Conn } from './conn.js';
import type { BodyReader, RequestHead } from './request-reader.js';

/** One request as the server received it. */
export interface RecordedRequest {
  readonly method: string;
  /** Request target exactly as sent (origin-form, absolute-form or authority). */
  readonly target: string;
  /** Path of the target (absolute-form is reduced to its path). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly httpVersion: string;
  /** Lower-cased names; repeated fields joined with `', '`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHeaders: readonly string[];
  /** Body bytes read so far (all of it once the exchange is over). */
  readonly body: Buffer;
  /** Trailers of a chunked request body, lower-cased names. */
  readonly trailers: Readonly<Record<string, string>>;
  readonly connectionId: number;
  readonly remotePort: number;
  /** `Date.now()` when the head was parsed. */
  readonly receivedAt: number;
  /** TLS client certificate, when the server requested one: CN and whether it verified. */
  readonly clientCert: { subjectCN: string; authorized: boolean } | null;
}

/** Header input: an object (arrays repeat the line) or ordered pairs. */
export type HeaderInit =
  | Readonly<Record<string, string | number | readonly string[]>>
  | ReadonlyArray<readonly [string, string | number]>;

/** Bytes as scripts give them: strings are one byte per char (latin1). */
export type Bytes = string | Uint8Array;

/** One request and the primitives to answer it. */
export class Exchange {
  /** Path parameters of a built-in route (`/status/:code` → `{ code }`). */
  params: Record<string, string> = {};
  private wrote = false;
  readonly request: RecordedRequest;
  /** How many requests for this exact path+query the server has seen, this one included. */
  readonly hit: number;
  private readonly conn: Conn;
  private readonly bodyReader: BodyReader;
  private readonly record: (chunk: Buffer, trailers: readonly string[] | null) => void;

  /** @internal — exchanges are made by the server's connections ({@link openExchange}). */
  constructor(
    request: RecordedRequest,
    conn: Conn,
    bodyReader: BodyReader,
    record: (chunk: Buffer, trailers: readonly string[] | null) => void,
    hit: number,
  ) {
    this.request = request;
    this.conn = conn;
    this.bodyReader = bodyReader;
    this.record = record;
    this.hit = hit;
  }

  get socket(): net.Socket {
    return this.conn.socket;
  }
  get query(): URLSearchParams {
    return this.request.query;
  }
  get origin(): string {
    return this.conn.host.origin;
  }
  /** The connection can no longer carry a response. */
  get closed(): boolean {
    return this.conn.closed;
  }
  /** The request body has been read to its end. */
  get bodyDone(): boolean {
    return this.bodyReader.done;
  }

  /** Writes bytes verbatim; resolves when flushed (or at once if the connection is gone). */
  write(bytes: Bytes): Promise<void> {
    this.wrote = true;
    const sock = this.conn.socket;
    if (this.conn.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        sock.off('close', done);
        resolve();
      };
      sock.once('close', done);
      sock.write(toBuffer(bytes), () => done());
    });
  }

  /** Writes `chunkSize` bytes every `intervalMs` (the first at once); stops if the connection closes. */
  async writeSlowly(bytes: Bytes, opts: { chunkSize?: number; intervalMs?: number } = {}): Promise<void> {
    const buf = toBuffer(bytes);
    const size = Math.max(1, opts.chunkSize ?? 1);
    for (let off = 0; off < buf.length && !this.closed; off += size) {
      if (off > 0) await this.sleep(opts.intervalMs ?? 10);
      await this.write(buf.subarray(off, off + size));
    }
  }

  /** Writes a status line and exactly these headers, then the blank line. */
  writeHead(status: number, headers: HeaderInit = {}, reason?: string): Promise<void> {
    return this.write(formatHead(status, headers, reason));
  }

  /**
   * A well-formed response: adds `Content-Length` unless the headers frame the body
   * (Content-Length or Transfer-Encoding) or the status has no body; sends no body
   * to HEAD. A string body is UTF-8.
   */
  respond(status: number, headers: HeaderInit = {}, body: Bytes = ''): Promise<void> {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const pairs = headerPairs(headers);
    const framed = pairs.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
    const bodiless = status < 200 || status === 204 || status === 304;
    if (!framed && !bodiless) pairs.push(['Content-Length', String(buf.length)]);
    const head = Buffer.from(formatHead(status, pairs), 'latin1');
    const sendBody = !bodiless && this.request.method !== 'HEAD';
    return this.write(sendBody ? Buffer.concat([head, buf]) : head);
  }

  /** Optionally writes `bytes`, then FIN; resolves when the socket has closed. */
  async end(bytes?: Bytes): Promise<void> {
    if (bytes !== undefined) await this.write(bytes);
    await this.conn.finish();
  }

  /**
   * RST now (`resetAndDestroy`). Bytes written just before may then reach the client
   * as data + EOF, or be discarded with the RST, depending on what its kernel had
   * queued: `await ex.sleep(50)` first when the client must read them and see
   * ECONNRESET after.
   */
  reset(): void {
    this.conn.reset();
  }

  /**
   * Keeps the connection open and silent; resolves when the client ends or closes it (or
   * `close()`), after which the server finishes its side too — never left half-open.
   */
  async stall(): Promise<void> {
    await this.conn.whenClientGone();
    if (!this.conn.closed) void this.conn.finish();
  }

  /** Resolves after `ms`, or earlier when the connection closes. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = this.conn.host.timer(ms, resolve);
      void this.conn.whenClosed().then(() => {
        cancel();
        resolve();
      });
    });
  }

  /**
   * Reads up to `n` more body bytes (all of it by default) and records them. Sends
   * `100 Continue` first when the request expects it, nothing was written yet and
   * `sendContinue` is not false.
   */
  async readBody(n = Number.POSITIVE_INFINITY, opts: { sendContinue?: boolean } = {}): Promise<Buffer> {
    const expects = /100-continue/i.test(this.request.headers.expect ?? '');
    if (expects && !this.wrote && !this.bodyReader.done && opts.sendContinue !== false) {
      await this.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const chunk = await this.bodyReader.read(n - got);
      if (chunk === null) break;
      parts.push(chunk);
      got += chunk.length;
      this.record(chunk, null);
    }
    if (this.bodyReader.done) this.record(Buffer.alloc(0), this.bodyReader.trailers);
    return Buffer.concat(parts);
  }

  /** Runs `fn` after `ms` even if the route has returned (e.g. unsolicited bytes on an idle socket). */
  after(ms: number, fn: (ex: Exchange) => void | Promise<void>): void {
    this.conn.host.timer(ms, () => {
      Promise.resolve()
        .then(() => fn(this))
        .catch((err: unknown) => this.conn.host.fail(err));
    });
  }

  /** From now on, closes this connection (FIN) once it has been idle `ms` after a response; null disables. */
  closeIdleAfter(ms: number | null): void {
    this.conn.closeIdleMs = ms;
  }

  /**
   * CONNECT: dials `host:port` (default: the request target), answers `200
   * Connection Established` and relays bytes both ways until either side closes;
   * answers 502 and closes when the dial fails.
   */
  async tunnel(host?: string, port?: number): Promise<void> {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(this.request.target);
    const upstream = net.connect({ host: host ?? m?.[1] ?? '127.0.0.1', port: port ?? Number(m?.[2] ?? 80) });
    this.conn.host.track(upstream);
    const ok = await new Promise<boolean>((resolve) => {
      upstream.once('connect', () => resolve(true));
      upstream.once('error', () => resolve(false));
    });
    if (!ok) {
      await this.respond(502, { Connection: 'close' }, 'tunnel dial failed');
      await this.end();
      return;
    }
    upstream.on('error', () => {});
    await this.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    this.conn.hijacked = true;
    const rest = this.conn.reader.detach();
    if (rest.length > 0) upstream.write(rest);
    const sock = this.conn.socket;
    sock.pipe(upstream);
    upstream.pipe(sock);
    sock.once('close', () => upstream.destroy());
    upstream.once('close', () => sock.destroy());
    await this.conn.whenClosed();
  }
}

/**
 * @internal — records a parsed request head and opens the exchange that answers it. `countHit`
 * receives the request's path+query (`CONNECT authority` for CONNECT) and returns
 * how many requests for it the server has seen, this one included.
 */
export function openExchange(conn: Conn, head: RequestHead, countHit: (key: string) => number): Exchange {
  const url = parseTarget(head.target);
  const parts: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let body: Buffer | null = Buffer.alloc(0);
  const tlsSocket = conn.socket instanceof tls.TLSSocket ? conn.socket : null;
  const peer = tlsSocket ? tlsSocket.getPeerCertificate() : null;
  const request: RecordedRequest = {
    method: head.method,
    target: head.target,
    path: url.pathname,
    query: url.searchParams,
    httpVersion: head.httpVersion,
    headers: head.headers,
    rawHeaders: head.rawHeaders,
    get body(): Buffer {
      body ??= Buffer.concat(parts);
      return body;
    },
    trailers,
    connectionId: conn.info.id,
    remotePort: conn.info.remotePort,
    receivedAt: Date.now(),
    clientCert: peer?.subject
      ? { subjectCN: String(peer.subject.CN ?? ''), authorized: tlsSocket?.authorized ?? false }
      : null,
  };
  const onChunk = (chunk: Buffer, t: readonly string[] | null): void => {
    if (chunk.length > 0) {
      parts.push(chunk);
      body = null;
    }
    for (let i = 0; t && i < t.length; i += 2) trailers[t[i]!.toLowerCase()] = t[i + 1]!;
  };
  const key = head.method === 'CONNECT' ? `CONNECT ${head.target}` : url.pathname + url.search;
  return new Exchange(request, conn, conn.reader.body(head.framing), onChunk, countHit(key));
}

/** The target as a URL; absolute-form keeps its host, anything unparsable has path `/`. */
function parseTarget(target: string): URL {
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return new URL(target);
    if (target.startsWith('/')) return new URL(`http://fault.invalid${target}`);
  } catch {
    // fall through
  }
  return new URL('http://fault.invalid/');
}

/** A status line plus headers plus CRLF, as a latin1 string. */
export function formatHead(status: number, headers: HeaderInit = {}, reason?: string): string {
  let head = `HTTP/1.1 ${status} ${reason ?? REASONS[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of headerPairs(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

function headerPairs(headers: HeaderInit): [string, string][] {
  if (Array.isArray(headers)) {
    return (headers as ReadonlyArray<readonly [string, string | number]>).map(([n, v]) => [n, String(v)]);
  }
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(
    headers as Record<string, string | number | readonly string[]>,
  )) {
    if (Array.isArray(value)) for (const v of value as readonly string[]) out.push([name, v]);
    else out.push([name, String(value)]);
  }
  return out;
}

function toBuffer(bytes: Bytes): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
}

/** Reason phrases for the statuses the built-in routes use (others: `Unknown`). */
export const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
