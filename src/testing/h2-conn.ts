/**
 * h2-conn — one HTTP/2 connection of the fault server, spoken frame by frame over
 * the raw TLS or TCP socket (node:http2's server cannot misbehave at frame level).
 *
 * Owns: the connection-level script ({@link H2FaultOptions}: SETTINGS withheld or late,
 * PINGs unanswered, windows that never reopen, a stream limit), the frame loop
 * (SETTINGS/PING/WINDOW_UPDATE/HEADERS+CONTINUATION/DATA/RST_STREAM/GOAWAY from the
 * client), flow-controlled sending of DATA, GOAWAY bookkeeping, and filling the
 * record tests assert on (./h2-record.ts, which {@link H2Connection} extends). Streams are ./h2-stream.ts; routes are
 * ./h2-routes.ts.
 *
 * Never: validates what a script sends (that is the point), or closes the
 * connection on a client's protocol error unless told to — it records it in
 * `errors` and keeps going.
 *
 * Invariants: every write after `close()`, after a blackhole or to a destroyed
 * socket is a silent no-op; DATA never exceeds the client's windows (a script that
 * wants to break flow control writes raw frames); a stream above a GOAWAY's
 * last-stream-id gets no frame from its route; every timer goes through the host.
 */

import type * as net from 'node:net';
import type { Conn, ConnectionInfo } from './conn.js';
import { HpackDecoder } from './h2-hpack.js';
import type { H2FaultOptions } from './h2-options.js';
import { H2ClientRecord } from './h2-record.js';
export type { H2ClientError } from './h2-record.js';
import { H2Stream, type H2StreamHost } from './h2-stream.js';
import {
  Flag, type Frame, FrameReader, FrameType, goawayFrame, H2Code, headerBlockFragment, pingFrame, PREFACE, rstFrame,
  Setting, settingsFrame, windowUpdateFrame,
} from './h2-wire.js';

/** What a connection needs from its server. */
export interface H2ConnHost extends H2StreamHost {
  readonly h2Options: H2FaultOptions;
  /** A new stream's headers are complete: record it and run its route. */
  openStream(stream: H2Stream): void;
}

/** One HTTP/2 connection: counters to assert on and connection-level primitives for scripts. */
export class H2Connection extends H2ClientRecord {
  /** Last-stream-id of the lowest GOAWAY sent, or null. */
  goawaySent: number | null = null;
  /** PING answers: as the option, changeable by a script. */
  pingAck: boolean | number;

  /** @internal */ sendWindow = 65_535;
  /** @internal */ peerInitialWindow = 65_535;
  /** @internal */ peerMaxFrame = 16_384;
  private readonly open = new Map<number, H2Stream>();
  private readonly reader = new FrameReader(() => 16_384 * 64);
  private readonly hpack = new HpackDecoder();
  private pendingHeaders: { stream: number; flags: number; parts: Buffer[] } | null = null;
  private preface: Buffer | null = Buffer.alloc(0);
  private silenced = false;
  /** Writes not yet flushed: settled by their callback, or all at once when the socket closes. */
  private readonly unflushed = new Set<() => void>();
  /** The last SETTINGS_MAX_CONCURRENT_STREAMS announced (enforced unless the option says not to). */
  private maxStreams: number | undefined;
  /** Frames waiting for the SETTINGS or for a header block to end; null when none is held. */
  private held: { bytes: Uint8Array; resolve: () => void }[] | null = [];
  private holder: number | null = null;
  private drainClose = false;

  /** @internal */
  constructor(
    private readonly host: H2ConnHost,
    private readonly conn: Conn,
  ) {
    super();
    this.pingAck = host.h2Options.pingAck ?? true;
    conn.socket.once('close', () => {
      for (const done of [...this.unflushed]) done();
    });
    this.maxStreams = host.h2Options.maxConcurrentStreams;
  }

