/**
 * h2/stream — one request on one HTTP/2 stream (Go's clientStream).
 *
 * Owns: the stream's life from HEADERS to its close, and its per-stream waits (SPEC
 * §13): `writeTimeout` / `writeIdleTimeout` (flow-control waits count; a socket that
 * takes nothing fails the whole connection), `expectContinueTimeout`,
 * `responseHeaderTimeout`, `readIdleTimeout`, `minThroughput`, and the request's budget
 * (overall timeout, signal). A stream's timeout resets only that stream (RST_STREAM
 * CANCEL); a header or read-idle timeout also makes the connection suspect (PING now).
 * Response bodies honour backpressure: a paused body stops reading its stream, so its
 * receive window is not reopened. Holds the request's budget while in flight and reports
 * its phase and `requestSent` as the budget's holder. The stream holds the state, the
 * request side (HEADERS, the body's upload) and the settling; what its heads do
 * (h2/response.ts), its body's arrival and an early close (h2/delivery.ts) and its clocks'
 * expiries (h2/stream-clock.ts) are functions over it in modules of their own.
 *
 * Never: retries (the transport decides from the error), builds a Response itself
 * (h2/head.ts does), touches the socket.
 *
 * Invariants: the stream settles once — its head promise or its body fails with exactly
 * one error; a stream that was not processed by the peer (REFUSED_STREAM, or above a
 * GOAWAY's last-stream-id, before any response) fails with {@link unprocessed} set so the
 * transport may replay it; the session hears `ended` exactly once; every clock is cleared.
 */

import * as http2 from 'node:http2';
import { ExchangeScope } from '../conn/async-context.js';
import type { BodyChannel, BodyProducer } from '../conn/body.js';
import { isSourceFault } from '../conn/body-error.js';
import { requestHeadTooLarge } from './field-cap.js';
import { ThroughputMeter } from '../conn/throughput.js';
import type { WritableBody } from '../conn/writer.js';
import { type Budget, type Cancelable, EXCHANGE_SLOT, EXCHANGE_SLOTS, now, PhaseClock } from '../deadline.js';
import { type ActivePhase, HourglassError, ProtocolError } from '../errors.js';
import type { TransportTimeouts } from '../options.js';
import type { Response } from '../response.js';
import type { Timings } from '../timings.js';
import { emit, type TraceHooks } from '../trace.js';
import { endWire, type WireRequest } from '../wire.js';
import { unprocessedError } from './close.js';
import { facts, onClose, onData, onEnd } from './delivery.js';
import { headText, requestHeaders } from './head.js';
import { onHead, onInterim, onTrailers } from './response.js';
import type { H2Session, SessionStream } from './session.js';
import { onClock } from './stream-clock.js';
import { Upload, type UploadOwner, WriteIdleJudge } from './upload.js';

/** What the transport hands a session for one request. */
export interface H2Request {
  method: string;
  /** URL for errors and the response. */
  url: string;
  scheme: 'http' | 'https';
  authority: string;
  /** `:path` (origin-form). */
  path: string;
  /** The transport's flat header list (Host included); connection-specific fields are dropped. */
  headers: string[];
  body: WritableBody;
  expectContinue: boolean;
  timeouts: TransportTimeouts;
  budget: Budget;
  trace: TraceHooks | undefined;
  timings: Timings;
  maxResponseBytes: number;
  decodes: boolean;
  /** The session served a stream before this one (`Response.reused`, `gotConn.reused`). */
  reused: boolean;
  /**
   * Set only while `wire:*` has subscribers (src/wire.ts): the stream publishes
   * `wire:headers` and, when the body settles, `wire:end` / `wire:error`. A failure before
   * the head reaches the transport's `watchWire` instead.
   */
  wire?: WireRequest | undefined;
}

export { refusedAfterServing, unprocessed } from './close.js';

/** Set on a node stream whose peer's END_STREAM arrived while it was still open ({@link pushSpy}). */
const REMOTE_ENDED = Symbol('hourglass.remoteEnded');
/** The H2Stream a node stream serves: its listeners and {@link pushSpy} are shared functions that find it here. */
const OWNER = Symbol('hourglass.h2Stream');
type SpiedStream = http2.ClientHttp2Stream & { [REMOTE_ENDED]?: true; [OWNER]: H2Stream };
/** The streams' own `push` (Readable's), called by {@link pushSpy}. */
let protoPush: ((chunk: unknown, encoding?: BufferEncoding) => boolean) | undefined;

