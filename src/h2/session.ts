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
 * with `h2-protocol-error` at once.
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
import { now, PhaseClock } from '../deadline.js';
import { ProtocolError, TimeoutError } from '../errors.js';
import { channels, connectionInfo, type ConnectionInfo } from '../trace.js';
import { connectionState } from '../wire.js';
import type { ResolvedH2Options } from './options.js';
import { capCulprit, capError, capSiblingError, codecShutError } from './field-cap.js';
import { ackMatches, handleBytes, pingPayload, PROBE_EVERY, STRAY_ACK_ERRNO, STRAY_ACK_MESSAGE, TerminationProbe } from './probe.js';

/** What a session reports to (the pool, through the transport). */
export interface SessionOwner {
  /** A stream ended: its lease is free. */
  leaseEnded(s: H2Session): void;
  /** The session takes more or fewer streams than before. */
  slotsChanged(s: H2Session): void;
  /** The session closed; it must leave every list. */
  sessionClosed(s: H2Session): void;
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

const SETTINGS = 0;
const PING_DUE = 1;
const PING_ACK = 2;
const IDLE = 3;
const ZERO = 4;
const PROBE = 5;
const SLOTS = 6;

/**
 * Bytes of a PING or PING ACK we write, and of a SETTINGS ACK (the socket's `bytesWritten`
 * counts them before TLS, so exactly: an estimate erring high would hide a DATA frame of
 * a few bytes written in the same spell, issue #16 N2).
 */
const PING_OUT = 17;
const SETTINGS_ACK_OUT = 9;
/** Bytes of the smallest GOAWAY (no debug data): what nghttp2 writes when it shuts a session. */
const GOAWAY_OUT = 17;

/**
 * What the connections to one origin learned of its SETTINGS_MAX_CONCURRENT_STREAMS (shared
 * by them, kept by the transport): a new connection opens no more streams than that before
 * its own SETTINGS arrive, so a burst at a known origin is not refused (issue #16).
 */
export interface OriginHint {
  maxStreams: number | undefined;
}

/** Streams before the peer's SETTINGS arrive, and when it sets no limit (SPEC §13). */
export const SLOTS_BEFORE_SETTINGS = 100;
export const SLOTS_WHEN_UNLIMITED = 1_000;

/**
 * The native handles of closed sessions, kept reachable until a moment past their socket's
 * close (issue #16 N10). Node 20 aborts the process (`~Http2Session`: `current_nghttp2_memory_
 * == 0`) when the garbage collector takes a session's handle while one of its streams still
 * holds nghttp2 memory (part of a header block a CONTINUATION flood never ended): node drops
 * its own reference at teardown, and a minor collection right after took the handle first
 * about every other time. Held by the H2Session while it lives, then here.
 */
const retiring = new Set<object>();
/** How long past its socket's close a closed session's handle is kept (ms). */
const RETIRE_MS = 200;

/** The session's native handle (node's internal `kHandle`); undefined where node has none yet. */
function nativeHandle(s: http2.ClientHttp2Session): object | undefined {
  const key = Object.getOwnPropertySymbols(s).find((k) => k.description === 'kHandle');
  const h = key === undefined ? undefined : (s as unknown as Record<symbol, unknown>)[key];
  return typeof h === 'object' && h !== null ? h : undefined;
}

/** Keeps `handle` reachable until {@link RETIRE_MS} after `socket` closed. */
function retire(handle: object | undefined, socket: Socket): void {
  if (handle === undefined || retiring.has(handle)) return;
  retiring.add(handle);
  const release = (): void => {
    setTimeout(() => retiring.delete(handle), RETIRE_MS).unref();
  };
  if (socket.closed) release();
  else socket.once('close', release);
}

/** nghttp2 library error codes (negative) to RFC 9113 error codes, where they map. */
const LIB_TO_H2: Readonly<Record<number, number>> = { [-505]: 1, [-524]: 3, [-522]: 6, [-523]: 9, [-536]: 1, [-532]: 1 };

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
  /** DATA payload bytes node handed to this session's streams, ever (h2/stream.ts's surplus check). */
  dataIn = 0;

