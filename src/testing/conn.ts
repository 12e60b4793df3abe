/**
 * conn — the state of one accepted connection of the fault server: its sockets
 * (the TLS socket and the TCP socket under it), its request reader, how each side
 * ended it, and the two ways the server ends it (graceful FIN, RST).
 *
 * Owns: {@link Conn}, {@link ConnectionInfo} (what `fs.connectionLog` shows) and
 * {@link ExchangeHost} (what a connection and its exchanges need from the server).
 *
 * Invariants: `info.serverEnded` is set before the server acts on the socket, so a
 * resulting ECONNRESET is never blamed on the client; a FIN always ends in a destroy
 * within {@link LINGER_MS}; `whenClosed()` settles once either socket closes.
 */

import type * as net from 'node:net';
import type { RequestReader } from './request-reader.js';

/** What an {@link Exchange} needs from its server. */
export interface ExchangeHost {
  readonly origin: string;
  /** A tracked timer, cleared by `close()`; returns its cancel function. */
  timer(ms: number, fn: () => void, opts?: { unref?: boolean }): () => void;
  /** An extra socket (a tunnel's upstream) destroyed by `close()`. */
  track(socket: net.Socket): void;
  /** Records an error thrown by a route script. */
  fail(err: unknown): void;
}

/** One accepted TCP connection, as `fs.connectionLog` shows it. */
export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly acceptedAt: number;
  /** Requests received on it. */
  requests: number;
  /** How the client ended its side, as observed: FIN, RST (ECONNRESET), or not (yet). */
  clientEnded: 'fin' | 'reset' | null;
  /** How the server ended it: a script's FIN or RST, or a destroy by `close()`. */
  serverEnded: 'fin' | 'reset' | 'destroy' | null;
  /** `Date.now()` when the socket closed, or null while open. */
  closedAt: number | null;
  /** TLS handshake error, when the handshake failed. */
  tlsError: string | null;
}

/** Graceful FIN: input is drained for at most this long before the socket is destroyed. */
export const LINGER_MS = 1000;

/** State of one accepted connection. Owned by the server's connection loop. */
export class Conn {
  /** Close this connection when it has been idle this long after a response. */
  closeIdleMs: number | null = null;
  /** A tunnel took the socket over: the loop stops reading requests. */
  hijacked = false;
  private readonly closedP: Promise<void>;

  constructor(
    readonly host: ExchangeHost,
    readonly info: ConnectionInfo,
    /** The socket requests arrive on (a TLSSocket in TLS mode). */
    readonly socket: net.Socket,
    /** The TCP socket under it (the same object without TLS). */
    readonly raw: net.Socket,
    readonly reader: RequestReader,
  ) {
    this.closedP = new Promise((resolve) => {
      socket.once('close', () => resolve());
      raw.once('close', () => resolve());
    });
    this.clientGoneP = new Promise((resolve) => {
      socket.once('end', () => resolve());
      raw.once('end', () => resolve());
      void this.closedP.then(() => resolve());
    });
  }

  private readonly clientGoneP: Promise<void>;

  /** Settles once the client sent FIN or either socket closed (a stalled script unwinds then). */
  whenClientGone(): Promise<void> {
    return this.clientGoneP;
  }

  /** The server can no longer write a response on it. */
  get closed(): boolean {
    return this.info.serverEnded !== null || this.socket.destroyed || !this.socket.writable;
  }

  whenClosed(): Promise<void> {
    return this.closedP;
  }

  /** FIN, then discard input until the client closes too (at most {@link LINGER_MS}). */
  finish(): Promise<void> {
    if (this.info.serverEnded === null) this.info.serverEnded = 'fin';
    if (!this.socket.destroyed) {
      this.socket.end();
      this.reader.detach();
      this.socket.resume();
      // Cleanup only: nobody waits for it, so it must not keep a process alive.
      const cancel = this.host.timer(LINGER_MS, () => this.socket.destroy(), { unref: true });
      this.socket.once('close', cancel);
    }
    return this.closedP;
  }

  /** RST (SO_LINGER 0) on the TCP socket. */
  reset(): void {
    if (this.info.serverEnded === null) this.info.serverEnded = 'reset';
    if (!this.raw.destroyed) this.raw.resetAndDestroy();
    this.socket.destroy();
  }
}
