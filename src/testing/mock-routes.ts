/**
 * mock-routes — the route table of {@link MockTransport} (SPEC §12): what a route
 * matches (method or `'*'`; a full URL string, a RegExp or a predicate), what it does
 * (reply static or computed, delay, stall, error), how often (once, `times(n)`,
 * `persist()`), and the "closest route" named when nothing matches.
 *
 * Never does: waiting or building responses (mock-transport.ts does both).
 *
 * Invariants: routes match in the order they were added, the first live one wins; a
 * route is used up after its count of answers; a predicate that throws fails the request
 * with its error (as a reply function that throws does: the user's bug surfaces), except
 * while naming the closest route for an unmatched request, where it simply does not
 * match; a URL route (string or URL) matches ignoring the fragment, which no request
 * carries on the wire.
 */

import { invalidArg, redactUrl } from '../errors.js';
import { describeValue } from '../options.js';
import type { ResponseBodyInit, ResponseHeadersInit } from '../response.js';
import { rawHeaderList } from '../response-from.js';
import { chunkedOnly, UNSUPPORTED_TE } from '../http1/headers.js';

/**
 * A reply header the codec refuses is the mock author's mistake: `HG_INVALID_ARG` at
 * setup, by the codec's own rule ({@link chunkedOnly}), not a failure of every request.
 */
function checkReplyFraming(flat: string[]): void {
  let count = 0;
  let value = '';
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i]!.toLowerCase() !== 'transfer-encoding') continue;
    count++;
    value = flat[i + 1]!;
  }
  if (count > 0 && !chunkedOnly(count, value)) {
    throw invalidArg(`MockRoute.reply: transfer-encoding ${JSON.stringify(value.slice(0, 40))}: ${UNSUPPORTED_TE}`);
  }
}

/**
 * The JSON text of a reply body that is no string, bytes or stream (SPEC §12: any other
 * value is sent as JSON), or undefined for those. A value JSON.stringify refuses (a
 * BigInt, a cycle) or turns into nothing (a function, a symbol) fails with `fail(...)`.
 */
export function jsonBody(body: MockReplyBody, fail: (why: string, cause: unknown) => Error): string | undefined {
  if (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  ) {
    return undefined;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(body) as string | undefined;
  } catch (err) {
    throw fail((err as Error)?.message ?? String(err), err);
  }
  if (text === undefined) throw fail(`${describeValue(body)} has no JSON form`, undefined);
  return text;
}

/** What a route's URL pattern may be: a full URL, a RegExp tried on `url.href`, or a predicate. */
export type MockUrlPattern = string | URL | RegExp | ((url: URL) => boolean);

/**
 * A body a mock reply carries: a string, bytes or a stream (as `Response.from`), or any
 * other value, sent as JSON with `content-type: application/json` unless one is set.
 */
export type MockReplyBody = ResponseBodyInit | null | undefined | Record<string, unknown> | unknown[] | number | boolean;

/** A computed reply. */
export interface MockReply {
  status: number;
  body?: MockReplyBody;
  headers?: ResponseHeadersInit | undefined;
  statusText?: string | undefined;
}

/** What the reply function of a route sees: the request as the mock received it. */
export interface MockReplyRequest {
  method: string;
  url: URL;
  /** Lower-cased names; repeated fields joined with `', '`. */
  headers: Record<string, string>;
  /** The request body's bytes, or undefined when the request had none. */
  body: Buffer | undefined;
}

/** @internal — what a route does when it answers. */
export type RouteAction =
  | { kind: 'reply'; reply: MockReply | ((req: MockReplyRequest) => MockReply | Promise<MockReply>) }
  | { kind: 'stall' }
  | { kind: 'error'; error: unknown };

/**
 * One route of a {@link MockTransport}, returned by `mock.on(...)`. Every method returns
 * the route, so calls chain in any order:
 * `mock.on('GET', url).delay(50).reply(200, 'ok').times(2)`.
 */
