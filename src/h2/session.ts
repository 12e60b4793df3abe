/**
 * h2/session — one HTTP/2 connection (Go's http2.ClientConn): a `node:http2`
 * ClientHttp2Session over a socket hourglass dialed and handshook itself.
 *
 * Owns: the session, its streams' registry, and the connection-level waits of SPEC §13:
 * the peer's SETTINGS (`h2.settingsTimeout`, phase `h2-settings`), the PING health check
 * (a PING after `h2.pingInterval` of silence while streams are open, or at once after a
 * stream's header/read-idle timeout; no ACK within `h2.pingTimeout` closes the connection,
 * phase `h2-ping`), GOAWAY, REFUSED_STREAM accounting, the idle timer (`idleConnTimeout`
 * from the last stream's end) and how many streams it takes ({@link H2Session.streamSlots}:
 * 100 before SETTINGS, the peer's limit after, 1 000 when it sets none, 0 while going away
 * or suspect); `connection:active` when its first stream opens and `connection:idle` when
 * its last ends (src/wire.ts); and, through h2/probe.ts, noticing that nghttp2 shut the
 * connection down by itself (its own GOAWAY, which node never reports): its streams fail
 * with `h2-protocol-error` at once. The session holds the state and the stream-facing
 * methods; what its clock's slots do, the SETTINGS and PING handling (h2/health.ts), GOAWAY,
 * errors and the close (h2/teardown.ts) and its native handle's retirement (h2/retire.ts)
 * are functions over it in modules of their own.
 *
 * Never: builds a request or a Response (h2/stream.ts), retries (the transport), dials.
 *
 * Invariants: a connection-level failure (timeout, protocol error, socket death) is
 * recorded before the streams hear of it, so every open stream fails with it (with its
 * own `requestSent`) at once, never later by a timeout; the session's socket is ref'd
 * only while a stream is open that is not parked by a reader not reading; every timer is
 * unref'd and cleared on close; the owner
 * hears `sessionClosed` exactly once; node's native session handle stays reachable until a
 * moment after the socket closed (node 20 aborts if it is collected too early: issue #16 N10).
 */

import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { kernelSendQueue } from '../conn/kernel-queue.js';
import { now, PhaseClock, SharedTimer } from '../deadline.js';
import { channels, connectionInfo, type ConnectionInfo } from '../trace.js';
import { connectionState } from '../wire.js';
import { IDLE, onClock, onSettings, PING_DUE, PING_OUT, PROBE, sendPing, SETTINGS, SLOTS, SLOTS_BEFORE_SETTINGS, SLOTS_WHEN_UNLIMITED, SOLE_UPLOAD_EVERY } from './health.js';
import type { ResolvedH2Options } from './options.js';
import { MAX_SEND_HEAD, nodeFieldCap, nodeHeaderCap } from './field-cap.js';
import { handleBytes, PROBE_EVERY, TerminationProbe } from './probe.js';
import { nativeHandle } from './retire.js';
import { closeSession, diedIdle, failSession, markClosed, onError, onGoaway, protocolFailure } from './teardown.js';

/** How long one reading of the kernel's send queue serves every stream of a connection (ms). */
const KERNEL_QUEUE_FRESH_MS = 5;
/** Bytes of the kernel's send queue taken as delayed-ACK noise, not as a socket backlog. */
const KERNEL_QUEUE_NOISE = 1024;

/** What a session reports to (the pool, through the transport). */
export interface SessionOwner {
  /** A stream ended: its lease is free. */
  leaseEnded(s: H2Session): void;
  /** The session takes more or fewer streams than before. */
  slotsChanged(s: H2Session): void;
  /** The session closed; it must leave every list. */
  sessionClosed(s: H2Session): void;
  /**
   * The origin allowed no stream on two connections in a row, each for `settingsTimeout`:
   * the requests waiting for it fail (SPEC §13), rather than wait on a third.
   */
  noStreamsAllowed(s: H2Session): void;
}

