/**
 * body — the path of one response body from a connection to its consumer.
 *
 * Owns: {@link BodyChannel}, the connection-side sink, and {@link BodyReadable}, the
 * Node `Readable` a caller sees as `res.body`. The channel has four consumer modes,
 * chosen by the first consumer and never changed afterwards:
 *   - buffered: nobody consumes yet; chunks are kept until 64 KiB, then the producer
 *     is told to pause (its read-idle clock pauses with it: SPEC §11);
 *   - collect: `text()/json()/bytes()` take every chunk directly, no stream machinery;
 *   - stream: `res.body` was touched; chunks go through a `Readable` with backpressure;
 *   - reader: `res.readInto(buf)` copies bytes into the caller's memory (Go's `Read`);
 *     what does not fit waits in one carry buffer while the producer pauses.
 *
 * Invariants: the producer (connection) calls push/end/fail; `onDemand` is called when
 * a paused producer should resume; `onSettled` is called exactly once — when the whole
 * body is in memory (it ended while nobody or a buffered consumer held it: SPEC §11, the
 * connection goes back at once and the bytes wait for the caller with no clock), when
 * the consumer has seen the end, or when the body failed or was abandoned — and the
 * connection releases or closes itself on that call; after it the channel never calls
 * its producer again (the connection may already serve another request). A chunk pushed
 * with `owned === false` is a view of a reused read buffer: the channel copies whatever
 * it keeps past the call (read-buffer.ts). The channel never references its Response
 * (the connection must not keep a dropped Response alive); {@link watchUnread} destroys
 * the body of a Response collected unread.
 */

import { Readable } from 'node:stream';
import { HourglassError } from '../errors.js';
import { Carry } from './carry.js';
import { ownedCopy } from './read-buffer.js';

/** High-water mark of a paused body, in bytes. */
const HIGH_WATER = 64 * 1024;
/** A body with at least this much left is read into memory the consumer may keep... */
const OWNED_MIN = 64 * 1024;
/** ...once a chunk this large shows it arrives in large reads. */
const LARGE_CHUNK = 32 * 1024;

/** The Response side's interest in the body's end (its budget and observers). */
export interface BodyEndListener {
  /** Called once, just before the producer hears of it; `err` is set when the body failed. */
  bodyEnded(err: Error | undefined): void;
}

/**
 * Bodies whose Response was garbage-collected: one left unread or claimed by `readInto` is
 * destroyed (its connection closes), as undici's fetch does; a stream is the consumer's.
 */
const UNREAD = new FinalizationRegistry<BodyChannel>((ch) => ch.collected());
/** Bodies whose unread stream was collected after their Response was. */
const LOOSE = new FinalizationRegistry<BodyChannel>((ch) => ch.orphaned());

/**
 * Responses made this turn, with their channels (pairs), registered in {@link UNREAD} at
 * the turn's end only if their body is still unsettled then: most small bodies are read
 * whole within the turn that made their Response, and a register + unregister per request
 * (a weak cell V8's GC also has to process) was ~2-5 % of a small HTTP/2 GET's CPU (issue
 * #16). Holding the Response until then only delays its collection by one turn.
 */
let made: object[] = [];

/** setImmediate's callback: the turn's Responses whose body is still open are watched. */
function watchMade(): void {
  const list = made;
  made = [];
  for (let i = 0; i < list.length; i += 2) {
    const channel = list[i + 1] as BodyChannel;
    if (channel.isDone) continue;
    // The channel is its own unregister token: a settled body leaves the registry at once.
    // Left registered, the cell would hold the channel (and through it the connection's
    // exchange, an h2 stream with node's stream objects) until the Response's next full
    // GC: every such body survived scavenges and was promoted (issue #16).
    channel.watched = true;
    UNREAD.register(list[i]!, channel, channel);
  }
}

/** Destroys `channel`'s body if `owner` (its Response) is collected while the body is unread. */
export function watchUnread(owner: object, channel: BodyChannel): void {
  if (made.length === 0) setImmediate(watchMade);
  made.push(owner, channel);
}

/** What the connection learns when its body is finished with. */
export interface BodyProducer {
  /** The consumer wants more data: resume reading the socket. */
  onDemand(): void;
  /**
   * The consumer is done with the body. `complete` is true when every byte was
   * received from the peer (the socket is in sync and may be reused).
   */
  onSettled(complete: boolean, err: Error | undefined): void;
}

type Mode = 'buffered' | 'collect' | 'stream' | 'reader';

