/**
 * transport — how a request reaches a server (Go's Transport / RoundTripper).
 *
 * Owns: the per-host pool key (scheme, host, port, proxy, TLS options, socket path), the
 * headers a transport adds (Host, Accept-Encoding, Content-Length / Transfer-Encoding,
 * Connection: close), proxy routing, the choice of a Unix socket path (which bypasses
 * any proxy), opening connections (dialer → proxy tunnel → TLS),
 * handing them out through the {@link Pool}, transparent decompression, and the one
 * retry it is allowed: a request that failed on a *reused* connection before any
 * response byte, when nothing was written or the request is replayable (SPEC §4).
 *
 * It implements {@link RoundTripper}: the budget of a request the client made is its
 * `deadline`; a request built by hand gets one from `deadline.remaining()` and `signal`.
 * The stale retry is decided from the facts the failed exchange's error carries.
 *
 * Never: follows redirects, sets cookies, retries by status, or reads a body for the
 * caller. `roundTrip` returns a response for any status code. A request's state across
 * its attempts is an Attempt (src/attempt.ts); the option and stats types are in
 * src/transport-options.ts.
 */

import type * as tls from 'node:tls';
import { Connection, type ConnOwner, exchangeFacts } from './conn/connection.js';
import { SocketReader } from './conn/read-buffer.js';
import { Budget, budgetOf } from './deadline.js';
import { decodeResponse } from './decompress.js';
import { Dialer, type DialerOptions } from './dial/index.js';
import type { TlsOption, TransportOptions, TransportStats } from './transport-options.js';
import { closedError, invalidArg, ProtocolError, redactUrl } from './errors.js';
import { hostPort } from './host.js';
import {
  checkCount,
  checkDuration,
  checkSocketPath,
  checkSocketPathOption,
  checkOptionsObject,
  DEFAULT_TIMEOUTS,
  describeValue,
  DIALER_NAMES,
  DEFAULTS,
  resolveTimeouts,
  type SocketPathOption,
  TRANSPORT_NAMES,
  type TransportTimeouts,
} from './options.js';
import { type Lease, Pool } from './pool.js';
import {
  absoluteForm,
  addProxyAuth,
  dropProxyAuth,
  hasExpectContinue,
  hasIdempotencyKey,
  openBody,
  requestHead,
} from './transport-head.js';
import { type ConnectOptions as DialOptions, connectSocket, type DialMarks, readsPlain } from './connector.js';
import { ProxyResolver, proxyIdentity } from './proxy.js';
import type { Response } from './response.js';
import { checkOutgoingRequest, headerFlat, type OutgoingRequest, type RoundTripper } from './round-tripper.js';
import { failOnSourceError } from './conn/body-error.js';
import { Timings } from './timings.js';
import { TargetMemo, type UrlTarget } from './url-target.js';
import { tlsOptionsKey } from './tls.js';
import { TlsSessionCache } from './tls-sessions.js';
import { emit } from './trace.js';
import { replayWire, startWire, watchWire, wireChannels } from './wire.js';
import { checkFlag, resolveH2Options, type ResolvedH2Options } from './h2/options.js';
import { H2Session, type OriginHint, type SessionOwner } from './h2/session.js';
import { refusedAfterServing, sendOnStream, unprocessed } from './h2/stream.js';
import { type AnyConn, Attempt, SETTLED } from './attempt.js';

export type { HostStats, TlsOption, TransportOptions, TransportStats } from './transport-options.js';

const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** HTTP/2 replays of one request's unprocessed stream at most (SPEC §13; Go's transport retries 6 times too). */
const MAX_H2_REPLAYS = 6;