/** What a session needs to know of each of its streams. */
export interface SessionStream {
  /** The stream's id once assigned (0 before). */
  readonly id: number;
  /** Set by the session: the stream is above a GOAWAY's last-stream-id (never processed). */
  aboveGoaway: boolean;
  /** The connection failed: fail the stream with `err` (its own `requestSent` is added by the stream). */
  connectionFailed(err: (requestSent: boolean) => Error): void;
  /** No final response head yet, and not failed (h2/field-cap.ts). */
  readonly awaitingHead: boolean;
}

/**
 * What the connections to one origin learned of its SETTINGS_MAX_CONCURRENT_STREAMS (shared
 * by them, kept by the transport): a new connection opens no more streams than that before
 * its own SETTINGS arrive, so a burst at a known origin is not refused (issue #16).
 */
export interface OriginHint {
  maxStreams: number | undefined;
  /** Connections in a row closed because the peer still allowed 0 streams after `settingsTimeout`. */
  zeroCloses?: number;
}

/** What a {@link H2Session} is made with (besides its socket). */
export interface SessionInit {
  /** The pool key of the connection. */
  key: string;
  /** `https://host:port` or `http://host:port` (h2c): the session's origin. */
  authority: string;
  opts: ResolvedH2Options;
  /** ms a connection with no open stream is kept (Infinity: no limit). */
  idleConnTimeout: number;
  owner: SessionOwner;
  /** The transport's `maxResponseHeaderBytes`: the largest response head accepted. */
  maxHeaderListSize: number;
  /** What earlier connections learned of the origin (shared by its connections). */
  hint?: OriginHint;
}

// Streams before the peer's SETTINGS arrive, and when it sets no limit (SPEC §13): defined in
// h2/health.ts, which reads them too (it imports nothing from here at run time: no cycle).
export { SLOTS_BEFORE_SETTINGS, SLOTS_WHEN_UNLIMITED };

/** setImmediate's callback for {@link H2Session.settleIdle} (no closure per request). */
function settleIdle(conn: H2Session): void {
  conn.settleIdle();
}

/** One HTTP/2 connection. */
export class H2Session {
  readonly key: string;
  readonly session: http2.ClientHttp2Session;
  readonly socket: Socket;
  /** `maxResponseHeaderBytes`: the most a response head or trailer section may hold. */
  readonly maxHeaderBytes: number;
  /** Streams started so far (a stream on a session with served > 0 is on a reused connection). */
  served = 0;
  idleSince = 0;
  idleDeadline = Number.POSITIVE_INFINITY;
  /** @internal — owned by the pool. */
  poolState: 'idle' | 'active' | 'shared' | undefined;
  /** @internal — owned by the pool. */
  poolLeases = 0;
  dialMarks:
    | { start: number; lookup: number | undefined; connect: number | undefined; secureConnect: number | undefined }
    | undefined;
  /** Set once the connection failed as a whole: every stream fails with it. */
  failure: ((requestSent: boolean) => Error) | undefined;
  /** Streams above this id were not processed by the peer (GOAWAY); Infinity until one arrives. */
  lastStreamId = Number.POSITIVE_INFINITY;
  /** Error code of the GOAWAY received, if any. */
  goawayCode: number | undefined;
  /** Debug text of the GOAWAYs received (the last non-empty one), for error messages. */
  goawayDebug: string | undefined;
  /** DATA payload bytes node handed to this session's streams, ever (h2/delivery.ts's surplus check). */
  dataIn = 0;

  // @internal from here to the constructor: the session's own state, read and written only by
  // it and by h2/health.ts and h2/teardown.ts (functions over the session, moved out of it).
  readonly streams = new Set<SessionStream>();
  /** Open streams parked by backpressure ({@link park}). */
  private parked = 0;
  readonly clock: PhaseClock;
  /** The one timer its streams' clocks share (h2/stream.ts). */
  readonly streamTimer = new SharedTimer();
  readonly info: ConnectionInfo;
  readonly startedAt = now();
  gotSettings = false;
  goingAway = false;
  suspect = false;
  private refusals = 0;
  pingSentAt = -1;
  isClosed = false;
  owner: SessionOwner | undefined;
  readonly probe: TerminationProbe;
  /** The peer's SETTINGS as of the last SETTINGS frame (node's defaults before). */
  lastRemoteSettings: Record<string, unknown> = {};
  /** node's native session handle, kept past the close (h2/retire.ts). */
  handle: object | undefined;

