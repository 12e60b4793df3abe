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
 * its phase and `requestSent` as the budget's holder.
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
import { BodyChannel, type BodyProducer, watchUnread } from '../conn/body.js';
import { judgeExpiry } from '../conn/expiry.js';
import { ThroughputMeter } from '../conn/throughput.js';
import type { WritableBody } from '../conn/writer.js';
import { isDecodable } from '../decompress.js';
import { type Budget, type Cancelable, EXCHANGE_SLOT, EXCHANGE_SLOT_PHASE, EXCHANGE_SLOTS, now, PhaseClock } from '../deadline.js';
import { type ActivePhase, HourglassError, ProtocolError, TimeoutError } from '../errors.js';
import type { TransportTimeouts } from '../options.js';
import type { Response } from '../response.js';
import type { Timings } from '../timings.js';
import { emit, type TraceHooks } from '../trace.js';
import { endWire, type WireRequest, wireHeaders } from '../wire.js';
import { closeError, type StreamFacts, unprocessedError } from './close.js';
import { checkFields, fieldsOf, headText, makeResponse, requestHeaders } from './head.js';
import { handleBytes } from './probe.js';
import type { H2Session, SessionStream } from './session.js';
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

export { unprocessed } from './close.js';

/** Set on a node stream whose peer's END_STREAM arrived while it was still open ({@link pushSpy}). */
const REMOTE_ENDED = Symbol('hourglass.remoteEnded');
/** The session whose `dataIn` counts the body bytes node hands this stream ({@link pushSpy}). */
const COUNTER = Symbol('hourglass.dataCounter');
type SpiedStream = http2.ClientHttp2Stream & { [REMOTE_ENDED]?: true; [COUNTER]?: { dataIn: number } };
/** The streams' own `push` (Readable's), called by {@link pushSpy}. */
let protoPush: ((chunk: unknown, encoding?: BufferEncoding) => boolean) | undefined;

/**
 * Every stream's `push`, one function for all (a bound copy and a closure per stream cost
 * measurably, issue #16): an end pushed while the stream is still open is the peer's
 * END_STREAM, one pushed by node as the stream closes is not.
 */
function pushSpy(this: SpiedStream, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null) {
    if (!this.closed) this[REMOTE_ENDED] = true;
  } else {
    // What node handed on, against what nghttp2 counted: tells a surplus (see `dataMark`).
    this[COUNTER]!.dataIn += (chunk as Buffer).length;
  }
  return protoPush!.call(this, chunk, encoding);
}

const { WRITE, HEADERS, READ_IDLE, RATE, CONTINUE, WRITE_IDLE } = EXCHANGE_SLOT;
/** Bytes of an HTTP/2 frame header. */
const FRAME_HEADER = 9;
const SLOTS = EXCHANGE_SLOTS;
const SLOT_PHASE = EXCHANGE_SLOT_PHASE;
const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;
/** Interim (1xx) heads allowed before the final one (SPEC §11, as HTTP/1.1). */
const MAX_INTERIM = 10;
/** An RST_STREAM frame on the wire (9-byte header, 4-byte code). */
const RST_STREAM_BYTES = 13;

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

