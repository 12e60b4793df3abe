/**
 * h2-wire — HTTP/2 frames as bytes (RFC 9113 §4, §6) for the fault server: the
 * constants, a builder per frame type, and a reader that cuts a byte stream into
 * frames.
 *
 * Owns: frame encoding and decoding only — no state, no I/O, no judgement. A
 * builder writes what it is told (a length, a flag, a stream id that breaks the
 * RFC), because the fault server's point is to send frames a client must refuse.
 *
 * Invariants: {@link FrameReader} never buffers more than one frame beyond what it
 * has returned; a frame header claiming more than `maxFrameSize` is reported, not
 * waited for.
 */

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame types. */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS identifiers. */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Error codes (RFC 9113 §7). */
export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** One frame as read. */
export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/** A frame: 9-byte header + payload. `length` overrides the header's length field (to lie). */
export function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0), length?: number): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length ?? payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

/** SETTINGS with these `[id, value]` pairs (or an ACK when `ack`). */
export function settingsFrame(pairs: readonly (readonly [number, number])[], ack = false): Buffer {
  const payload = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, payload);
}

export function pingFrame(data: Uint8Array, ack: boolean): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

export function rstFrame(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code >>> 0);
  return frame(FrameType.RST_STREAM, 0, stream, p);
}

export function goawayFrame(lastStream: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'utf8');
  const p = Buffer.alloc(8 + d.length);
  p.writeUInt32BE(lastStream >>> 0, 0);
  p.writeUInt32BE(code >>> 0, 4);
  d.copy(p, 8);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(FrameType.WINDOW_UPDATE, 0, stream, p);
}

/** DATA, optionally padded with `pad` zero bytes. */
export function dataFrame(stream: number, data: Uint8Array, end: boolean, pad = 0): Buffer {
  if (pad <= 0) return frame(FrameType.DATA, end ? Flag.END_STREAM : 0, stream, data);
  const payload = Buffer.concat([Buffer.from([pad - 1]), data, Buffer.alloc(pad - 1)]);
  return frame(FrameType.DATA, (end ? Flag.END_STREAM : 0) | Flag.PADDED, stream, payload);
}

/**
 * A header block as HEADERS (+ CONTINUATION frames when `split` > 1 pieces are
 * asked for, or the block exceeds `maxFrameSize`).
 */
export function headerFrames(stream: number, block: Buffer, end: boolean, split = 1, maxFrameSize = 16384): Buffer[] {
  const pieces = Math.max(split, Math.ceil(block.length / maxFrameSize), 1);
  const size = Math.max(1, Math.ceil(block.length / pieces));
  const out: Buffer[] = [];
  for (let i = 0; i < pieces; i++) {
    const part = block.subarray(i * size, (i + 1) * size);
    const last = i === pieces - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && end ? Flag.END_STREAM : 0);
    out.push(frame(type, flags, stream, part));
  }
  return out;
}

/** Cuts a byte stream into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameSize: () => number) {}

  /** Bytes buffered and not yet returned as a frame. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Appends bytes; returns the complete frames, or an error for an oversized frame header. */
  push(chunk: Buffer): { frames: Frame[]; oversized: boolean } {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (len > this.maxFrameSize()) return { frames, oversized: true };
      if (this.buf.length < 9 + len) break;
      frames.push({
        type: this.buf[3]!,
        flags: this.buf[4]!,
        stream: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.buf.subarray(9, 9 + len),
      });
      this.buf = this.buf.subarray(9 + len);
    }
    return { frames, oversized: false };
  }
}

/** The header block fragment of a HEADERS frame (padding and priority removed). */
export function headerBlockFragment(f: Frame): Buffer {
  let p = f.payload;
  let padLen = 0;
  if (f.flags & Flag.PADDED) {
    padLen = p[0] ?? 0;
    p = p.subarray(1);
  }
  if (f.flags & Flag.PRIORITY) p = p.subarray(5);
  return p.subarray(0, Math.max(0, p.length - padLen));
}