export class MockRoute {
  /** @internal */
  action: RouteAction | undefined;
  /** @internal — ms to wait before answering. */
  delayMs = 0;
  /** @internal — answers left (Infinity once persisted). */
  limit = 1;
  /** @internal — answers given. */
  count = 0;

  /** A URL route's href without its fragment, computed once. */
  private readonly href: string | undefined;

  /** @internal */
  constructor(
    readonly method: string,
    private readonly pattern: MockUrlPattern,
  ) {
    this.href = typeof pattern === 'string' || pattern instanceof URL ? withoutFragment(pattern) : undefined;
  }

  /**
   * Answers with `status`, an optional body (string, bytes, stream, or a value sent as
   * JSON) and headers; or with what `fn(req)` returns (it may be async).
   */
  reply(status: number, body?: MockReplyBody, headers?: ResponseHeadersInit): this;
  reply(fn: (req: MockReplyRequest) => MockReply | Promise<MockReply>): this;
  reply(
    statusOrFn: number | ((req: MockReplyRequest) => MockReply | Promise<MockReply>),
    body?: MockReplyBody,
    headers?: ResponseHeadersInit,
  ): this {
    if (typeof statusOrFn === 'function') {
      this.action = { kind: 'reply', reply: statusOrFn };
    } else {
      if (!Number.isInteger(statusOrFn) || statusOrFn < 200 || statusOrFn > 599) {
        throw invalidArg(`MockRoute.reply: status must be an integer from 200 to 599; got ${String(statusOrFn)}`);
      }
      // Checked now with the codec's validator, not when a request comes; an iterable
      // (a Map's entries()) is read once here, so it is kept as pairs.
      const flat = rawHeaderList(headers, 'MockRoute.reply');
      checkReplyFraming(flat);
      jsonBody(body, (why, cause) => invalidArg(`MockRoute.reply: the body cannot be sent as JSON (${why})`, { cause }));
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
      this.action = { kind: 'reply', reply: { status: statusOrFn, body, headers: headers === undefined ? undefined : pairs } };
    }
    this.checkReplays();
    return this;
  }

  /** Waits `ms` before answering (the request's deadline, signal and header timeout still run). */
  delay(ms: number): this {
    if (typeof ms !== 'number' || !(ms >= 0) || ms > Number.MAX_SAFE_INTEGER) {
      throw invalidArg(`MockRoute.delay: ms must be a number from 0; got ${String(ms)}`);
    }
    this.delayMs = ms;
    return this;
  }

  /**
   * Never answers: the request ends only by the client's deadline, its signal or the
   * response-header timeout — with the same errors as over a real connection.
   */
  stall(): this {
    this.action = { kind: 'stall' };
    return this;
  }

  /**
   * Fails the request with `err` (as a transport error would). A value that is not an
   * Error is wrapped in one (its `cause`); `null` or `undefined` is `HG_INVALID_ARG`.
   */
  error(err: unknown): this {
    if (err === undefined || err === null) throw invalidArg(`MockRoute.error: expected an Error, got ${describeValue(err)}`);
    const error = err instanceof Error ? err : new Error(typeof err === 'string' ? err : `MockTransport error: ${describeValue(err)}`, { cause: err });
    this.action = { kind: 'error', error };
    return this;
  }

  /** Answers `n` requests (default: one). */
  times(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw invalidArg(`MockRoute.times: n must be an integer >= 1; got ${String(n)}`);
    this.limit = n;
    this.checkReplays();
    return this;
  }

  /** Answers every matching request, however many. */
  persist(): this {
    this.limit = Number.POSITIVE_INFINITY;
    this.checkReplays();
    return this;
  }