  get id(): number {
    return this.info.id;
  }
  get info(): ConnectionInfo {
    return this.conn.info;
  }
  get socket(): net.Socket {
    return this.conn.socket;
  }
  /** No more frames can be written. */
  get closed(): boolean {
    return this.silenced || this.conn.closed;
  }
  /** Streams open (neither closed by both sides nor reset). */
  get openStreams(): number {
    return this.open.size;
  }

  /** Starts the frame loop on the socket; `initial` are bytes already read (a sniffed preface). */
  start(initial?: Buffer): void {
    const opts = this.host.h2Options;
    // As nginx and node's own HTTP/2 server do: with Nagle on, a small response on a reused
    // connection waited for the client's delayed ACK, ~40 ms a request (eleventh attack F7).
    this.socket.setNoDelay(true);
    const pairs: [number, number][] = [];
    if (opts.maxConcurrentStreams !== undefined) pairs.push([Setting.MAX_CONCURRENT_STREAMS, opts.maxConcurrentStreams]);
    if (opts.initialWindowSize !== undefined) pairs.push([Setting.INITIAL_WINDOW_SIZE, opts.initialWindowSize]);
    pairs.push(...(opts.settings ?? []).map(([a, b]): [number, number] => [a, b]));
    const delay = opts.settingsDelay ?? 0;
    const sendSettings = (): void => {
      void this.write(settingsFrame(pairs));
      this.release();
    };
    if (delay === 0) sendSettings();
    else if (delay !== 'never') this.host.timer(delay, sendSettings);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The client's FIN (after its GOAWAY) ends the connection: answer with ours.
    this.socket.on('end', () => void this.conn.finish());
    this.socket.on('close', () => {
      for (const s of this.open.values()) s.onClosed();
      this.open.clear();
    });
    opts.onConnection?.(this);
    if (initial && initial.length > 0) this.onData(initial);
  }

  /**
   * Writes bytes verbatim and at once (any frame, or garbage), ahead of frames held
   * back (before the server's SETTINGS, during a header block being dripped); a no-op
   * once closed.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      // One 'close' listener for all writes in flight (see the constructor), not one each.
      const done = (): void => {
        this.unflushed.delete(done);
        resolve();
      };
      this.unflushed.add(done);
      this.socket.write(bytes, () => done());
    });
  }

  /**
   * @internal Writes a protocol frame in order: held while the server's SETTINGS
   * are withheld (nothing may precede them) or another stream's header block is open.
   */
  send(bytes: Uint8Array, owner = 0): Promise<void> {
    if (this.held === null || (this.holder !== null && owner === this.holder)) return this.write(bytes);
    return new Promise((resolve) => this.held!.push({ bytes, resolve }));
  }

  /**
   * @internal Runs `fn` with the connection reserved for `stream` (a header block
   * sent in pieces): other frames wait until it returns.
   */
  async exclusive(stream: number, fn: () => Promise<void>): Promise<void> {
    while (this.held !== null) await new Promise((r) => this.host.timer(5, () => r(undefined)));
    this.held = [];
    this.holder = stream;
    try {
      await fn();
    } finally {
      this.release();
    }
  }

  /** SETTINGS with these pairs (e.g. `[[Setting.MAX_CONCURRENT_STREAMS, 0]]`). */
  settings(pairs: readonly (readonly [number, number])[]): Promise<void> {
    for (const [id, value] of pairs) if (id === Setting.MAX_CONCURRENT_STREAMS) this.maxStreams = value;
    return this.send(settingsFrame(pairs));
  }

  /** A PING from the server (8 bytes of `data`). */
  ping(data: Uint8Array = Buffer.alloc(8)): Promise<void> {
    return this.send(pingFrame(data, false));
  }

  /**
   * GOAWAY: streams above `lastStreamId` (default: the last one opened) are never
   * answered, new ones are ignored. Several GOAWAYs may be sent; the lowest counts.
   */
  goaway(lastStreamId = this.lastStreamId, code: number = H2Code.NO_ERROR, debug = ''): Promise<void> {
    this.goawaySent = this.goawaySent === null ? lastStreamId : Math.min(this.goawaySent, lastStreamId);
    for (const s of this.open.values()) if (s.id > this.goawaySent) s.suppress();
    return this.send(goawayFrame(lastStreamId, code, debug));
  }