/**
 * Every stream's `push`, one function for all (a bound copy and a closure per stream cost
 * measurably, issue #16): an end pushed while the stream is still open is the peer's
 * END_STREAM, one pushed by node as the stream closes is not.
 */
function pushSpy(this: SpiedStream, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null) {
    if (!this.closed) {
      this[REMOTE_ENDED] = true;
      const more = protoPush!.call(this, chunk, encoding);
      drainEnded(this);
      return more;
    }
  } else {
    // What node handed on, against what nghttp2 counted: tells a surplus (see `dataMark`).
    this[OWNER].session.dataIn += (chunk as Buffer).length;
  }
  return protoPush!.call(this, chunk, encoding);
}

/**
 * The peer's END_STREAM came while the body waits for its reader (the stream paused, the
 * rest in node's buffer): the whole rest is here and no window is left to keep shut, so it
 * goes to the body channel now. Left in node's stream, an RST_STREAM(NO_ERROR) right after
 * it (RFC 9113 §8.1: "stop your upload") dropped it, and the body stalled until
 * readIdleTimeout (eleventh attack F1: 81 920 of 200 000 bytes).
 */
function drainEnded(s: SpiedStream): void {
  if (s[OWNER].channel === undefined || !s.isPaused()) return;
  // read() in paused mode emits 'data' (onData, which no longer pauses a remote-ended stream).
  while (s.readableLength > 0 && s.read() !== null);
}

// The stream's listeners: one function each for every stream, never a closure per stream
// (issue #16: seven closures per request showed in the h2 small-GET profile).
// Node passes each header block three ways: its object, the flags, the fields as received.
function onHeadersEvent(this: SpiedStream, h: http2.IncomingHttpHeaders, _flags: number, flat: string[]): void {
  onInterim(this[OWNER], h, flat);
}
function onContinueEvent(this: SpiedStream): void {
  this[OWNER].sendBody();
}
function onResponseEvent(this: SpiedStream, h: http2.IncomingHttpHeaders, _flags: number, flat: string[]): void {
  onHead(this[OWNER], h, flat);
}
function onDataEvent(this: SpiedStream, c: Buffer): void {
  onData(this[OWNER], c);
}
function onTrailersEvent(this: SpiedStream, _h: http2.IncomingHttpHeaders, _flags: number, flat: string[]): void {
  onTrailers(this[OWNER], flat);
}
function onEndEvent(this: SpiedStream): void {
  onEnd(this[OWNER]);
}
function onErrorEvent(this: SpiedStream, err: Error): void {
  this[OWNER].streamError ??= err;
}
function onCloseEvent(this: SpiedStream): void {
  // A stream closed by its session's failure closes in that session's callback (another
  // request's context): its end runs in this request's.
  const hs = this[OWNER];
  hs.scope.runInAsyncScope(hs.streamClosed, hs);
}

/** A Writable `_final` that does nothing: see {@link reset}. */
function skipFinal(this: unknown, done: () => void): void {
  done();
}

/**
 * Resets a stream (RST_STREAM `code`) and nothing else. Node's `close()` first ends the
 * writable side, and a request whose body has not gone out (a PUT waiting for 100 Continue,
 * an upload not begun) then sent DATA(END_STREAM, 0 bytes) ahead of the RST_STREAM: the
 * server saw a complete, empty request (issue #16 adv9). The stream is going away, so its
 * end is never written.
 */
function reset(s: http2.ClientHttp2Stream, code: number): void {
  if (!s.writableEnded) (s as unknown as { _final: typeof skipFinal })._final = skipFinal;
  s.close(code);
}

const { WRITE, HEADERS, READ_IDLE, RATE, CONTINUE, WRITE_IDLE } = EXCHANGE_SLOT;
const SLOTS = EXCHANGE_SLOTS;
const { NGHTTP2_CANCEL } = http2.constants;

