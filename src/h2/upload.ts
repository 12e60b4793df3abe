/**
 * h2/upload — writes one request body as DATA frames on an HTTP/2 stream.
 *
 * Owns: the write side of one stream. Bytes are handed to node's HTTP/2 layer one piece
 * at a time (the next after the last one's write callback), and that callback — which
 * fires once nghttp2 has sent the whole piece to the socket, i.e. once the peer's
 * flow-control windows let it go — is this stream's own progress mark for the write-idle
 * clock (SPEC §13: flow-control waits count): node says nothing of a piece half sent, nor
 * of a stream's send window (measured on node 20: a stream's handle counts `bytesWritten`
 * when a write is handed over, `bufferSize` and `writableLength` drop only at its
 * callback, `stream.state` has the receive window only, and the session's counters are
 * the connection's). So pieces are sized to the pace: the first as the peer's initial
 * stream window (a power of two, 128 bytes to 64 KiB), then doubled (up to 64 KiB) after
 * a piece that went within an eighth of `writeIdleTimeout`, halved (down to 128 bytes)
 * after one that took over a quarter of it: a window reopened a few hundred bytes at a
 * time gives a mark per step, a fast peer the big pieces. While another upload shares the
 * connection a piece is also at most 16 KiB and this upload's share of the connection's
 * send window when cut (issue #16 adv5 N2). The limit node leaves: an upload sharing its
 * connection whose window is reopened by less than its current piece per
 * `writeIdleTimeout` (after a fast spell, up to 16 KiB; else 128 bytes) may be named
 * write-idle while bytes of it still flush — alone on its connection the connection's
 * counters see them ({@link WriteIdleJudge}). Reports `progress()` per piece
 * taken and `done(err)` once, at the end or on failure.
 *
 * Never: runs a clock (the stream does), touches the socket.
 * Invariants: a declared length the stream body does not match fails before a surplus
 * byte is written; the last DATA frame carries END_STREAM (no empty trailing frame when
 * the body is bytes); an abandoned stream body is destroyed once; at most one piece is
 * in node's hands at a time (its writes are never merged into one, so each has its mark).
 */

import type { ClientHttp2Stream } from 'node:http2';
import type { BodyChunk, WritableBody } from '../conn/writer.js';
import { bodyTooShort, destroySource, overrun, pieceBytes, releaseSource, requestBodyError } from '../conn/body-error.js';
import { now } from '../deadline.js';

/** Piece sizes (bytes): the most and the least. */
const PIECE_MAX = 64 * 1024;
const PIECE_MIN = 128;
/** The most a piece may be while another upload shares the connection (its marks are all the judge has then). */
const SHARED_MAX = 16 * 1024;

/** What an upload reads of its connection to size a piece (the session, see {@link UploadConnection}). */
export interface PieceConnection {
  /** Streams of the connection whose body is being written. */
  readonly uploaders: number;
  /** The peer's connection-level flow-control window (what we may still send). */
  sendWindow(): number;
}

/** The largest power of two not above `n`, within [PIECE_MIN, PIECE_MAX]. */
function pow2(n: number): number {
  return Math.min(PIECE_MAX, Math.max(PIECE_MIN, 2 ** Math.floor(Math.log2(Math.max(1, n)))));
}

/** The first piece: what the peer's initial stream window lets go at once (RFC 9113 default 65 535). */
function firstPiece(stream: ClientHttp2Stream): number {
  let w: number | undefined;
  try {
    w = stream.session?.remoteSettings.initialWindowSize;
  } catch {
    w = undefined;
  }
  return pow2(w ?? 65_535);
}

/** What an upload reports to (its stream). */
export interface UploadOwner {
  /**
   * A piece of the body was taken by the HTTP/2 layer (flow control let it go), or one is
   * handed to it while none of the body waits (the write-idle clock starts then).
   */
  uploadProgress(): void;
  /** The whole body was taken, or writing failed (`err`). Called once, unless abandoned. */
  uploadDone(err: Error | undefined): void;
}

/** One request body on its way. */
export class Upload {
  /** `start()` was called (a body is started once: a late 100 Continue does not start it again). */
  started = false;
  done = false;
  private abandoned = false;
  private drainWaiter: (() => void) | undefined;

