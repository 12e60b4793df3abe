/**
 * connector — how a new connection comes to be (Go's dialConn): dial the origin or the
 * proxy, speak TLS to an https:// proxy, open a CONNECT tunnel for https through a
 * proxy, then the TLS handshake with the origin. Returns the ready socket; the transport
 * wraps it in a Connection.
 *
 * Invariants: every step holds the dial's budget (so the pool can cancel it); the
 * CONNECT wait is bounded by what is left of the dial budget; on any failure the socket
 * is destroyed; the marks of SPEC §5 (lookup, connect, secureConnect) are filled in.
 * Through a proxy, `connect` marks the end of connecting to the origin — the proxy's
 * TLS and the CONNECT exchange included, as a timeout there is phase `connect` (and as
 * browsers count a tunnel in HAR's `connect`) — so `tls` / `ssl` is the origin's
 * handshake alone.
 */

import type { OnReadOpts, Socket } from 'node:net';
import type * as tls from 'node:tls';
import type { Budget } from './deadline.js';
import type { Dialer } from './dial/index.js';
import { unbracket } from './host.js';
import type { TransportTimeouts } from './options.js';
import { connectViaProxy, proxyIdentity } from './proxy.js';
import { upgradeToTls } from './tls.js';
import type { TlsSessionCache } from './tls-sessions.js';
import type { TraceHooks } from './trace.js';

/** What a dial needs; captured from the request that starts it. */
export interface ConnectOptions {
  https: boolean;
  host: string;
  port: number;
  proxy: URL | undefined;
  /** A Unix socket path dialed instead of `host:port` (never with a proxy). */
  socketPath: string | undefined;
  tls: tls.ConnectionOptions | undefined;
  timeouts: TransportTimeouts;
  trace: TraceHooks | undefined;
  method: string;
  url: string;
  /** ALPN protocols offered to the origin (`h2`, `http/1.1` when HTTP/2 is allowed); undefined: `http/1.1`. */
  alpn: readonly string[] | undefined;
}

/** Epoch-ms marks of one dial. */
export interface DialMarks {
  start: number;
  lookup: number | undefined;
  connect: number | undefined;
  secureConnect: number | undefined;
}

/**
 * Whether the socket `connectSocket` returns for `o` is the dialed TCP socket itself (no
 * TLS anywhere): only then can its reads use an `onread` buffer (TLS sockets cannot).
 */
export function readsPlain(o: ConnectOptions): boolean {
  return !o.https && o.proxy?.protocol !== 'https:';
}

/** How {@link connectSocket} connects (besides what to: its {@link ConnectOptions}). */
export interface ConnectVia {
  dialer: Dialer;
  /** The dial's budget: the request's, or the shared dial's own. */
  budget: Budget;
  /** Filled in as the phases end (epoch ms). */
  marks: DialMarks;
  /** TLS options for an https:// proxy at host:port. */
  tlsFor: (host: string, port: number) => tls.ConnectionOptions | undefined;
  /** Where a plain TCP socket's reads land (read-buffer.ts); ignored when TLS is involved. */
  onread?: OnReadOpts | undefined;
  /** The transport's TLS sessions (resumption), for every handshake of this dial. */
  sessions?: TlsSessionCache | undefined;
}

/** Opens a socket ready for HTTP/1.1 to `o.host:o.port` (directly, over `o.socketPath`, or through `o.proxy`). */
export async function connectSocket(o: ConnectOptions, via: ConnectVia): Promise<Socket> {
    const { dialer, budget: dialBudget, marks, tlsFor, onread, sessions } = via;
    const target = o.proxy ?? undefined;
    const dialHost = target !== undefined ? unbracket(target.hostname) : o.host;
    const dialPort =
      target !== undefined ? (target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : Number(target.port)) : o.port;
    let socket: Socket = await dialer.dial({
      host: dialHost,
      port: dialPort,
      timeout: o.timeouts.dialTimeout,
      budget: dialBudget,
      trace: o.trace,
      timings: marks,
      method: o.method,
      url: o.url,
      onread: readsPlain(o) ? onread : undefined,
      path: target === undefined ? o.socketPath : undefined,
    });
    try {
      if (target !== undefined && target.protocol === 'https:') {
        // An https:// proxy is spoken to over TLS before anything else is sent.
        socket = await upgradeToTls({
          socket,
          servername: dialHost,
          port: dialPort,
          options: tlsFor(dialHost, dialPort),
          sessions,
          sessionRoute: 'proxy',
          timeout: o.timeouts.tlsHandshakeTimeout,
          budget: dialBudget,
          trace: o.trace,
          method: o.method,
          url: o.url,
        });
        marks.connect = Date.now();
      }
      if (target !== undefined && o.https) {
        // The tunnel is part of connecting: bounded by what is left of the dial budget.
        const dial = o.timeouts.dialTimeout;
        const left = dial === 0 || dial === Number.POSITIVE_INFINITY ? dial : Math.max(1, dial - (Date.now() - marks.start));
        socket = await connectViaProxy(socket, target, o.host, o.port, {
          budget: dialBudget,
          timeout: left,
          dialTimeout: dial,
          dialStart: marks.start,
          method: o.method,
          url: o.url,
        });
        marks.connect = Date.now();
      }
      if (o.https) {
        socket = await upgradeToTls({
          socket,
          servername: o.host,
          port: o.port,
          alpn: o.alpn,
          socketPath: target === undefined ? o.socketPath : undefined,
          options: o.tls,
          sessions,
          sessionRoute: target === undefined ? '' : `via ${proxyIdentity(target)}`,
          timeout: o.timeouts.tlsHandshakeTimeout,
          budget: dialBudget,
          trace: o.trace,
          method: o.method,
          url: o.url,
        });
        marks.secureConnect = Date.now();
      }
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return socket;
  }
