/**
 * writer — puts one request on a socket: the head, then the body (bytes in the same
 * write as the head; streams chunk by chunk with backpressure, chunked-framed when the
 * length is unknown). With `Expect: 100-continue` the body is held until the
 * connection says `sendBody()`.
 *
 * Owns: nothing but the write side of the socket during one exchange. Reports to its
 * {@link WriterOwner}: `onBytesWritten` once the first byte was handed to the socket,
 * `onWriteWait` when a write left bytes waiting to be flushed (backpressure),
 * `onWriteProgress` when waiting bytes were flushed ('drain'), `onWriteDone(err)` once
 * the last byte was flushed (or writing failed). {@link RequestWriter.unflushed} tells
 * how many bytes still wait, down to what the kernel has not taken yet (write-idle
 * clock, SPEC §11).
 *
 * A request written whole at once (no body, or a buffered one) waits for the end of the
 * event-loop turn: `start` corks the socket and the turn's end ({@link atTurnEnd}, one
 * `setImmediate` for every socket) uncorks every socket written in it (streamed and `100-continue` bodies are written as they come). A turn that reads many
 * responses (and issues the next requests from them) then puts all its requests on the
 * wire after its reads, each head and buffered body in one write syscall, instead of a
 * write between every two reads (which woke nginx ~0.9 times per request instead of
 * ~0.3, see bench/results/nginx-investigation.md).
 *
 * Invariants: the head is validated and built before any byte is written (a bad
 * header throws and writes nothing); a declared length that the stream does not match
 * fails the request; an abandoned body stream is destroyed (closed exactly once);
 * `queued` is true once the last byte of the request is in the socket's queue: the
 * connection may then carry the next request even if the flush callback of this one
 * (late over TLS) has not come yet ({@link RequestWriter.settleQueued}).
 */

import type { Socket } from 'node:net';
import { CRLF, chunkHeader, LAST_CHUNK, serializeRequestHead } from '../http1/index.js';
import { bodyBytes, bodyTooShort, destroySource, overrun, pieceBytes, releaseSource, requestBodyError } from './body-error.js';
import { kernelSendQueue } from './kernel-queue.js';
import type { ExchangeScope } from './async-context.js';
import { atTurnEnd, type TurnEnd } from './turn.js';

/**
 * A string body up to this many UTF-16 units goes out joined to the head, as one string
 * write. A longer one is encoded to bytes once, when the request is made
 * ({@link stringBody}), and written beside the head: a joined string of head + body is
 * flattened into a copy on the V8 heap before being encoded into a second one, and its
 * Content-Length is one more pass over it (a 256 KiB JSON POST cost 2.4 × undici's CPU).
 */
const JOIN_STRING_MAX = 16 * 1024;

/**
 * Stream pieces under this size are corked with the head until the end of the turn (a
 * small upload in one writev); a larger one first sends what is corked.
 */
const CORK_PIECE_MAX = 16 * 1024;

/** A string request body as written: small ones stay strings (joined to the head), others are UTF-8 bytes. */
export function stringBody(s: string): string | Buffer {
  return s.length <= JOIN_STRING_MAX ? s : Buffer.from(s, 'utf8');
}

/** A request body ready to be written. */
export type WritableBody =
  | { kind: 'none' }
  | { kind: 'buffer'; data: string | Uint8Array }
  | { kind: 'stream'; source: AsyncIterable<BodyChunk> | Iterable<BodyChunk>; length: number };

/** One piece of a stream body: any `ArrayBufferView` or `ArrayBuffer` is sent as its bytes. */
export type BodyChunk = Uint8Array | ArrayBufferView | ArrayBuffer | string;

/** The connection side of a writer. */
export interface WriterOwner {
  onBytesWritten(): void;
  /**
   * A piece of a stream body is handed to the socket while nothing of the request waits in
   * node's or libuv's queue: the wait to flush starts now. The time the source took before
   * it is the caller's own wait, never the peer's (SPEC §3).
   */
  onWriteStart(): void;
  /** A write returned false: bytes wait to be flushed (not called when the socket took everything). */
  onWriteWait(): void;
  /** Waiting bytes were flushed ('drain') while the request is being written. */
  onWriteProgress(): void;
  onWriteDone(err: Error | undefined): void;
}

/** The internals of a Node stream socket that show how much of a write the kernel has not taken. */
interface SocketInternals {
  _handle?: { writeQueueSize?: unknown } | null;
  /** A TLS socket's underlying transport socket. */
  _parent?: SocketInternals | null;
}

