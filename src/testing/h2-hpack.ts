/**
 * h2-hpack — the fault server's HPACK (RFC 7541): a full decoder for the header
 * blocks a real client sends (static and dynamic table, Huffman strings, table-size
 * updates) and a deliberately dumb encoder (every field a literal without indexing,
 * new name, no Huffman) so a script can put any bytes — an upper-case name, a
 * connection-specific field, a bad `:status` — on the wire.
 *
 * Owns: {@link HpackDecoder}, {@link encodeHeaderBlock}, {@link huffmanEncode} (for
 * tests). Never validates field names or values: judging them is the client's job.
 *
 * Invariants: the decoder throws {@link HpackError} on any malformed block (the
 * connection then answers COMPRESSION_ERROR); the encoder never touches the
 * client's dynamic table, so blocks can be sent in any order or not at all.
 */

/** A header block the decoder cannot decode. */
export class HpackError extends Error {}

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'],
  [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'], [':status', '200'],
  [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'],
  [':status', '404'], [':status', '500'], ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''], ['accept-ranges', ''], ['accept', ''], ['access-control-allow-origin', ''],
  ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''],
  ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''],
  ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
  ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Code lengths of the RFC 7541 Appendix B Huffman code, by symbol (256 = EOS). The
 * code is canonical: codes are assigned in order of (length, symbol), so the
 * lengths alone define it.
 */
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

interface HuffmanCode {
  readonly codes: readonly number[];
  /** `length * 2^32 + code` → symbol. */
  readonly lookup: ReadonlyMap<number, number>;
}

let huffman: HuffmanCode | null = null;

/** Builds the canonical code from {@link HUFFMAN_LENGTHS} (once, lazily). */
function huffmanCode(): HuffmanCode {
  if (huffman) return huffman;
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const codes: number[] = new Array<number>(HUFFMAN_LENGTHS.length).fill(0);
  const lookup = new Map<number, number>();
  let code = 0;
  let prevLen = order[0]!.len;
  for (const { len, sym } of order) {
    code *= 2 ** (len - prevLen);
    prevLen = len;
    codes[sym] = code;
    lookup.set(len * 2 ** 32 + code, sym);
    code++;
  }
  huffman = { codes, lookup };
  return huffman;
}

function huffmanDecode(buf: Uint8Array): string {
  const { lookup } = huffmanCode();
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of buf) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const sym = lookup.get(len * 2 ** 32 + code);
      if (sym !== undefined) {
        if (sym === 256) throw new HpackError('hpack: EOS inside a Huffman string');
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len > 30) {
        throw new HpackError('hpack: bad Huffman code');
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== 2 ** len - 1) throw new HpackError('hpack: bad Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** Huffman-encodes `s` (latin1), padded with ones. */
export function huffmanEncode(s: string): Buffer {
  const { codes } = huffmanCode();
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of Buffer.from(s, 'latin1')) {
    const len = HUFFMAN_LENGTHS[byte]!;
    const code = codes[byte]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(out);
}

/** Decodes the header blocks of one connection (one dynamic table). */
export class HpackDecoder {
  private readonly dynamic: [string, string][] = [];
  private size = 0;
  private maxSize = 4096;

  /** The fields of one complete header block, in order (names as sent). */
  decode(block: Uint8Array): [string, string][] {
    const fields: [string, string][] = [];
    let pos = 0;
    const int = (prefixBits: number): number => {
      if (pos >= block.length) throw new HpackError('hpack: truncated integer');
      const max = (1 << prefixBits) - 1;
      let value = block[pos++]! & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length || shift > 28) throw new HpackError('hpack: bad integer');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) return value;
      }
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('hpack: truncated string');
      const huff = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) throw new HpackError('hpack: truncated string');
      const raw = block.subarray(pos, pos + len);
      pos += len;
      return huff ? huffmanDecode(raw) : Buffer.from(raw).toString('latin1');
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        fields.push(this.entry(int(7)));
      } else if (b & 0x40) {
        const idx = int(6);
        const name = idx === 0 ? str() : this.entry(idx)[0];
        const field: [string, string] = [name, str()];
        fields.push(field);
        this.add(field);
      } else if (b & 0x20) {
        const max = int(5);
        if (max > 4096) throw new HpackError('hpack: table size update above the limit');
        this.maxSize = max;
        this.evict();
      } else {
        const idx = int(4); // literal without indexing or never indexed
        const name = idx === 0 ? str() : this.entry(idx)[0];
        fields.push([name, str()]);
      }
    }
    return fields;
  }

  private entry(idx: number): [string, string] {
    if (idx >= 1 && idx <= STATIC_TABLE.length) return [...STATIC_TABLE[idx - 1]!];
    const dyn = this.dynamic[idx - STATIC_TABLE.length - 1];
    if (!dyn) throw new HpackError(`hpack: index ${idx} out of range`);
    return [...dyn];
  }

  private add(field: [string, string]): void {
    this.dynamic.unshift(field);
    this.size += field[0].length + field[1].length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.dynamic.length > 0) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

/** An HPACK integer with an `n`-bit prefix whose high bits are `first`. */
function encodeInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * One header block: every field a literal without indexing with a literal name,
 * strings raw (latin1), exactly as given — no lower-casing, no validation.
 */
export function encodeHeaderBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...encodeInt(n.length, 7, 0)]), n, Buffer.from(encodeInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}
