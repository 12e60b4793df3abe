/**
 * tls-sessions — the TLS sessions a transport keeps so that its next connection to the
 * same server resumes instead of doing a full handshake (Node's https.Agent and undici
 * keep 100 by default; curl and OkHttp resume too).
 *
 * Owns: one bounded, least-recently-used map from "where and how a handshake was made"
 * (the route — direct, the proxy's own handshake, or through which proxy —, server name,
 * port or Unix socket path, ALPN offer, TLS options) to the session the server last issued
 * there. As in Go, undici and node:https, the server name stands for the server: the
 * address it resolved to is not part of the key. A resumed handshake skips the certificate
 * chain and the server's signature: ~0.3–0.7 ms of client CPU per new connection on this
 * machine.
 *
 * Never: shares a session between different routes, server names, ports or TLS options
 * (a session made with `rejectUnauthorized: false` or another CA is never offered to a
 * handshake that verifies otherwise; an https proxy's session never to the origin behind
 * it, nor a direct connection's to one through a proxy); offers one when the caller
 * passed its own `session`; keeps more than `max` entries; keeps anything once closed.
 *
 * Invariants: a handshake that fails forgets what was offered for its key, so a session a
 * server refuses to resume is not tried again; `max` 0 keeps nothing; after `close()` it
 * keeps nothing (a TLS 1.3 ticket arriving late, on a connection still finishing its
 * request, is dropped).
 */

/** A bounded LRU of TLS sessions, one per handshake key. */
export class TlsSessionCache {
  private readonly sessions = new Map<string, Buffer>();
  private closed = false;

  constructor(private readonly max: number) {}

  /** Whether sessions are kept at all. */
  get enabled(): boolean {
    return this.max > 0 && !this.closed;
  }

  /** The session for `key`, if any (marked as recently used). */
  get(key: string): Buffer | undefined {
    const s = this.sessions.get(key);
    if (s !== undefined) {
      this.sessions.delete(key);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Keeps the newest session the server issued for `key`. */
  set(key: string, session: Buffer): void {
    if (!this.enabled) return;
    this.sessions.delete(key);
    this.sessions.set(key, session);
    if (this.sessions.size > this.max) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }

  /** Forgets the session for `key`. */
  delete(key: string): void {
    this.sessions.delete(key);
  }

  /** Forgets every session and keeps none from now on (the transport closed). */
  close(): void {
    this.closed = true;
    this.sessions.clear();
  }

  /** Sessions kept. */
  get size(): number {
    return this.sessions.size;
  }
}

/** Where and how one handshake is made: what its session is kept under. */
export interface HandshakeSite {
  /** `''` direct; `'proxy'` for an https proxy's own handshake; `'via <proxy origin>'` for an origin behind a proxy. */
  route: string;
  /** The name verified and sent as SNI. */
  servername: string;
  port: number;
  socketPath: string | undefined;
  /** The ALPN offer. */
  alpn: readonly string[];
  /** The TLS options' key (`tlsOptionsKey`). */
  optionsKey: string;
}

/** The cache key of one handshake: every field of its {@link HandshakeSite}. */
export function sessionKey(site: HandshakeSite): string {
  const { route, servername, socketPath, port, alpn, optionsKey } = site;
  return `${route}|${servername}|${socketPath ?? ''}|${port}|${alpn.join(',')}|${optionsKey}`;
}
