/**
 * conn — one persistent HTTP/1.1 connection (Go's persistConn).
 *
 * Owns: one socket, its response parser, its phase clock, and at most one exchange
 * (request + response) at a time. It writes the request, reads the response into a
 * {@link Response}, enforces the write, write-idle, response-header, read-idle and
 * min-throughput timeouts and the request's budget at every phase, and decides
 * whether it can be reused. While it holds a request it alone reports that request's
 * phase (`write`, `response-headers`, `body`) and whether any of it was sent (its
 * `phase`/`requestSent` as the budget's holder), and a failed exchange's error carries
 * those facts ({@link exchangeFacts}: what the transport's stale retry decides on).
 * It never dials, never retries, never follows redirects: it reports to its
 * {@link ConnOwner} (the pool) when it is free again or dead.
 *
 * States: 'idle' (no exchange; any byte or EOF from the peer kills it), 'active'
 * (exchange in flight, from `roundTrip` until the body settles), 'closed'.
 *
 * Invariants: per-exchange fields are set only while state is 'active'; every clock
 * slot is cleared when its phase ends (both write clocks stop at the final response
 * head, SPEC §11); while the client waits for `100 Continue` the response clocks run;
 * a socket event handler is attached once per
 * connection, never per request; a connection whose request body was not fully sent,
 * whose response had surplus bytes, or whose body was neither received whole nor read to
 * the end is never reused. A body received whole releases the connection before the
 * caller reads it (SPEC §11); the connection never holds a Response, only its body
 * channel, and a Response collected with its body unread destroys that body.
 */

import type { Socket } from 'node:net';
import { type Budget, type Cancelable, EXCHANGE_SLOT, EXCHANGE_SLOT_PHASE, EXCHANGE_SLOTS, now, PhaseClock } from '../deadline.js';
import {
  type ActivePhase,
  HourglassError,
  ProtocolError,
  TimeoutError,
} from '../errors.js';
import { headersObject, joinedFields, type ParserEvents, type ResponseHead, ResponseParser } from '../http1/index.js';
import type { MinThroughput, TransportTimeouts } from '../options.js';
import { Response } from '../response.js';
import type { Timings } from '../timings.js';
import { channels, connectionInfo, type ConnectionInfo, emit, type TraceHooks } from '../trace.js';
import { isDecodable } from '../decompress.js';
import { BodyChannel, type BodyProducer, watchUnread } from './body.js';
import { isSourceFault } from './body-error.js';
import type { ReadSink, SocketReader } from './read-buffer.js';
import { judgeExpiry } from './expiry.js';
import { ThroughputMeter } from './throughput.js';
import { connectionState, endWire, type WireRequest, wireHeaders } from '../wire.js';
import { adoptCallerContext, ExchangeScope } from './async-context.js';
import { atTurnEnd, type TurnEnd } from './turn.js';
import { RequestWriter, type WritableBody } from './writer.js';

/** How far an exchange got before it failed (carried by its error, see {@link exchangeFacts}). */
export interface ExchangeFacts {
  /** Any byte of the request reached the socket. */
  readonly requestWritten: boolean;
  /** Any byte of the response arrived. */
  readonly responseStarted: boolean;
}

const EXCHANGE_FACTS = Symbol('hourglass.exchangeFacts');

/** The facts a connection stamped on the error that failed its exchange, if any. */
export function exchangeFacts(err: unknown): ExchangeFacts | undefined {
  return typeof err === 'object' && err !== null ? (err as { [EXCHANGE_FACTS]?: ExchangeFacts })[EXCHANGE_FACTS] : undefined;
}

/** The pool side of a connection. */
export interface ConnOwner {
  /** The exchange finished and the connection may be reused. */
  connReleased(conn: Connection): void;
  /** The connection closed (for any reason); it must leave every list. */
  connClosed(conn: Connection): void;
}