  /** FIN once no stream at or below the GOAWAY's last-stream-id is open (at once if none is). */
  closeWhenDrained(): void {
    this.drainClose = true;
    this.maybeDrained();
  }

  /** Opens `increment` bytes of the connection's receive window (stream 0). */
  grantWindow(increment: number): Promise<void> {
    return this.send(windowUpdateFrame(0, increment));
  }

  /** The connection goes silent: nothing more is written (no ACK, no response), input is still read and counted. */
  blackhole(): void {
    this.silenced = true;
  }

  /** Stops reading the socket (kernel buffers fill, the client's writes stall); `resumeReading()` undoes it. */
  stopReading(): void {
    this.socket.pause();
  }
  resumeReading(): void {
    this.socket.resume();
  }

  /** FIN (after the writes queued so far). */
  end(): Promise<void> {
    return this.conn.finish();
  }

  /** RST of the TCP connection. */
  reset(): void {
    this.conn.reset();
  }

  /** Resolves once `n` streams were opened on this connection (rejects after `timeoutMs`). */
  waitForStreams(n: number, timeoutMs = 5000): Promise<void> {
    return this.host.waitFor(() => this.streams >= n, timeoutMs, `connection ${this.id}: ${n} streams`);
  }

  /** @internal A tracked timer (cleared by the server's `close()`); returns its cancel function. */
  timer(ms: number, fn: () => void): () => void {
    return this.host.timer(ms, fn);
  }

  // Private implementation past this point.

  /** @internal A stream finished on both sides or was reset. */
  forget(stream: H2Stream): void {
    this.open.delete(stream.id);
    this.maybeDrained();
    this.flush();
  }

  /** @internal Sends what the windows allow from every stream's queue. */
  flush(): void {
    for (const s of this.open.values()) s.pump();
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    this.holder = null;
    for (const h of held) void this.write(h.bytes).then(h.resolve);
  }

  private maybeDrained(): void {
    if (!this.drainClose) return;
    const limit = this.goawaySent ?? Infinity;
    for (const s of this.open.values()) if (s.id <= limit) return;
    void this.end();
  }

  private onData(chunk: Buffer): void {
    if (this.preface !== null) {
      this.preface = Buffer.concat([this.preface, chunk]);
      if (this.preface.length < PREFACE.length) return;
      if (!this.preface.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.errors.push({ stream: 0, message: 'bad connection preface' });
        this.preface = null;
        this.conn.socket.destroy();
        return;
      }
      chunk = this.preface.subarray(PREFACE.length);
      this.preface = null;
    }
    const { frames, oversized } = this.reader.push(chunk);
    for (const f of frames) this.onFrame(f);
    if (oversized) this.errors.push({ stream: 0, message: 'frame larger than the server accepts' });
    this.flush();
  }

  private onFrame(f: Frame): void {
    if (this.pendingHeaders && f.type !== FrameType.CONTINUATION) {
      this.errors.push({ stream: f.stream, message: 'frame interleaved in a header block' });
    }
    switch (f.type) {
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        return this.onPing(f);
      case FrameType.WINDOW_UPDATE: {
        this.windowUpdatesReceived++;
        const inc = f.payload.length >= 4 ? f.payload.readUInt32BE(0) & 0x7fffffff : 0;
        if (f.stream === 0) this.sendWindow += inc;
        else this.open.get(f.stream)?.addSendWindow(inc);
        return;
      }
      case FrameType.HEADERS:
        this.pendingHeaders = { stream: f.stream, flags: f.flags, parts: [headerBlockFragment(f)] };
        if (f.flags & Flag.END_HEADERS) this.endHeaders();
        return;
      case FrameType.CONTINUATION:
        if (!this.pendingHeaders || this.pendingHeaders.stream !== f.stream) {
          this.errors.push({ stream: f.stream, message: 'CONTINUATION without HEADERS' });
          return;
        }
        this.pendingHeaders.parts.push(f.payload);
        if (f.flags & Flag.END_HEADERS) this.endHeaders();
        return;
      case FrameType.DATA:
        return this.onDataFrame(f);
      case FrameType.RST_STREAM: {
        const code = f.payload.length >= 4 ? f.payload.readUInt32BE(0) : -1;
        this.resetsReceived.push({ stream: f.stream, code });
        this.open.get(f.stream)?.onReset(code);
        return;
      }
      case FrameType.GOAWAY:
        this.goawaysReceived.push({
          lastStreamId: f.payload.length >= 4 ? f.payload.readUInt32BE(0) & 0x7fffffff : 0,
          code: f.payload.length >= 8 ? f.payload.readUInt32BE(4) : -1,
          debug: f.payload.subarray(8).toString('utf8'),
        });
        return;
      default:
        return; // PRIORITY, unknown types: ignored (RFC 9113 §5.5)
    }
  }