/**
 * Sends `req` on `session`: `onHead` gets the response head (body streaming), or `onFail`
 * the request's error; exactly one of them is called, once. Callbacks rather than a
 * promise: the transport settles its own attempt from them, with no promise layer in
 * between (issue #16). `onHead` runs inside the stream's 'response' event; `onFail` may
 * run inside `sendOnStream` itself.
 */
export function sendOnStream(session: H2Session, req: H2Request, onHead: (res: Response) => void, onFail: (err: Error) => void): void {
  new H2Stream(session, req, onHead, onFail).start();
}

/**
 * One request on one stream. Exported only for the modules that hold functions over it
 * (h2/response.ts, h2/delivery.ts, h2/stream-clock.ts); its state is read and written only
 * by it and them: the transport goes through {@link sendOnStream}.
 */
export class H2Stream implements SessionStream, Cancelable, BodyProducer, UploadOwner {
  stream: http2.ClientHttp2Stream | undefined;
  readonly clock: PhaseClock;
  resolveHead: ((res: Response) => void) | undefined;
  rejectHead: ((err: Error) => void) | undefined;
  channel: BodyChannel | undefined;
  upload: Upload | undefined;
  sent = false;
  reqPhase: ActivePhase = 'write';
  headSeen = false;
  complete = false;
  failed: Error | undefined;
  /** The async context of the request (made in its call path, see conn/async-context.ts). */
  readonly scope: ExchangeScope;
  finished = false;
  bodyBytes = 0;
  rawLimit = Number.POSITIVE_INFINITY;
  phaseStart = 0;
  waitingContinue = false;
  private rateMeter: ThroughputMeter | undefined;
  /** The body's rate meter, made only for a request with `minThroughput`. */
  get meter(): ThroughputMeter {
    return (this.rateMeter ??= new ThroughputMeter());
  }
  streamError: Error | undefined;
  /** nghttp2 reset the stream itself with PROTOCOL_ERROR: the response was malformed. */
  selfReset = false;
  /** Node reset the stream itself with ENHANCE_YOUR_CALM before the head: too many fields. */
  tooManyFields = false;
  /**
   * At the head of a body with a content-length: the session's {@link H2Session.recvData}
   * and `dataIn` (-1: not taken). DATA nghttp2 counted but never handed on tells a body
   * longer than its content-length (nghttp2 drops it and resets the stream) from a short one.
   */
  recvMark = -1;
  dataMark = 0;
  /** SessionStream: set when a GOAWAY showed this stream was never processed. */
  aboveGoaway = false;
  /** Opened within the peer's advertised stream limit (see {@link H2Session.withinLimit}). */
  withinLimit = false;
  /** This stream counts in its session's `uploaders`. */
  private uploading = false;
  /**
   * The peer's END_STREAM arrived. Node ends the readable side on any stream close, RST_STREAM
   * (NO_ERROR) and a dead socket included: only an end pushed while the stream was still open
   * is the response's real end (SPEC §13).
   */
  get remoteEnded(): boolean {
    return (this.stream as SpiedStream | undefined)?.[REMOTE_ENDED] === true;
  }
  private parked = false;
  /** Interim (1xx) heads received so far. */
  interims = 0;
  private idleJudge: WriteIdleJudge | undefined;
  /** The upload's write-idle judgement, made only for a request with a body. */
  get judge(): WriteIdleJudge {
    return (this.idleJudge ??= new WriteIdleJudge(this.session));
  }

  constructor(
    readonly session: H2Session,
    readonly req: H2Request,
    onHead: (res: Response) => void,
    onFail: (err: Error) => void,
  ) {
    this.scope = new ExchangeScope();
    // The session's shared timer: no setTimeout of its own per stream (issue #16). Another
    // request armed it, so an expiry runs in this request's context explicitly.
    this.clock = new PhaseClock(SLOTS, (slot) => this.scope.runInAsyncScope(onClock, undefined, this, slot), session.streamTimer);
    this.resolveHead = onHead;
    this.rejectHead = onFail;
  }

  get id(): number {
    return this.stream?.id ?? 0;
  }

  /** Cancelable: the request's phase while this stream holds it. */
  get phase(): ActivePhase {
    return this.reqPhase;
  }

  /** Cancelable: whether the request's HEADERS went out. */
  get requestSent(): boolean {
    return this.sent;
  }

