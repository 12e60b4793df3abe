/**
 * read-buffer — where the bytes of a plain TCP socket land (Node's `onread` user buffers).
 *
 * Owns: the choice of memory for every read of one socket. Node's default allocates a
 * fresh 64 KiB buffer per read and hands it to JavaScript, so a client that streams
 * 64 MiB and throws it away leaves ~64 MiB of dead buffers for the GC to find (V8 only
 * collects when external memory passes its soft limit). A {@link SocketReader} instead:
 *   - reads into one process-wide scratch buffer by default; the bytes are consumed
 *     (parsed, copied or discarded) synchronously inside the read callback;
 *   - reads into a private buffer of its own while its sink asks for owned chunks (a
 *     large body a caller will keep, e.g. a `Readable`, that is arriving in large reads),
 *     and gives that buffer away when a read filled at least half of it, so big bodies
 *     stay zero-copy and a kept chunk holds at most twice its size.
 *
 * Invariants: a chunk passed with `owned === false` is valid only until the callback
 * returns — whoever keeps it copies it; the scratch buffer is never given away, and a
 * buffer given away is never read into again. TLS sockets cannot use `onread`; they keep
 * Node's default path (every chunk owned).
 */

/** Size of every read buffer: what libuv asks for per read on a TCP socket. */
const READ_SIZE = 64 * 1024;
/**
 * A private read that filled less than this is copied out instead of given away, so a
 * kept chunk never holds more than twice its size.
 */
const GIVE_AWAY_MIN = READ_SIZE / 2;

/** One process-wide buffer for reads whose bytes nobody keeps (JS runs one read at a time). */
const SCRATCH = Buffer.allocUnsafeSlow(READ_SIZE);

/** What a socket's bytes go to. */
export interface ReadSink {
  /**
   * Bytes arrived. `owned` is false when `chunk` is a view of reusable memory (copy what
   * you keep). Returns false to pause the socket.
   */
  onSocketData(chunk: Buffer, owned: boolean): boolean;
  /** Whether the next reads should land in memory the sink may keep (a large body). */
  readonly wantsOwnedChunks: boolean;
}

/** Read-buffer policy of one plain socket; pass {@link SocketReader.onread} to `net.connect`. */
export class SocketReader {
  private sink: ReadSink | undefined;
  /** Private buffer for owned reads; undefined while reading into the scratch buffer. */
  private own: Buffer | undefined;
  /** Bytes that arrived before a sink was bound (a server that speaks first). */
  early = false;
  /** The `onread` option of `net.connect` (one per socket, not per request). */
  readonly onread: { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean };

  constructor() {
    this.onread = {
      buffer: () => this.nextBuffer(),
      callback: (n, buf) => this.onRead(n, buf),
    };
  }

  /** Routes the socket's bytes to `sink` from now on. */
  bind(sink: ReadSink): void {
    this.sink = sink;
  }

  /** Called by Node after every read: the buffer the next read lands in. */
  private nextBuffer(): Buffer {
    if (this.sink?.wantsOwnedChunks === true) {
      if (this.own === undefined) this.own = Buffer.allocUnsafeSlow(READ_SIZE);
      return this.own;
    }
    this.own = undefined;
    return SCRATCH;
  }

  private onRead(n: number, buf: Buffer): boolean {
    const sink = this.sink;
    if (sink === undefined) {
      this.early = true;
      return true;
    }
    if (buf === this.own && n >= GIVE_AWAY_MIN) {
      // Given away: the next read gets a new private buffer (nextBuffer runs right after).
      this.own = undefined;
      return sink.onSocketData(buf.subarray(0, n), true);
    }
    return sink.onSocketData(buf.subarray(0, n), false);
  }
}

/** A copy of `chunk` the caller may keep (small ones come from Node's shared pool). */
export function ownedCopy(chunk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(chunk.length);
  chunk.copy(out, 0, 0, chunk.length);
  return out;
}