  /** Size of the next piece (bytes), see the file header. */
  private piece: number;

  constructor(
    private readonly stream: ClientHttp2Stream,
    private readonly body: WritableBody,
    private readonly owner: UploadOwner,
    /** `writeIdleTimeout` (ms): what a piece's pace is measured against. */
    private readonly idleLimit = Number.POSITIVE_INFINITY,
    /** The connection, read when a piece is cut (none: pieces are sized by pace alone). */
    private readonly conn?: PieceConnection,
  ) {
    this.piece = firstPiece(stream);
  }

  /** The stream closed (its owner's 'close' listener calls this): a piece waiting to be sent stops waiting. */
  streamClosed(): void {
    this.wake();
  }

  /** Bytes written and not yet taken (waiting for a window or the socket). */
  get pending(): number {
    return this.stream.writableLength;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const b = this.body;
    if (b.kind === 'none') {
      this.finish(undefined);
      return;
    }
    if (b.kind === 'buffer') {
      const data = typeof b.data === 'string' ? Buffer.from(b.data) : b.data;
      void this.pump([data], data.byteLength);
      return;
    }
    void this.pump(b.source, b.length);
  }

  /** Stops writing; destroys a stream body. */
  abandon(): void {
    if (this.done || this.abandoned) return;
    this.abandoned = true;
    if (this.body.kind === 'stream') {
      destroySource(this.body.source);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }

  private get stopped(): boolean {
    return this.abandoned || this.stream.destroyed;
  }

  private async pump(source: AsyncIterable<BodyChunk> | Iterable<BodyChunk>, length: number): Promise<void> {
    const s = this.stream;
    let sent = 0;
    try {
      for await (const piece of source) {
        // Leaving the loop early destroys the source (its iterator's return): not the body's failure.
        if (this.stopped || this.done) return void releaseSource(source);
        const chunk = pieceBytes(source, piece);
        if (chunk.byteLength === 0) continue;
        sent += chunk.byteLength;
        if (length >= 0 && sent > length) throw overrun(source, length);
        for (let off = 0; off < chunk.byteLength; ) {
          const size = Math.min(this.pieceNow(), chunk.byteLength - off);
          const part = size === chunk.byteLength ? chunk : chunk.subarray(off, off + size);
          off += size;
          if (length >= 0 && sent === length && off >= chunk.byteLength) {
            // The last bytes: END_STREAM rides on this DATA frame (no empty frame after it).
            releaseSource(source);
            this.owner.uploadProgress(); // the wait to flush starts now (see writePiece)
            s.end(part, () => this.finish(undefined));
            return;
          }
          await this.writePiece(part);
          if (this.stopped || this.done) return void releaseSource(source);
        }
      }
      if (this.stopped || this.done) return;
      if (length >= 0 && sent !== length) throw bodyTooShort(sent, length);
      releaseSource(source);
      s.end(() => this.finish(undefined));
    } catch (err) {
      if (this.abandoned) return;
      this.finish(requestBodyError(err));
    }
  }

  /**
   * The size of the piece cut now: the paced size, and while another upload shares the
   * connection at most {@link SHARED_MAX} and this upload's share of the connection's
   * send window (a piece that waits for the siblings' share gives no mark; issue #16 adv5 N2).
   */
  private pieceNow(): number {
    const c = this.conn;
    if (c === undefined || c.uploaders < 2) return this.piece;
    let w: number;
    try {
      w = c.sendWindow();
    } catch {
      w = Number.POSITIVE_INFINITY;
    }
    return Math.min(this.piece, SHARED_MAX, pow2(w / c.uploaders));
  }

  /** Hands one piece to node and waits until it was sent (or the stream stopped); sizes the next. */
  private writePiece(part: Uint8Array): Promise<void> {
    const at = now();
    // Nothing of this upload waited to flush until now (the last piece went whole): the
    // write-idle clock starts here, not at that piece's mark — the time the body source
    // took is the client's own wait, never the peer's (SPEC §3; issue #16 adv6 M2).
    this.owner.uploadProgress();
    return new Promise<void>((resolve) => {
      this.drainWaiter = resolve;
      this.stream.write(part, (err?: Error | null) => {
        if (err == null && !this.done && !this.abandoned) {
          const took = now() - at;
          if (took <= this.idleLimit / 8) this.piece = Math.min(PIECE_MAX, this.piece * 2);
          else if (took > this.idleLimit / 4) this.piece = Math.max(PIECE_MIN, this.piece >> 1);
          this.owner.uploadProgress();
        }
        if (this.drainWaiter === resolve) this.wake();
      });
    });
  }

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.abandoned) return;
    this.owner.uploadDone(err);
  }
}


