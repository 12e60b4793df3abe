/**
 * carry — bytes a reader had no room for yet (`res.readInto` with a small buffer).
 *
 * Owns: one growable byte buffer used as a FIFO: append at the end, take from the front.
 * Invariants: `length` is the count of bytes held; once emptied, the next append starts at
 * offset 0 again, so a carry that is drained between reads never grows past one read; the
 * buffer is allocated on the first append and reused while it is big enough.
 */

/** Smallest allocation (one socket read). */
const MIN_SIZE = 64 * 1024;

/** A FIFO of bytes in one reused buffer. */
export class Carry {
  private buf: Buffer | undefined;
  private start = 0;
  private end = 0;

  /** Bytes held. */
  get length(): number {
    return this.end - this.start;
  }

  /** Appends `chunk[from..]` (copied: the chunk may be a reused read buffer). */
  append(chunk: Buffer, from: number): void {
    const n = chunk.length - from;
    if (n <= 0) return;
    let buf = this.buf;
    if (buf === undefined || buf.length - this.end < n) {
      const held = this.end - this.start;
      const grown = buf !== undefined && buf.length >= held + n ? buf : Buffer.allocUnsafeSlow(Math.max(MIN_SIZE, held + n));
      if (buf !== undefined && held > 0) buf.copy(grown, 0, this.start, this.end);
      this.start = 0;
      this.end = held;
      this.buf = buf = grown;
    }
    chunk.copy(buf, this.end, from, chunk.length);
    this.end += n;
  }

  /** Moves up to `into.length - at` bytes into `into` at offset `at`; returns how many. */
  takeInto(into: Uint8Array, at: number): number {
    const k = Math.min(this.end - this.start, into.length - at);
    if (k <= 0) return 0;
    this.buf!.copy(into, at, this.start, this.start + k);
    this.start += k;
    if (this.start === this.end) this.start = this.end = 0;
    return k;
  }
}