const NO_BODY: WritableBody = { kind: 'none' };

/** Writes requests on one socket, one at a time. */
export class RequestWriter implements TurnEnd {
  /** True once the whole request was flushed (or counted as written, see `settleQueued`). */
  done = true;
  /** True once the last byte of the request was handed to the socket. */
  queued = true;
  private body: WritableBody = NO_BODY;
  /** Flush callbacks still to come for requests settled early (`settleQueued`): ignored. */
  private staleFlushes = 0;
  /** The socket is corked until the end of this turn (see `turnEnd`). */
  private corked = false;
  private abandoned = false;
  private drainWaiter: (() => void) | undefined;
  private readonly onFlushed: (err?: Error | null) => void;

  constructor(
    private readonly socket: Socket,
    private readonly owner: WriterOwner,
  ) {
    this.onFlushed = (err) => {
      if (this.staleFlushes > 0) this.staleFlushes--;
      else this.flushed(err ?? undefined);
    };
    socket.on('drain', () => {
      this.wake();
      if (!this.done) this.owner.onWriteProgress();
    });
    socket.on('close', () => this.wake());
  }

  /**
   * Bytes written but not yet taken by the kernel: the socket's buffered bytes plus
   * libuv's write queue of the socket and of the sockets under it (TLS over TCP). The
   * queue shrinks as the kernel takes bytes of a large write, so a change means
   * progress even inside one write (Node's own socket timeout reads it the same way).
   * Only compared with itself; falls back to the buffered bytes for exotic sockets.
   * `deep` adds the kernel's send queue where it can be read (Linux): a peer reading
   * slowly but steadily drains it long before libuv sees the socket writable again.
   * Costs a /proc read: only for the write-idle clock's suspicion, never per write.
   */
  unflushed(deep = false): number {
    let n = this.socket.writableLength;
    if (deep) {
      const k = kernelSendQueue(this.socket);
      if (k > 0) n += k;
    }
    let s: SocketInternals | null | undefined = this.socket as unknown as SocketInternals;
    for (let depth = 0; s != null && depth < 4; depth++, s = s._parent) {
      const q = s._handle?.writeQueueSize;
      if (typeof q === 'number') n += q;
    }
    return n;
  }

  /**
   * Validates and writes the head, and the body unless `holdBody`. Throws before writing on
   * invalid input. Returns the head as written (for the `wroteHeaders` trace hook).
   */
  start(method: string, target: string, headers: string[], body: WritableBody, holdBody: boolean): string {
    const head = serializeRequestHead(method, target, headers);
    this.done = false;
    this.queued = false;
    this.abandoned = false;
    this.body = body;
    const s = this.socket;
    // The head waits for the end of the turn, with whatever body follows it within the
    // turn: a whole request, or a stream's first pieces (one writev, not a write for the
    // head and one per piece: a 2 × 1 KiB Readable body cost 0.78 × undici's CPU). A held
    // body (100-continue) goes as before: its head at once.
    if (!this.corked && !holdBody) {
      this.corked = true;
      s.cork();
      atTurnEnd(this);
    }
    let more = true;
    if (body.kind === 'none') {
      more = s.write(head, 'utf8', this.onFlushed);
      this.queued = true;
    } else if (body.kind === 'buffer' && !holdBody) {
      if (typeof body.data === 'string' && body.data.length <= JOIN_STRING_MAX) {
        // One write of one string: the head and a small body encode together.
        more = s.write(head + body.data, 'utf8', this.onFlushed);
      } else {
        // Corked (above, or by a request before in this turn): head and body in one writev.
        s.write(head, 'utf8');
        more = s.write(bodyBytes(body.data), this.onFlushed);
      }
      this.queued = true;
    } else {
      s.write(head, 'utf8');
      if (!holdBody) this.sendBody();
    }
    if (!s.destroyed) {
      this.owner.onBytesWritten();
      if (!more && !this.done) this.owner.onWriteWait();
    }
    return head;
  }

  /**
   * The response head came while the request's flush callback is still to come (the
   * whole request is queued; TLS reports flushes late): counts the request as written and
   * ignores that callback. False (nothing changed) unless the request is queued and not done.
   */
  settleQueued(): boolean {
    if (this.done || !this.queued || this.abandoned) return false;
    this.staleFlushes++;
    this.done = true;
    this.body = NO_BODY;
    return true;
  }