/** What the write-idle judgement reads of the connection. */
export interface UploadConnection {
  /** Bytes the connection has written to its socket so far, less its own control frames (may step back). */
  bytesOut(): number;
  /**
   * The peer's connection-level flow-control window (what we may still send): only DATA
   * frames we send make it shrink (a WINDOW_UPDATE from the peer makes it grow).
   */
  sendWindow(): number;
  /** Streams of the connection whose body is being written. */
  readonly uploaders: number;
  /** Counts uploads begun and ended on the connection: while it moves, DATA out may be a sibling's. */
  readonly uploadEpoch: number;
  /**
   * Counts what may make the connection write bytes other than DATA: streams opened or
   * ended, frames received (a response's DATA is answered by our WINDOW_UPDATE).
   */
  readonly traffic: number;
  /**
   * Monotonic ms of the last time the connection's send window was seen to shrink (DATA
   * went out; read every probe tick, 50 ms, while a body is being written); -Infinity if never.
   */
  readonly lastDataAt: number;
  /**
   * Bytes written that the peer has not taken: libuv's queue, plus (`deep`, the default)
   * the kernel's send queue, read from /proc — milliseconds on a host with many sockets.
   */
  socketBacklog(deep?: boolean): number;
}

/**
 * The write-idle judgement of one upload (SPEC §3/§11/§13), called only while a piece of
 * it waits in node's hands (the stream's own marks, {@link WriteIdleJudge.progress}, come
 * from its pieces' write callbacks). It takes two looks: one halfway to the limit (it
 * records the connection's send window, bytes out and socket backlog, and asks to be
 * called again at the limit), and one at the limit, so that a stall is named on time,
 * never a look later (SPEC §3). At the limit it says:
 * - progress after all, when this is the only upload of its connection and DATA went
 *   out since halfway (a window opened a few bytes, less than the piece): the
 *   connection's send window shrank, or bytes went out while nothing else happened on
 *   the connection (no stream opened or ended, no frame received: {@link
 *   UploadConnection.traffic}). Other streams' HEADERS, our WINDOW_UPDATEs, PINGs or the
 *   peer's WINDOW_UPDATEs never count (issue #16 N3).
 *   DATA that went out before halfway only moves the count to start at the halfway look
 *   (when it left is not known closer than that). A WINDOW_UPDATE the peer sends for the
 *   connection between two looks may hide DATA sent meanwhile (the window is read, not
 *   each frame): then the stall is named unless a piece of the upload went whole;
 * - progress when the socket held bytes halfway and took some since (a slow reader);
 * - `'socket'` when the socket held bytes halfway and now and took none meanwhile (the
 *   connection is stuck: all its streams fail);
 * - else `'window'`: this stream waits for flow control, whatever its siblings do — a
 *   socket empty halfway is no stuck socket, even if a sibling's bytes sit in it now
 *   (issue #16 N2).
 *
 * Precision (SPEC §3: within 15 ms of the due time): the halfway look names the limit as
 * an absolute time (the slow /proc read it makes does not push the limit back), and the
 * look at the limit reads /proc only when the socket held bytes halfway.
 */
export class WriteIdleJudge {
  /** Monotonic ms of the last progress. */
  flushedAt = 0;
  private windowAtProgress = Number.NaN;
  private windowAtMid = Number.NaN;
  /** Bytes out at the last mark; NaN: not known (the upload's own HEADERS may leave after it). */
  private outAtProgress = Number.NaN;
  private trafficAtProgress = -1;
  private epochAtProgress = -1;
  private epochAtMid = -2;
  private outAtMid = 0;
  private trafficAtMid = -1;
  private backlogAtMid = -1;
  /** Monotonic ms of the halfway look. */
  private midAt = 0;
  private atMid = false;

