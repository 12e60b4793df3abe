/**
 * fault-server — a loopback HTTP/1.1 server that misbehaves on purpose, for the
 * tests of hourglass and of its users (SPEC §9). Built on `node:net`/`node:tls` only
 * (never `node:http`), so every byte it writes is the byte a script asked for.
 *
 * Owns: the listener (plain or TLS, on TCP or a Unix socket path), the accept counter, the per-connection request
 * loop (keep-alive: requests on one connection are answered in order), route
 * dispatch (custom routes first, then the built-ins of ./routes.ts), the request
 * log, per-path hit counters, the idle-close timers, the side listeners
 * (`blackhole()`, `tlsHang()`), and teardown.
 *
 * HTTP/2 (`{ h2: true }`, SPEC §13): the same listener also speaks HTTP/2 — over TLS
 * when ALPN picks `h2` (ALPN offers `h2`, `http/1.1`: HTTP/1.1 clients keep every route
 * above), or as h2c with prior knowledge on a plain port (`{ h2: true, tls: false }`:
 * a connection whose first bytes are the HTTP/2 preface speaks HTTP/2, any other
 * speaks HTTP/1.1). `h2: {...}` ({@link H2FaultOptions}) scripts every connection
 * (SETTINGS withheld or late, PINGs unanswered, windows that never open, a stream
 * limit); streams are scripted by route (`h2Route()`, built-ins in `FaultServer.h2Routes`:
 * `/h2/refuse`, `/h2/rst`, `/h2/goaway`, `/h2/hold-window`, `/h2/malformed/:name`, …);
 * `h2Connections` and `h2Stats()` count what clients sent. The frames are written by
 * hand (./h2-conn.ts), never by node:http2, so they can break the RFC.
 *
 * Invariants: `close()` destroys every socket, closes every listener and clears
 * every timer, so a process that called it exits at once; a script that throws
 * never crashes the server (its error lands in `errors` and its connection is
 * destroyed); the server never judges a request (see ./request-reader.ts).
 */

import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { startBlackhole } from './blackhole.js';
import { CA_CERT, SERVER_CERTS, type ServerCertName } from './certs.js';
import { Conn, type ConnectionInfo } from './conn.js';
import { type Exchange, openExchange, type RecordedRequest } from './exchange.js';
import type { H2Connection } from './h2-conn.js';
import type { H2FaultOptions } from './h2-options.js';
import { H2_MALFORMED } from './h2-malformed.js';
import { H2_ROUTES } from './h2-routes.js';
import { H2Side, type H2Stats, looksLikePreface } from './h2-server.js';
import type { H2RouteHandler } from './h2-stream.js';
import { EDGE_CASES, MALFORMED, MALFORMED_CASES } from './malformed.js';
import { type RequestHead, RequestReader } from './request-reader.js';
import { BUILTIN_ROUTES, matchRoute, ROUTE_TABLE, type RouteHandler, type RouteOptions } from './routes.js';
import { COMPRESSED_TEXT, rangeContent } from './routes-content.js';
import { unixTlsServer } from './unix-tls.js';

/** TLS settings of a fault server. */
export interface FaultServerTlsOptions {
  /** Certificate presented (default `'localhost'`: localhost, 127.0.0.1, ::1). */
  cert?: ServerCertName;
  /** `'request'` asks for a client certificate, `'require'` also rejects clients without a valid one. */
  clientAuth?: 'none' | 'request' | 'require';
}

export interface FaultServerOptions {
  /** Serve over TLS with the shipped test CA (`fs.ca`). */
  tls?: boolean | FaultServerTlsOptions;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /**
   * Listen on this Unix domain socket path instead of TCP (`host`/`port` are ignored;
   * the file must not exist; `close()` removes it). `origin` is then `http(s)://localhost`:
   * pair it with the client's `socketPath`. With TLS, client certificates are not supported.
   */
  socketPath?: string;
  /**
   * Speak HTTP/2 too: `true` or connection-level behaviour ({@link H2FaultOptions}).
   * Implies TLS (ALPN `h2`, `http/1.1`) unless `tls: false`, which serves h2c with
   * prior knowledge beside HTTP/1.1 on the plain port.
   */
  h2?: boolean | H2FaultOptions;
}