  /**
   * A stream body is read once: a static reply with one cannot answer twice (the second
   * request would get an empty body). Refused at setup, pointing at the fix.
   */
  private checkReplays(): void {
    const a = this.action;
    if (this.limit <= 1 || a === undefined || a.kind !== 'reply' || typeof a.reply === 'function') return;
    const body = a.reply.body as Partial<AsyncIterable<unknown>> | null | undefined;
    if (typeof body === 'object' && body !== null && typeof body[Symbol.asyncIterator] === 'function') {
      throw invalidArg(
        'MockRoute: a stream body can be read once, so this route cannot answer more than one request; ' +
          'reply with a function that returns a new stream for each request: .reply(() => ({ status, body: makeStream() }))',
      );
    }
  }

  /** How many requests this route answered. */
  get used(): number {
    return this.count;
  }

  /** Whether the route may answer again. */
  get live(): boolean {
    return this.used < this.limit;
  }

  /** Whether the route answered as often as it must (a persisted route: at least once). */
  get satisfied(): boolean {
    return this.limit === Number.POSITIVE_INFINITY ? this.used > 0 : this.used >= this.limit;
  }

  /** @internal */
  methodMatches(method: string): boolean {
    return this.method === '*' || this.method === method;
  }

  /** @internal — a predicate's throw goes up as is (the request fails with it). */
  urlMatches(url: URL): boolean {
    const p = this.pattern;
    if (typeof p === 'string' || p instanceof URL) return this.href === (url.hash === '' ? url.href : withoutFragment(url));
    if (p instanceof RegExp) {
      p.lastIndex = 0;
      return p.test(url.href);
    }
    return p(url) === true;
  }

  /** {@link urlMatches}, a throwing predicate counting as no match (for messages). */
  private matchesQuietly(url: URL): boolean {
    try {
      return this.urlMatches(url);
    } catch {
      return false;
    }
  }

  /** `GET https://x/y`, `* /re/`, `POST <predicate>` — for messages. */
  describe(): string {
    const p = this.pattern;
    const what =
      typeof p === 'string' || p instanceof URL ? (redactUrl(p) ?? '') : p instanceof RegExp ? String(p) : `<predicate ${p.name || 'fn'}>`;
    const count = this.limit === Number.POSITIVE_INFINITY ? 'persist' : `${this.used}/${this.limit} used`;
    return `${this.method} ${what} (${count})`;
  }

  /** @internal — how far the route is from matching (lower is closer). */
  distance(method: string, url: URL): number {
    const methodCost = this.methodMatches(method) ? 0 : 8;
    if (this.matchesQuietly(url)) return methodCost + (this.live ? 0 : 1);
    const href = this.href;
    if (href === undefined) return methodCost + 1_000;
    return methodCost + 2 + editDistance(href, url.href);
  }
}

/** Checks a route method: `'*'` or an HTTP token (upper-cased). */
export function routeMethod(method: string): string {
  if (typeof method !== 'string' || !/^(\*|[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.test(method)) {
    throw invalidArg(`MockTransport.on: method must be '*' or an HTTP method; got ${String(method)}`);
  }
  return method === '*' ? method : method.toUpperCase();
}

/** Checks a route URL pattern; a string must be a full URL. */
export function routePattern(url: MockUrlPattern): MockUrlPattern {
  if (typeof url === 'string') {
    if (!URL.canParse(url)) throw invalidArg(`MockTransport.on: a string route must be a full URL; got ${redactUrl(url) ?? ''}`);
    return url;
  }
  if (url instanceof URL || url instanceof RegExp || typeof url === 'function') return url;
  throw invalidArg('MockTransport.on: url must be a full URL, a URL, a RegExp or a predicate');
}

/** The normalised href without its `#fragment` (curl and fetch never send one). */
function withoutFragment(u: string | URL): string {
  const url = new URL(typeof u === 'string' ? u : u.href);
  url.hash = '';
  return url.href;
}

/** Levenshtein distance, capped at 200 characters of each string (messages only). */
function editDistance(a: string, b: string): number {
  const x = a.slice(0, 200);
  const y = b.slice(0, 200);
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]! + Math.abs(a.length - x.length) + Math.abs(b.length - y.length);
}