/** Connection-side sink of one response body. */
export class BodyChannel {
  private mode: Mode = 'buffered';
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** All body bytes received (before any consumer). */
  received = 0;
  /** Set when the producer has delivered the last byte. */
  ended = false;
  error: Error | undefined;
  /** Null prototype: a trailer may be named `__proto__` or `constructor`. */
  trailers: Record<string, string> = Object.create(null) as Record<string, string>;
  /** Stream mode: the Readable, held strongly once it is read... */
  private strong: BodyReadable | undefined;
  /** ...or weakly until then, and again once its Response was collected before anyone read it (see `collected`). */
  private loose: WeakRef<BodyReadable> | undefined;
  private collectResolve: ((chunks: Buffer[]) => void) | undefined;
  private collectReject: ((err: Error) => void) | undefined;
  private isSettled = false;
  /** Set while `discard()` runs: byte limit, and how to finish. */
  private discardLimit = -1;
  private discardDone: ((complete: boolean) => void) | undefined;
  /** True while the producer has been told to pause. */
  paused = false;
  /** Stream mode: the Readable asked for data and nothing was pushed since. */
  private reading = false;
  /** Length announced by the head, or -1. */
  readonly expectedLength: number;
  /** The last chunk pushed was large (the body arrives in large reads). */
  private lastChunkLarge = false;
  /** Reader mode: the caller's pending read. */
  private target: Uint8Array | undefined;
  private targetResolve: ((n: number) => void) | undefined;
  private targetReject: ((err: Error) => void) | undefined;
  /** Reader mode: received bytes that did not fit the caller's buffer yet. */
  private carry: Carry | undefined;
  /** The Response's budget and observers (never the Response itself). */
  listener: BodyEndListener | undefined;
  /** The request's method and URL, for the errors this channel makes (set by its Response). */
  method: string | undefined;
  url: string | undefined;
  /** Registered by {@link watchUnread}: unregistered when it settles. */
  watched = false;

  constructor(
    private readonly producer: BodyProducer,
    expectedLength: number,
  ) {
    this.expectedLength = expectedLength;
  }

  // --- producer side -------------------------------------------------------

  /**
   * Delivers a chunk; `owned` false means it is valid only during this call. Returns
   * false when the producer should pause.
   */
  push(chunk: Buffer, owned: boolean): boolean {
    this.received += chunk.length;
    this.lastChunkLarge = chunk.length >= LARGE_CHUNK;
    if (this.isSettled) return true;
    if (this.mode === 'stream') {
      this.reading = false;
      const r = this.readable;
      if (r === undefined) return true; // collected: LOOSE abandons the body
      const more = r.push(owned ? chunk : ownedCopy(chunk));
      if (!more) this.paused = true;
      return more;
    }
    if (this.discardDone !== undefined) {
      if (this.received > this.discardLimit) this.discardDone(false);
      return true;
    }
    if (this.mode === 'reader') return this.feedReader(chunk);
    this.chunks.push(owned ? chunk : ownedCopy(chunk));
    this.bufferedBytes += chunk.length;
    if (this.mode === 'collect') return true;
    // Up to 64 KiB a body may still arrive whole (and release its connection): pause past it.
    if (this.bufferedBytes > HIGH_WATER) {
      this.paused = true;
      return false;
    }
    return true;
  }

  /**
   * The pieces of one socket read, in order, `total` bytes (small chunks of a chunked
   * body, gathered by the connection): one chunk for a consumer that keeps chunks (a
   * stream pays per chunk, not per byte — 64-byte chunks cost 1.3–1.5 × undici's CPU one
   * by one), piece by piece for `readInto` or a discard, which copy or count anyway.
   * `owned` as in {@link push}. Returns false to pause the socket.
   */
  pushPieces(pieces: readonly Buffer[], total: number, owned: boolean): boolean {
    if (this.isSettled || this.mode === 'reader' || this.discardDone !== undefined) {
      let more = true;
      for (const p of pieces) if (!this.push(p, owned)) more = false;
      return more;
    }
    const more = this.push(copyChunks(pieces, Buffer.allocUnsafe(total)), true);
    // Small chunks joined are not a large body arriving in large reads (wantsOwnedChunks):
    // the reads stay in the shared scratch buffer.
    this.lastChunkLarge = false;
    return more;
  }

  /**
   * Whether the rest of the body should be read into memory this consumer may keep: a
   * large body, arriving in large reads, that a stream, a collector or nobody-yet will
   * hold on to. (A trickle — server-sent events, a slow drip — stays in the shared
   * scratch buffer and is copied, so an idle stream holds no read buffer.)
   */
  get wantsOwnedChunks(): boolean {
    if (!this.lastChunkLarge || this.isSettled || this.mode === 'reader' || this.discardDone !== undefined) {
      return false;
    }
    return this.expectedLength < 0 || this.expectedLength - this.received >= OWNED_MIN;
  }