  start(): void {
    const req = this.req;
    req.budget.hold(this);
    if (this.failed !== undefined) return;
    let stream: http2.ClientHttp2Stream;
    let headers: http2.OutgoingHttpHeaders;
    const tooLarge = requestHeadTooLarge(req.headers, req.path);
    if (tooLarge !== undefined) {
      this.fail(tooLarge);
      return;
    }
    try {
      headers = requestHeaders(req.method, req.scheme, req.authority, req.path, req.headers);
      stream = this.session.session.request(headers, { endStream: req.body.kind === 'none' });
    } catch (err) {
      this.fail(
        new ProtocolError('h2-protocol-error', `could not open an HTTP/2 stream: ${(err as Error).message}`, {
          cause: err,
          requestSent: false,
        }),
      );
      return;
    }
    this.stream = stream;
    protoPush ??= stream.push;
    (stream as SpiedStream)[OWNER] = this;
    stream.push = pushSpy;
    this.withinLimit = this.session.withinLimit();
    this.session.opened(this);
    this.sent = true; // HEADERS are submitted: the peer may act on them
    if (req.trace !== undefined) emit(req.trace, 'wroteHeaders', { head: headText(headers) });
    // Seven listeners per stream ('continue' only when the request waits for a 100).
    stream.on('headers', onHeadersEvent);
    if (req.expectContinue) stream.on('continue', onContinueEvent);
    stream.on('response', onResponseEvent);
    stream.on('data', onDataEvent);
    stream.on('trailers', onTrailersEvent);
    stream.on('end', onEndEvent);
    stream.on('error', onErrorEvent);
    stream.on('close', onCloseEvent);
    const t = now();
    this.phaseStart = t;
    this.clock.after(WRITE, req.timeouts.writeTimeout, t);
    if (req.body.kind === 'none') {
      this.uploadDone(undefined);
      return;
    }
    this.upload = new Upload(stream, req.body, this, req.timeouts.writeIdleTimeout, this.session);
    this.waitingContinue = req.expectContinue;
    if (this.waitingContinue && req.timeouts.expectContinueTimeout !== 0) {
      emit(req.trace, 'wait100Continue');
      // While we wait for the answer the response clocks run (SPEC §11).
      this.clock.after(HEADERS, req.timeouts.responseHeaderTimeout, t);
      this.clock.after(READ_IDLE, req.timeouts.readIdleTimeout, t);
      this.reqPhase = 'response-headers';
      this.clock.after(CONTINUE, req.timeouts.expectContinueTimeout);
      return;
    }
    this.sendBody();
    return;
  }

  /** The budget failed (overall timeout, abort): reset only this stream. */
  cancel(err: HourglassError): void {
    // An abort from another caller's code, or the budgets' shared timer: fail in this
    // request's async context.
    this.scope.runInAsyncScope(this.fail, this, err);
  }

  /** No final response head yet, and not failed (the session's SessionStream). */
  get awaitingHead(): boolean {
    return !this.headSeen && this.failed === undefined && !this.finished;
  }

  /**
   * The connection failed as a whole. Called from the session's callbacks (another
   * request's context): the failure, its callbacks and a replay run in this request's.
   */
  connectionFailed(err: (requestSent: boolean) => Error): void {
    this.scope.runInAsyncScope(this.failConnection, this, err);
  }

  /** The node stream closed ({@link onCloseEvent}, in this request's async context). */
  streamClosed(): void {
    onClose(this);
    this.upload?.streamClosed(); // the upload's own 'close' listener, folded in
  }

  private failConnection(err: (requestSent: boolean) => Error): void {
    // A stream above a GOAWAY's last-stream-id was not processed: it may be replayed.
    this.fail(unprocessedError(this.session, facts(this)) ?? err(this.sent));
  }

  // --- request body ------------------------------------------------------------

  sendBody(): void {
    // Once: a 100 Continue after expectContinueTimeout sent the body does not send it again.
    if (this.upload === undefined || this.upload.started || this.failed !== undefined || this.headSeen && this.upload.done) return;
    if (this.waitingContinue) {
      this.waitingContinue = false;
      this.clock.unset(CONTINUE);
      this.clock.unset(HEADERS);
      this.clock.unset(READ_IDLE);
      this.reqPhase = 'write';
    }
    this.uploading = true;
    this.session.uploaders++;
    this.session.uploadsChanged();
    this.uploadProgress(true);
    this.upload.start();
  }