/** Carries requests to servers over pooled HTTP/1.1 connections and multiplexed HTTP/2 ones. */
export class Transport implements RoundTripper {
  readonly dialer: Dialer;
  /** Resolved default timeouts. */
  readonly timeouts: TransportTimeouts;
  private readonly pool: Pool<AnyConn, DialOptions, Budget>;
  /** TLS sessions kept for resumption (`maxCachedSessions`). */
  private readonly sessions: TlsSessionCache;
  private readonly allowH2: boolean;
  private readonly h2c: boolean;
  private readonly h2: ResolvedH2Options;
  /** What HTTP/2 sessions report to. */
  private readonly sessionOwner: SessionOwner = {
    leaseEnded: (s) => this.pool.releaseLease(s),
    slotsChanged: (s) => this.pool.slotsChanged(s),
    sessionClosed: (s) => this.pool.closed(s),
    noStreamsAllowed: (s) =>
      this.pool.failWaiters(
        s.key,
        (method, url) =>
          new ProtocolError('stream-refused', `the server allowed no HTTP/2 stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) on two connections in a row, each for h2.settingsTimeout (${this.h2.settingsTimeout} ms)`, {
            requestSent: false,
            method,
            url,
          }),
      ),
  };
  private readonly tlsOption: TlsOption | undefined;
  private readonly idleConnTimeout: number;
  /** @internal */ readonly disableKeepAlives: boolean;
  /** @internal */ readonly disableCompression: boolean;
  private readonly maxResponseHeaderBytes: number;
  private readonly maxResponseBytes: number;
  private readonly proxy: ProxyResolver;
  private readonly socketPath: SocketPathOption | undefined;
  private isClosed = false;
  /** What its connections report to: released (back to the pool) or closed. */
  private readonly owner: ConnOwner = {
    connReleased: (conn) => this.pool.release(conn as Connection),
    connClosed: (conn) => this.pool.closed(conn as Connection),
  };

  constructor(options: TransportOptions = {}) {
    checkOptionsObject('Transport options', '', options, TRANSPORT_NAMES);
    const dialTimeout = checkDuration('dialTimeout', options.dialTimeout);
    if (options.dialer instanceof Dialer) {
      this.dialer = options.dialer;
    } else {
      checkOptionsObject('dialer', 'dialer.', options.dialer, DIALER_NAMES);
      const d: DialerOptions = { ...(options.dialer ?? {}) };
      if (dialTimeout !== undefined) d.timeout = dialTimeout;
      this.dialer = new Dialer(d);
    }
    this.timeouts = resolveTimeouts(DEFAULT_TIMEOUTS, {
      dialTimeout: dialTimeout ?? this.dialer.options.timeout,
      tlsHandshakeTimeout: options.tlsHandshakeTimeout,
      poolTimeout: options.poolTimeout,
      writeTimeout: options.writeTimeout,
      writeIdleTimeout: options.writeIdleTimeout,
      expectContinueTimeout: options.expectContinueTimeout,
      responseHeaderTimeout: options.responseHeaderTimeout,
      readIdleTimeout: options.readIdleTimeout,
      ...('minThroughput' in options ? { minThroughput: options.minThroughput } : {}),
    } as Partial<TransportTimeouts>);
    if (options.tls !== undefined && typeof options.tls !== 'object' && typeof options.tls !== 'function') {
      throw invalidArg(`tls must be TLS options or a function (host, port) => options, got ${describeValue(options.tls)}`);
    }
    this.tlsOption = options.tls;
    const idle = checkDuration('idleConnTimeout', options.idleConnTimeout) ?? DEFAULTS.idleConnTimeout;
    this.idleConnTimeout = idle === 0 ? Number.POSITIVE_INFINITY : idle;
    this.disableKeepAlives = options.disableKeepAlives === true;
    this.disableCompression = options.disableCompression === true;
    this.maxResponseHeaderBytes =
      checkCount('maxResponseHeaderBytes', options.maxResponseHeaderBytes) ?? DEFAULTS.maxResponseHeaderBytes;
    const maxBytes = checkCount('maxResponseBytes', options.maxResponseBytes);
    this.maxResponseBytes = maxBytes === undefined || maxBytes === 0 ? Number.POSITIVE_INFINITY : maxBytes;
    this.proxy = new ProxyResolver(options.proxy);
    this.socketPath = checkSocketPathOption(options.socketPath);
    this.allowH2 = checkFlag('allowH2', options.allowH2, true) && !this.disableKeepAlives;
    this.h2c = checkFlag('h2c', options.h2c, false) && !this.disableKeepAlives;
    this.h2 = resolveH2Options(options.h2);
    this.sessions = new TlsSessionCache(checkCount('maxCachedSessions', options.maxCachedSessions) ?? DEFAULTS.maxCachedSessions);
    this.pool = new Pool<AnyConn, DialOptions, Budget>(
      {
        maxIdleConns: checkCount('maxIdleConns', options.maxIdleConns) ?? DEFAULTS.maxIdleConns,
        maxIdleConnsPerHost: checkCount('maxIdleConnsPerHost', options.maxIdleConnsPerHost) ?? DEFAULTS.maxIdleConnsPerHost,
        maxConnsPerHost: checkCount('maxConnsPerHost', options.maxConnsPerHost) ?? DEFAULTS.maxConnsPerHost,
        idleTimeout: (conn) => this.idleTimeoutOf(conn as Connection),
      },
      (key, opts, dialBudget) => this.openConnection(key, opts, dialBudget),
      () => new Budget(undefined, undefined, 'GET', ''),
    );
  }

