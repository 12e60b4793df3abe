/**
 * h2/upload — writes one request body as DATA frames on an HTTP/2 stream.
 *
 * Owns: the write side of one stream. Bytes are written in pieces of at most 64 KiB so
 * that each piece's write callback — which fires once nghttp2 has taken it, i.e. once
 * the peer's flow-control windows let it go — is a progress mark for the write-idle
 * clock (SPEC §13: flow-control waits count). Reports `progress()` per piece taken and
 * `done(err)` once, at the end or on failure.
 *
 * Never: runs a clock (the stream does), touches the socket.
 * Invariants: a declared length the stream body does not match fails before a surplus
 * byte is written; the last DATA frame carries END_STREAM (no empty trailing frame when
 * the body is bytes); an abandoned stream body is destroyed once.
 */

import type { ClientHttp2Stream } from 'node:http2';
import type { BodyChunk, WritableBody } from '../conn/writer.js';
import { bodyBytes, bodyTooLong, bodyTooShort, requestBodyError } from '../conn/body-error.js';

const PIECE = 64 * 1024;

/** What an upload reports to (its stream). */
export interface UploadOwner {
  /** A piece of the body was taken by the HTTP/2 layer (flow control let it go). */
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

  constructor(
    private readonly stream: ClientHttp2Stream,
    private readonly body: WritableBody,
    private readonly owner: UploadOwner,
  ) {
    stream.on('drain', () => this.wake());
  }

  /** The stream closed (its owner's 'close' listener calls this): a write waiting for 'drain' stops waiting. */
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
      const src = this.body.source as { destroy?: (err?: Error) => void };
      if (typeof src.destroy === 'function') src.destroy();
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
    const progress = (err?: Error | null): void => {
      if (err == null && !this.done && !this.abandoned) this.owner.uploadProgress();
    };
    try {
      for await (const piece of source) {
        if (this.stopped) return;
        const chunk = bodyBytes(piece);
        if (chunk.byteLength === 0) continue;
        sent += chunk.byteLength;
        if (length >= 0 && sent > length) throw bodyTooLong(length);
        for (let off = 0; off < chunk.byteLength; off += PIECE) {
          const part = chunk.byteLength <= PIECE ? chunk : chunk.subarray(off, off + PIECE);
          if (length >= 0 && sent === length && off + PIECE >= chunk.byteLength) {
            // The last bytes: END_STREAM rides on this DATA frame (no empty frame after it).
            s.end(part, () => this.finish(undefined));
            return;
          }
          if (!s.write(part, progress)) {
            await new Promise<void>((resolve) => {
              this.drainWaiter = resolve;
            });
            if (this.stopped) return;
          }
        }
      }
      if (this.stopped) return;
      if (length >= 0 && sent !== length) throw bodyTooShort(sent, length);
      s.end(() => this.finish(undefined));
    } catch (err) {
      if (this.abandoned) return;
      this.finish(requestBodyError(err));
    }
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
  /** Streams of the connection whose body is being written. */
  readonly uploaders: number;
  /**
   * Bytes written that the peer has not taken: libuv's queue, plus (`deep`, the default)
   * the kernel's send queue, read from /proc — milliseconds on a host with many sockets.
   */
  socketBacklog(deep?: boolean): number;
}

/**
 * The write-idle judgement of one upload (SPEC §13: waits for the peer's window count).
 * It takes two looks: one halfway to the limit (it records the bytes out and the socket
 * backlog and asks to be called again at the limit), and one at the limit, so that a
 * stall is named on time, never a look later (SPEC §3). At the limit it says: progress
 * after all (the only upload of its connection, and bytes went out since halfway: a
 * window opened a few bytes, less than one written piece; or the socket backlog shrank:
 * the peer reads slowly), `'socket'` (bytes sit in the socket: the connection is stuck)
 * or `'window'` (the stream waits for flow control; the socket is empty). Bytes that went
 * out before halfway only move the count to start at the halfway look (when they left is
 * not known closer than that): a window reopened a little every 300 ms is never called a
 * 400 ms stall, at the price of naming a stall that follows such a trickle up to half the
 * limit late.
 *
 * Precision (SPEC §3: within 15 ms of the due time): the halfway look names the limit as
 * an absolute time (the slow /proc read it makes does not push the limit back), and the
 * look at the limit reads /proc only when the socket held bytes halfway or bytes went
 * out since (else the kernel's queue is still empty), so a window stall is named
 * without that read.
 */
export class WriteIdleJudge {
  /** Monotonic ms of the last progress. */
  flushedAt = 0;
  private outAtProgress = -1;
  private outAtMid = -1;
  private backlogAtMid = -1;
  /** Monotonic ms of the halfway look. */
  private midAt = 0;

  constructor(private readonly conn: UploadConnection) {}

  progress(t: number): void {
    this.flushedAt = t;
    this.outAtProgress = this.conn.bytesOut();
    this.outAtMid = -1;
    this.backlogAtMid = -1;
  }

  /** Bytes out so far are not this upload's (its HEADERS went out after they were counted). */
  rebase(): void {
    this.outAtProgress = this.conn.bytesOut();
  }

  /**
   * At `t` (monotonic ms): progress, the monotonic ms of the next look (the limit itself),
   * or the kind of stall.
   */
  judge(limit: number, t: number): 'progress' | number | 'socket' | 'window' {
    const due = this.flushedAt + limit;
    const out = this.conn.bytesOut();
    if (this.outAtMid < 0 && t < due - 1) {
      this.outAtMid = out;
      this.midAt = t;
      this.backlogAtMid = this.conn.socketBacklog();
      return due;
    }
    const mid = this.outAtMid < 0 ? this.outAtProgress : this.outAtMid;
    if (this.conn.uploaders === 1) {
      // Bytes went out since halfway: the last left less than half the limit ago.
      if (out > mid) return 'progress';
      // Bytes went out before halfway only: the last left by the halfway look at the
      // latest. Counting from that look (never from earlier: a trickling window is not a
      // stall), this look is the new halfway one.
      if (this.outAtMid >= 0 && mid > this.outAtProgress) {
        this.flushedAt = this.midAt;
        this.outAtProgress = mid;
        this.outAtMid = out;
        this.midAt = t;
        this.backlogAtMid = this.conn.socketBacklog();
        return this.flushedAt + limit;
      }
    }
    // The socket (kernel included) was empty halfway and nothing was written since: only
    // libuv's queue (a control frame) can hold bytes now, not the kernel.
    const quiet = this.outAtMid >= 0 && out === this.outAtMid && this.backlogAtMid === 0;
    const backlog = this.conn.socketBacklog(!quiet);
    if (backlog > 0 && this.backlogAtMid > 0 && backlog < this.backlogAtMid) return 'progress';
    return backlog === 0 ? 'window' : 'socket';
  }
}
