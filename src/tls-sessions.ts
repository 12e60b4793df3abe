/**
 * tls-sessions — the TLS sessions a transport keeps so that its next connection to the
 * same server resumes instead of doing a full handshake (Node's https.Agent and undici
 * keep 100 by default; curl and OkHttp resume too).
 *
 * Owns: one bounded, least-recently-used map from "where and how a handshake was made"
 * (server name, address, port, ALPN offer, TLS options) to the session the server last
 * issued there. A resumed handshake skips the certificate chain and the server's
 * signature: ~0.3–0.7 ms of client CPU per new connection on this machine.
 *
 * Never: shares a session between different server names, ports or TLS options (a
 * session made with `rejectUnauthorized: false` or another CA is never offered to a
 * handshake that verifies otherwise); offers one when the caller passed its own
 * `session`; keeps more than `max` entries.
 *
 * Invariants: a handshake that fails forgets what was offered for its key, so a session a
 * server refuses to resume is not tried again; `max` 0 keeps nothing.
 */

/** A bounded LRU of TLS sessions, one per handshake key. */
export class TlsSessionCache {
  private readonly sessions = new Map<string, Buffer>();

  constructor(private readonly max: number) {}

  /** Whether sessions are kept at all. */
  get enabled(): boolean {
    return this.max > 0;
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
    if (this.max <= 0) return;
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

  /** Forgets every session (the transport closed). */
  clear(): void {
    this.sessions.clear();
  }

  /** Sessions kept. */
  get size(): number {
    return this.sessions.size;
  }
}

/**
 * The cache key of one handshake: the name verified and sent as SNI, the address dialed
 * (a Unix socket path, or host and port), the ALPN offer and the TLS options' key.
 */
export function sessionKey(
  servername: string,
  port: number,
  socketPath: string | undefined,
  alpn: readonly string[],
  optionsKey: string,
): string {
  return `${servername}|${socketPath ?? ''}|${port}|${alpn.join(',')}|${optionsKey}`;
}