/**
 * Events: `'connection'` (ConnectionInfo) on accept, `'request'` (RecordedRequest)
 * when a head was parsed (HTTP/2: when a stream's HEADERS were decoded),
 * `'connectionClosed'` (ConnectionInfo), `'h2Connection'` (H2Connection) when a
 * connection starts speaking HTTP/2.
 */
export class FaultServer extends EventEmitter {
  /** Every built-in route, for documentation and the CLI. */
  static readonly routes: readonly { path: string; description: string }[] = ROUTE_TABLE;
  /** Malformed responses of SCENARIOS.md §3 by name: the exact bytes `/malformed/:name` writes. */
  static readonly malformed = MALFORMED;
  /** The same, with how each ends (FIN or left open) and what a strict client should do. */
  static readonly malformedCases = MALFORMED_CASES;
  /** Well-formed but unusual responses (`/edge/:name`) a strict client must accept. */
  static readonly edgeCases = EDGE_CASES;
  /** The decoded body of `/gzip`, `/deflate`, `/deflate-raw` and `/br`. */
  static readonly compressedText = COMPRESSED_TEXT;
  /** The deterministic content `/range?size=N` and `/bytes?n=N` serve. */
  static rangeContent(size: number): Buffer {
    return rangeContent(size);
  }
  /** Every built-in HTTP/2 route (`{ h2: true }`). */
  static readonly h2Routes: readonly { path: string; description: string }[] = H2_ROUTES.map(({ path, description }) => ({ path, description }));
  /** `/h2/malformed/:name` cases: level (stream or connection), what is sent, the code a strict client answers with. */
  static readonly h2Malformed = H2_MALFORMED;

  /** Starts a server on loopback. */
  static async start(opts: FaultServerOptions = {}): Promise<FaultServer> {
    const server = new FaultServer(opts);
    await server.listen(opts.host ?? '127.0.0.1', opts.port ?? 0, opts.socketPath);
    return server;
  }

  /** PEM of the CA that signed the server certificate (`{ ca: fs.ca }`). */
  readonly ca = CA_CERT;
  /** TCP connections accepted so far (the reuse counter). */
  connections = 0;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** One entry per accepted connection, by id (= index + 1). */
  readonly connectionLog: ConnectionInfo[] = [];
  /** Errors thrown by route scripts or request-parsing failures. */
  readonly errors: Error[] = [];
  readonly tls: boolean;
  /** The HTTP/2 side, or null without `h2`. */
  private readonly h2Side: H2Side | null;
  /** The Unix socket path listened on, or undefined on TCP. */
  readonly socketPath: string | undefined;
  host = '';
  port = 0;

  private readonly listener: net.Server;
  private readonly raws = new Set<net.Socket>();
  private readonly extras = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly custom = new Map<string, { handler: RouteHandler; options: RouteOptions }>();
  private readonly hitCounts = new Map<string, number>();
  private readonly pending = new Map<string, { info: ConnectionInfo; raw: net.Socket }>();
  private readonly sideClosers: (() => Promise<void>)[] = [];
  private idleCloseMs: number | null = null;
  private closing = false;