  uploadProgress(first = false): void {
    if (this.headSeen) return;
    const t = now();
    this.judge.progress(t, first);
    // The judge's first look is halfway (h2/upload.ts): a stall is named at the limit itself.
    this.clock.after(WRITE_IDLE, this.req.timeouts.writeIdleTimeout / 2, t);
  }

  private stopUploading(): void {
    if (!this.uploading) return;
    this.uploading = false;
    this.session.uploaders--;
    this.session.uploadsChanged();
  }

  uploadDone(err: Error | undefined): void {
    this.stopUploading();
    const req = this.req;
    this.clock.unset(WRITE);
    this.clock.unset(WRITE_IDLE);
    emit(req.trace, 'wroteRequest', { error: err });
    if (err !== undefined) {
      if (!this.headSeen) this.fail(err instanceof HourglassError ? err : new HourglassError(err.message, 'HG_REQUEST_BODY', { cause: err }));
      // After the head the caller's own body failing fails the body read with it (twelfth
      // attack F1: the reset alone read as the server's); a broken write just resets.
      else if (isSourceFault(err)) this.req.budget.abort(err);
      else if (this.stream !== undefined) reset(this.stream, NGHTTP2_CANCEL);
      return;
    }
    req.timings.upload = Date.now();
    if (this.headSeen) return;
    this.reqPhase = 'response-headers';
    const t = now();
    this.phaseStart = t;
    this.clock.after(HEADERS, req.timeouts.responseHeaderTimeout, t);
    this.clock.after(READ_IDLE, req.timeouts.readIdleTimeout, t);
  }

  // --- body consumer (BodyProducer) ----------------------------------------------------

  onDemand(): void {
    if (this.complete || this.failed !== undefined) return;
    this.clock.after(READ_IDLE, this.req.timeouts.readIdleTimeout);
    const s = this.stream;
    this.setParked(false);
    if (s !== undefined && s.isPaused()) {
      s.resume();
      const mt = this.req.timeouts.minThroughput;
      if (mt !== undefined) this.clock.set(RATE, this.meter.begin(this.bodyBytes, mt));
    }
  }

  onSettled(complete: boolean, err: Error | undefined): void {
    this.req.budget.release(this);
    if (this.req.wire !== undefined) endWire(this.req.wire, this.req.timings, complete, err);
    if (this.finished) return;
    this.clock.dispose();
    const s = this.stream;
    // An unread rest, or our upload still going after the response ended: reset the stream.
    if (s !== undefined && !s.closed && !s.destroyed && (!complete || !this.complete || this.upload?.done === false)) {
      this.upload?.abandon();
      this.stopUploading();
      reset(s, NGHTTP2_CANCEL);
    }
    if (complete && this.complete) emit(this.req.trace, 'putIdleConn', { error: undefined });
    this.finish();
  }

  // --- failure and teardown --------------------------------------------------------------

  /** Fails the request with `err`: resets this stream only (RST_STREAM `code`; the connection stays). */
  fail(err: Error, code: number = NGHTTP2_CANCEL): void {
    if (this.failed !== undefined || this.finished) return;
    const req = this.req;
    if (err instanceof HourglassError) err.withRequest(req.method, req.url);
    this.failed = err;
    this.clock.dispose();
    this.upload?.abandon();
    this.stopUploading();
    const s = this.stream;
    if (s !== undefined && !s.closed && !s.destroyed) reset(s, code);
    const reject = this.rejectHead;
    this.resolveHead = this.rejectHead = undefined;
    if (reject !== undefined) {
      req.budget.release(this);
      reject(err); // wire:error: the transport publishes it (watchWire, or replayWire for a replay)
    } else {
      this.channel?.fail(err);
    }
    this.finish();
  }

  /** Parked: the body waits for a reader that is not reading (it holds no event-loop ref). */
  setParked(on: boolean): void {
    if (this.parked === on) return;
    this.parked = on;
    this.session.park(on);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.setParked(false);
    this.clock.dispose();
    this.session.ended(this);
  }
}