  /**
   * Sends one request and resolves with its response (any status). The request's
   * overall deadline and signal apply; a request the client did not make gets a
   * deadline of its own from `req.deadline.remaining()` and `req.signal`. When that
   * deadline runs out, the `TimeoutError` (phase `request`) reports as `timeout` the ms
   * that remained when `roundTrip` was called — 0 for a deadline already past, which
   * fails at once — and as `elapsed` the ms since that call.
   */
  roundTrip(req: OutgoingRequest): Promise<Response> {
    try {
      checkOutgoingRequest(req, 'Transport.roundTrip');
    } catch (err) {
      return Promise.reject(err);
    }
    const d = req.deadline;
    const own = budgetOf(d);
    if (own !== undefined) return this.start(req, own);
    // Built by hand (outgoingRequest(), a user's RoundTripper): the transport owns the budget.
    let budget: Budget;
    try {
      const left = d.remaining();
      budget = Budget.forRemaining(left, req.signal, req.method, redactUrl(req.url)!);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(req, budget).then(
      (res) => {
        res.attach(budget, undefined);
        return res;
      },
      (err: unknown) => {
        budget.finish();
        throw budget.failure ?? err;
      },
    );
  }

  private start(req: OutgoingRequest, budget: Budget): Promise<Response> {
    let at: Attempt;
    try {
      at = this.prepare(req, budget);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!wireChannels.start.hasSubscribers) return this.attempt(at);
    at.wire = startWire(req.method, req.url, req.attempt, at.headers);
    return watchWire(at, this.attempt(at));
  }

  /** Counters per host key and in total (SPEC §11). */
  stats(): TransportStats {
    return this.pool.stats();
  }

  /** Closes every idle connection. */
  closeIdleConnections(): void {
    this.pool.closeIdle();
  }

  /** Rejects queued and new requests with `HG_CLOSED`, closes idle connections; active ones finish. */
  close(): void {
    this.isClosed = true;
    this.pool.close();
    this.sessions.close();
  }

  // Private implementation past this point.

  /** @internal The pool handed `at` a connection (Attempt.leased): exchange on it. */
  private readonly exchangeOn = (at: Attempt, lease: Lease<AnyConn>): void => {
    if (lease.conn instanceof H2Session) this.exchangeH2(at, lease, lease.conn);
    else this.exchange1(at, lease, lease.conn);
  };

  /** The routing facts of the URL last sent (one URL object shared by a client's requests to one string). */
  private readonly targets = new TargetMemo();

  /** Everything about a request that does not change between its attempts. */
  private prepare(req: OutgoingRequest, budget: Budget): Attempt {
    if (this.isClosed) throw closedError('transport', { method: req.method, url: req.url });
    const timeouts = req.timeouts === undefined ? this.timeouts : resolveTimeouts(this.timeouts, req.timeouts);
    const url = req.url;
    const t = this.targets.of(url);
    const { https, host, port } = t;
    const socketPath = this.socketPathFor(url);
    const proxy = socketPath === undefined ? this.proxy.resolve(url) : undefined;
    const tlsOpts = https ? this.tlsFor(host, port) : undefined;
    const callerHeaders = headerFlat(req.headers);
    const source = req.body;
    const { headers, compress, closeAfter, body } = requestHead(req.method, url, callerHeaders, openBody(source, callerHeaders), this);
    failOnSourceError(body, budget);
    if (proxy !== undefined && !https) addProxyAuth(headers, proxy);
    // Proxy credentials are for the proxy: never send them through a CONNECT tunnel to the origin.
    else if (proxy !== undefined) dropProxyAuth(headers);
    const multiplex = https ? this.allowH2 : this.h2c && proxy === undefined;
    return new Attempt(this.exchangeOn, {
      multiplex,
      alpn: https && this.allowH2 ? H2_ALPN : undefined,
      method: req.method,
      url: t.href,
      budget,
      https,
      host,
      port,
      proxy,
      tls: tlsOpts,
      timeouts,
      trace: req.trace,
      key:
        proxy === undefined && socketPath === undefined && (tlsOpts === undefined || tlsOpts === this.tlsOption)
          ? this.directKey(t, tlsOpts)
          : poolKey(https, host, port, proxy, tlsOpts, socketPath),
      target: proxy !== undefined && !https ? absoluteForm(url) : t.path,
      originTarget: t.path,
      headers,
      callerHeaders,
      body,
      source,
      compress,
      closeAfter,
      socketPath,
    });
  }

  /**
   * One attempt: wait for a connection (a plain promise: a queued request holds no
   * suspended frame), then exchange on it. A stale reused connection leads to another
   * attempt (SPEC §4), so a fresh connection is tried at most once.
   */
  private attempt(at: Attempt): Promise<Response> {
    const budget = at.budget;
    if (budget.failure !== undefined) return Promise.reject(budget.failure);
    if (at.n > 0 && at.source !== undefined && at.source.replayable) {
      at.body = openBody(at.source, at.callerHeaders);
      failOnSourceError(at.body, budget);
    }
    if (at.trace !== undefined) emit(at.trace, 'getConn', { hostPort: `${at.host}:${at.port}` });
    // A stale-connection retry or an h2 replay is invisible: its timings keep the real
    // start, so the time lost on the dead connection is a wait for a connection (HAR blocked).
    if (at.n === 0 && at.h2Replays === 0) at.start = Date.now();
    return new Promise<Response>((resolve, reject) => {
      at.resolve = resolve;
      at.reject = reject;
      this.pool.want(at.key, at, budget, at.timeouts.poolTimeout, at, at.multiplex);
    });
  }

  /** The attempt's Timings on `conn`, with `gotConn` and `wire:connected` emitted. */
  private connTimings(at: Attempt, lease: Lease<AnyConn>, reused: boolean): Timings {
    const o = at;
    const conn = lease.conn;
    const timings = new Timings(at.budget.startedEpoch, at.start);
    timings.socket = Date.now();
    if (!reused && conn.dialMarks !== undefined) {
      // got's meaning: the socket was assigned when its dial started (before DNS).
      timings.socket = Math.max(timings.start, conn.dialMarks.start);
      timings.lookup = conn.dialMarks.lookup;
      timings.connect = conn.dialMarks.connect;
      timings.secureConnect = conn.dialMarks.secureConnect;
    } else {
      // got's meaning on a reused connection: the dial marks equal `socket` (SPEC §11).
      timings.reuse(at.https);
    }
    if (o.trace !== undefined) {
      emit(o.trace, 'gotConn', {
        reused,
        wasIdle: lease.wasIdle,
        idleTime: lease.idleTime,
        localAddress: conn.localAddress,
        remoteAddress: conn.remoteAddress ?? at.socketPath,
      });
    }
    if (at.wire !== undefined && wireChannels.connected.hasSubscribers) {
      wireChannels.connected.publish({ wire: at.wire, reused, protocol: conn instanceof H2Session ? '2' : '1.1', connection: conn.describe(), timings });
    }
    return timings;
  }

  /**
   * An HTTP/2 exchange: the stream settles the attempt's promise itself through callbacks
   * (no async frame or promise layer per request, issue #16). A failure is handled a
   * microtask later, after the stream has finished and freed its slot, as an `await`
   * would have.
   */
  private exchangeH2(at: Attempt, lease: Lease<AnyConn>, conn: H2Session): void {
    const { resolve, reject } = at;
    try {
      const reused = conn.served > 0;
      const timings = this.connTimings(at, lease, reused);
      sendOnStream(
        conn,
        {
          method: at.method,
          url: at.url,
          scheme: at.https ? 'https' : 'http',
          authority: hostPort(at.host, at.port),
          path: at.originTarget,
          headers: at.headers,
          body: at.body,
          expectContinue: hasExpectContinue(at.headers),
          timeouts: at.timeouts,
          budget: at.budget,
          trace: at.trace,
          timings,
          maxResponseBytes: this.maxResponseBytes,
          decodes: at.compress,
          reused,
          wire: at.wire,
        },
        (res) => this.settleDecoded(res, at, resolve, reject),
        (err) => {
          void SETTLED.then(() => {
            if (this.h2Replay(err, at)) {
              // SPEC §14: the replay is a request on the wire of its own (its own span), and
              // a send the call's next retry or hop counts (its `attempt` follows the replay's).
              if (at.wire !== undefined) at.wire = replayWire(at.wire, err, at.headers);
              if (at.budget.wireCount !== undefined) at.budget.wireCount.sent++;
              resolve(this.attempt(at));
            }
            // SPEC §4 on HTTP/2 too: a reused connection closed before any response byte.
            else if (reused && at.budget.failure === undefined && this.mayRetryStale(err, at, true)) {
              at.n++;
              resolve(this.attempt(at));
            } else reject(err);
          });
        },
      );
    } catch (err) {
      reject(err);
    }
  }

  /** Settles an attempt with its response, decoded (a decoder that cannot start rejects). */
  private settleDecoded(res: Response, at: Attempt, resolve: Attempt['resolve'], reject: Attempt['reject']): void {
    let out: Response;
    try {
      out = this.decoded(res, at);
    } catch (err) {
      reject(err);
      return;
    }
    resolve(out);
  }

  /**
   * An exchange on an HTTP/1.1 connection. Not an async function: the connection's promise
   * settles the attempt directly (no async frame and no promise between the connection and
   * the caller; a failure is decided in the rejection job, after the connection let go).
   */
  private exchange1(at: Attempt, lease: Lease<AnyConn>, conn: Connection): void {
    const { resolve, reject } = at;
    const reused = conn.served > 0;
    let head: Promise<Response>;
    try {
      const timings = this.connTimings(at, lease, reused);
      head = conn.roundTrip({
        method: at.method,
        target: at.target,
        headers: at.headers,
        body: at.body,
        expectContinue: hasExpectContinue(at.headers),
        url: at.url,
        timeouts: at.timeouts,
        budget: at.budget,
        trace: at.trace,
        timings,
        maxResponseBytes: this.maxResponseBytes,
        decodes: at.compress,
        closeAfter: at.closeAfter,
        wire: at.wire,
      });
    } catch (err) {
      reject(err);
      return;
    }
    head.then(
      (res) => this.settleDecoded(res, at, resolve, reject),
      (err: unknown) => {
        if (reused && at.budget.failure === undefined && this.mayRetryStale(err, at)) {
          at.n++;
          resolve(this.attempt(at));
        } else reject(err);
      },
    );
  }

  private decoded(res: Response, at: Attempt): Response {
    if (at.compress) {
      try {
        decodeResponse(res, at.method, at.url, this.maxResponseBytes);
      } catch (err) {
        void res.dump(0, 0); // an undecodable body is never read: close its connection
        throw err;
      }
    }
    return res;
  }

  /**
   * SPEC §13: a stream the peer did not process (REFUSED_STREAM, or above a GOAWAY's
   * last-stream-id) is replayed once whatever its method, when its body can be sent
   * again — and again, up to {@link MAX_H2_REPLAYS} in all, while each graceful GOAWAY came
   * from a connection that processed other streams first (progress: a server closing
   * connections after N requests). Returns true to replay; otherwise the error stands (a
   * second refusal, or a body that cannot be replayed: `stream-refused`, h2Code 7 for
   * REFUSED_STREAM).
   */
  private h2Replay(err: unknown, at: Attempt): boolean {
    const why = unprocessed(err);
    if (why === undefined || at.budget.failure !== undefined) return false;
    const replayable = at.source === undefined || at.source.replayable;
    if (!replayable) return false;
    if (at.h2Replays === 0 || (at.h2Replays < MAX_H2_REPLAYS && refusedAfterServing(err))) {
      at.h2Replays++;
      at.n++;
      return true;
    }
    const e = err as ProtocolError;
    if (why === 'goaway' && e.h2Code !== undefined && e.h2Code !== 0) {
      // Refused again by a GOAWAY carrying an error code: the connection's error stands.
      e.reason = 'h2-protocol-error';
      e.message = e.message.replace('(stream-refused)', '(h2-protocol-error)');
    }
    return false;
  }

  /** What this transport's connections learned of an origin's stream limit (h2/session.ts). */
  private originHint(key: string): OriginHint {
    let h = this.originHints.get(key);
    if (h === undefined) {
      // Bounded: a transport that saw very many origins forgets the oldest.
      if (this.originHints.size >= 1024) this.originHints.delete(this.originHints.keys().next().value!);
      h = { maxStreams: undefined };
      this.originHints.set(key, h);
    }
    return h;
  }
  private readonly originHints = new Map<string, OriginHint>();

  private async openConnection(key: string, o: DialOptions, dialBudget: Budget): Promise<AnyConn> {
    const marks: DialMarks = { start: Date.now(), lookup: undefined, connect: undefined, secureConnect: undefined };
    const h2c = !o.https && this.h2c && o.proxy === undefined;
    const reader = readsPlain(o) && !h2c ? new SocketReader() : undefined;
    const socket = await connectSocket(o, {
      dialer: this.dialer,
      budget: dialBudget,
      marks,
      tlsFor: (h, p) => this.tlsFor(h, p),
      onread: reader?.onread,
      sessions: this.sessions,
    });
    if (h2c || (o.https && (socket as { alpnProtocol?: string | false }).alpnProtocol === 'h2')) {
      const session = new H2Session(socket, {
        key,
        authority: `${o.https ? 'https' : 'http'}://${hostPort(o.host, o.port)}`,
        opts: this.h2,
        idleConnTimeout: this.idleConnTimeout,
        owner: this.sessionOwner,
        maxHeaderListSize: this.maxResponseHeaderBytes,
        hint: this.originHint(key),
      });
      session.dialMarks = marks;
      return session;
    }
    const conn = new Connection(key, socket, this.owner, this.maxResponseHeaderBytes, reader);
    conn.dialMarks = marks;
    return conn;
  }


  /**
   * Pool keys of direct connections without TLS options or with the transport's own `tls`
   * object (the same for every https origin: no function to ask), made once per origin.
   */
  private readonly plainKeys = new Map<string, string>();

  private plainKey(t: UrlTarget, tlsOpts: tls.ConnectionOptions | undefined, tlsKey: string): string {
    const origin = `${t.https ? 's' : ''}${t.host}:${t.port}|${tlsKey}`;
    let key = this.plainKeys.get(origin);
    if (key === undefined) {
      key = poolKey(t.https, t.host, t.port, undefined, tlsOpts);
      if (this.plainKeys.size < 1024) this.plainKeys.set(origin, key);
    }
    return key;
  }

  /**
   * The pool key of a direct connection to `t`, kept on the target. The transport's own
   * `tls` object is keyed again when its values changed since (tlsOptionsKey compares
   * them), so a connection made under the old values is not handed out for the new ones.
   */
  private directKey(t: UrlTarget, tlsOpts: tls.ConnectionOptions | undefined): string {
    const tlsKey = tlsOpts === undefined ? '' : tlsOptionsKey(tlsOpts);
    if (t.directKey === undefined || t.directTlsKey !== tlsKey) {
      t.directKey = this.plainKey(t, tlsOpts, tlsKey);
      t.directTlsKey = tlsKey;
    }
    return t.directKey;
  }

  /** The Unix socket path for `url`, if any (the function form is asked per request). */
  private socketPathFor(url: URL): string | undefined {
    const option = this.socketPath;
    if (option === undefined || typeof option === 'string') return option;
    const path = option(url);
    return path === undefined || path === null ? undefined : checkSocketPath('socketPath(url)', path);
  }

  private tlsFor(host: string, port: number): tls.ConnectionOptions | undefined {
    const t = this.tlsOption;
    if (t === undefined) return undefined;
    return typeof t === 'function' ? t(host, port) : t;
  }

  private idleTimeoutOf(conn: AnyConn): number {
    let ms = this.idleConnTimeout;
    if (conn instanceof Connection && conn.keepAliveHint > 0) {
      const hint = conn.keepAliveHint * 1000;
      ms = Math.min(ms, hint - Math.min(DEFAULTS.keepAliveHintMargin, hint / 4));
    }
    return ms;
  }

  /**
   * The stale-connection retry (SPEC §4): decided from the facts the failed exchange's
   * error carries (nothing written, no response byte), not from the connection.
   */
  private mayRetryStale(err: unknown, at: Attempt, h2 = false): boolean {
    if (!(err instanceof ProtocolError) || err.reason !== 'connection-closed') return false;
    // An HTTP/2 stream reports `connection-closed` only before its response head (h2/close.ts).
    const facts = h2 ? { requestWritten: err.requestSent === true, responseStarted: false } : exchangeFacts(err);
    if (facts === undefined || facts.responseStarted) return false;
    // A stream was handed to the failed attempt (and destroyed): only a factory can replay it.
    const replayable = at.source === undefined || at.source.replayable;
    if (at.body.kind === 'stream' && !replayable) return false;
    if (!facts.requestWritten) return true;
    return replayable && (REPLAYABLE_METHODS.has(at.method) || hasIdempotencyKey(at.headers));
  }
}

/** ALPN offered when HTTP/2 is allowed: `h2` first, as Go and curl. */
const H2_ALPN: readonly string[] = Object.freeze(['h2', 'http/1.1']);

/** Go-style readable pool key: `https://host:port` plus proxy, TLS identity and socket path. */
export function poolKey(
  https: boolean,
  host: string,
  port: number,
  proxy: URL | undefined,
  tlsOpts: tls.ConnectionOptions | undefined,
  socketPath?: string,
): string {
  let key = `${https ? 'https' : 'http'}://${hostPort(host, port)}`;
  if (socketPath !== undefined) key += `|unix=${socketPath}`;
  if (proxy !== undefined) key += `|proxy=${proxyIdentity(proxy)}`;
  if (tlsOpts !== undefined) key += `|tls=${tlsOptionsKey(tlsOpts)}`;
  return key;
}

