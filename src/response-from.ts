/**
 * response-from — the input of `Response.from` (SPEC §12): its types and the checks that
 * turn it into what a Response is built from (status, reason, URL, method, a validated
 * flat header list, the body).
 *
 * Invariants: everything is validated before any Response exists (`HG_INVALID_ARG`);
 * header names are tokens and values hold no CR, LF, NUL or other control character
 * (non-Latin-1 text is allowed, as a decoded UTF-8 field may hold it); the body is not
 * touched here.
 */

import type { DeclaredLength, ResponseBodyInit } from './body-source.js';
import { invalidArg, ProtocolError } from './errors.js';
import { chunkedOnly, FIELD_CHAR, isToken, UNSUPPORTED_TE } from './http1/headers.js';

/**
 * Headers for {@link Response.from}: a record (a `string[]` value repeats the field, an
 * `undefined` one is skipped — so another response's `res.headers` fits) or name/value
 * pairs (a `Map`, a header list's `entries()`, a web `Headers`).
 */
export type ResponseHeadersInit =
  | Readonly<Record<string, string | number | readonly string[] | undefined>>
  | Iterable<readonly [string, string]>;

/** What {@link Response.from} takes (SPEC §12). */
export interface ResponseFromInit {
  /** Status code, an integer from 200 to 599 (as WHATWG's `new Response()`). */
  status: number;
  /** Reason phrase; default `''`. */
  statusText?: string | undefined;
  headers?: ResponseHeadersInit | undefined;
  /** A string (UTF-8), bytes or a stream; none means an empty body. */
  body?: ResponseBodyInit | null | undefined;
  /** The URL the response answers (`res.url`). */
  url: string | URL;
  /** Method of the request it answers (`res.method`); default `'GET'`. */
  method?: string | undefined;
}

/** A checked {@link ResponseFromInit}. */
export interface CheckedFromInit {
  status: number;
  statusText: string;
  /** `href` of the URL. */
  url: string;
  /** Upper-cased. */
  method: string;
  rawHeaders: string[];
  body: ResponseBodyInit | null | undefined;
  /** A `content-length` the body must fill (absent for HEAD, 204, 304). */
  declared: DeclaredLength | undefined;
}

/** Validates `Response.from`'s argument. */
export function checkFromInit(init: ResponseFromInit): CheckedFromInit {
  if (typeof init !== 'object' || init === null) throw invalidArg('Response.from: expected an object');
  for (const key of Object.keys(init)) {
    if (!FROM_KEYS.has(key)) {
      throw invalidArg(`Response.from: unknown option ${JSON.stringify(key)} (expected one of ${[...FROM_KEYS].join(', ')})`);
    }
  }
  const { status } = init;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw invalidArg(`Response.from: status must be an integer from 200 to 599; got ${String(status)}`);
  }
  const url = fromUrl(init.url);
  const method = init.method ?? 'GET';
  if (typeof method !== 'string' || !isToken(method)) throw invalidArg('Response.from: method must be a token');
  const statusText = init.statusText ?? '';
  if (typeof statusText !== 'string' || !isFieldValue(statusText)) {
    throw invalidArg('Response.from: statusText must be a string without control characters');
  }
  const rawHeaders = rawHeaderList(init.headers);
  const body = init.body;
  if ((status === 204 || status === 205 || status === 304) && !isEmptyBody(body)) {
    throw invalidArg(`Response.from: a ${status} response has no body`);
  }
  const upper = method.toUpperCase();
  const length = framedLength(rawHeaders, upper, url, status);
  const declared = upper === 'HEAD' || status === 204 || status === 304 ? undefined : length;
  return { status, statusText, url, method: upper, rawHeaders, body, declared };
}

/** `res.url` never carries credentials (SPEC §12): userinfo is dropped. */
function fromUrl(url: unknown): string {
  let u: URL;
  if (url instanceof URL) u = new URL(url.href);
  else if (typeof url === 'string' && URL.canParse(url)) u = new URL(url);
  else throw invalidArg('Response.from: url must be an absolute URL (string or URL)');
  u.username = '';
  u.password = '';
  return u.href;
}