class H2Stream implements SessionStream, Cancelable, BodyProducer, UploadOwner {
  private stream: http2.ClientHttp2Stream | undefined;
  private readonly clock = new PhaseClock(SLOTS, (slot) => this.onClock(slot));
  private resolveHead: ((res: Response) => void) | undefined;
  private rejectHead: ((err: Error) => void) | undefined;
  private channel: BodyChannel | undefined;
  private upload: Upload | undefined;
  private sent = false;
  private reqPhase: ActivePhase = 'write';
  private headSeen = false;
  private complete = false;
  private failed: Error | undefined;
  /** The async context of the request (made in its call path, see conn/async-context.ts). */
  private readonly scope: ExchangeScope;
  private finished = false;
  private bodyBytes = 0;
  private rawLimit = Number.POSITIVE_INFINITY;
  private phaseStart = 0;
  private waitingContinue = false;
  private readonly meter = new ThroughputMeter();
  private streamError: Error | undefined;
  /** nghttp2 reset the stream itself with PROTOCOL_ERROR: the response was malformed. */
  private selfReset = false;
  /** Node reset the stream itself with ENHANCE_YOUR_CALM before the head: too many fields. */
  private tooManyFields = false;
  /**
   * At the head of a body with a content-length: the session's {@link H2Session.recvData}
   * and `dataIn` (-1: not taken). DATA nghttp2 counted but never handed on tells a body
   * longer than its content-length (nghttp2 drops it and resets the stream) from a short one.
   */
  private recvMark = -1;
  private dataMark = 0;
  /** SessionStream: set when a GOAWAY showed this stream was never processed. */
  aboveGoaway = false;
  /** Opened within the peer's advertised stream limit (see {@link H2Session.withinLimit}). */
  private withinLimit = false;
  /** This stream counts in its session's `uploaders`. */
  private uploading = false;
  /**
   * The peer's END_STREAM arrived. Node ends the readable side on any stream close, RST_STREAM
   * (NO_ERROR) and a dead socket included: only an end pushed while the stream was still open
   * is the response's real end (SPEC §13).
   */
  private get remoteEnded(): boolean {
    return (this.stream as SpiedStream | undefined)?.[REMOTE_ENDED] === true;
  }
  private parked = false;
  /** Interim (1xx) heads received so far. */
  private interims = 0;
  private readonly judge: WriteIdleJudge;