/** What the transport hands a connection for one exchange. */
export interface ConnRequest {
  method: string;
  /** Request-target: origin-form path, or absolute-form through a proxy. */
  target: string;
  /** Final header list, flat `[name, value, ...]` (Host included). */
  headers: string[];
  body: WritableBody;
  /** Whether the headers carry `Expect: 100-continue`. */
  expectContinue: boolean;
  /** URL for errors and the response. */
  url: string;
  timeouts: TransportTimeouts;
  budget: Budget;
  trace: TraceHooks | undefined;
  timings: Timings;
  /** Body size cap (Infinity for none); enforced here unless the body will be decoded. */
  maxResponseBytes: number;
  /** The transport decodes supported Content-Encodings (then the cap applies to decoded bytes there). */
  decodes: boolean;
  /** Close the connection after this exchange (we sent `Connection: close`). */
  closeAfter: boolean;
  /** Set only while `wire:*` has subscribers: the body's end is published for it (src/wire.ts). */
  wire?: WireRequest | undefined;
}

/**
 * Body pieces smaller than this (the chunks of a chunked body, mostly) are gathered per
 * socket read and handed to the body together; larger ones go as they come.
 */
const GATHER_MAX = 4 * 1024;

const { WRITE, HEADERS, READ_IDLE, RATE, CONTINUE, WRITE_IDLE } = EXCHANGE_SLOT;
const SLOTS = EXCHANGE_SLOTS;
const SLOT_PHASE = EXCHANGE_SLOT_PHASE;


type State = 'idle' | 'active' | 'closed';

/** One persistent HTTP/1.1 connection. */
export class Connection implements ParserEvents, BodyProducer, ReadSink, Cancelable, TurnEnd {
  readonly key: string;
  readonly socket: Socket;
  state: State = 'idle';
  /** The async context of the current exchange (see async-context.ts). */
  private scope: ExchangeScope | undefined;
  /** Requests served so far (a request on a connection with served > 0 is on a reused one). */
  served = 0;
  /** Monotonic ms when the connection last became idle. */
  idleSince = 0;
  /** Monotonic ms after which the idle connection must not be reused (Infinity = no limit). */
  idleDeadline = Number.POSITIVE_INFINITY;
  /** Server's `Keep-Alive: timeout=` hint from the last response, in seconds (-1 none). */
  keepAliveHint = -1;
  /** Set when the connection must close after the current exchange. */
  private mustClose = false;
  /**
   * The connection went idle in this turn and its socket is still ref'd: `turnEnd`
   * unrefs it unless a request took the connection first (then nothing to undo).
   */
  private unrefDue = false;
  /** Queued with {@link atTurnEnd} in this turn (at most once). */
  private turnQueued = false;
  private owner: ConnOwner | undefined;

  private readonly parser: ResponseParser;
  private readonly clock: PhaseClock;
  private readonly writer: RequestWriter;

  // Per-exchange state: valid only while state === 'active'.
  private req: ConnRequest | undefined;
  /** The body of the current response (set once its head arrived). Never the Response:
   * a Response the caller dropped must be collectable (SPEC §11). */
  private channel: BodyChannel | undefined;
  /** A Response made during the chunk being parsed, until it is known whether its body
   * arrived whole (else it is watched for being collected unread). */
  private fresh: Response | undefined;
  private resolveHead: ((res: Response) => void) | undefined;
  private rejectHead: ((err: Error) => void) | undefined;
  private phaseStart = 0;
  /** Any request byte reached the socket (for errors and the retry decision). */
  private requestWritten = false;
  /** The phase of the current exchange, which the request's budget reports while this holds it. */
  private reqPhase: ActivePhase = 'write';
  /** Any response byte arrived for the current exchange (for the retry decision). */
  private responseStarted = false;
  private responseComplete = false;
  private bodyBytes = 0;
  /** Cap on raw body bytes for the current response. */
  private rawLimit = Number.POSITIVE_INFINITY;
  private readonly meter = new ThroughputMeter();
  /** The head was parsed; the throughput clock starts once this chunk has been. */
  private ratePending = false;
  private waitingContinue = false;
  /** Write-idle clock: monotonic ms of the last known flush progress of the request. */
  private flushedAt = 0;
  /** Write-idle clock: `writer.unflushed()` when last looked at (-1: not since the last progress). */
  private unflushedSeen = -1;
  private failed: Error | undefined;
  /** Whether the chunk being parsed may be kept (false: a view of a reused read buffer). */
  private chunkOwned = true;
  /**
   * Small body pieces of the socket read being parsed (views of its buffer), handed to the
   * body together when the parser is done with the read ({@link flushPieces}).
   */
  private readonly pieces: Buffer[] = [];
  private piecesBytes = 0;