/** The keys {@link ResponseFromInit} has: any other is a misspelling (SPEC §11). */
const FROM_KEYS: ReadonlySet<string> = new Set(['status', 'statusText', 'headers', 'body', 'url', 'method']);

/**
 * The `content-length` the body is framed by, judged as the HTTP/1.1 codec judges a head:
 * a body that ends short of it fails as a wire body cut short does (`ProtocolError`
 * `truncated-body`), a longer one is cut to it. A value that is not all digits, or repeats
 * that differ, is `bad-content-length`; a `transfer-encoding` beside it is
 * `conflicting-framing` (thrown here, as the wire fails the request), and so is a
 * `transfer-encoding` the codec refuses ({@link chunkedOnly}) on a response with a body.
 */
function framedLength(raw: string[], method: string, url: string, status: number): DeclaredLength | undefined {
  const fields = { method, url, requestSent: true };
  let value: string | undefined;
  let te = 0;
  let teValue = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'transfer-encoding') {
      te++;
      teValue = raw[i + 1]!;
    }
    if (name !== 'content-length') continue;
    const v = raw[i + 1]!;
    if (value !== undefined && value !== v) {
      throw new ProtocolError('bad-content-length', 'more than one Content-Length header, with different values', fields);
    }
    if (!/^\d{1,15}$/.test(v) || Number(v) > Number.MAX_SAFE_INTEGER) {
      throw new ProtocolError('bad-content-length', `Content-Length ${JSON.stringify(v)} is not a decimal number`, fields);
    }
    value = v;
  }
  if (value !== undefined && te > 0) throw new ProtocolError('conflicting-framing', 'both Transfer-Encoding and Content-Length', fields);
  const bodiless = method === 'HEAD' || status === 204 || status === 304;
  if (te > 0 && !bodiless && !chunkedOnly(te, teValue)) throw new ProtocolError('conflicting-framing', UNSUPPORTED_TE, fields);
  if (value === undefined) return undefined;
  const length = Number(value);
  return {
    length,
    error: () => new ProtocolError('truncated-body', `response body ended before its content-length (${length} bytes)`, fields),
  };
}

function isFieldValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0xff && FIELD_CHAR[c] === 0) return false;
  }
  return true;
}

function isEmptyBody(body: ResponseBodyInit | null | undefined): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string') return body.length === 0;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) return body.byteLength === 0;
  return false;
}

/**
 * Flat `[name, value, ...]` list from a {@link ResponseHeadersInit}, validated with the
 * HTTP/1.1 codec's token and field-value tables (`HG_INVALID_ARG` naming `where`).
 */
export function rawHeaderList(init: ResponseHeadersInit | undefined, where = 'Response.from'): string[] {
  const raw: string[] = [];
  if (init === undefined || init === null) return raw;
  const add = (name: unknown, value: unknown): void => {
    const v = typeof value === 'number' ? String(value) : value;
    if (typeof name !== 'string' || !isToken(name)) {
      throw invalidArg(`${where}: invalid header name ${JSON.stringify(String(name))}`);
    }
    if (typeof v !== 'string' || !isFieldValue(v)) {
      throw invalidArg(`${where}: invalid value for header ${name}`);
    }
    raw.push(name, v.trim());
  };
  if (typeof (init as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    for (const pair of init as Iterable<readonly [string, string]>) add(pair[0], pair[1]);
    return raw;
  }
  if (typeof init !== 'object') throw invalidArg(`${where}: headers must be an object or name/value pairs`);
  for (const name of Object.keys(init)) {
    const value = (init as Record<string, unknown>)[name];
    if (Array.isArray(value)) for (const v of value) add(name, v);
    else if (value !== undefined) add(name, value);
  }
  return raw;
}
