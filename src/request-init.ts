/**
 * request-init — turns what a caller passes to `request()` into checked values:
 * the URL (http/https only, userinfo moved to Basic auth), the flat header list, and
 * the body as something the connection can write and the client can replay.
 *
 * Invariants: every header name and value is validated here, before anything is
 * sent (`HG_INVALID_ARG`); `headers` is a plain object, `Headers`, `Map` or iterable
 * of pairs, anything else is refused; header values given as arrays become repeated
 * lines; any ArrayBufferView or ArrayBuffer body is viewed as its bytes; a body is
 * replayable only when it is absent, a string, bytes, or a factory; no message
 * echoes URL userinfo. A parsed URL is shared by requests ({@link UrlMemo}) only where no
 * user code can reach it, and only while its href is the one it was parsed to.
 */

import { Readable } from 'node:stream';
import { stringBody, type WritableBody } from './conn/writer.js';
import { asBytes, destroySource } from './conn/body-error.js';
import { HourglassError, invalidArg, redactUrl } from './errors.js';
import { describeValue } from './options.js';
import { validateHeaderName, validateHeaderValue, validateMethod } from './http1/index.js';

/**
 * Header input accepted by the API: a plain object, a `Headers`, a `Map`, or an
 * iterable of `[name, value]` pairs (a flat `[name, value, ...]` string list is
 * accepted too). Anything else is `HG_INVALID_ARG`.
 */
export type HeadersInit =
  | Record<string, string | string[] | number | undefined>
  | Headers
  | ReadonlyMap<string, string | string[] | number | undefined>
  | Iterable<readonly [string, string | number]>
  | readonly string[];

/**
 * A request body, or a factory producing a fresh one for each attempt (replays). Any
 * `ArrayBufferView` (or an `ArrayBuffer`) is sent as its bytes.
 */
export type BodyInit =
  | string
  | Uint8Array
  | ArrayBufferView
  | ArrayBuffer
  | Readable
  | AsyncIterable<Uint8Array>
  | null
  | undefined;
export type BodyOrFactory = BodyInit | (() => BodyInit);

/** A parsed request body. */
export interface PreparedBody {
  /** Produces the body for one attempt. */
  next(headers: string[]): WritableBody;
  /** Whether the body can be sent again. */
  readonly replayable: boolean;
  readonly present: boolean;
  /** The request failed: a stream body never opened for a send is destroyed (its file descriptor, eleventh attack F4). */
  discard?(): void;
}

