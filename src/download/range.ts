/**
 * download/range — the HTTP vocabulary of a resumable download (RFC 9110 §13.1.5,
 * §14.4, §15.3.7, §15.5.17): validators, `If-Range`, `Content-Range`.
 *
 * Owns: which validator may address a partial representation (a strong ETag, else
 * Last-Modified; never a weak ETag), how two validators compare, and strict parsing
 * of `Content-Range` (`bytes a-b/total|*` and `bytes *\/N`).
 *
 * Pure: no I/O, no state. The orchestrator (`../download.ts`) decides what to do.
 */

/** What identifies the representation a `.part` file holds. */
export interface Validator {
  /** A strong entity tag, quotes included (`"abc"`). Weak tags are never stored. */
  etag?: string;
  /** The `Last-Modified` HTTP-date, as received. */
  lastModified?: string;
}

/** A satisfied `Content-Range: bytes start-end/total` (`total` undefined for `*`). */
export interface ContentRange {
  start: number;
  end: number;
  total: number | undefined;
}

type HeaderValue = string | string[] | undefined;

/** One header value, or undefined when absent or repeated (a repeated framing header is never trusted). */
export function single(value: HeaderValue): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

/** The validator of a response: its strong ETag and its Last-Modified, when present. */
export function validatorOf(headers: Record<string, HeaderValue>): Validator {
  const v: Validator = {};
  const etag = single(headers.etag)?.trim();
  if (etag !== undefined && isStrongEtag(etag)) v.etag = etag;
  const lm = single(headers['last-modified'])?.trim();
  if (lm !== undefined && isHttpDate(lm)) v.lastModified = lm;
  return v;
}

/** The `If-Range` value for a resume, or undefined when no validator may be used (then restart). */
export function ifRangeValue(v: Validator | undefined): string | undefined {
  return v?.etag ?? v?.lastModified;
}

/**
 * Whether a response's validator contradicts the stored one. Only validators present
 * on both sides count: a 206 that omits its ETag is judged by `If-Range` having
 * been honoured.
 */
export function validatorChanged(
  stored: Validator | undefined,
  headers: Record<string, HeaderValue>,
): boolean {
  if (stored === undefined) return false;
  const etag = single(headers.etag)?.trim();
  if (stored.etag !== undefined && etag !== undefined && etag !== stored.etag) return true;
  if (stored.etag === undefined && stored.lastModified !== undefined) {
    const lm = single(headers['last-modified'])?.trim();
    if (lm !== undefined && Date.parse(lm) !== Date.parse(stored.lastModified)) return true;
  }
  return false;
}

/** Parses `bytes a-b/total` or `bytes a-b/*`; undefined for anything else (including `*\/N`). */
export function parseContentRange(value: HeaderValue): ContentRange | undefined {
  const v = single(value);
  if (v === undefined) return undefined;
  const m = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)\s*$/i.exec(v);
  if (m === null) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (end < start) return undefined;
  if (total !== undefined && end >= total) return undefined;
  return { start, end, total };
}

/** Parses the `bytes *\/N` of a 416 response; undefined when absent or malformed. */
export function parseUnsatisfiedRange(value: HeaderValue): number | undefined {
  const v = single(value);
  if (v === undefined) return undefined;
  const m = /^\s*bytes\s+\*\/(\d{1,15})\s*$/i.exec(v);
  return m === null ? undefined : Number(m[1]);
}

/** A `Content-Length` as a number; undefined when absent; NaN when malformed. */
export function contentLength(headers: Record<string, HeaderValue>): number | undefined {
  const v = headers['content-length'];
  if (v === undefined) return undefined;
  const s = single(v)?.trim();
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : Number.NaN;
}

/** A strong entity-tag (RFC 9110 §8.8.3): `"` etagc* `"`, etagc = %x21 / %x23-7E / obs-text. */
export function isStrongEtag(etag: string): boolean {
  return /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(etag);
}

/** A date `Date.parse` reads, made of visible ASCII and spaces only (safe to send back). */
export function isHttpDate(value: string): boolean {
  return /^[\x21-\x7e][\x20-\x7e]*$/.test(value) && !Number.isNaN(Date.parse(value));
}
