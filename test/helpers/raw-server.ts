// Loopback test server for the keep-alive and stale-connection suites: raw node:net (or
// node:tls), byte-exact scripted responses, and server-side connection accounting
// (accepts, currently open, max open, close observation, per-connection request index).
// Provides `TestServer` (routes, `closeIdleAfter`), its `Exchange`/`ConnInfo`/`Head`
// types, and `setup(t, opts, tlsOptions)`: a started TestServer plus a Transport and
// Client, all closed after the test. (The FaultServer counterpart is in ./setup.ts.) Also
// `startRawServer(t, onSocket)`: a bare net server whose sockets are destroyed after the test.
import { STATUS_CODES } from 'node:http';
import * as net from 'node:net';
import type { TestContext } from 'node:test';
import * as tls from 'node:tls';
import type { Client, Transport, TransportOptions } from '../../src/index.js';
import { clientFor } from './setup.js';

export interface Head {
  method: string;
  target: string;
  version: string;
  headers: Record<string, string>;
  rawHeaders: string[];
}

class Reader {
  buf: Buffer = Buffer.alloc(0);
  ended = false;
  private wake: (() => void) | undefined;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => {});
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  /** Waits until `find()` returns >= 0 (its value) or input ends (-1). */
  async until(find: () => number): Promise<number> {
    for (;;) {
      const i = find();
      if (i >= 0) return i;
      if (this.ended) return -1;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async line(): Promise<string | null> {
    const i = await this.until(() => this.buf.indexOf('\r\n'));
    if (i < 0) return null;
    const l = this.take(i).toString('latin1');
    this.take(2);
    return l;
  }
  async exactly(n: number): Promise<Buffer | null> {
    const ok = await this.until(() => (this.buf.length >= n ? 0 : -1));
    return ok < 0 ? null : this.take(n);
  }
  async head(): Promise<Head | null> {
    const i = await this.until(() => this.buf.indexOf('\r\n\r\n'));
    if (i < 0) return null;
    const lines = this.take(i + 4)
      .toString('latin1')
      .split('\r\n')
      .slice(0, -2);
    const [method = '', target = '', proto = ''] = lines[0]!.split(' ');
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const name = l.slice(0, c);
      const value = l.slice(c + 1).trim();
      rawHeaders.push(name, value);
      const n = name.toLowerCase();
      headers[n] = headers[n] === undefined ? value : `${headers[n]}, ${value}`;
    }
    return { method, target, version: proto.replace('HTTP/', ''), headers, rawHeaders };
  }
  async body(h: Head): Promise<Buffer> {
    if (/chunked/i.test(h.headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const size = await this.line();
        if (size === null) throw new Error('eof in chunk size');
        const n = Number.parseInt(size.split(';')[0]!, 16);
        if (n === 0) {
          for (;;) {
            const t = await this.line();
            if (t === null || t === '') return Buffer.concat(parts);
          }
        }
        const d = await this.exactly(n + 2);
        if (d === null) throw new Error('eof in chunk');
        parts.push(d.subarray(0, n));
      }
    }
    const cl = h.headers['content-length'];
    if (cl === undefined) return Buffer.alloc(0);
    const d = await this.exactly(Number(cl));
    if (d === null) throw new Error('eof in body');
    return d;
  }
}

export interface ConnInfo {
  id: number;
  socket: net.Socket;
  /** Client port, captured at accept (a destroyed socket forgets it). */
  remotePort: number | undefined;
  reader: Reader;
  closed: Promise<void>;
  isClosed: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

export interface Exchange extends Head {
  path: string;
  query: URLSearchParams;
  conn: ConnInfo;
  /** 0-based index of this request on its connection. */
  index: number;
  socket: net.Socket;
  body(): Promise<Buffer>;
  write(data: string | Buffer): void;
  respond(status: number, headers?: Record<string, string | number>, body?: string | Buffer): void;
  /** Resolves when the client closes the connection. */
  stall(): Promise<void>;
}

export type Handler = (ex: Exchange) => void | Promise<void>;

export class TestServer {
  readonly server: net.Server;
  port = 0;
  connections = 0;
  open = 0;
  maxOpen = 0;
  closedCount = 0;
  conns: ConnInfo[] = [];
  requests: Exchange[] = [];
  /** When > 0, the server closes a connection that stays idle this long after a response. */
  closeIdleAfter = 0;
  private routes = new Map<string, Handler>();

  private constructor(tlsOptions: tls.TlsOptions | undefined) {
    this.server =
      tlsOptions !== undefined
        ? tls.createServer(tlsOptions, (s) => this.accept(s))
        : net.createServer((s) => this.accept(s));
  }