  /**
   * The async context of the request being written: the turn's end is shared by every
   * socket, so its uncork (and the write callbacks it causes) runs in this scope.
   */
  scope: ExchangeScope | undefined;

  /** End of the turn: the bytes written in it go to the kernel. */
  turnEnd(): void {
    if (!this.corked) return; // ended early (uncorkNow)
    this.corked = false;
    const scope = this.scope;
    if (scope === undefined) this.socket.uncork();
    else scope.runInAsyncScope(this.uncork, this);
  }

  private uncork(): void {
    this.socket.uncork();
  }

  /** Ends this turn's cork early (its `turnEnd` still comes and finds it done). */
  private uncorkNow(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Sends the held body (after `100 Continue` or its timeout). */
  sendBody(): void {
    const body = this.body;
    if (this.abandoned || this.done) return;
    if (body.kind === 'buffer') {
      const more = this.socket.write(bodyBytes(body.data), this.onFlushed);
      this.queued = true;
      if (!more && !this.done) this.owner.onWriteWait();
    } else if (body.kind === 'stream') {
      void this.pump(body.source, body.length);
    } else {
      this.socket.write('', this.onFlushed);
      this.queued = true;
    }
  }

  /** Stops writing: the body will not be (fully) sent. Destroys a stream body. */
  abandonBody(): void {
    if (this.done || this.abandoned) return;
    this.abandoned = true;
    const body = this.body;
    this.body = NO_BODY;
    if (body.kind === 'stream') {
      destroySource(body.source);
    }
    this.wake();
  }

  private flushed(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.body = NO_BODY;
    if (this.abandoned) return;
    this.owner.onWriteDone(err);
  }

  private wake(): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }

  private async pump(
    source: AsyncIterable<BodyChunk> | Iterable<BodyChunk>,
    length: number,
  ): Promise<void> {
    const s = this.socket;
    const chunked = length < 0;
    let sent = 0;
    try {
      for await (const piece of source) {
        // Leaving the loop early destroys the source (its iterator's return): not the body's failure.
        if (this.abandoned || this.done || s.destroyed) return void releaseSource(source);
        const chunk = pieceBytes(source, piece);
        // Framing counts bytes: a Uint16Array's `length` is not its size on the wire.
        if (chunk.byteLength === 0) continue;
        sent += chunk.byteLength;
        if (!chunked && sent > length) throw overrun(source, length);
        // A large piece goes as it did alone: what the turn corked (the head) first.
        if (chunk.byteLength >= CORK_PIECE_MAX) this.uncorkNow();
        // Everything before was taken (bytes the kernel holds count as written, as Go's
        // WriteByteTimeout): the write-idle clock starts with this piece, not at its last
        // look, which may have been long before while the source was slow (adv11).
        if (this.unflushed() === 0) this.owner.onWriteStart();
        // A small piece the socket will hold (the turn's cork, or bytes queued before it) is
        // copied: the source may refill its buffer for the next piece before the socket
        // sends it. A piece written at once is in the kernel by then; a large one fills the
        // socket's buffer, and the next is pulled only after 'drain'.
        const data = chunk.byteLength < CORK_PIECE_MAX && (this.corked || s.writableLength > 0) ? Buffer.from(chunk) : chunk;
        let more: boolean;
        if (chunked) {
          s.cork();
          s.write(chunkHeader(data.byteLength), 'latin1');
          s.write(data);
          more = s.write(CRLF);
          s.uncork();
        } else {
          more = s.write(data);
        }
        if (!more) {
          // Backpressure: what the turn corked goes now, not at the turn's end (a large
          // stream is written as it comes, its pieces flushed as the socket takes them).
          this.uncorkNow();
          this.owner.onWriteWait();
          await new Promise<void>((resolve) => {
            this.drainWaiter = resolve;
          });
          if (this.abandoned || this.done || s.destroyed) return void releaseSource(source);
        }
      }
      if (this.abandoned || this.done || s.destroyed) return;
      if (!chunked && sent !== length) throw bodyTooShort(sent, length);
      releaseSource(source);
      s.write(chunked ? LAST_CHUNK : Buffer.alloc(0), this.onFlushed);
      this.queued = true;
    } catch (err) {
      if (this.abandoned) return;
      this.flushed(requestBodyError(err));
    }
  }
}

/*
 * The framing rules of a stream request body, one implementation for every sender (the
 * HTTP/1.1 writer, the HTTP/2 upload, MockTransport): a piece's bytes, a declared length
 * overrun (before the surplus byte leaves) or left short, a stream that failed.
 */
