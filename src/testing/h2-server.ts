/**
 * h2-server — the HTTP/2 side of a fault server: starts an {@link H2Connection} on
 * a socket that negotiated `h2` by ALPN (or sent the h2c preface on a plain port),
 * dispatches each stream to a custom route or a built-in one (./h2-routes.ts),
 * records it among the server's requests, and sums the connections' counters.
 *
 * Owns: {@link H2Side} (held by FaultServer as its `h2` part) and {@link H2Stats}.
 * Never touches HTTP/1.1 connections; the listener, the accept counter and
 * teardown stay in ./fault-server.ts.
 *
 * Invariants: a route that throws is recorded in the server's `errors` and its
 * stream is reset (INTERNAL_ERROR) — the connection lives on; unknown paths get 404.
 */

import type { Conn } from './conn.js';
import type { RecordedRequest } from './exchange.js';
import { H2Connection, type H2ConnHost } from './h2-conn.js';
import type { H2FaultOptions } from './h2-options.js';
import { H2_ROUTES } from './h2-routes.js';
import type { H2RouteHandler, H2Stream } from './h2-stream.js';
import { H2Code, PREFACE } from './h2-wire.js';
import { matchRoute } from './route-kit.js';

/** Counters summed over every HTTP/2 connection of a fault server. */
export interface H2Stats {
  /** Connections that spoke HTTP/2. */
  connections: number;
  /** Streams the client opened (HEADERS), refused and GOAWAY-ignored ones included. */
  streams: number;
  pingsReceived: number;
  settingsAcksReceived: number;
  /** RST_STREAM frames the client sent. */
  resetsReceived: number;
  goawaysReceived: number;
  windowUpdatesReceived: number;
}

/** What the HTTP/2 side needs from its fault server. */
export interface H2ServerHost {
  readonly origin: string;
  timer(ms: number, fn: () => void, opts?: { unref?: boolean }): () => void;
  fail(err: unknown): void;
  /** Records a request (log, hit counter, `'request'` event); returns its hit count. */
  recordRequest(request: RecordedRequest, connInfo: Conn['info'], key: string): number;
  emit(event: 'h2Connection', conn: H2Connection): boolean;
}

/** True when `chunk` starts like the HTTP/2 client preface (an h2c prior-knowledge client). */
export function looksLikePreface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, PREFACE.length);
  return n > 0 && chunk.subarray(0, n).equals(PREFACE.subarray(0, n));
}

/** The HTTP/2 part of a fault server. */
export class H2Side implements H2ConnHost {
  /** Every connection that spoke HTTP/2, in accept order. */
  readonly connections: H2Connection[] = [];
  private readonly custom = new Map<string, H2RouteHandler>();

  constructor(
    private readonly server: H2ServerHost,
    /** Connection-level behaviour; read when each connection starts (mutable between connections). */
    readonly h2Options: H2FaultOptions,
  ) {}

  get origin(): string {
    return this.server.origin;
  }

  timer(ms: number, fn: () => void, opts?: { unref?: boolean }): () => void {
    return this.server.timer(ms, fn, opts);
  }

  fail(err: unknown): void {
    this.server.fail(err);
  }

  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = (): void => {
        if (pred()) return resolve();
        if (Date.now() - started >= timeoutMs) return reject(new Error(`fault server: timed out waiting for ${what}`));
        this.server.timer(5, check, { unref: true });
      };
      check();
    });
  }

  /** Scripts `path` for HTTP/2 streams (before the built-ins). */
  route(path: string, handler: H2RouteHandler): void {
    this.custom.set(path, handler);
  }

  /** Speaks HTTP/2 on `conn` (its socket after TLS, or the TCP socket for h2c). */
  start(conn: Conn, initial?: Buffer): H2Connection {
    conn.reader.detach();
    const h2 = new H2Connection(this, conn);
    this.connections.push(h2);
    this.server.emit('h2Connection', h2);
    h2.start(initial);
    return h2;
  }

  openStream(stream: H2Stream): void {
    const r = stream.request;
    stream.hit = this.server.recordRequest(r, stream.conn.info, r.target);
    const custom = this.custom.get(r.path);
    let handler: H2RouteHandler;
    if (custom) handler = custom;
    else {
      const found = matchRoute(H2_ROUTES, r.path);
      if (found) stream.params = found.params;
      handler = found ? found.route.handler : (s) => s.respond(404, [['content-type', 'text/plain']], 'not found');
    }
    void (async () => {
      try {
        await handler(stream);
      } catch (err) {
        this.fail(err);
        await stream.rst(H2Code.INTERNAL_ERROR);
      }
    })();
  }

  stats(): H2Stats {
    const sum = (f: (c: H2Connection) => number): number => this.connections.reduce((n, c) => n + f(c), 0);
    return {
      connections: this.connections.length,
      streams: sum((c) => c.streams),
      pingsReceived: sum((c) => c.pingsReceived),
      settingsAcksReceived: sum((c) => c.settingsAcksReceived),
      resetsReceived: sum((c) => c.resetsReceived.length),
      goawaysReceived: sum((c) => c.goawaysReceived.length),
      windowUpdatesReceived: sum((c) => c.windowUpdatesReceived),
    };
  }
}