  /** The body is complete. */
  end(): void {
    if (this.ended || this.error !== undefined) return;
    this.ended = true;
    if (this.isSettled) return;
    if (this.discardDone !== undefined) this.discardDone(true);
    else if (this.mode === 'collect') this.finishCollect();
    else if (this.mode === 'reader' && this.target !== undefined) this.answerRead(0);
    else {
      const r = this.mode === 'stream' ? this.readable : undefined;
      r?.push(null);
      // The whole body is in memory (unclaimed, in the stream's buffer or the reader's
      // carry): if it is at most 64 KiB the connection goes back now, the caller reads it
      // later with no clock running (SPEC §11); a larger one waits for its reader.
      if (this.held() + (r?.readableLength ?? 0) <= HIGH_WATER) this.settle(true, undefined);
    }
  }

  /** The body failed (timeout, abort, protocol error, socket error). */
  fail(err: Error): void {
    if (this.ended || this.error !== undefined) return;
    this.error = err;
    if (this.isSettled) return;
    if (this.discardDone !== undefined) {
      this.discardDone(false);
    } else if (this.mode === 'stream') {
      const r = this.readable;
      if (r !== undefined) r.destroy(err);
      else this.settle(false, err);
    } else if (this.mode === 'collect') {
      const reject = this.collectReject!;
      this.collectReject = this.collectResolve = undefined;
      this.settle(false, err);
      reject(err);
    } else if (this.mode === 'reader' && this.target !== undefined) {
      this.failRead(err);
    } else {
      // Nobody is reading (buffered, or reader between reads): the error waits for the
      // next read, and the request is over now (its budget and the connection go).
      this.settle(false, err);
    }
  }

  // --- consumer side -------------------------------------------------------

  /** Whether a consumer has claimed the body. */
  get claimed(): boolean {
    return this.mode !== 'buffered';
  }

  /** Collects the whole body (collect mode). */
  collect(): Promise<Buffer[]> {
    if (this.mode !== 'buffered') return Promise.reject(bodyUsed(this.method, this.url));
    this.mode = 'collect';
    if (this.error !== undefined) {
      this.settle(false, this.error);
      return Promise.reject(this.error);
    }
    if (this.isSettled && !this.ended) return Promise.reject(abandoned(this));
    if (this.ended) {
      const chunks = this.chunks;
      this.chunks = [];
      this.settle(true, undefined);
      return Promise.resolve(chunks);
    }
    return new Promise<Buffer[]>((resolve, reject) => {
      this.collectResolve = resolve;
      this.collectReject = reject;
      this.paused = false;
      this.producer.onDemand();
    });
  }

  /** The body as a Readable (stream mode). Idempotent. */
  stream(): BodyReadable {
    if (this.readable !== undefined) return this.readable;
    if (this.mode === 'collect' || this.mode === 'reader') throw bodyUsed(this.method, this.url);
    this.mode = 'stream';
    const r = new BodyReadable(this);
    // Held weakly until something reads it (`hold`): the Response holds it meanwhile, and a
    // listener on it that mentions the Response (`res.body.on('error', () => log(res.url))`)
    // must not make the connection keep that Response alive once the caller dropped it.
    this.loose = new WeakRef(r);
    LOOSE.register(r, this, r);
    for (const c of this.chunks) r.push(c);
    this.chunks = [];
    this.bufferedBytes = 0;
    if (this.error !== undefined) {
      // Deferred: the caller gets the stream first and can listen (or destroy it) before
      // the error is emitted; an iterator still sees it.
      const err = this.error;
      process.nextTick(() => r.destroy(err));
    } else if (this.ended) r.push(null);
    return r;
  }