  /** Epoch-ms marks of the dial that made this connection, for its first request's timings. */
  dialMarks:
    | { start: number; lookup: number | undefined; connect: number | undefined; secureConnect: number | undefined }
    | undefined;
  /** Key and addresses, captured when the connection was made. */
  private readonly info: ConnectionInfo;
  /** @internal — owned by the pool. */
  poolState: 'idle' | 'active' | undefined;

  /**
   * `reader` is the socket's `onread` policy when it was dialed with one (plain TCP);
   * otherwise bytes come from 'data' events (TLS), every chunk owned.
   */
  constructor(
    key: string,
    socket: Socket,
    owner: ConnOwner | undefined,
    maxHeaderBytes?: number,
    reader?: SocketReader,
  ) {
    this.key = key;
    this.socket = socket;
    this.owner = owner;
    this.info = connectionInfo(key, socket);
    this.parser = new ResponseParser(this, { maxHeaderBytes });
    this.clock = new PhaseClock(SLOTS, (slot) => this.onClock(slot));
    this.writer = new RequestWriter(socket, this);
    // A socket dialed with `onread` never emits 'data'; one from a custom Dialer that did
    // not honour `onread` only does: listening to both covers either.
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk, true));
    if (reader !== undefined) {
      reader.bind(this);
      // The server spoke before we asked: those bytes are lost, so the connection is unusable.
      if (reader.early) socket.destroy();
    }
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.onSocketError(err));
    socket.on('close', () => this.onSocketClose());
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ connection: this.describe() });
  }

  /** Whether this idle connection can carry a new request right now. */
  isUsable(): boolean {
    const s = this.socket;
    return this.state === 'idle' && !s.destroyed && s.readable && s.writable && !s.readableEnded;
  }

  /** Sends one request and resolves with the response head (body streaming). */
  roundTrip(req: ConnRequest): Promise<Response> {
    if (this.state !== 'idle') return Promise.reject(new Error(`connection is ${this.state}`));
    this.state = 'active';
    this.req = req;
    this.requestWritten = false;
    this.responseStarted = false;
    this.responseComplete = false;
    this.failed = undefined;
    this.bodyBytes = 0;
    if (req.closeAfter) this.mustClose = true;
    // Idle since this turn only: the socket was never unref'd.
    if (this.unrefDue) this.unrefDue = false;
    else this.socket.ref();
    // The socket's callbacks now belong to this request (it may have been dialed, or last
    // used, under another caller's trace).
    adoptCallerContext(this.socket);
    this.writer.scope = this.scope = new ExchangeScope();
    this.parser.expect(req.method === 'HEAD');
    const p = new Promise<Response>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.reqPhase = 'write';
    connectionState(this.info, true);
    req.budget.hold(this);
    if (this.failed === undefined) this.startWrite(req);
    return p;
  }

  /** Cancelable: the phase of the exchange this connection holds (its own word, not the budget's). */
  get phase(): ActivePhase {
    return this.reqPhase;
  }

  /** Cancelable: whether any byte of the current request reached the socket. */
  get requestSent(): boolean {
    return this.requestWritten;
  }

  /** Budget failure (overall timeout or abort): fail the exchange, close the socket. */
  cancel(err: HourglassError): void {
    // An abort from another caller's code, or the budgets' shared timer: fail in this
    // request's async context, as its socket callbacks run.
    const scope = this.scope;
    if (scope === undefined) this.fail(err);
    else scope.runInAsyncScope(this.fail, this, err);
  }

  /** Closes the connection now. */
  close(): void {
    if (this.state === 'closed') return;
    this.writer.abandonBody();
    this.socket.destroy();
    this.markClosed();
  }

  /** Local address of the socket (for trace hooks; nothing above conn touches the socket). */
  get localAddress(): string | undefined {
    return this.info.localAddress;
  }

  /** Remote address of the socket. */
  get remoteAddress(): string | undefined {
    return this.info.remoteAddress;
  }

  /** The `connection` of diagnostics messages: addresses as of connect, so still there after close. */
  describe(): ConnectionInfo {
    return this.info;
  }

  // --- writing -------------------------------------------------------------

  private startWrite(req: ConnRequest): void {
    const t = now();
    this.phaseStart = t;
    this.clock.after(WRITE, req.timeouts.writeTimeout, t);
    this.startWriteIdle(req, t);
    this.waitingContinue = req.expectContinue && req.body.kind !== 'none';
    let head: string;
    try {
      head = this.writer.start(req.method, req.target, req.headers, req.body, this.waitingContinue);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (req.trace !== undefined) emit(req.trace, 'wroteHeaders', { head });
    if (this.waitingContinue) {
      emit(req.trace, 'wait100Continue');
      const ect = req.timeouts.expectContinueTimeout;
      if (ect === 0) {
        this.sendContinueBody();
        return;
      }
      // SPEC §11: while we wait for the server's answer, the response clocks run, so an
      // infinite expectContinueTimeout cannot make a request hang. Nothing is being
      // written meanwhile: the write-idle clock rests until the body is sent.
      this.clock.unset(WRITE_IDLE);
      this.clock.after(HEADERS, req.timeouts.responseHeaderTimeout, t);
      this.clock.after(READ_IDLE, req.timeouts.readIdleTimeout, t);
      this.reqPhase = 'response-headers';
      this.clock.after(CONTINUE, ect);
    }
  }

  /** (Re)starts the write-idle clock: bytes of the request are on their way from `t`. */
  private startWriteIdle(req: ConnRequest, t: number): void {
    this.flushedAt = t;
    this.unflushedSeen = -1;
    this.clock.after(WRITE_IDLE, req.timeouts.writeIdleTimeout, t);
  }

  /** Writer callback: some request bytes reached the socket. */
  onBytesWritten(): void {
    if (this.requestWritten || this.req === undefined) return;
    this.requestWritten = true;
  }

  /** Writer callback: a body piece goes to a socket that took everything before it: the write-idle clock starts now. */
  onWriteStart(): void {
    const req = this.req;
    if (req === undefined || this.channel !== undefined || this.clock.dueAt(WRITE_IDLE) === Number.POSITIVE_INFINITY) return;
    this.startWriteIdle(req, now());
  }

  /**
   * Writer callback: a write left bytes waiting. Look again
   * soon: a shrinking count is progress inside that write (see `writeStalled`).
   */
  onWriteWait(): void {
    const req = this.req;
    if (req === undefined || this.channel !== undefined || this.clock.dueAt(WRITE_IDLE) === Number.POSITIVE_INFINITY) return;
    const limit = req.timeouts.writeIdleTimeout;
    this.unflushedSeen = -1;
    this.clock.set(WRITE_IDLE, Math.min(this.flushedAt + limit, now() + limit / 8));
  }

  /** Writer callback: waiting request bytes were flushed: the write-idle clock restarts. */
  onWriteProgress(): void {
    const req = this.req;
    if (req === undefined || this.channel !== undefined || this.clock.dueAt(WRITE_IDLE) === Number.POSITIVE_INFINITY) return;
    const t = now();
    this.flushedAt = t;
    this.unflushedSeen = -1;
    this.clock.set(WRITE_IDLE, t + req.timeouts.writeIdleTimeout);
  }

  /** Writer callback: the whole request was flushed (or failed). */
  onWriteDone(err: Error | undefined): void {
    const req = this.req;
    if (req === undefined || this.state !== 'active') return;
    this.clock.unset(WRITE);
    this.clock.unset(WRITE_IDLE);
    emit(req.trace, 'wroteRequest', { error: err });
    if (err !== undefined) {
      // A response may already be here (an early 401 while we uploaded): prefer it to a
      // broken write — not to the caller's own body failing, which fails the body read
      // (SPEC error table; twelfth attack F1: the response was delivered as if whole).
      this.mustClose = true;
      if (this.channel !== undefined) {
        if (isSourceFault(err)) req.budget.abort(err.withRequest(req.method, req.url));
        return;
      }
      this.fail(err instanceof HourglassError ? err.withRequest(req.method, req.url) : this.deathError(err));
      return;
    }
    req.timings.upload = Date.now();
    if (this.channel !== undefined) return; // early response: headers already in
    this.reqPhase = 'response-headers';
    const t = now();
    this.phaseStart = t;
    this.clock.after(HEADERS, req.timeouts.responseHeaderTimeout, t);
    this.clock.after(READ_IDLE, req.timeouts.readIdleTimeout, t);
  }

  private sendContinueBody(): void {
    if (!this.waitingContinue) return;
    this.waitingContinue = false;
    this.clock.unset(CONTINUE);
    const req = this.req!;
    // The body goes now: the response clocks wait for its end (onWriteDone), the
    // write-idle clock watches it.
    this.clock.unset(HEADERS);
    this.clock.unset(READ_IDLE);
    this.reqPhase = 'write';
    this.startWriteIdle(req, now());
    this.writer.sendBody();
  }

  // --- reading -------------------------------------------------------------

  /** Whether the next reads should land in memory a body consumer may keep (a large body). */
  get wantsOwnedChunks(): boolean {
    return this.channel !== undefined && !this.responseComplete && this.channel.wantsOwnedChunks;
  }

  /** Bytes from the socket; `owned` false: a view valid only during this call. */
  onSocketData(chunk: Buffer, owned: boolean): boolean {
    const req = this.req;
    if (req === undefined || this.state !== 'active' || this.responseComplete) {
      // Bytes on an idle connection, or after a complete response: never ours to parse.
      this.mustClose = true;
      if (this.state === 'idle') this.close();
      return true;
    }
    if (!this.responseStarted) {
      this.responseStarted = true;
      req.timings.response = Date.now();
      emit(req.trace, 'gotFirstResponseByte');
    }
    const t = now();
    if (this.clock.dueAt(READ_IDLE) !== Number.POSITIVE_INFINITY) this.clock.set(READ_IDLE, t + req.timeouts.readIdleTimeout);
    let used: number;
    this.chunkOwned = owned;
    try {
      used = this.parser.execute(chunk);
    } catch (err) {
      this.fresh = undefined;
      // What arrived before the fault is the body's, as it would have been piece by piece.
      if (this.pieces.length > 0) this.flushPieces();
      this.fail(err as Error);
      return true;
    }
    // The read's pieces go to the body before it may end (deliverEnd) and before the
    // buffer they view is read into again.
    if (this.pieces.length > 0) this.flushPieces();
    const fresh = this.fresh;
    this.fresh = undefined;
    // Ending the body may release the connection (and clear `channel`): keep it.
    const channel = this.channel;
    if (used < chunk.length) this.mustClose = true; // surplus after a complete response
    if (this.responseComplete) this.deliverEnd();
    else if (this.ratePending) {
      this.ratePending = false;
      this.startRate(req.timeouts.minThroughput);
    }
    // A body not settled by now (not whole, or over 64 KiB) may be left unread: watch its
    // Response. A whole small body settled above costs no FinalizationRegistry cell (GC).
    if (fresh !== undefined && channel !== undefined && !channel.isDone) watchUnread(fresh, channel);
    return true;
  }

  onInterim(head: ResponseHead): void {
    const req = this.req!;
    if (head.status === 100) emit(req.trace, 'got100Continue');
    emit(req.trace, 'got1xxResponse', { status: head.status, headers: headersObject(head.rawHeaders, head.headerNames) });
    if (head.status === 100) this.sendContinueBody();
  }

  onHead(head: ResponseHead): void {
    const req = this.req!;
    this.clock.unset(HEADERS);
    // SPEC §11: the final head stops both write clocks; an early response (413 during an
    // upload) is delivered, and the connection is not reused (below).
    this.clock.unset(WRITE);
    this.clock.unset(WRITE_IDLE);
    if (this.waitingContinue) {
      // Final answer before we sent the body: the body is never sent on this socket.
      this.waitingContinue = false;
      this.clock.unset(CONTINUE);
      this.mustClose = true;
      this.writer.abandonBody();
    }
    if (!this.writer.done) {
      // The whole request is queued and only its flush callback is late (TLS): it was
      // written; the connection stays reusable. A request not all handed over is not.
      if (this.writer.settleQueued()) {
        req.timings.upload = Date.now();
        emit(req.trace, 'wroteRequest', { error: undefined });
      } else this.mustClose = true;
    }
    // `Keep-Alive: timeout=0`: the server closes an idle connection at once; not reusable.
    if (!head.keepAlive || head.keepAliveTimeout === 0) this.mustClose = true;
    this.keepAliveHint = head.keepAliveTimeout;
    const headers = headersObject(head.rawHeaders, head.headerNames);
    this.rawLimit =
      req.decodes && isDecodable(headers['content-encoding']) ? Number.POSITIVE_INFINITY : req.maxResponseBytes;
    const channel = new BodyChannel(this, head.framing === 'length' ? head.contentLength : -1);
    this.channel = channel;
    const res = new Response(
      {
        status: head.status,
        statusText: head.statusText,
        httpVersion: head.httpVersion,
        headers,
        rawHeaders: head.rawHeaders,
        url: req.url,
        method: req.method,
        reused: this.served > 0,
        timings: req.timings,
      },
      channel,
    );
    this.fresh = res;
    if (req.wire !== undefined) wireHeaders(req.wire, res);
    this.reqPhase = 'body';
    // The throughput clock starts after this chunk is parsed, and only if the body did
    // not end within it (most small responses never arm it).
    this.ratePending = head.framing !== 'none' && req.timeouts.minThroughput !== undefined;
    const resolve = this.resolveHead!;
    this.resolveHead = this.rejectHead = undefined;
    resolve(res);
  }

  onBody(chunk: Buffer): void {
    const req = this.req!;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.rawLimit) {
      this.fail(
        new ProtocolError('body-too-large', `response body exceeds maxResponseBytes (${this.rawLimit})`, {
          method: req.method,
          url: req.url,
        }),
      );
      return;
    }
    if (chunk.length < GATHER_MAX) {
      this.pieces.push(chunk);
      this.piecesBytes += chunk.length;
      return;
    }
    if (this.pieces.length > 0) this.flushPieces();
    if (!this.channel!.push(chunk, this.chunkOwned)) this.pauseReading();
  }

  /** Hands the gathered pieces of this read to the body (one chunk when there are several). */
  private flushPieces(): void {
    const pieces = this.pieces;
    const ch = this.channel;
    const more =
      ch === undefined ||
      (pieces.length === 1 ? ch.push(pieces[0]!, this.chunkOwned) : ch.pushPieces(pieces, this.piecesBytes, this.chunkOwned));
    pieces.length = 0;
    this.piecesBytes = 0;
    if (!more) this.pauseReading();
  }

  onTrailers(raw: string[]): void {
    joinedFields(raw, this.channel!.trailers);
  }

  onComplete(): void {
    // Only flags here: ending the body may release the connection, which must not happen
    // while the parser is still inside execute(). `deliverEnd` runs once execute returns.
    this.responseComplete = true;
    this.clock.clear();
  }

  /**
   * Ends the body after the parser completed. A body not being read settles at once (it
   * is all in memory): the connection is released before the caller reads it (SPEC §11).
   */
  private deliverEnd(): void {
    const ch = this.channel;
    if (ch === undefined || ch.ended) return;
    if (this.socket.isPaused()) this.socket.resume();
    ch.end();
  }

  // --- body consumer (BodyProducer) -----------------------------------------

  onDemand(): void {
    if (this.state !== 'active' || this.responseComplete) return;
    const req = this.req!;
    // The consumer waits for bytes from now on: the read-idle clock restarts (a number
    // write unless the timer is not armed). The throughput window restarts after a pause.
    this.clock.after(READ_IDLE, req.timeouts.readIdleTimeout);
    if (this.socket.isPaused()) {
      this.socket.resume();
      if (req.timeouts.minThroughput !== undefined) this.startRate(req.timeouts.minThroughput);
    }
  }

  onSettled(complete: boolean, err: Error | undefined): void {
    const req = this.req;
    if (req !== undefined) req.budget.release(this);
    if (req?.wire !== undefined) endWire(req.wire, req.timings, complete, err);
    if (this.state !== 'active') return;
    if (complete && this.responseComplete && !this.mustClose && this.failed === undefined) {
      emit(req?.trace, 'putIdleConn', { error: undefined });
      this.finishExchange();
      this.state = 'idle';
      this.idleSince = now();
      // An idle connection does not keep the process alive, from the end of this turn on:
      // most are taken again before then (keep-alive under load), and pay no unref/ref.
      this.unrefDue = true;
      if (!this.turnQueued) {
        this.turnQueued = true;
        atTurnEnd(this);
      }
      connectionState(this.info, false);
      this.owner?.connReleased(this);
    } else {
      this.close();
    }
  }

  private pauseReading(): void {
    // SPEC §11: read-idle (and throughput) pause while the caller is not consuming; the
    // idle clock is left to expire harmlessly (onClock checks `starving`).
    this.socket.pause();
    this.clock.unset(RATE);
  }

  // --- throughput guard -------------------------------------------------------

  private startRate(mt: MinThroughput | undefined): void {
    if (mt === undefined) return;
    this.clock.set(RATE, this.meter.begin(this.bodyBytes, mt));
  }

  // --- clocks ------------------------------------------------------------------

  private onClock(slot: number): void {
    const req = this.req;
    if (req === undefined || this.state !== 'active') return;
    if (slot === CONTINUE) {
      this.scope!.runInAsyncScope(this.sendContinueBody, this);
      return;
    }
    const t = req.timeouts;
    const expiry = judgeExpiry(slot, {
      timeouts: t,
      clock: this.clock,
      meter: this.meter,
      bodyBytes: this.bodyBytes,
      phaseStart: this.phaseStart,
      channel: this.channel,
      writeIdle: () => (this.writeStalled(t.writeIdleTimeout) ? now() - this.flushedAt : undefined),
    });
    if (expiry === undefined) return;
    const { timeout, elapsed } = expiry;
    // The clock's timer belongs to whichever request armed it first: fail in this one's context.
    this.scope!.runInAsyncScope(
      this.fail,
      this,
      new TimeoutError({
        phase: SLOT_PHASE[slot]!,
        timeout,
        elapsed,
        requestSent: this.requestWritten,
        method: req.method,
        url: req.url,
      }),
    );
  }

  /**
   * The write-idle slot came due: true when no byte of the request was flushed for
   * `limit` ms, else re-arms. A 'drain' marks a flush exactly; inside one large write,
   * flushes show only as a shrinking `unflushed()` count, looked at every limit/8 while
   * it shrinks, so a stall is seen at most limit/8 late and never early. Nothing
   * waiting to be flushed (the body source is slow, not the peer) is not a stall.
   */
  private writeStalled(limit: number): boolean {
    const t = now();
    const pending = this.writer.unflushed(true);
    if (pending === 0) {
      this.flushedAt = t;
      this.unflushedSeen = -1;
      this.clock.set(WRITE_IDLE, t + limit);
      return false;
    }
    if (pending !== this.unflushedSeen) {
      // Progress since the last look; or the first look since a flush, which cannot tell.
      if (this.unflushedSeen !== -1) this.flushedAt = t;
      this.unflushedSeen = pending;
      this.clock.set(WRITE_IDLE, t + limit / 8);
      return false;
    }
    if (t + 1 >= this.flushedAt + limit) return true;
    this.clock.set(WRITE_IDLE, this.flushedAt + limit);
    return false;
  }

  // --- socket events -------------------------------------------------------------

  private onEnd(): void {
    if (this.state !== 'active' || this.req === undefined) {
      this.close();
      return;
    }
    try {
      this.parser.finish();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.mustClose = true;
    if (!this.responseComplete) this.fail(this.deathError(undefined));
    else this.deliverEnd();
  }

  private onSocketError(err: Error): void {
    if (this.state === 'active') this.fail(this.deathError(err));
    else this.close();
  }

  private onSocketClose(): void {
    if (this.state === 'active' && !this.responseComplete) this.fail(this.deathError(undefined));
    this.markClosed();
  }

  /** The error for a connection that died mid-exchange. */
  private deathError(cause: Error | undefined): ProtocolError {
    const req = this.req;
    const ctx = { method: req?.method, url: req?.url, cause, requestSent: this.requestWritten };
    if (this.channel === undefined) {
      return new ProtocolError('connection-closed', 'connection closed before the response head', ctx);
    }
    return new ProtocolError('truncated-body', 'connection closed before the response body ended', ctx);
  }

  // --- failure and teardown ----------------------------------------------------------

  /** Fails the current exchange with `err` and closes the connection. */
  private fail(err: Error): void {
    if (this.failed !== undefined || this.state !== 'active') return;
    const req = this.req!;
    if (err instanceof HourglassError) err.withRequest(req.method, req.url);
    this.failed = err;
    this.clock.clear();
    this.writer.abandonBody();
    const reject = this.rejectHead;
    this.resolveHead = this.rejectHead = undefined;
    this.socket.destroy();
    // What the exchange got to travels with its error (Go's nothingWrittenError): the
    // transport's stale-connection retry reads it there, never this connection's fields.
    (err as Error & { [EXCHANGE_FACTS]?: ExchangeFacts })[EXCHANGE_FACTS] = {
      requestWritten: this.requestWritten,
      responseStarted: this.responseStarted,
    };
    if (reject !== undefined) {
      req.budget.release(this);
      reject(err);
    } else {
      this.channel?.fail(err);
    }
    this.markClosed();
  }

  private finishExchange(): void {
    this.served++;
    this.req = undefined;
    this.channel = undefined;
    this.clock.clear();
  }

  /** End of the turn the connection went idle in: unref its socket if still idle. */
  turnEnd(): void {
    this.turnQueued = false;
    if (!this.unrefDue) return;
    this.unrefDue = false;
    if (this.state === 'idle') this.socket.unref();
  }

  private markClosed(): void {
    if (this.state === 'closed') return;
    const wasActive = this.state === 'active';
    this.state = 'closed';
    this.clock.dispose();
    if (wasActive && this.channel !== undefined && !this.channel.isDone && !this.responseComplete) {
      this.channel.fail(this.failed ?? this.deathError(undefined));
    }
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ connection: this.describe() });
    const owner = this.owner;
    this.owner = undefined;
    owner?.connClosed(this);
  }
}