  static async start(tlsOptions?: tls.TlsOptions): Promise<TestServer> {
    const s = new TestServer(tlsOptions);
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `${(this.server as unknown) instanceof tls.Server ? 'https' : 'http'}://${host}:${this.port}${path}`;
  }

  route(path: string, h: Handler): void {
    this.routes.set(path, h);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(socket: net.Socket): void {
    const id = ++this.connections;
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    const info: ConnInfo = {
      id,
      socket,
      remotePort: socket.remotePort,
      reader: new Reader(socket),
      closed: new Promise<void>((r) => socket.once('close', () => r())),
      isClosed: false,
      idleTimer: undefined,
    };
    socket.once('close', () => {
      info.isClosed = true;
      this.open--;
      this.closedCount++;
      if (info.idleTimer !== undefined) clearTimeout(info.idleTimer);
    });
    socket.on('data', () => {
      if (info.idleTimer !== undefined) clearTimeout(info.idleTimer);
      info.idleTimer = undefined;
    });
    this.conns.push(info);
    void this.serve(info);
  }

  private async serve(info: ConnInfo): Promise<void> {
    const { socket, reader } = info;
    for (let index = 0; ; index++) {
      const head = await reader.head();
      if (head === null) return;
      const u = new URL(head.target, 'http://x');
      let bodyP: Promise<Buffer> | undefined;
      const ex: Exchange = {
        ...head,
        path: u.pathname,
        query: u.searchParams,
        conn: info,
        index,
        socket,
        body: () => {
          bodyP ??= reader.body(head);
          return bodyP;
        },
        write: (d) => {
          if (!socket.destroyed) socket.write(d);
        },
        respond: (status, headers = {}, body = '') => {
          const b = Buffer.from(body);
          let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Whatever'}\r\n`;
          const names = Object.keys(headers).map((k) => k.toLowerCase());
          if (!names.includes('content-length') && !names.includes('transfer-encoding')) {
            h += `Content-Length: ${b.length}\r\n`;
          }
          for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
          if (!socket.destroyed) socket.write(Buffer.concat([Buffer.from(`${h}\r\n`, 'latin1'), b]));
        },
        stall: () => info.closed,
      };
      this.requests.push(ex);
      const h = this.routes.get(u.pathname) ?? defaultRoute;
      try {
        await h(ex);
        if (bodyP !== undefined) await bodyP;
      } catch {
        socket.destroy();
        return;
      }
      if (socket.destroyed || socket.writableEnded) return;
      const framed =
        head.headers['content-length'] !== undefined || head.headers['transfer-encoding'] !== undefined;
      if (bodyP === undefined && framed && head.headers['content-length'] !== '0') return; // cannot resync
      if (this.closeIdleAfter > 0) {
        info.idleTimer = setTimeout(() => socket.destroy(), this.closeIdleAfter);
      }
    }
  }
}

/** Any path without a route: read the request body, answer 200 "ok". */
async function defaultRoute(ex: Exchange): Promise<void> {
  await ex.body();
  ex.respond(200, {}, 'ok');
}

/** A started TestServer (TLS when `tlsOptions` is given) with a Transport and Client; all closed after the test. */
export async function setup(
  t: TestContext,
  opts: TransportOptions = {},
  tlsOptions?: tls.TlsOptions,
): Promise<{ srv: TestServer; transport: Transport; client: Client }> {
  const srv = await TestServer.start(tlsOptions);
  return { srv, ...clientFor(t, opts, srv) };
}

/** A bare node:net server from {@link startRawServer}. */
export interface RawServer {
  readonly server: net.Server;
  readonly port: number;
  /** `http://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  /** Sockets accepted and not yet closed. */
  readonly sockets: ReadonlySet<net.Socket>;
  /** Connections accepted so far. */
  accepted(): number;
  /** Destroys every open socket, then closes the listener (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts a raw node:net server on 127.0.0.1 that hands each accepted socket to `onSocket`
 * (socket errors are swallowed), tracks its sockets and, after the test, destroys them and
 * closes the listener. `server.close()` alone waits for open sockets: a keep-alive
 * connection a client parked in its pool would keep the test process alive until the
 * client's idle timeout (90 s by default) — the suite then passes but lingers.
 */
export async function startRawServer(t: { after(fn: () => unknown): void }, onSocket: (s: net.Socket) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
    return closing;
  };
  t.after(close);
  return { server, port, url: (path = '/') => `http://127.0.0.1:${port}${path}`, sockets, accepted: () => accepted, close };
}
