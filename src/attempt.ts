/**
 * attempt — the state of one request on the transport across its attempts (the first,
 * the stale-connection retry of SPEC §4, the HTTP/2 replay of SPEC §13): what it is made
 * of (target, headers, body source, timeouts, pool key), how many attempts it made, the
 * promise of the current one, and the body reopened for each.
 *
 * Owns: {@link Attempt} (also the request's DialOptions for a dial it starts, and the
 * pool's Wanter: a queued request is this object, a Waiter and one promise) and
 * (the body for each send comes from transport-head's `openBody`). Never: decides a retry or talks to a connection — it hands a leased
 * connection to the transport's exchange, a microtask later, off the pool's call stack.
 *
 * Invariant: `resolve`/`reject` always settle the current attempt's promise (set anew by
 * the transport for each attempt).
 */

import type * as tls from 'node:tls';
import type { Connection } from './conn/connection.js';
import type { WritableBody } from './conn/writer.js';
import { dropUnsentSource } from './conn/body-error.js';
import type { Budget } from './deadline.js';
import type { H2Session } from './h2/session.js';
import type { TransportTimeouts } from './options.js';
import type { Lease, Wanter } from './pool.js';
import type { ConnectOptions as DialOptions } from './connector.js';
import type { Response } from './response.js';
import type { OutgoingBody } from './round-tripper.js';
import type { TraceHooks } from './trace.js';
import type { WireRequest } from './wire.js';

/** A pooled connection: HTTP/1.1, or an HTTP/2 session carrying many streams. */
export type AnyConn = Connection | H2Session;

/**
 * The state of one request across its attempts on the transport. It is also what a dial
 * started for this request needs (its DialOptions) and what the pool reports to (its
 * Wanter), so a queued request is this object, a Waiter and one promise.
 */
export class Attempt implements DialOptions, Wanter<AnyConn> {
  /** Attempts made so far after the first. */
  n = 0;
  /** HTTP/2 replays of an unprocessed stream so far (SPEC §13: at most one). */
  h2Replays = 0;
  /** The request may go on a multiplexed connection (its origin may speak HTTP/2). */
  readonly multiplex: boolean;
  readonly alpn: readonly string[] | undefined;
  /** The target in origin-form (HTTP/2's `:path`). */
  readonly originTarget: string;
  /** Epoch ms the current attempt began waiting for a connection. */
  start = 0;
  /** Set only while `wire:start` has subscribers (src/wire.ts). */
  wire: WireRequest | undefined = undefined;
  /** Settle the current attempt's promise. */
  resolve!: (res: Response | PromiseLike<Response>) => void;
  reject!: (err: unknown) => void;
  readonly method: string;
  readonly url: string;
  readonly budget: Budget;
  readonly https: boolean;
  readonly host: string;
  readonly port: number;
  readonly proxy: URL | undefined;
  readonly tls: tls.ConnectionOptions | undefined;
  readonly timeouts: TransportTimeouts;
  readonly trace: TraceHooks | undefined;
  readonly key: string;
  readonly target: string;
  readonly headers: string[];
  readonly callerHeaders: string[];
  body: WritableBody;
  readonly source: OutgoingBody | undefined;
  readonly compress: boolean;
  readonly closeAfter: boolean;
  readonly socketPath: string | undefined;

  constructor(
    /** Where a leased connection goes: the transport's exchange on it. */
    private readonly exchange: (at: Attempt, lease: Lease<AnyConn>) => void,
    o: AttemptInit,
  ) {
    this.multiplex = o.multiplex;
    this.alpn = o.alpn;
    this.originTarget = o.originTarget;
    this.method = o.method;
    this.url = o.url;
    this.budget = o.budget;
    this.https = o.https;
    this.host = o.host;
    this.port = o.port;
    this.proxy = o.proxy;
    this.tls = o.tls;
    this.timeouts = o.timeouts;
    this.trace = o.trace;
    this.key = o.key;
    this.target = o.target;
    this.headers = o.headers;
    this.callerHeaders = o.callerHeaders;
    this.body = o.body;
    this.source = o.source;
    this.compress = o.compress;
    this.closeAfter = o.closeAfter;
    this.socketPath = o.socketPath;
  }

  leased(lease: Lease<AnyConn>): void {
    // Off the pool's call stack (a release from inside another exchange's settle path).
    // A promise job, not queueMicrotask: the same queue and order, and the same async
    // context, without the AsyncResource Node builds per queueMicrotask call.
    void SETTLED.then(() => this.exchange(this, lease));
  }

  /** The pool could not give it a connection (dial failure, pool timeout): the body will not be written. */
  failed(err: Error): void {
    // A stream body no connection will read is the request's to close (a file stream's
    // descriptor stayed open per request refused, eleventh attack F4).
    dropUnsentSource(this.body);
    this.reject(err);
  }
}

/** An already-settled promise: `.then` on it queues one microtask. */
export const SETTLED: Promise<void> = Promise.resolve();

/** What an {@link Attempt} is made of (named: the fields are many and alike). */
export interface AttemptInit {
  multiplex: boolean;
  alpn: readonly string[] | undefined;
  originTarget: string;
  method: string;
  /** The request URL (href) for messages and the response. */
  url: string;
  budget: Budget;
  https: boolean;
  host: string;
  port: number;
  proxy: URL | undefined;
  tls: tls.ConnectionOptions | undefined;
  timeouts: TransportTimeouts;
  trace: TraceHooks | undefined;
  /** Pool key. */
  key: string;
  /** Request target (origin-form, or absolute-form through a plain proxy). */
  target: string;
  /** The headers written on the wire (the caller's plus the transport's). */
  headers: string[];
  /** The caller's headers (a replayed stream body reads its content-length here). */
  callerHeaders: string[];
  body: WritableBody;
  /** The request's body, reopened for a stale-connection retry when replayable. */
  source: OutgoingBody | undefined;
  compress: boolean;
  closeAfter: boolean;
  socketPath: string | undefined;
}