  private constructor(opts: FaultServerOptions) {
    super();
    const h2 = opts.h2 !== undefined && opts.h2 !== false;
    this.tls = opts.tls === undefined ? h2 : opts.tls !== false;
    this.socketPath = opts.socketPath;
    this.h2Side = h2 ? new H2Side(this, typeof opts.h2 === 'object' ? opts.h2 : {}) : null;
    const alpn = h2 ? ['h2', 'http/1.1'] : ['http/1.1'];
    if (this.tls) {
      const t: FaultServerTlsOptions = typeof opts.tls === 'object' ? opts.tls : {};
      const pair = SERVER_CERTS[t.cert ?? 'localhost'];
      const auth = t.clientAuth ?? 'none';
      if (opts.socketPath !== undefined) {
        if (auth !== 'none') throw new Error('fault server: clientAuth is not supported on a Unix socket');
        const onSecure = (info: ConnectionInfo, raw: net.Socket, s: tls.TLSSocket): void => {
          this.watch(s, info);
          this.startConn(info, raw, s);
        };
        this.listener = unixTlsServer({ ...pair, ALPNProtocols: alpn }, (raw) => this.accept(raw), onSecure);
        return;
      }
      const server = tls.createServer({
        ...pair,
        ca: CA_CERT,
        allowHalfOpen: true,
        requestCert: auth !== 'none',
        rejectUnauthorized: auth === 'require',
        ALPNProtocols: alpn,
      });
      server.on('connection', (raw: net.Socket) => this.accept(raw));
      server.on('secureConnection', (s: tls.TLSSocket) => this.secured(s));
      server.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
        const conn = this.pending.get(peerKey(s));
        if (conn) conn.info.tlsError = err.message;
      });
      this.listener = server;
    } else {
      this.listener = net.createServer({ allowHalfOpen: true }, (raw) => this.startPlain(this.accept(raw), raw));
    }
  }

  /** `http(s)://host:port` (IPv6 hosts bracketed); `http(s)://localhost` on a Unix socket. */
  get origin(): string {
    if (this.socketPath !== undefined) return `${this.tls ? 'https' : 'http'}://localhost`;
    const host = net.isIPv6(this.host) ? `[${this.host}]` : this.host;
    return `${this.tls ? 'https' : 'http'}://${host}:${this.port}`;
  }

  /** Sockets currently open (TCP connections, tunnels and side listeners' sockets included). */
  get openSockets(): number {
    return this.raws.size + this.extras.size;
  }

  /** Absolute URL of `path` on this server. */
  url(path: string): string {
    return this.origin + (path.startsWith('/') ? path : `/${path}`);
  }

  /**
   * Scripts `path` (exact match on the path, before the built-ins). `'CONNECT'`
   * scripts CONNECT requests (default: a real tunnel). The body is read before
   * `handler` runs unless `options.readBody` is false.
   */
  route(path: string, handler: RouteHandler, options: RouteOptions = {}): void {
    this.custom.set(path, { handler, options });
  }

  /** Requests this server has received for exactly `pathAndQuery` (e.g. `/range?size=6&resetAt=3`). */
  hits(pathAndQuery: string): number {
    return this.hitCounts.get(pathAndQuery) ?? 0;
  }

  /** Closes every connection (FIN) idle for `ms` after a response; `null` disables. */
  closeIdleAfter(ms: number | null): void {
    this.idleCloseMs = ms;
  }

  /** Connection-level HTTP/2 behaviour (null without `h2`); changes apply to connections started afterwards. */
  get h2(): H2FaultOptions | null {
    return this.h2Side?.h2Options ?? null;
  }

  /** Every connection that spoke HTTP/2, in order (counters and connection-level primitives). */
  get h2Connections(): readonly H2Connection[] {
    return this.h2Side?.connections ?? [];
  }

  /** Counters summed over {@link h2Connections}. */
  h2Stats(): H2Stats {
    return this.h2Side?.stats() ?? { connections: 0, streams: 0, pingsReceived: 0, settingsAcksReceived: 0, resetsReceived: 0, goawaysReceived: 0, windowUpdatesReceived: 0 };
  }

  /** Scripts `path` (exact match) for HTTP/2 streams, before the built-in HTTP/2 routes. */
  h2Route(path: string, handler: H2RouteHandler): void {
    if (!this.h2Side) throw new Error('fault server: h2Route() needs FaultServer.start({ h2: true })');
    this.h2Side.route(path, handler);
  }

  /** Resolves once `n` requests were received (rejects after `timeoutMs`). */
  waitForRequests(n: number, timeoutMs = 5000): Promise<RecordedRequest[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.requests.length < n) return;
        this.off('request', check);
        cancel();
        resolve(this.requests.slice(0, n));
      };
      const cancel = this.timer(timeoutMs, () => {
        this.off('request', check);
        reject(new Error(`fault server: ${this.requests.length} of ${n} requests after ${timeoutMs} ms`));
      });
      this.on('request', check);
      check();
    });
  }

  /** Resolves when connection `id` has closed (rejects after `timeoutMs`). */
  waitForClose(id: number, timeoutMs = 5000): Promise<ConnectionInfo> {
    return new Promise((resolve, reject) => {
      const info = this.connectionLog[id - 1];
      if (!info) return reject(new Error(`fault server: no connection ${id}`));
      if (info.closedAt !== null) return resolve(info);
      const onClose = (c: ConnectionInfo): void => {
        if (c !== info) return;
        this.off('connectionClosed', onClose);
        cancel();
        resolve(info);
      };
      const cancel = this.timer(timeoutMs, () => {
        this.off('connectionClosed', onClose);
        reject(new Error(`fault server: connection ${id} still open after ${timeoutMs} ms`));
      });
      this.on('connectionClosed', onClose);
    });
  }

  /** A loopback address where TCP connect hangs (closed by `close()`). */
  async blackhole(): Promise<{ host: string; port: number }> {
    const bh = await startBlackhole();
    this.sideClosers.push(bh.close);
    return { host: bh.host, port: bh.port };
  }

  /** A listener that accepts TCP and never writes a byte (a TLS handshake that never completes). */
  async tlsHang(): Promise<{ host: string; port: number }> {
    const server = net.createServer((s) => {
      this.extras.add(s);
      s.on('error', () => {});
      s.on('close', () => this.extras.delete(s));
      s.resume(); // read and discard the ClientHello
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.host, () => resolve());
    });
    this.sideClosers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return { host: this.host, port: (server.address() as net.AddressInfo).port };
  }

  /** Destroys every socket, closes every listener, clears every timer. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [...this.raws, ...this.extras];
    const gone = sockets.map((s) => (s.closed ? null : new Promise<void>((resolve) => s.once('close', () => resolve()))));
    for (const s of sockets) s.destroy();
    for (const info of this.connectionLog) if (info.closedAt === null) info.serverEnded ??= 'destroy';
    await Promise.all([closed, ...gone, ...this.sideClosers.map((c) => c())]);
    for (const t of this.timers) clearTimeout(t);
  }

  // ExchangeHost (conn.ts, internal; checked structurally where connections are made):
  // used by connections and exchanges, not meant for tests.

  /** @internal A tracked timer (cleared by `close()`); returns its cancel function. */
  timer(ms: number, fn: () => void, opts: { unref?: boolean } = {}): () => void {
    if (this.closing) return () => {};
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    if (opts.unref === true) t.unref();
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  /** @internal An extra socket (a tunnel's upstream) destroyed by `close()`. */
  track(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.extras.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.extras.delete(socket));
  }

  /** @internal Records a request that did not come through the HTTP/1.1 loop (HTTP/2); returns its hit count. */
  recordRequest(request: RecordedRequest, info: ConnectionInfo, key: string): number {
    const hit = (this.hitCounts.get(key) ?? 0) + 1;
    this.hitCounts.set(key, hit);
    info.requests++;
    this.requests.push(request);
    this.emit('request', request);
    return hit;
  }

  /** @internal Records a script error in `errors`. */
  fail(err: unknown): void {
    this.errors.push(err instanceof Error ? err : new Error(String(err)));
  }

  // Private implementation past this point.

  private async listen(host: string, port: number, socketPath: string | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      if (socketPath !== undefined) this.listener.listen(socketPath, () => resolve());
      else this.listener.listen(port, host, () => resolve());
    });
    if (socketPath !== undefined) {
      this.host = 'localhost';
      return;
    }
    const addr = this.listener.address() as net.AddressInfo;
    this.host = addr.address;
    this.port = addr.port;
  }

  /** Counts and logs a TCP connection; returns its info. */
  private accept(raw: net.Socket): ConnectionInfo {
    const info: ConnectionInfo = {
      id: ++this.connections,
      remoteAddress: raw.remoteAddress ?? '',
      remotePort: raw.remotePort ?? 0,
      acceptedAt: Date.now(),
      requests: 0,
      clientEnded: null,
      serverEnded: null,
      closedAt: null,
      tlsError: null,
    };
    this.connectionLog.push(info);
    this.raws.add(raw);
    this.watch(raw, info);
    raw.once('close', () => {
      this.raws.delete(raw);
      this.pending.delete(peerKey(raw));
    });
    // In TLS mode the TLSSocket arrives on 'secureConnection'; keep the TCP side for RST.
    if (this.tls && this.socketPath === undefined) this.pending.set(peerKey(raw), { info, raw });
    this.emit('connection', info);
    return info;
  }

  private secured(socket: tls.TLSSocket): void {
    const accepted = this.pending.get(peerKey(socket));
    if (!accepted) {
      socket.destroy();
      return;
    }
    this.pending.delete(peerKey(socket));
    this.watch(socket, accepted.info);
    this.startConn(accepted.info, accepted.raw, socket);
  }

  /** Observes how a socket of this connection ends (TCP and, in TLS mode, the TLS socket). */
  private watch(socket: net.Socket, info: ConnectionInfo): void {
    socket.on('end', () => (info.clientEnded ??= 'fin'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' && info.serverEnded === null) info.clientEnded ??= 'reset';
    });
    socket.once('close', () => {
      if (info.closedAt !== null) return;
      info.closedAt = Date.now();
      this.emit('connectionClosed', info);
    });
  }

  private startConn(info: ConnectionInfo, raw: net.Socket, socket: net.Socket = raw): void {
    const conn = new Conn(this, info, socket, raw, new RequestReader(socket));
    if (this.h2Side && socket instanceof tls.TLSSocket && socket.alpnProtocol === 'h2') this.h2Side.start(conn);
    else void this.serve(conn);
  }

  /** A plain connection: with `h2`, the first bytes say h2c (the preface) or HTTP/1.1. */
  private startPlain(info: ConnectionInfo, raw: net.Socket): void {
    const h2 = this.h2Side;
    if (!h2) return this.startConn(info, raw);
    raw.once('data', (first: Buffer) => {
      raw.pause();
      if (looksLikePreface(first)) {
        h2.start(new Conn(this, info, raw, raw, new RequestReader(raw)), first);
        raw.resume();
        return;
      }
      raw.unshift(first);
      this.startConn(info, raw);
    });
  }

  /** The keep-alive loop of one connection: read a head, run its route, repeat. */
  private async serve(conn: Conn): Promise<void> {
    try {
      for (;;) {
        const disarm = this.armIdleClose(conn);
        const head = await conn.reader.readHead();
        disarm();
        if (head === null || this.closing || conn.closed) break;
        const ex = this.exchange(conn, head);
        const { handler, options } = this.dispatch(ex);
        if (options.readBody !== false) await ex.readBody();
        await handler(ex);
        if (conn.hijacked || conn.closed) return;
        await ex.readBody(); // the rest of an upload the route did not read
        const close = /\bclose\b/i.test(head.headers.connection ?? '') || head.httpVersion === '1.0';
        if (close && !/keep-alive/i.test(head.headers.connection ?? '')) break;
      }
      if (!conn.closed && !conn.hijacked) await conn.finish();
    } catch (err) {
      this.fail(err);
      conn.socket.destroy();
      conn.raw.destroy();
    }
  }

  /** While the connection waits for a request, closes it after the idle delay if one is set. */
  private armIdleClose(conn: Conn): () => void {
    const ms = conn.closeIdleMs ?? this.idleCloseMs;
    if (ms === null || conn.reader.buffered > 0) return () => {};
    const onData = (): void => cancel();
    const cancel0 = this.timer(ms, () => {
      conn.socket.off('data', onData);
      void conn.finish();
    });
    const cancel = (): void => {
      cancel0();
      conn.socket.off('data', onData);
    };
    conn.socket.once('data', onData);
    return cancel;
  }

  private exchange(conn: Conn, head: RequestHead): Exchange {
    const ex = openExchange(conn, head, (key) => {
      const hit = (this.hitCounts.get(key) ?? 0) + 1;
      this.hitCounts.set(key, hit);
      return hit;
    });
    conn.info.requests++;
    this.requests.push(ex.request);
    this.emit('request', ex.request);
    return ex;
  }

  private dispatch(ex: Exchange): { handler: RouteHandler; options: RouteOptions } {
    const key = ex.request.method === 'CONNECT' ? 'CONNECT' : ex.request.path;
    const custom = this.custom.get(key);
    if (custom) return custom;
    const found = matchRoute(BUILTIN_ROUTES, ex.request.method === 'CONNECT' ? 'CONNECT' : ex.request.path);
    if (found) {
      ex.params = found.params;
      return { handler: found.route.handler, options: found.route };
    }
    return { handler: (e) => e.respond(404, { 'Content-Type': 'text/plain' }, 'not found'), options: {} };
  }
}

function peerKey(s: net.Socket): string {
  return `${s.remoteAddress}|${s.remotePort}`;
}