  readonly opts: ResolvedH2Options;
  readonly hint: OriginHint;
  private readonly idleConnTimeout: number;

  /** Starts HTTP/2 on `socket` (connected, TLS done when https). */
  constructor(socket: Socket, init: SessionInit) {
    const { key, opts, owner, maxHeaderListSize } = init;
    this.key = key;
    this.opts = opts;
    this.hint = init.hint ?? { maxStreams: undefined };
    this.idleConnTimeout = init.idleConnTimeout;
    this.maxHeaderBytes = maxHeaderListSize;
    this.socket = socket;
    this.owner = owner;
    this.info = connectionInfo(key, socket);
    this.clock = new PhaseClock(SLOTS, (slot) => onClock(this, slot));
    this.session = http2.connect(init.authority, {
      createConnection: () => socket,
      peerMaxConcurrentStreams: SLOTS_BEFORE_SETTINGS,
      // Node's default (128 fields) would reset a head of many small fields itself: node's
      // caps sit above what readFields accepts, so the limit decides (issue #16 adv4 F1).
      maxHeaderListPairs: nodeFieldCap(maxHeaderListSize),
      maxSendHeaderBlockLength: MAX_SEND_HEAD,
      maxSessionMemory: 64,
      settings: {
        enablePush: false,
        initialWindowSize: opts.initialWindowSize,
        maxHeaderListSize: nodeHeaderCap(maxHeaderListSize),
      },
    });
    const s = this.session;
    this.lastRemoteSettings = { ...(s.remoteSettings as Record<string, unknown>) };
    this.handle = nativeHandle(s);
    if (this.handle === undefined) s.once('connect', () => (this.handle = nativeHandle(s)));
    this.probe = new TerminationProbe(s, socket, () => this.socketBacklog(false), () => {
      this.controlOut += PING_OUT; // the probe's PING
    });
    s.on('remoteSettings', () => onSettings(this));
    s.on('goaway', (code: number, last: number, debug?: Buffer) => onGoaway(this, code, last, debug));
    s.on('error', (err: Error) => onError(this, err));
    s.on('frameError', () => this.touch());
    // Frames no stream hears of, seen so that the probe does not take them for a silent failure.
    s.on('localSettings', () => this.touch(9)); // SETTINGS ACK
    s.on('ping', () => {
      this.controlOut += PING_OUT; // our PING ACK
      this.touch(17);
    });
    s.on('close', () => markClosed(this));
    socket.on('close', () => this.onSocketGone());
    if (opts.connectionWindowSize > 65_535) {
      try {
        s.setLocalWindowSize(opts.connectionWindowSize);
      } catch {
        // Too early on some versions: applied on 'connect' below.
        s.once('connect', () => {
          if (!s.destroyed) s.setLocalWindowSize(opts.connectionWindowSize);
        });
      }
    }
    this.clock.after(SETTINGS, opts.settingsTimeout);
    this.session.unref();
    this.idleSince = now();
    this.armIdle();
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ connection: this.info });
  }

  /**
   * The peer allows 0 streams for now (its SETTINGS, or what the last connection to the
   * origin learned before they come): no slot, but the pool waits for this connection
   * rather than dialing more — it closes once `settingsTimeout` passes with the limit still
   * 0 (h2/health.ts ZERO) or without SETTINGS (phase `h2-settings`).
   */
  awaitingSlots(): boolean {
    if (this.isClosed || this.failure !== undefined || this.goingAway || this.suspect || this.refusals >= 2) return false;
    return this.gotSettings ? this.peerLimit() === 0 : this.hint.maxStreams === 0;
  }

  /** Streams it may carry at once right now (the pool's slots). */
  streamSlots(): number {
    if (this.isClosed || this.failure !== undefined || this.goingAway || this.suspect || this.refusals >= 2) return 0;
    if (!this.gotSettings) return this.hint.maxStreams ?? SLOTS_BEFORE_SETTINGS;
    return this.peerLimit();
  }

  /**
   * Whether a stream opened now is within the limit the peer advertised. A refusal of a
   * stream that was not (opened before the peer's SETTINGS, or above its limit) says
   * nothing of the connection's health: it is no strike towards retiring it.
   */
  withinLimit(): boolean {
    return this.gotSettings && this.streams.size < this.peerLimit();
  }

  peerLimit(): number {
    const m = this.session.remoteSettings.maxConcurrentStreams;
    return m === undefined || m >= 2 ** 31 ? SLOTS_WHEN_UNLIMITED : m;
  }

  /** Whether a new stream may start on it now. */
  isUsable(): boolean {
    // A failed connection is closing: a slot its failing streams free is no slot (a waiter dials).
    if (this.isClosed || this.failure !== undefined || this.session.destroyed || this.session.closed || this.goingAway || this.suspect) return false;
    if (this.streams.size === 0 && diedIdle(this)) return false;
    // Never hand out a session racing its idle timer (golang/go#70515).
    return this.streams.size > 0 || now() < this.idleSince + this.idleConnTimeout - 1;
  }


  /** Bytes read and written (less control frames) once the last stream ended and its frames left; undefined while streams are open. */
  idleMark: { read: number; written: number } | undefined;

  /** Local and remote addresses as of connect. */
  get localAddress(): string | undefined {
    return this.info.localAddress;
  }
  get remoteAddress(): string | undefined {
    return this.info.remoteAddress;
  }
  describe(): ConnectionInfo {
    return this.info;
  }

  /** A stream of this session started. */
  opened(st: SessionStream): void {
    this.idleMark = undefined;
    this.streams.add(st);
    this.traffic++;
    this.served++;
    this.clock.unset(IDLE);
    this.updateRef();
    if (this.streams.size === 1) {
      this.touch();
      // Armed once: a tick finding no stream stops re-arming, so back-to-back requests
      // do not move the timer each time.
      if (this.clock.dueAt(PROBE) === Number.POSITIVE_INFINITY) this.clock.after(PROBE, PROBE_EVERY);
      this.probe.started();
      connectionState(this.info, true);
    }
  }

  /** A stream of this session ended, or failed before it opened (its lease goes back to the pool either way). */
  ended(st: SessionStream): void {
    if (!this.streams.delete(st)) {
      // Failed before it opened (aborted between taking its lease and its HEADERS, e.g.
      // from a gotConn hook): the lease it held goes back all the same, or the pool would
      // count this connection busy, never idle, until it closed.
      this.owner?.leaseEnded(this);
      return;
    }
    this.traffic++;
    if (this.streams.size === 0) {
      this.clock.unset(PING_DUE);
      this.idleSince = now();
      // The idle mark is taken, and the socket unref'd, a turn later, once the last
      // stream's own frames (RST_STREAM, WINDOW_UPDATE) were written — and only if no
      // stream started meanwhile: a caller sending request after request did a ref() and
      // an unref() (native calls through the TLS socket) and made a closure per request.
      if (!this.idleSoon) {
        this.idleSoon = true;
        setImmediate(settleIdle, this);
      }
      if (!this.isClosed) {
        this.armIdle();
        connectionState(this.info, false);
      }
    }
    this.owner?.leaseEnded(this);
    // Draining (GOAWAY) or retired (refused twice): no new stream will come; free the slot.
    if ((this.goingAway || this.refusals >= 2) && this.streams.size === 0) this.close();
  }

  /**
   * A stream's body waits for a reader that is not reading (`on`), or reads again. Such a
   * stream does not hold the event loop (SPEC §3/§11: an unread HTTP/1.1 body does not
   * either: its socket is not read); the session is ref'd while another stream is open.
   */
  park(on: boolean): void {
    this.parked += on ? 1 : -1;
    this.updateRef();
  }

  private updateRef(): void {
    if (this.isClosed) return;
    // Only a change reaches the socket: a ref() per stream opened was a native call each.
    const want = this.streams.size > this.parked;
    if (want === this.refd) return;
    this.refd = want;
    if (want) this.session.ref();
    else this.session.unref();
  }

  /** {@link settleIdle} is scheduled. */
  idleSoon = false;

  /** A turn after its last stream ended, and still idle: the idle mark, and the socket unref'd. */
  settleIdle(): void {
    this.idleSoon = false;
    if (this.streams.size > 0 || this.isClosed) return;
    this.idleMark = { read: handleBytes(this.socket, 'bytesRead'), written: handleBytes(this.socket, 'bytesWritten') - this.controlOut };
    this.updateRef();
  }

  /** The session's socket is ref'd (only {@link updateRef} and the constructor change it). */
  private refd = false;

  /**
   * DATA bytes nghttp2 counted against the connection window since its last WINDOW_UPDATE
   * (padding and DATA it dropped itself included); -1 once the session is gone.
   */
  recvData(): number {
    return this.session.state.effectiveRecvDataLength ?? -1;
  }

  /**
   * A frame (or anything from the peer) arrived: the silence clock restarts. What was read
   * so far is accounted for by the probe; a frame of known size (`bytes`): only its bytes;
   * a header block (`'block'`, size unknown): none, so a violation read with it is still
   * seen (issue #16 F0).
   */
  touch(bytes?: number | 'block'): void {
    this.traffic++;
    if (bytes === undefined) this.probe.heard();
    else if (bytes === 'block') this.probe.heardBlock();
    else this.probe.heardBytes(bytes);
    if (this.streams.size > 0 && this.pingSentAt < 0) this.clock.after(PING_DUE, this.opts.pingInterval);
  }

  /** A stream got its response head: refusals so far were not a pattern. */
  answered(): void {
    this.refusals = 0;
  }

  /**
   * The peer refused a stream (REFUSED_STREAM): a second refusal in a row retires the
   * session for new streams; once its last stream ends it closes (as after a GOAWAY), so
   * that it does not hold a `maxConnsPerHost` slot until `idleConnTimeout`.
   */
  refused(): void {
    this.refusals++;
    if (this.refusals !== 2) return;
    this.owner?.slotsChanged(this);
    if (this.streams.size === 0) this.close();
  }

  /**
   * A stream's header or read-idle timeout expired: the connection is suspect. A PING
   * goes out at once and no new stream starts on it until the ACK (SPEC §13).
   */
  markSuspect(): void {
    if (this.isClosed) return;
    this.suspect = true;
    sendPing(this);
  }

  /**
   * Closes now: streams still open fail with `connection-closed` or the failure recorded.
   * `now` (the transport is closing): node's session is destroyed, which writes its
   * GOAWAY(NO_ERROR) at once, and so is the socket, without waiting for the peer's answer,
   * which never comes where nghttp2 had given up on the connection (SPEC §3: a finished
   * process exits at once; issue #16 N8).
   */
  close(now = false): void {
    closeSession(this, now);
  }

  /** Fails the whole connection: every open stream with `err`, then closes it. */
  fail(err: (requestSent: boolean) => Error, h2Code = http2.constants.NGHTTP2_NO_ERROR): void {
    failSession(this, err, h2Code);
  }

  /** Streams of this session whose request body is being written. */
  uploaders = 0;
  /**
   * Counts uploads begun and ended: DATA that left while it changed may be a sibling's
   * (one that started and finished between two looks), never the only upload's progress (issue #16 adv6 M3).
   */
  uploadEpoch = 0;
  /** `uploadEpoch` as of `windowSeen` (h2/health.ts). */
  windowEpoch = -1;

  /** An upload began or ended (`uploaders` already counts it): the only one left is watched from now on. */
  uploadsChanged(): void {
    this.uploadEpoch++;
    if (this.uploaders !== 1) return;
    this.windowSeen = this.sendWindow();
    this.outSeen = this.bytesOut();
    this.trafficSeen = this.traffic;
    this.windowEpoch = this.uploadEpoch;
    // The tick that dates this upload's DATA comes at its own period from now on, the first
    // one too: a new upload's own HEADERS leave after this mark (node writes from a
    // setImmediate) and that tick takes them for its first DATA, so at the probe's 50 ms a
    // window shut from the start was named write-idle 50 ms late (adv8 F3); now ≤ 10 ms.
    if (this.clock.dueAt(PROBE) > now() + SOLE_UPLOAD_EVERY) this.clock.after(PROBE, SOLE_UPLOAD_EVERY);
  }

  /** Monotonic ms of the termination probe's last look (h2/health.ts's probeTick). */
  probedAt = Number.NEGATIVE_INFINITY;
  /** Monotonic ms the send window was last seen to shrink while one body was being written (h2/health.ts's probeTick). */
  lastDataAt = Number.NEGATIVE_INFINITY;
  /** The send window as of the probe's last tick while one body was being written (h2/health.ts). */
  windowSeen = Number.POSITIVE_INFINITY;
  /** `bytesOut()` and `traffic` as of `windowSeen`. */
  outSeen = Number.POSITIVE_INFINITY;
  trafficSeen = -1;

  /** Streams opened or ended and frames received so far (h2/upload.ts: bytes out that may be no DATA). */
  traffic = 0;

  /**
   * Bytes the session has written to its socket so far, less the control frames it wrote
   * on its own (PINGs, PING ACKs, SETTINGS ACKs): those say nothing of a stream's body, so
   * they never count as write progress (SPEC §13). One counted but not written makes the
   * result step back: compare with `>`.
   */
  bytesOut(): number {
    return this.socket.bytesWritten - this.controlOut;
  }

  /** The peer's connection-level flow-control window: shrinks only by the DATA we send. */
  sendWindow(): number {
    try {
      return this.session.state.remoteWindowSize ?? 0;
    } catch {
      return 0; // a destroyed session has no state
    }
  }

  /** Estimated bytes of control frames written so far (see `bytesOut`). */
  controlOut = 0;

  /**
   * Bytes written to the socket that the peer has not taken: libuv's queue (TLS
   * included) plus, on Linux, the kernel's send queue (a peer that stopped reading).
   */
  socketBacklog(deep = true): number {
    let n = 0;
    if (deep) {
      // Read from /proc (slow on a busy host): only when a clock suspects a stall, and at
      // most once per KERNEL_QUEUE_FRESH_MS for all the streams of the connection: a hundred
      // uploads' looks each reading the table blocked the event loop for hundreds of ms, so
      // their write-idle verdicts came in late batches (issue #16 adv8 F2).
      const t = now();
      if (t - this.kernelQueueAt >= KERNEL_QUEUE_FRESH_MS) {
        this.kernelQueue = kernelSendQueue(this.socket);
        this.kernelQueueAt = t;
      }
      // A few unacknowledged bytes are no backlog: the peer's delayed ACK holds our last small
      // frames (an RST_STREAM's 13 bytes) in the kernel's queue for up to ~40 ms, and a
      // hundred uploads' looks took that for a draining socket, so each restarted its clock
      // without a byte sent (issue #16 adv9). A reader that stopped leaves more than that.
      if (this.kernelQueue > KERNEL_QUEUE_NOISE) n += this.kernelQueue;
    }
    let s = this.socket as unknown as { _handle?: { writeQueueSize?: unknown } | null; _parent?: unknown } | null;
    for (let depth = 0; s != null && depth < 4; depth++) {
      const q = s._handle?.writeQueueSize;
      if (typeof q === 'number') n += q;
      s = s._parent as typeof s;
    }
    return n;
  }

  /** The kernel's send queue of the socket as last read, and when (h2/session's socketBacklog). */
  private kernelQueue = -1;
  private kernelQueueAt = Number.NEGATIVE_INFINITY;

  private armIdle(): void {
    if (this.idleConnTimeout !== Number.POSITIVE_INFINITY) this.clock.after(IDLE, this.idleConnTimeout, this.idleSince);
  }

  /**
   * Records a connection-level protocol error (nghttp2's, or a GOAWAY with an error code)
   * as the session's failure and returns it. Streams that hear of it first (node destroys
   * them before the session's 'error' event) call this too.
   */
  protocolFailure(err: Error): (requestSent: boolean) => Error {
    return protocolFailure(this, err);
  }

  /** The socket error that killed the session, if any (the cause of `connection-closed`). */
  socketError: Error | undefined;

  private onSocketGone(): void {
    if (this.isClosed) return;
    // Streams hear of it through their own 'close'; make sure the session goes too.
    setImmediate(() => this.close());
  }

}