  private onSettings(f: Frame): void {
    if (f.flags & Flag.ACK) {
      this.settingsAcksReceived++;
      return;
    }
    this.settingsReceived++;
    for (let off = 0; off + 6 <= f.payload.length; off += 6) {
      const id = f.payload.readUInt16BE(off);
      const value = f.payload.readUInt32BE(off + 2);
      this.clientSettings.set(id, value);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.open.values()) s.addSendWindow(delta);
      } else if (id === Setting.MAX_FRAME_SIZE) {
        this.peerMaxFrame = value;
      }
    }
    void this.send(settingsFrame([], true));
  }

  private onPing(f: Frame): void {
    if (f.flags & Flag.ACK) {
      this.pingAcksReceived++;
      return;
    }
    this.pingsReceived++;
    const ack = this.pingAck;
    if (ack === false) return;
    if (ack === true || ack <= 0) void this.send(pingFrame(f.payload, true));
    else this.host.timer(ack, () => void this.send(pingFrame(f.payload, true)));
  }

  private endHeaders(): void {
    const pending = this.pendingHeaders!;
    this.pendingHeaders = null;
    let fields: [string, string][];
    try {
      fields = this.hpack.decode(Buffer.concat(pending.parts));
    } catch (err) {
      this.errors.push({ stream: pending.stream, message: (err as Error).message });
      void this.send(goawayFrame(this.lastStreamId, H2Code.COMPRESSION_ERROR));
      return;
    }
    const end = (pending.flags & Flag.END_STREAM) !== 0;
    const existing = this.open.get(pending.stream);
    if (existing) {
      existing.onTrailers(fields, end);
      return;
    }
    if (pending.stream <= this.lastStreamId || pending.stream % 2 === 0) {
      this.errors.push({ stream: pending.stream, message: 'HEADERS on a closed or even stream' });
      return;
    }
    this.lastStreamId = pending.stream;
    this.streams++;
    const stream = new H2Stream(this, pending.stream, fields, end);
    if (this.goawaySent !== null && stream.id > this.goawaySent) return; // not processed
    const mcs = this.maxStreams;
    if (mcs !== undefined && this.open.size >= mcs && this.host.h2Options.enforceMaxConcurrentStreams !== false) {
      void this.send(rstFrame(stream.id, H2Code.REFUSED_STREAM));
      return;
    }
    this.open.set(stream.id, stream);
    this.host.openStream(stream);
  }

  private onDataFrame(f: Frame): void {
    this.dataBytesReceived += f.payload.length;
    const stream = this.open.get(f.stream);
    let data = f.payload;
    if (f.flags & Flag.PADDED && data.length > 0) data = data.subarray(1, data.length - data[0]!);
    const policy = this.host.h2Options.windowUpdates ?? 'all';
    if (f.payload.length > 0 && (policy === 'all' || policy === 'connection')) {
      void this.send(windowUpdateFrame(0, f.payload.length));
    }
    if (!stream) {
      if (f.stream === 0) this.errors.push({ stream: 0, message: 'DATA on stream 0' });
      return;
    }
    stream.onData(data, f.payload.length, (f.flags & Flag.END_STREAM) !== 0, policy === 'all' || policy === 'streams');
  }
}