/** Parses and checks a request URL. */
export function parseRequestUrl(input: string | URL): URL {
  // WHATWG URL parsing silently drops TAB/CR/LF and encodes NUL: a request would go to a
  // target the caller did not write. Refuse control characters outright (Go does too).
  if (typeof input === 'string' && /[\x00-\x1f\x7f]/.test(input)) {
    throw invalidArg('URL contains a control character');
  }
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : new URL(input.href);
  } catch {
    throw invalidArg(
      typeof input === 'string' || input instanceof URL
        ? `invalid URL: ${redactUrl(String(input))}`
        : `URL must be a string or a URL, got ${describeValue(input)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArg(`unsupported URL scheme ${url.protocol} (only http: and https:)`, { url });
  }
  if (url.hostname === '') throw invalidArg('URL has no host', { url });
  return url;
}

/**
 * The last URL string a client parsed, and its URL (with its redacted text), handed to the
 * next request of the same string instead of parsing it again: a client sending to one
 * URL over and over (the common case, and every benchmark) parsed and dropped a URL object
 * per request — about 5 % of an HTTP/2 small GET's CPU on nginx (issue #16).
 *
 * Sound only where nothing can change the shared object while another request uses it:
 * the client keeps one only when no user code sees `req.url` (no interceptor, no
 * RoundTripper of the user's, `Chain.guarded` false), nothing below the client writes a
 * request's URL (redirects and retries make new ones), and a URL with userinfo (which
 * {@link takeUserinfo} rewrites) is never kept. Should anything change it all the same,
 * its href no longer matches and the string is parsed afresh.
 */
export class UrlMemo {
  private input: string | undefined;
  private url: URL | undefined;
  private href = '';
  /** `redactUrl(url)` of the kept URL (for the request's budget and its errors). */
  redacted = '';

  /** The URL of `input`: the kept one when `input` is the string last parsed. */
  parse(input: string | URL): URL {
    const kept = this.url;
    if (kept !== undefined && input === this.input && kept.href === this.href) return kept;
    const url = parseRequestUrl(input);
    if (typeof input === 'string' && url.username === '' && url.password === '') {
      this.input = input;
      this.url = url;
      this.href = url.href;
      this.redacted = redactUrl(url)!;
    }
    return url;
  }

  /** The redacted text of `url`: the kept one's without redacting again. */
  redact(url: URL): string {
    return url === this.url ? this.redacted : redactUrl(url)!;
  }
}

/**
 * Header lists whose `authorization` came from URL userinfo: those credentials belong to
 * that URL's origin and never follow a redirect to another one (see `nextHop`).
 */
export const urlCredentials = new WeakSet<string[]>();

/** Moves userinfo out of `url` into an `authorization` header (unless one is set). */
export function takeUserinfo(url: URL, headers: string[]): void {
  if (url.username === '' && url.password === '') return;
  const cred = `${safeDecode(url.username)}:${safeDecode(url.password)}`;
  url.username = '';
  url.password = '';
  if (findHeader(headers, 'authorization') === -1) {
    headers.push('authorization', `Basic ${Buffer.from(cred).toString('base64')}`);
    urlCredentials.add(headers);
  }
}

/** Validates a method token; returns it unchanged (methods are case-sensitive). */
export function checkMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  if (typeof method !== 'string') throw invalidArg('method must be a string');
  validateMethod(method);
  return method;
}

/** Flattens and validates headers; `defaults` apply where `given` has no header of that name. */
export function prepareHeaders(defaults: HeadersInit | undefined, given: HeadersInit | undefined): string[] {
  const out: string[] = [];
  if (given !== undefined) appendHeaders(out, given);
  if (defaults !== undefined) {
    const d: string[] = [];
    appendHeaders(d, defaults);
    for (let i = 0; i < d.length; i += 2) {
      if (findHeader(out, d[i]!.toLowerCase()) === -1) out.push(d[i]!, d[i + 1]!);
    }
  }
  return out;
}

function appendHeaders(out: string[], h: HeadersInit): void {
  if (typeof h !== 'object' || h === null) {
    // A string is iterable too: 'x-a: 1' must not become `0: x`, `1: -`, ...
    throw invalidArg(`headers must be a plain object, a Headers, a Map or an iterable of [name, value] pairs, got ${typeName(h)}`);
  }
  if (typeof Headers !== 'undefined' && h instanceof Headers) {
    h.forEach((value, name) => push(out, name, value));
    return;
  }
  if (h instanceof Map) {
    for (const [name, v] of h as Map<unknown, unknown>) pushValue(out, name, v);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(h);
  if (proto === Object.prototype || proto === null) {
    const rec = h as Record<string, unknown>;
    for (const name of Object.keys(rec)) pushValue(out, name, rec[name]);
    return;
  }
  if (typeof (h as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw invalidArg(`headers must be a plain object, a Headers, a Map or an iterable of [name, value] pairs, got ${typeName(h)}`);
  }
  const items = Array.from(h as Iterable<unknown>);
  if (Array.isArray(h) && items.length > 0 && items.every((x) => typeof x === 'string')) {
    // The flat [name, value, name, value, ...] form (what the client itself passes along).
    if (items.length % 2 !== 0) throw invalidArg('a flat header list must hold [name, value, ...] pairs');
    for (let i = 0; i < items.length; i += 2) push(out, items[i] as string, items[i + 1]);
    return;
  }
  for (const pair of items) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw invalidArg(`headers given as an iterable must hold [name, value] pairs, got ${typeName(pair)}`);
    }
    push(out, pair[0] as string, pair[1]);
  }
}

function pushValue(out: string[], name: unknown, v: unknown): void {
  if (v === undefined) return;
  if (Array.isArray(v)) for (const item of v) push(out, name, item);
  else push(out, name, v);
}

function push(out: string[], name: unknown, value: unknown): void {
  if (typeof name !== 'string') throw invalidArg('header names must be strings');
  const v = typeof value === 'number' ? String(value) : value;
  if (typeof v !== 'string') throw invalidArg(`header ${JSON.stringify(name)} must be a string, got ${describeValue(v)}`);
  validateHeaderName(name);
  validateHeaderValue(name, v);
  out.push(name, v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** Index of the first header named `lower` (lower-case) in a flat list, or -1. */
export function findHeader(headers: readonly string[], lower: string): number {
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!;
    if (n.length === lower.length && n.toLowerCase() === lower) return i;
  }
  return -1;
}

/** Removes every header whose lower-cased name is in `names`. Returns a new list. */
export function withoutHeaders(headers: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

/** Sets (replaces) a header. Returns a new list. */
export function withHeader(headers: readonly string[], name: string, value: string): string[] {
  const out = withoutHeaders(headers, new Set([name.toLowerCase()]));
  out.push(name, value);
  return out;
}

/** Classifies a body (or body factory) once per request. */
export function prepareBody(body: BodyOrFactory): PreparedBody {
  if (typeof body === 'function') {
    const factory = body;
    return {
      replayable: true,
      present: true,
      next: (headers) => toWritable(openFactory(factory), headers),
    };
  }
  if (body === null || body === undefined) return NO_BODY;
  const bytes = typeof body === 'string' ? stringBody(body) : asBytes(body);
  if (bytes !== undefined) {
    const w: WritableBody = { kind: 'buffer', data: bytes };
    return { replayable: true, present: true, next: () => w };
  }
  // Anything else must be a stream: refuse the rest now, before anything is sent (a body
  // of the wrong type must not surface later as "already sent").
  if (!(body instanceof Readable || isAsyncIterable(body))) throw badBody(body);
  let used = false;
  return {
    replayable: false,
    present: true,
    next: (headers) => {
      if (used) throw notReplayable();
      used = true;
      return toWritable(body, headers);
    },
    discard: () => {
      if (used) return;
      used = true;
      if (body instanceof Readable) destroySource(body);
    },
  };
}

/**
 * A body factory's body; what the factory throws fails the request as the body's failure
 * (HG_REQUEST_BODY, cause = what it threw: thirteenth attack F4 — it escaped as is).
 */
function openFactory(factory: () => BodyInit): BodyInit {
  try {
    return factory();
  } catch (err) {
    if (err instanceof HourglassError) throw err;
    throw new HourglassError(`request body factory threw: ${err instanceof Error ? err.message : String(err)}`, 'HG_REQUEST_BODY', { cause: err });
  }
}

const NO_BODY: PreparedBody = { replayable: true, present: false, next: () => ({ kind: 'none' }) };

/** `HG_BODY_NOT_REPLAYABLE`: a body that opens once was asked for again. */
export function notReplayable(): HourglassError {
  return new HourglassError(
    'the request body is a stream and was already sent; pass a body factory () => body to allow replays',
    'HG_BODY_NOT_REPLAYABLE',
  );
}

/** The body for one send, as a connection writes it (a stream's length from `content-length`). */
export function toWritable(body: BodyInit, headers: string[]): WritableBody {
  if (body === null || body === undefined) return { kind: 'none' };
  if (typeof body === 'string') return { kind: 'buffer', data: stringBody(body) };
  const bytes = asBytes(body);
  if (bytes !== undefined) return { kind: 'buffer', data: bytes };
  if (body instanceof Readable || isAsyncIterable(body)) {
    const i = findHeader(headers, 'content-length');
    return { kind: 'stream', source: body as AsyncIterable<Uint8Array>, length: i === -1 ? -1 : parseContentLength(headers[i + 1]!) };
  }
  throw badBody(body);
}

function badBody(body: unknown): Error {
  return invalidArg(`body must be a string, ArrayBufferView, ArrayBuffer, Readable, AsyncIterable, null, or a factory, got ${describeValue(body)}`);
}

/** A caller's content-length value: 1*DIGIT, a safe integer; else HG_INVALID_ARG. */
export function parseContentLength(value: string): number {
  const v = value.trim();
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw invalidArg(`invalid content-length ${JSON.stringify(v.slice(0, 40))}`);
  }
  return Number(v);
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Uint8Array> {
  return typeof v === 'object' && v !== null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
