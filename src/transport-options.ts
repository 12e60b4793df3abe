/**
 * transport-options — the public shapes of a Transport (src/transport.ts): its options
 * ({@link TransportOptions}, SPEC §3, §6, §13) and its pool counters ({@link TransportStats}).
 *
 * Owns: types only (no code). Never: validates or resolves them (src/options.ts and
 * the Transport's constructor do).
 */

import type * as tls from 'node:tls';
import type { Dialer, DialerOptions } from './dial/index.js';
import type { H2Options } from './h2/options.js';
import type { MinThroughput, SocketPathOption } from './options.js';
import type { ProxyOption } from './proxy.js';
import type { HostStats } from './pool.js';

export type { HostStats };

/** TLS options for every host, or per host. */
export type TlsOption = tls.ConnectionOptions | ((host: string, port: number) => tls.ConnectionOptions);

/** Options of a {@link Transport}. Durations are in ms; 0 or Infinity disables a timeout. */
export interface TransportOptions {
  /** A Dialer, or options for the Transport's own. */
  dialer?: Dialer | DialerOptions;
  /** Same as `dialer.timeout`. Default 30 000. */
  dialTimeout?: number;
  /** TLS options, or a function `(host, port) => options` (see `certsDir`). */
  tls?: TlsOption;
  /** Default 10 000. */
  tlsHandshakeTimeout?: number;
  /** Wait for a connection when `maxConnsPerHost` is reached. Default none. */
  poolTimeout?: number;
  /** From the request write's start until its last byte is flushed. Default none. */
  writeTimeout?: number;
  /** The request is being written and no byte of it could be flushed for this long. Default 300 000. */
  writeIdleTimeout?: number;
  /** Default 1 000; 0 sends the body at once; Infinity waits for the server's answer. */
  expectContinueTimeout?: number;
  /** Default 300 000. */
  responseHeaderTimeout?: number;
  /** Default 300 000. */
  readIdleTimeout?: number;
  /** Minimum body rate; default none. */
  minThroughput?: MinThroughput;
  /** Idle connection lifetime. Default 90 000. */
  idleConnTimeout?: number;
  /** Idle connections kept across all hosts. Default 100. */
  maxIdleConns?: number;
  /** Idle connections kept per host. Default 100. */
  maxIdleConnsPerHost?: number;
  /** Connections per host (0 = unlimited); excess requests wait FIFO. */
  maxConnsPerHost?: number;
  /**
   * TLS sessions kept for resumption, one per server name, port (or Unix socket path), ALPN
   * offer, TLS options and route (direct, through a given proxy, or an https proxy's own
   * handshake), least recently used dropped (Node's https.Agent and undici: 100). A new
   * connection to a server this transport spoke TLS with resumes the session (no
   * certificate chain to verify again). Default 100; 0 keeps none.
   */
  maxCachedSessions?: number;
  /** Send `Connection: close` and never reuse a connection. */
  disableKeepAlives?: boolean;
  /** Do not send `Accept-Encoding` nor decode bodies. */
  disableCompression?: boolean;
  /** Default 65 536. */
  maxResponseHeaderBytes?: number;
  /** Decoded body size limit; exceeding it is `ProtocolError` `body-too-large`. Default none. */
  maxResponseBytes?: number;
  /** A proxy URL, a function choosing one per request URL, or `'env'`. */
  proxy?: ProxyOption;
  /**
   * Dial this Unix domain socket path instead of TCP (curl's `--unix-socket`), or a
   * function choosing a path per request URL (`undefined`: TCP as usual). The URL's host
   * still fills `Host` and, for https, SNI and certificate verification. There is no
   * DNS phase; `dialTimeout` and the `connect` phase apply; the pool keeps separate
   * connections per path; a proxy is never used for such a request. Default none.
   */
  socketPath?: SocketPathOption;
  /**
   * Offer HTTP/2 by ALPN (`h2`, then `http/1.1`) on https. Default true. `disableKeepAlives`
   * turns HTTP/2 off (one request per connection is what it asks for).
   */
  allowH2?: boolean;
  /** Speak HTTP/2 with prior knowledge (h2c) on http:// URLs (never through a proxy). Default false. */
  h2c?: boolean;
  /** HTTP/2 waits and windows (SPEC §13). */
  h2?: H2Options;
}

/** Counters of a Transport's pool (SPEC §11), per host key and in total. */
export interface TransportStats {
  hosts: Record<string, HostStats>;
  totals: HostStats;
}