  /**
   * Reader mode: copies up to `into.length` body bytes into `into`; resolves with the
   * count, 0 once the body has ended (and `into` is not empty). One read at a time.
   */
  readInto(into: Uint8Array): Promise<number> {
    if (this.mode === 'buffered') this.mode = 'reader';
    else if (this.mode !== 'reader') return Promise.reject(bodyUsed(this.method, this.url));
    if (this.target !== undefined) {
      return Promise.reject(new HourglassError('readInto: another read is still pending', 'HG_BODY_USED'));
    }
    if (into.length === 0) return Promise.resolve(0);
    const n = this.takeHeld(into);
    if (n > 0) return Promise.resolve(n);
    if (this.error !== undefined) {
      const err = this.error;
      this.settle(false, err);
      return Promise.reject(err);
    }
    if (this.ended || this.isSettled) {
      this.settle(this.ended, undefined);
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      this.target = into;
      this.targetResolve = resolve;
      this.targetReject = reject;
      this.demand();
    });
  }

  /** Copies bytes already held (buffered chunks, then the carry) into `into`. */
  private takeHeld(into: Uint8Array): number {
    let n = 0;
    while (this.chunks.length > 0 && n < into.length) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, into.length - n);
      c.copy(into, n, 0, k);
      n += k;
      this.bufferedBytes -= k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    if (this.carry !== undefined) n += this.carry.takeInto(into, n);
    if (n > 0 && this.ended && this.held() === 0) {
      // The caller has every byte: release the connection now, not on the read that gets 0.
      this.settle(true, undefined);
    } else if (n > 0 && this.paused && this.held() === 0 && !this.ended) {
      // Everything held was handed over: the producer may read again.
      this.paused = false;
      this.producer.onDemand();
    }
    return n;
  }

  private held(): number {
    return this.bufferedBytes + (this.carry?.length ?? 0);
  }

  /** Reader mode: fills the pending read from `chunk`, keeps the rest. */
  private feedReader(chunk: Buffer): boolean {
    let from = 0;
    const into = this.target;
    if (into !== undefined) {
      from = Math.min(chunk.length, into.length);
      chunk.copy(into, 0, 0, from);
      this.answerRead(from);
    }
    if (from === chunk.length) return true;
    (this.carry ??= new Carry()).append(chunk, from);
    this.paused = true;
    return false;
  }

  private answerRead(n: number): void {
    const resolve = this.targetResolve!;
    this.target = this.targetResolve = this.targetReject = undefined;
    if (n === 0) this.settle(true, undefined);
    resolve(n);
  }

  private failRead(err: Error): void {
    const reject = this.targetReject!;
    this.target = this.targetResolve = this.targetReject = undefined;
    this.settle(false, err);
    reject(err);
  }

  /**
   * Discards the rest of the body. Settles as complete (connection reusable) when the
   * body ends within `maxBytes` more bytes and `maxMs`; otherwise abandons it (the
   * connection closes). Resolves once settled either way; never rejects.
   */
  discard(maxBytes: number, maxMs: number): Promise<void> {
    if (this.isSettled) {
      // Released already (the body arrived whole): only the bytes held for the caller go.
      if (this.mode === 'buffered' || this.mode === 'reader') {
        this.mode = 'collect';
        this.chunks = [];
        this.bufferedBytes = 0;
        this.carry = undefined;
      }
      return Promise.resolve();
    }
    if (this.mode === 'stream') {
      if (!this.ended && this.readable !== undefined) this.readable.destroy();
      else this.settle(true, undefined);
      return Promise.resolve();
    }
    if (this.mode === 'collect') return Promise.reject(bodyUsed(this.method, this.url));
    if (this.target !== undefined) {
      // A read is waiting: it fails, and the rest of the body is not drained.
      this.failRead(new HourglassError('The response body was discarded during a read', 'HG_BODY_USED'));
      return Promise.resolve();
    }
    this.mode = 'collect';
    this.carry = undefined;
    this.chunks = [];
    this.bufferedBytes = 0;
    if (this.ended || this.error !== undefined) {
      this.settle(this.ended, this.error);
      return Promise.resolve();
    }
    if (this.expectedLength >= 0 && this.expectedLength - this.received > maxBytes) {
      this.settle(false, undefined);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(false), maxMs);
      const finish = (complete: boolean): void => {
        clearTimeout(timer);
        this.discardDone = undefined;
        this.settle(complete, undefined);
        resolve();
      };
      this.discardLimit = this.received + maxBytes;
      this.discardDone = finish;
      this.demand();
    });
  }

  /** The consumer gives up on the body. `complete` is judged by the producer state. */
  abandon(err: Error | undefined): void {
    this.chunks = [];
    this.bufferedBytes = 0;
    this.carry = undefined;
    if (this.target !== undefined) {
      this.failRead(err ?? abandoned(this));
    }
    this.settle(this.ended, err);
  }

  /** Called by the Readable (or a drain) when it wants data. */
  demand(): void {
    this.reading = true;
    this.paused = false;
    if (!this.ended && !this.isSettled) this.producer.onDemand();
  }

  /**
   * Its Response was garbage-collected: an unread body is destroyed (see {@link watchUnread}),
   * and so is one a reader claimed — `readInto` is called on the Response, so nobody can
   * read on (a pending read still answers). A stream (`res.body`) is the caller's.
   */
  collected(): void {
    if (this.isSettled) return;
    if (this.mode === 'buffered' || (this.mode === 'reader' && this.target === undefined)) {
      this.abandon(undefined);
      return;
    }
    const r = this.strong;
    if (r !== undefined && r.readableFlowing !== true && r.listenerCount('data') + r.listenerCount('readable') === 0) {
      // A stream nobody reads yet can only be read through a reference the caller holds:
      // hold it weakly until it reads (`hold`), and abandon the body if it is collected.
      this.strong = undefined;
      this.loose = new WeakRef(r);
      LOOSE.register(r, this, r);
    }
  }

  /** Stream mode: the Readable, if it was not collected. */
  private get readable(): BodyReadable | undefined {
    return this.strong ?? this.loose?.deref();
  }

  /** The stream reads (so a consumer holds it through its listeners): hold it strongly again. */
  hold(r: BodyReadable): void {
    if (this.strong !== undefined || this.loose === undefined) return;
    this.strong = r;
    this.loose = undefined;
    LOOSE.unregister(r);
  }

  /** A weakly held stream was collected unread. */
  orphaned(): void {
    if (!this.isSettled) this.abandon(undefined);
  }

  /**
   * Whether the consumer is waiting for bytes that have not arrived: the only time a
   * read-idle clock may run during the body (SPEC §11; received but unread bytes are the
   * consumer's delay, not the server's).
   */
  get starving(): boolean {
    if (this.mode === 'collect') return true;
    if (this.mode === 'stream') return this.reading && this.readable?.readableLength === 0;
    if (this.mode === 'reader') return this.target !== undefined;
    return false;
  }

  /** Called by the Readable when a read emptied its buffer while it waits for a push. */
  drained(): void {
    if (this.reading && !this.ended && this.error === undefined) this.producer.onDemand();
  }

  /** Called by the Readable when the consumer has read the end. */
  streamEnded(): void {
    this.settle(true, undefined);
  }

  get isDone(): boolean {
    return this.isSettled;
  }

  private finishCollect(): void {
    const resolve = this.collectResolve!;
    const chunks = this.chunks;
    this.chunks = [];
    this.collectResolve = this.collectReject = undefined;
    this.settle(true, undefined);
    resolve(chunks);
  }

  private settle(complete: boolean, err: Error | undefined): void {
    if (this.isSettled) return;
    this.isSettled = true;
    if (this.watched) {
      this.watched = false;
      UNREAD.unregister(this);
    }
    const l = this.listener;
    this.listener = undefined;
    l?.bodyEnded(err);
    this.producer.onSettled(complete, err);
  }
}

