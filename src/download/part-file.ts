/**
 * download/part-file — the on-disk state of one download: `dest.part` (the bytes
 * received so far) and `dest.part.json` (the sidecar: `{ url, validator, size }`).
 *
 * Owns: opening or creating the pair (a `.part` without a usable sidecar — none, corrupt
 * JSON, a validator that is not a valid header value — is kept with no sidecar, to be
 * continued with `Range` alone as curl `-C -`; one longer than its sidecar's size is
 * truncated), positional appends, the running SHA-256, the
 * sidecar's atomic replacement (write a temp file, then rename), rolling back an
 * append that turned out to be bad, and the final commit: verify → fsync → rename →
 * remove the sidecar.
 *
 * Invariants: `size` is the number of bytes in `.part`; the hash covers exactly
 * `[0, hashedUpTo)` and `hashedUpTo <= size`; a prefix inherited from an earlier
 * process is read back into the hash at most once, lazily (never when it is about
 * to be thrown away); the sidecar on disk never describes bytes the `.part` does
 * not hold (the `.part` is truncated before a new sidecar is written).
 */

import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isHttpDate, isStrongEtag, type Validator } from './range.js';

/** The sidecar next to a `.part` file. */
export interface Sidecar {
  /** The URL whose response the bytes came from. */
  url: string;
  validator: Validator;
  /** Full size of the representation, when known. */
  size?: number;
}

/** A position in the `.part` to roll back to. */
export interface PartMark {
  size: number;
  hash: Hash;
}

/** `.part` + sidecar of one destination. */
export class PartFile {
  readonly partPath: string;
  readonly metaPath: string;
  /** Bytes in the `.part`. */
  size = 0;
  /** The sidecar as on disk, or undefined when there is no usable one. */
  meta: Sidecar | undefined;
  /** Whether the `.part` held bytes of an earlier run when opened. */
  readonly inherited: boolean;
  private hash: Hash = createHash('sha256');
  private hashedUpTo = 0;
  private fh: FileHandle | undefined;

  private constructor(dest: string, fh: FileHandle, size: number, meta: Sidecar | undefined) {
    this.partPath = `${dest}.part`;
    this.metaPath = `${dest}.part.json`;
    this.fh = fh;
    this.size = size;
    this.meta = meta;
    this.inherited = size > 0;
  }

  /**
   * Opens `dest.part` (creating it) and reads its sidecar. An unusable sidecar counts as
   * none (the bytes are kept); a `.part` longer than its sidecar's size starts empty.
   */
  static async open(dest: string): Promise<PartFile> {
    const partPath = `${dest}.part`;
    let fh: FileHandle;
    try {
      fh = await open(partPath, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fh = await open(partPath, 'w+');
    }
    try {
      const size = (await fh.stat()).size;
      const meta = await readSidecar(`${dest}.part.json`);
      if (meta !== undefined && meta.size !== undefined && size > meta.size) {
        await fh.truncate(0);
        return new PartFile(dest, fh, 0, undefined);
      }
      return new PartFile(dest, fh, size, meta);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Appends a chunk at the end and hashes it (reading back an inherited prefix first). */
  async append(chunk: Buffer): Promise<void> {
    await this.catchUpHash();
    const fh = this.handle();
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, this.size + off);
      off += bytesWritten;
    }
    this.hash.update(chunk);
    this.size += chunk.length;
    this.hashedUpTo = this.size;
  }

  /** Empties the `.part` (restart from zero). The sidecar is replaced separately. */
  async reset(): Promise<void> {
    await this.handle().truncate(0);
    this.size = 0;
    this.hash = createHash('sha256');
    this.hashedUpTo = 0;
  }

  /** Remembers the current end (hashing any inherited prefix first) for {@link rollback}. */
  async mark(): Promise<PartMark> {
    await this.catchUpHash();
    return { size: this.size, hash: this.hash.copy() };
  }

  /** Drops everything appended since `m`. */
  async rollback(m: PartMark): Promise<void> {
    if (this.size === m.size) return;
    await this.handle().truncate(m.size);
    this.size = m.size;
    this.hash = m.hash.copy();
    this.hashedUpTo = m.size;
  }

  /** Replaces the sidecar atomically. */
  async saveMeta(meta: Sidecar): Promise<void> {
    const tmp = `${this.metaPath}.tmp`;
    await writeFile(tmp, `${JSON.stringify(meta)}\n`);
    await rename(tmp, this.metaPath);
    this.meta = meta;
  }

  /** Hex SHA-256 of the whole `.part` (reading an inherited prefix back if needed). */
  async digest(): Promise<string> {
    await this.catchUpHash();
    return this.hash.copy().digest('hex');
  }

  /** fsync, close, rename to `dest`, remove the sidecar. */
  async commit(dest: string): Promise<void> {
    const fh = this.handle();
    await fh.sync();
    this.fh = undefined;
    await fh.close();
    await rename(this.partPath, dest);
    await rm(this.metaPath, { force: true });
  }

  /** Closes and deletes the `.part` and its sidecar (checksum mismatch). */
  async discard(): Promise<void> {
    await this.close();
    await rm(this.partPath, { force: true });
    await rm(this.metaPath, { force: true });
  }

  /** Closes the file, keeping both files for a later resume. Idempotent. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  // Private implementation past this point.

  private handle(): FileHandle {
    if (this.fh === undefined) throw new Error('the .part file is closed');
    return this.fh;
  }

  /** Reads `[hashedUpTo, size)` back into the hash, in bounded chunks. */
  private async catchUpHash(): Promise<void> {
    if (this.hashedUpTo >= this.size) return;
    const fh = this.handle();
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, this.size - this.hashedUpTo));
    while (this.hashedUpTo < this.size) {
      const want = Math.min(buf.length, this.size - this.hashedUpTo);
      const { bytesRead } = await fh.read(buf, 0, want, this.hashedUpTo);
      if (bytesRead === 0) throw new Error(`${this.partPath} is shorter than expected`);
      this.hash.update(buf.subarray(0, bytesRead));
      this.hashedUpTo += bytesRead;
    }
  }
}

/**
 * Reads and checks a sidecar; undefined when absent, unreadable or not one of ours —
 * never an error, so a damaged sidecar cannot wedge every later attempt (a write that
 * really cannot happen fails when the sidecar is replaced).
 */
async function readSidecar(path: string): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { url?: unknown; validator?: unknown; size?: unknown };
  if (typeof r.url !== 'string' || typeof r.validator !== 'object' || r.validator === null) return undefined;
  const v = r.validator as { etag?: unknown; lastModified?: unknown };
  // Only what validatorOf would have stored: a strong ETag, an HTTP-date of visible
  // characters. Anything else (CR/LF, a weak tag) makes the whole sidecar unusable.
  const validator: Validator = {};
  if (v.etag !== undefined) {
    if (typeof v.etag !== 'string' || !isStrongEtag(v.etag)) return undefined;
    validator.etag = v.etag;
  }
  if (v.lastModified !== undefined) {
    if (typeof v.lastModified !== 'string' || !isHttpDate(v.lastModified)) return undefined;
    validator.lastModified = v.lastModified;
  }
  const meta: Sidecar = { url: r.url, validator };
  if (typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0) meta.size = r.size;
  return meta;
}