  constructor(private readonly conn: UploadConnection) {}

  /** A mark: a piece of the upload was sent (`first`: the upload starts, its HEADERS may still be queued). */
  progress(t: number, first = false): void {
    this.flushedAt = t;
    this.atMid = false;
    const sole = this.conn.uploaders === 1;
    this.windowAtProgress = sole ? this.conn.sendWindow() : Number.NaN;
    this.outAtProgress = sole && !first ? this.conn.bytesOut() : Number.NaN;
    this.trafficAtProgress = this.conn.traffic;
    this.epochAtProgress = this.conn.uploadEpoch;
    this.backlogAtMid = -1;
  }

  /** DATA went out between a look (or mark) and now, by the counters taken then. */
  private dataOut(window: number, out: number, traffic: number): boolean {
    if (this.conn.sendWindow() < window) return true;
    return traffic === this.conn.traffic && this.conn.bytesOut() > out;
  }

  /** The halfway look: what the connection's counters say now. */
  private look(t: number, sole: boolean): void {
    this.atMid = true;
    this.windowAtMid = sole ? this.conn.sendWindow() : Number.NaN;
    this.outAtMid = this.conn.bytesOut();
    this.trafficAtMid = this.conn.traffic;
    this.epochAtMid = this.conn.uploadEpoch;
    this.midAt = t;
    this.backlogAtMid = this.conn.socketBacklog();
  }

  /**
   * At `t` (monotonic ms): progress, the monotonic ms of the next look (the limit itself),
   * or the kind of stall.
   */
  judge(limit: number, t: number): 'progress' | number | 'socket' | 'window' {
    const sole = this.conn.uploaders === 1;
    if (sole && this.conn.lastDataAt > this.flushedAt && this.conn.lastDataAt <= t) {
      // DATA went out since the mark, and only this upload had any: a mark at that time
      // (to the probe tick), so the stall is named on time and `elapsed` is real (issue #16 adv5 N5).
      this.progress(this.conn.lastDataAt);
      if (this.flushedAt + limit > t + 1) {
        this.look(t, sole);
        return this.flushedAt + limit;
      }
    }
    const due = this.flushedAt + limit;
    if (!this.atMid && t < due - 1) {
      this.atMid = true;
      this.look(t, sole);
      return due;
    }
    // Only while this upload was the only one throughout: a sibling that began and ended
    // between the looks sent DATA too (issue #16 adv6 M3).
    if (sole && this.atMid && !Number.isNaN(this.windowAtMid) && this.epochAtMid === this.conn.uploadEpoch) {
      // DATA went out since halfway: the last left less than half the limit ago.
      if (this.dataOut(this.windowAtMid, this.outAtMid, this.trafficAtMid)) return 'progress';
      // DATA went out before halfway only: the last left by the halfway look at the latest.
      // Counting from that look (never from earlier: a trickling window is not a stall),
      // this look is the new halfway one.
      if (this.epochAtProgress === this.epochAtMid && this.windowAtMid < this.windowAtProgress || this.trafficAtMid === this.trafficAtProgress && this.outAtMid > this.outAtProgress) {
        this.flushedAt = this.midAt;
        this.windowAtProgress = this.windowAtMid;
        this.outAtProgress = this.outAtMid;
        this.trafficAtProgress = this.trafficAtMid;
        this.epochAtProgress = this.epochAtMid;
        this.look(t, sole);
        return this.flushedAt + limit;
      }
    }
    if (this.backlogAtMid > 0) {
      const backlog = this.conn.socketBacklog();
      if (backlog > 0) {
        // What the socket took since halfway: what it held then plus what was written since, less what it holds now.
        const taken = this.backlogAtMid + (this.conn.bytesOut() - this.outAtMid) - backlog;
        return taken > 0 ? 'progress' : 'socket';
      }
    }
    return 'window';
  }
}