  constructor(
    private readonly session: H2Session,
    private readonly req: H2Request,
    onHead: (res: Response) => void,
    onFail: (err: Error) => void,
  ) {
    this.judge = new WriteIdleJudge(session);
    this.scope = new ExchangeScope();
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
    (stream as SpiedStream)[COUNTER] = this.session;
    stream.push = pushSpy;
    this.withinLimit = this.session.withinLimit();
    this.session.opened(this);
    this.sent = true; // HEADERS are submitted: the peer may act on them
    if (req.trace !== undefined) emit(req.trace, 'wroteHeaders', { head: headText(headers) });
    // Seven listeners per stream ('continue' only when the request waits for a 100).
    stream.on('headers', (h: http2.IncomingHttpHeaders) => this.onInterim(h));
    if (req.expectContinue) stream.on('continue', () => this.sendBody());
    stream.on('response', (h: http2.IncomingHttpHeaders) => this.onHead(h));
    stream.on('data', (c: Buffer) => this.onData(c));
    stream.on('trailers', (h: http2.IncomingHttpHeaders) => this.onTrailers(h));
    stream.on('end', () => this.onEnd());
    stream.on('error', (err: Error) => {
      this.streamError ??= err;
    });
    // A stream closed by its session's failure closes in that session's callback (another
    // request's context): its end runs in this request's.
    stream.on('close', () => this.scope.runInAsyncScope(this.onStreamClose, this));
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

  /**
   * The connection failed as a whole. Called from the session's callbacks (another
   * request's context): the failure, its callbacks and a replay run in this request's.
   */
  /** No final response head yet, and not failed (the session's SessionStream). */
  get awaitingHead(): boolean {
    return !this.headSeen && this.failed === undefined && !this.finished;
  }

  connectionFailed(err: (requestSent: boolean) => Error): void {
    this.scope.runInAsyncScope(this.failConnection, this, err);
  }

  private onStreamClose(): void {
    this.onClose();
    this.upload?.streamClosed(); // the upload's own 'close' listener, folded in
  }

  private failConnection(err: (requestSent: boolean) => Error): void {
    // A stream above a GOAWAY's last-stream-id was not processed: it may be replayed.
    this.fail(this.unprocessedError() ?? err(this.sent));
  }

  // --- request body ------------------------------------------------------------

  private sendBody(): void {
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
  }

  uploadDone(err: Error | undefined): void {
    this.stopUploading();
    const req = this.req;
    this.clock.unset(WRITE);
    this.clock.unset(WRITE_IDLE);
    emit(req.trace, 'wroteRequest', { error: err });
    if (err !== undefined) {
      if (!this.headSeen) this.fail(err instanceof HourglassError ? err : new HourglassError(err.message, 'HG_REQUEST_BODY', { cause: err }));
      else this.stream?.close(NGHTTP2_CANCEL);
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

  // --- response ---------------------------------------------------------------------

  private firstByte(): void {
    if (this.req.timings.response !== undefined) return;
    this.req.timings.response = Date.now();
    emit(this.req.trace, 'gotFirstResponseByte');
  }

  private onInterim(h: http2.IncomingHttpHeaders): void {
    this.session.touch('block');
    const status = Number(h[':status']);
    if (!(status >= 100 && status < 200) || this.failed !== undefined) return;
    // As on HTTP/1.1 (SPEC §11): more than 10 interim heads fail the stream (issue #16 adv4 F3).
    if (++this.interims > MAX_INTERIM) {
      this.fail(new ProtocolError('too-many-1xx', `more than ${MAX_INTERIM} interim (1xx) responses`, { requestSent: this.sent }));
      return;
    }
    this.firstByte();
    if (this.clock.dueAt(READ_IDLE) !== Number.POSITIVE_INFINITY) this.clock.after(READ_IDLE, this.req.timeouts.readIdleTimeout);
    if (status === 100) emit(this.req.trace, 'got100Continue');
    emit(this.req.trace, 'got1xxResponse', { status, headers: fieldsOf(h, []) });
  }

  private onHead(h: http2.IncomingHttpHeaders): void {
    if (this.failed !== undefined) return;
    const req = this.req;
    this.session.touch('block');
    // RFC 9110 §15: a status is 100-599; nghttp2 takes any three digits and node hands them
    // over as a number, so `099` arrives as 99 (issue #16 adv4 F5).
    const st = Number(h[':status']);
    const bad = !(Number.isInteger(st) && st >= 100 && st <= 599)
      ? new ProtocolError('h2-protocol-error', `malformed HTTP/2 response: :status ${String(h[':status'])} is not 100-599`, { h2Code: 1, requestSent: this.sent })
      : checkFields(h, this.session.maxHeaderBytes, false);
    if (bad !== undefined) {
      this.fail(bad, bad.reason === 'h2-protocol-error' ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_CANCEL);
      return;
    }
    this.session.answered();
    this.firstByte();
    this.headSeen = true;
    this.clock.unset(HEADERS);
    // SPEC §11: the final head stops both write clocks (an upload may go on: full duplex).
    this.clock.unset(WRITE);
    this.clock.unset(WRITE_IDLE);
    if (this.waitingContinue) {
      this.waitingContinue = false;
      this.clock.unset(CONTINUE);
      this.upload?.abandon();
    }
    const status = Number(h[':status']);
    const cl = h['content-length'];
    const noBody = req.method === 'HEAD' || status === 204 || status === 304;
    const length = noBody ? 0 : typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : -1;
    this.rawLimit = req.decodes && isDecodable(h['content-encoding'] as string | undefined) ? Number.POSITIVE_INFINITY : req.maxResponseBytes;
    if (length > 0) {
      this.recvMark = this.session.recvData();
      this.dataMark = this.session.dataIn;
    }
    const channel = new BodyChannel(this, length);
    this.channel = channel;
    const res = makeResponse(
      { status, headers: h, url: req.url, method: req.method, reused: req.reused, timings: req.timings },
      channel,
    );
    watchUnread(res, channel);
    // Before anything can read (or settle) the body, so it always precedes wire:end.
    if (req.wire !== undefined) wireHeaders(req.wire, res);
    this.reqPhase = 'body';
    if (req.timeouts.minThroughput !== undefined && !noBody) this.clock.set(RATE, this.meter.begin(0, req.timeouts.minThroughput));
    const resolve = this.resolveHead!;
    this.resolveHead = this.rejectHead = undefined;
    resolve(res);
  }

  private onTrailers(h: http2.IncomingHttpHeaders): void {
    if (this.failed !== undefined) return;
    const bad = checkFields(h, this.session.maxHeaderBytes, true);
    if (bad !== undefined) {
      // Before 'end': the body fails and no trailer is exposed.
      this.fail(bad, bad.reason === 'h2-protocol-error' ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_CANCEL);
      return;
    }
    const into = this.channel?.trailers;
    if (into !== undefined) Object.assign(into, fieldsOf(h, []));
  }

  private onData(chunk: Buffer): void {
    const ch = this.channel;
    if (ch === undefined || this.failed !== undefined) return;
    // Only this DATA frame's bytes (its header included) are accounted for: a violation
    // read with it is still seen by the probe (issue #16 adv5 N1).
    this.session.touch(chunk.length + FRAME_HEADER);
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.rawLimit) {
      this.fail(new ProtocolError('body-too-large', `response body exceeds maxResponseBytes (${this.rawLimit})`, {}));
      return;
    }
    if (this.clock.dueAt(READ_IDLE) !== Number.POSITIVE_INFINITY) this.clock.after(READ_IDLE, this.req.timeouts.readIdleTimeout);
    if (!ch.push(chunk, true)) {
      // Backpressure: not reading the stream keeps its receive window shut (SPEC §13).
      this.stream?.pause();
      this.setParked(true);
      this.clock.unset(RATE);
    }
  }

  private onEnd(): void {
    if (this.failed !== undefined) return;
    if (this.channel === undefined) {
      // Before any head: a reset or a dead connection ends the readable side too ('close'
      // classifies those); END_STREAM alone (an empty DATA frame) is malformed (RFC 9113 §8.1).
      setImmediate(() => {
        const code = this.stream?.rstCode;
        if (this.failed !== undefined || this.finished || (code !== undefined && code !== NGHTTP2_NO_ERROR)) return;
        if (this.session.failure !== undefined || this.session.session.destroyed || this.streamError !== undefined) return;
        if (code === NGHTTP2_NO_ERROR && this.stream?.closed === true) return;
        this.fail(new ProtocolError('h2-protocol-error', 'the server ended the stream before sending a response head', { requestSent: this.sent }));
      });
      return;
    }
    // A reset or a dead socket ends the readable side too (RST_STREAM NO_ERROR included):
    // without the peer's END_STREAM that is a failure, which 'close' reports.
    const code = this.stream?.rstCode;
    if (!this.remoteEnded || code !== undefined && code !== NGHTTP2_NO_ERROR) return;
    this.session.touch(FRAME_HEADER); // at most an empty DATA frame with END_STREAM
    this.complete = true;
    this.clock.clear();
    this.channel.end();
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
      s.close(NGHTTP2_CANCEL);
    }
    if (complete && this.complete) emit(this.req.trace, 'putIdleConn', { error: undefined });
    this.finish();
  }

  // --- clocks ------------------------------------------------------------------------

  private onClock(slot: number): void {
    if (this.failed !== undefined || this.finished) return;
    const t = this.req.timeouts;
    if (slot === CONTINUE) {
      this.sendBody();
      return;
    }
    let flowControl: boolean | undefined;
    const expiry = judgeExpiry(slot, {
      timeouts: t,
      clock: this.clock,
      meter: this.meter,
      bodyBytes: this.bodyBytes,
      phaseStart: this.phaseStart,
      channel: this.channel,
      writeIdle: () => {
        const stall = this.writeIdleStall();
        if (stall !== undefined) flowControl = true;
        return stall;
      },
    });
    if (expiry === undefined) return;
    const { timeout, elapsed } = expiry;
    if (slot === WRITE) flowControl = this.upload !== undefined && this.upload.pending > 0 && this.session.socketBacklog(false) === 0;
    this.fail(new TimeoutError({ phase: SLOT_PHASE[slot]!, timeout, elapsed, requestSent: this.sent, flowControl }));
    // A stream that heard nothing for too long makes its connection suspect (SPEC §13); so
    // does a window that never opened: a peer that stopped reading its socket cannot say
    // so otherwise (its receive buffer took our bytes), and will not answer the PING.
    if (slot === HEADERS || slot === READ_IDLE || slot === WRITE_IDLE) this.session.markSuspect();
  }

  /**
   * The write-idle slot came due: the ms since the last flush when the peer's window has
   * stayed shut for `writeIdleTimeout` (a flow-control stall of this stream), else
   * undefined. A socket that takes nothing at all fails the whole connection here (SPEC §13).
   */
  private writeIdleStall(): number | undefined {
    const limit = this.req.timeouts.writeIdleTimeout;
    if (this.upload === undefined || this.upload.done || this.upload.pending === 0) {
      // Nothing waits to be taken: the body source is slow, not the peer.
      this.uploadProgress();
      return undefined;
    }
    const verdict = this.judge.judge(limit, now());
    if (verdict === 'progress') {
      this.uploadProgress();
      return undefined;
    }
    if (typeof verdict === 'number') {
      this.clock.set(WRITE_IDLE, verdict); // the limit itself, not "from now" (SPEC §3)
      return undefined;
    }
    const elapsed = now() - this.judge.flushedAt;
    if (verdict !== 'window') {
      this.session.fail((sent) => new TimeoutError({ phase: 'write-idle', timeout: limit, elapsed, requestSent: sent, flowControl: false }));
      return undefined;
    }
    return elapsed;
  }

  // --- failure and teardown --------------------------------------------------------------

  private onClose(): void {
    if (this.finished || this.failed !== undefined) return;
    if (this.complete) return; // the body settles through the channel
    // A reset nghttp2 sent itself (a malformed response) leaves the socket only after this
    // event: bytes written by the next turn tell it from the peer's own RST_STREAM.
    const out = handleBytes(this.session.socket, 'bytesWritten');
    // Connection-level causes are recorded on the session a moment after the stream closes.
    setImmediate(() => {
      if (this.finished || this.failed !== undefined || this.complete) return;
      const own = out >= 0 && handleBytes(this.session.socket, 'bytesWritten') - out >= RST_STREAM_BYTES;
      this.selfReset = own && this.stream?.rstCode === NGHTTP2_PROTOCOL_ERROR;
      // Node resets a head of more fields than maxHeaderListPairs itself (issue #16 adv4 F1).
      this.tooManyFields = own && !this.headSeen && this.stream?.rstCode === NGHTTP2_ENHANCE_YOUR_CALM;
      this.fail(this.closeError());
    });
  }

  /** How this stream stands when it closed early (for {@link closeError}). */
  private facts(): StreamFacts {
    return {
      rstCode: this.stream?.rstCode,
      headSeen: this.headSeen,
      aboveGoaway: this.aboveGoaway || this.id > this.session.lastStreamId,
      withinLimit: this.withinLimit,
      requestSent: this.sent,
      streamError: this.streamError,
      selfReset: this.selfReset,
      tooManyFields: this.tooManyFields,
      truncated: this.channel !== undefined && this.channel.expectedLength >= 0 && this.bodyBytes < this.channel.expectedLength,
      surplus: this.selfReset && this.surplus(),
    };
  }

  /**
   * nghttp2 dropped DATA of this stream that would have passed its content-length (it checks
   * each DATA piece before handing it on, and resets the stream with PROTOCOL_ERROR): since
   * the head it counted more DATA on the connection than node handed to any stream, by more
   * than the body still lacked. Padding, or DATA for a stream already closed, in that span
   * can only add to the count (issue #16 adv4 F4).
   */
  private surplus(): boolean {
    const length = this.channel?.expectedLength ?? -1;
    if (this.recvMark < 0 || length < 0) return false;
    const recv = this.session.recvData();
    if (recv < this.recvMark) return false; // a WINDOW_UPDATE went out since: unknown
    const dropped = recv - this.recvMark - (this.session.dataIn - this.dataMark);
    return dropped > length - this.bodyBytes;
  }

  private unprocessedError(): Error | undefined {
    return unprocessedError(this.session, this.facts());
  }

  private closeError(): Error {
    return closeError(this.session, this.facts());
  }

  /** Fails the request with `err`: resets this stream only (RST_STREAM `code`; the connection stays). */
  private fail(err: Error, code: number = NGHTTP2_CANCEL): void {
    if (this.failed !== undefined || this.finished) return;
    const req = this.req;
    if (err instanceof HourglassError) err.withRequest(req.method, req.url);
    this.failed = err;
    this.clock.dispose();
    this.upload?.abandon();
    this.stopUploading();
    const s = this.stream;
    if (s !== undefined && !s.closed && !s.destroyed) s.close(code);
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
  private setParked(on: boolean): void {
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