/** `res.body`: a Readable fed by a {@link BodyChannel}, with backpressure. */
export class BodyReadable extends Readable {
  constructor(private readonly channel: BodyChannel) {
    super({ highWaterMark: HIGH_WATER });
    this.once('end', onEnd);
  }

  override _read(): void {
    // Node also asks after a push nobody reads (to fill the buffer): only a consumer — a
    // flowing stream, a 'readable' listener (async iteration) — makes the channel hold it.
    if (this.readableFlowing === true || this.listenerCount('readable') > 0) this.channel.hold(this);
    this.channel.demand();
  }

  // Node asks for data (`_read`) only once per push; a consumer that drains what was
  // buffered must restart the read-idle clock itself, or a stall after it goes unseen.
  override read(size?: number): Buffer | null {
    const chunk = super.read(size) as Buffer | null;
    if (this.readableLength === 0) this.channel.drained();
    return chunk;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const ch = this.channel;
    if (!ch.isDone) ch.abandon(err ?? undefined);
    cb(err);
  }
}

function onEnd(this: BodyReadable): void {
  (this as unknown as { channel: BodyChannel }).channel.streamEnded();
}

/** HG_BODY_USED for the request `method` `url` (SPEC §4: every error names its request). */
export function bodyUsed(method: string | undefined, url: string | undefined): HourglassError {
  return new HourglassError('The response body was already read', 'HG_BODY_USED', { method, url });
}

function abandoned(ch: BodyChannel): HourglassError {
  return new HourglassError('The response body was abandoned', 'HG_BODY_USED', { method: ch.method, url: ch.url });
}

/** Joins collected chunks into one Buffer, copying at most once. */
export function joinChunks(chunks: readonly Buffer[], total: number): Buffer {
  if (chunks.length === 1) return chunks[0]!;
  if (chunks.length === 0) return Buffer.alloc(0);
  return copyChunks(chunks, Buffer.allocUnsafe(total));
}

/** Copies `chunks` one after the other into `out` (at least their total size); returns `out`. */
export function copyChunks(chunks: readonly Buffer[], out: Buffer): Buffer {
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