  private readonly streams = new Set<SessionStream>();
  /** Open streams parked by backpressure ({@link park}). */
  private parked = 0;
  private readonly clock: PhaseClock;
  private readonly info: ConnectionInfo;
  private readonly startedAt = now();
  private gotSettings = false;
  private goingAway = false;
  private suspect = false;
  private refusals = 0;
  private pingSentAt = -1;
  private isClosed = false;
  private owner: SessionOwner | undefined;
  private readonly probe: TerminationProbe;
  /** The peer's SETTINGS as of the last SETTINGS frame (node's defaults before). */
  private lastRemoteSettings: Record<string, unknown> = {};
  /** node's native session handle, kept past the close ({@link retire}). */
  private handle: object | undefined;

  constructor(
    key: string,
    socket: Socket,
    authority: string,
    private readonly opts: ResolvedH2Options,
    private readonly idleConnTimeout: number,
    owner: SessionOwner,
    maxHeaderListSize: number,
    private readonly hint: OriginHint = { maxStreams: undefined },
  ) {
    this.key = key;
    this.maxHeaderBytes = maxHeaderListSize;
    this.socket = socket;
    this.owner = owner;
    this.info = connectionInfo(key, socket);
    this.clock = new PhaseClock(SLOTS, (slot) => this.onClock(slot));
    this.session = http2.connect(authority, {
      createConnection: () => socket,
      peerMaxConcurrentStreams: SLOTS_BEFORE_SETTINGS,
      // Node's default (128 fields) would reset a head of many small fields with
      // ENHANCE_YOUR_CALM: allow as many as fit in the limit counted as checkFields does
      // (5 bytes at least each), so the limit decides (issue #16 adv4 F1).
      maxHeaderListPairs: Math.min(Math.ceil(maxHeaderListSize / 5), 2 ** 31 - 1) + 8,
      maxSessionMemory: 64,
      settings: {
        enablePush: false,
        initialWindowSize: opts.initialWindowSize,
        maxHeaderListSize,
      },
    });
    const s = this.session;
    this.lastRemoteSettings = { ...(s.remoteSettings as Record<string, unknown>) };
    this.handle = nativeHandle(s);
    if (this.handle === undefined) s.once('connect', () => (this.handle = nativeHandle(s)));
    this.probe = new TerminationProbe(s, socket, () => this.socketBacklog(false), () => {
      this.controlOut += PING_OUT; // the probe's PING
    });
    s.on('remoteSettings', () => this.onSettings());
    s.on('goaway', (code: number, last: number, debug?: Buffer) => this.onGoaway(code, last, debug));
    s.on('error', (err: Error) => this.onError(err));
    s.on('frameError', () => this.touch());
    // Frames no stream hears of, seen so that the probe does not take them for a silent failure.
    s.on('localSettings', () => this.touch(9)); // SETTINGS ACK
    s.on('ping', () => {
      this.controlOut += PING_OUT; // our PING ACK
      this.touch(17);
    });
    s.on('close', () => this.markClosed());
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

  private peerLimit(): number {
    const m = this.session.remoteSettings.maxConcurrentStreams;
    return m === undefined || m >= 2 ** 31 ? SLOTS_WHEN_UNLIMITED : m;
  }

  /** Whether a new stream may start on it now. */
  isUsable(): boolean {
    // A failed connection is closing: a slot its failing streams free is no slot (a waiter dials).
    if (this.isClosed || this.failure !== undefined || this.session.destroyed || this.session.closed || this.goingAway || this.suspect) return false;
    if (this.streams.size === 0 && this.diedIdle()) return false;
    // Never hand out a session racing its idle timer (golang/go#70515).
    return this.streams.size > 0 || now() < this.idleSince + this.idleConnTimeout - 1;
  }

  /**
   * Whether nghttp2 shut the session down while it had no stream (issue #16 adv5 N7): the
   * peer sent something since the session went idle, and the session wrote at least a
   * GOAWAY's 17 bytes on its own (PING and SETTINGS ACKs are subtracted; a WINDOW_UPDATE
   * or RST_STREAM trailing the last stream went before the idle mark). Such a session is
   * failed here, so it leaves the pool before a request is put on it. A healthy one taken
   * for dead (the peer's frame answered by both a WINDOW_UPDATE and an RST_STREAM) only
   * costs a new connection.
   */
  private diedIdle(): boolean {
    if (!this.wroteAlone()) return false;
    this.fail(
      (sent) =>
        new ProtocolError('h2-protocol-error', 'HTTP/2 connection error: a frame from the server broke RFC 9113 while the connection was idle, and it was shut down (GOAWAY sent)', {
          requestSent: sent,
        }),
    );
    return true;
  }

  /** Since the idle mark: bytes were read, and at least a GOAWAY's worth written on the session's own. */
  private wroteAlone(): boolean {
    const mark = this.idleMark;
    if (mark === undefined) return false;
    const read = handleBytes(this.socket, 'bytesRead');
    const written = handleBytes(this.socket, 'bytesWritten');
    return read >= 0 && written >= 0 && read !== mark.read && written - this.controlOut >= mark.written + GOAWAY_OUT;
  }

  /** Bytes read and written (less control frames) once the last stream ended and its frames left; undefined while streams are open. */
  private idleMark: { read: number; written: number } | undefined;

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

  /** A stream of this session ended (its lease goes back to the pool). */
  ended(st: SessionStream): void {
    if (!this.streams.delete(st)) return;
    this.traffic++;
    if (this.streams.size === 0) {
      this.clock.unset(PING_DUE);
      this.idleSince = now();
      // Taken once the last stream's own frames (RST_STREAM, WINDOW_UPDATE) were written.
      setImmediate(() => {
        if (this.streams.size > 0 || this.isClosed) return;
        this.idleMark = { read: handleBytes(this.socket, 'bytesRead'), written: handleBytes(this.socket, 'bytesWritten') - this.controlOut };
      });
      if (!this.isClosed) {
        this.updateRef();
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
    this.sendPing();
  }

  /**
   * Closes now: streams still open fail with `connection-closed` or the failure recorded.
   * `now` (the transport is closing): node's session is destroyed, which writes its
   * GOAWAY(NO_ERROR) at once, and so is the socket, without waiting for the peer's answer,
   * which never comes where nghttp2 had given up on the connection (SPEC §3: a finished
   * process exits at once; issue #16 N8).
   */
  close(now = false): void {
    if (this.isClosed) return;
    const s = this.session;
    Reflect.deleteProperty(s, 'close'); // the skip set by onGoaway, if node never called it
    // Quietly only when the session is healthy as far as we know: one nghttp2 shut down by
    // itself (a PING unanswered, or its own GOAWAY written while idle) never finishes a
    // graceful close and would hold the socket (and the process) ~1 s (issue #16 adv5 N8);
    // nor when the transport is closing (`now`).
    const doubtful = this.suspect || this.pingSentAt >= 0 || (this.streams.size === 0 && this.wroteAlone());
    if (!now && !s.destroyed && this.streams.size === 0 && !this.socket.destroyed && !doubtful) {
      // Quietly: GOAWAY(NO_ERROR), then node ends the socket (the peer sees the FIN);
      // destroyed anyway if that does not finish promptly.
      s.close(() => this.socket.destroy());
      setTimeout(() => {
        if (!s.destroyed) s.destroy();
        this.socket.destroy();
      }, 1_000).unref();
    } else {
      if (!s.destroyed) s.destroy();
      this.socket.destroy();
    }
    this.markClosed();
  }

  /** Fails the whole connection: every open stream with `err`, then closes it. */
  fail(err: (requestSent: boolean) => Error, h2Code = http2.constants.NGHTTP2_NO_ERROR): void {
    if (this.isClosed) return;
    this.failure ??= err;
    for (const st of [...this.streams]) st.connectionFailed(this.failure);
    if (!this.session.destroyed) this.session.destroy(undefined, h2Code);
    this.socket.destroy();
    this.markClosed();
  }

  /** Streams of this session whose request body is being written. */
  uploaders = 0;

  /** Monotonic ms the send window was last seen to shrink while one body was being written (see probeTick). */
  lastDataAt = Number.NEGATIVE_INFINITY;
  private windowSeen = Number.POSITIVE_INFINITY;

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
  private controlOut = 0;

  /**
   * Bytes written to the socket that the peer has not taken: libuv's queue (TLS
   * included) plus, on Linux, the kernel's send queue (a peer that stopped reading).
   */
  socketBacklog(deep = true): number {
    let n = 0;
    if (deep) {
      // Read from /proc (slow on a busy host): only when a clock suspects a stall.
      const k = kernelSendQueue(this.socket);
      if (k > 0) n += k;
    }
    let s = this.socket as unknown as { _handle?: { writeQueueSize?: unknown } | null; _parent?: unknown } | null;
    for (let depth = 0; s != null && depth < 4; depth++) {
      const q = s._handle?.writeQueueSize;
      if (typeof q === 'number') n += q;
      s = s._parent as typeof s;
    }
    return n;
  }

  // Private implementation past this point.

  private armIdle(): void {
    if (this.idleConnTimeout !== Number.POSITIVE_INFINITY) this.clock.after(IDLE, this.idleConnTimeout, this.idleSince);
  }

  private sendPing(): void {
    if (this.pingSentAt >= 0 || this.isClosed) return;
    this.pingSentAt = now();
    this.clock.unset(PING_DUE);
    this.clock.after(PING_ACK, this.opts.pingTimeout);
    let ok = false;
    this.controlOut += PING_OUT;
    const payload = pingPayload();
    try {
      ok = this.session.ping(payload, (err, _ms, ack) => {
        if (err !== null || this.isClosed) return;
        // RFC 9113 §6.7: an ACK with other opaque data is not this PING's; the wait goes on (issue #16 adv5 N4).
        if (!ackMatches(ack, payload)) return void this.touch(17);
        this.pingSentAt = -1;
        this.clock.unset(PING_ACK);
        const wasSuspect = this.suspect;
        this.suspect = false;
        this.touch(17);
        if (wasSuspect) this.owner?.slotsChanged(this);
      });
    } catch {
      ok = false;
    }
    if (!ok) this.clock.after(PING_ACK, 0);
  }

  /** One tick of the termination probe (h2/probe.ts): fails the connection when nghttp2 gave up on it. */
  private probeTick(): void {
    // Draining after a GOAWAY(NO_ERROR) the session still reads: a violation may still come (issue #16 adv5 N1).
    if (this.streams.size === 0 || this.goingAway && this.goawayCode !== http2.constants.NGHTTP2_NO_ERROR || this.opts.pingInterval === Number.POSITIVE_INFINITY) return;
    this.clock.after(PROBE, PROBE_EVERY);
    if (this.uploaders === 1) {
      // The write-idle judgement's clock of the only upload (h2/upload.ts): when DATA last went out.
      const w = this.sendWindow();
      if (w < this.windowSeen) this.lastDataAt = now();
      this.windowSeen = w;
    } else this.windowSeen = Number.POSITIVE_INFINITY;
    if (!this.probe.tick()) return;
    // Which stream's head nghttp2 refused, when that can be told (h2/field-cap.ts; issue #16 adv5 N9).
    const culprit = capCulprit(this.probe.unaccounted(), this.streams);
    culprit?.connectionFailed(capError);
    this.fail(culprit === undefined ? codecShutError : capSiblingError);
  }

  private onSettings(): void {
    this.controlOut += SETTINGS_ACK_OUT; // our SETTINGS ACK
    // Only the frame's bytes are accounted for (a violation read with it is still seen,
    // issue #16 adv5 N1): 6 per setting that changed (one sent unchanged is left to the
    // probe, which then only checks with a PING).
    const now = this.session.remoteSettings as Record<string, unknown>;
    let changed = 0;
    for (const k of Object.keys(now)) if (now[k] !== this.lastRemoteSettings[k]) changed++;
    this.lastRemoteSettings = { ...now };
    this.touch(9 + 6 * changed);
    const first = !this.gotSettings;
    this.gotSettings = true;
    if (first) this.clock.unset(SETTINGS);
    this.hint.maxStreams = Math.min(this.peerLimit(), SLOTS_BEFORE_SETTINGS);
    // A peer allowing 0 streams: if it still does after settingsTimeout, close (SPEC §13).
    if (this.streamSlots() === 0 && this.clock.dueAt(ZERO) === Number.POSITIVE_INFINITY) {
      this.clock.after(ZERO, this.opts.settingsTimeout === Number.POSITIVE_INFINITY ? 10_000 : this.opts.settingsTimeout);
    }
    this.owner?.slotsChanged(this);
  }

  private onGoaway(code: number, last: number, debug?: Buffer): void {
    this.touch(17 + (debug?.length ?? 0)); // only this frame's bytes (issue #16 adv5 N1)
    // The server's own words, kept for the error message (printable ASCII, 200 bytes at most).
    const said = debug?.subarray(0, 200).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
    if (said !== undefined && said !== '') this.goawayDebug = said;
    this.goingAway = true;
    this.goawayCode = code;
    this.lastStreamId = last;
    // Marked now: node destroys the streams (and forgets their ids) right after this event.
    for (const st of this.streams) if (st.id === 0 || st.id > last) st.aboveGoaway = true;
    if (code !== http2.constants.NGHTTP2_NO_ERROR) {
      const c = code;
      this.failure ??= (sent) =>
        new ProtocolError('h2-protocol-error', `the server closed the HTTP/2 connection with error code ${c} (GOAWAY${this.goawayDebug === undefined ? '' : `: "${this.goawayDebug}"`})`, {
          requestSent: sent,
          h2Code: c,
        });
    }
    this.owner?.slotsChanged(this);
    if (this.streams.size === 0) {
      this.close();
      return;
    }
    if (code === http2.constants.NGHTTP2_NO_ERROR) {
      // Node closes the session right after this event, and a closing session sends no
      // PING: the draining streams would lose their health check (SPEC §13). That one call
      // is skipped; the session closes itself when its last stream ends (ended()).
      const s = this.session;
      Object.defineProperty(s, 'close', {
        configurable: true,
        writable: true,
        value: () => {
          Reflect.deleteProperty(s, 'close');
        },
      });
    }
  }

  private onError(err: Error): void {
    if (isSocketError(err)) {
      this.socketError = err;
      return;
    }
    const f = this.protocolFailure(err);
    for (const st of [...this.streams]) st.connectionFailed(f);
  }

  /**
   * Records a connection-level protocol error (nghttp2's, or a GOAWAY with an error code)
   * as the session's failure and returns it. Streams that hear of it first (node destroys
   * them before the session's 'error' event) call this too.
   */
  protocolFailure(err: Error): (requestSent: boolean) => Error {
    const errno = (err as { errno?: unknown }).errno;
    const h2Code = this.goawayCode ?? (typeof errno === 'number' ? LIB_TO_H2[errno] : undefined) ?? 1;
    const message = errno === STRAY_ACK_ERRNO ? STRAY_ACK_MESSAGE : `HTTP/2 connection error: ${err.message}`;
    this.failure ??= (sent) => new ProtocolError('h2-protocol-error', message, { cause: err, requestSent: sent, h2Code });
    return this.failure;
  }

  /** The socket error that killed the session, if any (the cause of `connection-closed`). */
  socketError: Error | undefined;

  private onSocketGone(): void {
    if (this.isClosed) return;
    // Streams hear of it through their own 'close'; make sure the session goes too.
    setImmediate(() => this.close());
  }

  private onClock(slot: number): void {
    if (this.isClosed) return;
    if (slot === PROBE) {
      this.probeTick();
      return;
    }
    if (slot === IDLE) {
      if (this.streams.size === 0) this.close();
      return;
    }
    if (slot === ZERO) {
      if (this.streamSlots() === 0 && this.streams.size === 0 && !this.goingAway && !this.suspect) this.close();
      return;
    }
    if (slot === PING_DUE) {
      if (this.streams.size > 0) this.sendPing();
      return;
    }
    const settings = slot === SETTINGS;
    const timeout = settings ? this.opts.settingsTimeout : this.opts.pingTimeout;
    const since = settings ? this.startedAt : this.pingSentAt;
    const elapsed = now() - since;
    const what = settings ? "waiting for the server's HTTP/2 SETTINGS" : 'waiting for the HTTP/2 PING acknowledgement';
    this.fail(
      (sent) =>
        new TimeoutError({
          phase: settings ? 'h2-settings' : 'h2-ping',
          timeout,
          elapsed,
          requestSent: sent,
        }, `${settings ? 'h2-settings' : 'h2-ping'} timeout: ${Math.round(elapsed)} ms elapsed, limit ${timeout} ms, ${what}${sent ? ' (request sent)' : ' (request not sent)'}`),
      http2.constants.NGHTTP2_PROTOCOL_ERROR,
    );
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clock.dispose();
    retire(this.handle, this.socket);
    this.handle = undefined;
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ connection: this.info });
    const owner = this.owner;
    this.owner = undefined;
    owner?.sessionClosed(this);
  }
}

function isSocketError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_HTTP2_ERROR';
}
