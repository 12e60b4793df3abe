/**
 * round-tripper — the public seams of a request (SPEC §12): {@link OutgoingRequest},
 * {@link HeaderList}, {@link OutgoingBody}, {@link RequestDeadline}, {@link RoundTripper}
 * and {@link Interceptor}. The client's chain, the transport, `MockTransport` and users'
 * code all speak these types.
 *
 * Owns: header-list validation (names are tokens, values free of CR/LF/NUL; checked on
 * every write), the body's replay rule (a non-replayable body opens once, a second open
 * is `HG_BODY_NOT_REPLAYABLE`), {@link outgoingRequest} (a request built by hand,
 * for users' tests of an interceptor or a RoundTripper), and `checkOutgoingRequest`, the
 * one check of a request handed over at a seam (`next()`, `Transport.roundTrip`,
 * `MockTransport.roundTrip`) before anything touches the wire.
 *
 * Never: sends anything, holds a timer. How the transport reaches a request's internal
 * deadline is not part of these types: the client hands a frozen `deadline` object that
 * the transport recognises (deadline.ts `DeadlineView`); the chain puts it back on any
 * copy passed to `next()` with another one (SPEC §12: read-only); a request built by hand
 * and handed to a RoundTripper directly is honoured through its `remaining()`.
 *
 * Invariants: a {@link HeaderList} reports names lower-cased and keeps the case it was
 * given for the wire; its values are validated before they are stored; entries keep
 * their order, repeated names stay separate entries.
 */

import type { WritableBody } from './conn/writer.js';
import { invalidArg } from './errors.js';
import { validateHeaderName, validateHeaderValue, validateMethod } from './http1/index.js';
import { checkSignal, describeValue, type TransportTimeouts } from './options.js';
import { type BodyOrFactory, checkMethod, type HeadersInit, type PreparedBody, prepareBody, prepareHeaders } from './request-init.js';
import type { Response } from './response.js';
import type { TraceHooks } from './trace.js';

/**
 * The request's overall deadline, read-only (SPEC §12): the object the client hands out
 * is frozen. A copy of the request passed to `next()` with another deadline (earlier or
 * later) does not change the call's: the stages below and the wire run by the call's
 * deadline (bound one attempt tighter with `req.timeouts`). A RoundTripper called
 * directly with a deadline of its own (`outgoingRequest()`) honours its `remaining()`.
 */
export interface RequestDeadline {
  /** Epoch ms (as `Date.now()`) when the overall timeout expires; `undefined`: none. */
  readonly expiresAt: number | undefined;
  /** Milliseconds left before the overall timeout (Infinity when there is none). */
  remaining(): number;
}

/**
 * A request body as the chain carries it. `replayable` bodies (absent, string, bytes,
 * a factory) can be opened for every attempt; any other body opens once.
 */
export interface OutgoingBody {
  /** Whether the body can be sent again (a retry, a redirect, an interceptor's replay). */
  readonly replayable: boolean;
  /**
   * The content for one send: a string, bytes, or a stream of bytes. A body that is not
   * replayable opens once; opening it again throws `HourglassError` `HG_BODY_NOT_REPLAYABLE`.
   */
  open(): string | Uint8Array | AsyncIterable<Uint8Array>;
}

/**
 * One request as interceptors and {@link RoundTripper}s see it (SPEC §12). Plain and
 * mutable: an interceptor may change it or pass a copy (`{ ...req, url }`) to `next`.
 */
export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: HeaderList;
  /** `undefined`: no body. */
  body: OutgoingBody | undefined;
  signal: AbortSignal | undefined;
  /** Per-request phase timeouts (SPEC §11), over the transport's. */
  timeouts: Partial<TransportTimeouts> | undefined;
  trace: TraceHooks | undefined;
  /** 0 for the first request on the wire; counts retries and redirect hops. */
  attempt: number;
  /**
   * The overall deadline, shared by every hop, retry and the final body; read-only (a
   * copy passed to `next()` with another one runs under the call's, see {@link RequestDeadline}).
   */
  readonly deadline: RequestDeadline;
}

/** Something that turns an {@link OutgoingRequest} into a {@link Response} (Go's RoundTripper). */
export interface RoundTripper {
  /** Sends `req`; resolves with the response of any status once its head is known. */
  roundTrip(req: OutgoingRequest): Promise<Response>;
  /** Releases what the round tripper holds (the client's `close()` calls it). */
  close?(): void | Promise<void>;
}

/** Calls the rest of the chain with a request. */
export type NextFn = (req: OutgoingRequest) => Promise<Response>;

/**
 * A link of the client's chain (OkHttp's Interceptor): it may rewrite the request, answer
 * without calling `next`, call `next` again (a replay: the body must be replayable), or throw.
 *
 * Calling `next` twice concurrently (hedging) with `maxConnsPerHost: 1` and no
 * `poolTimeout`: the second request waits for the connection the first holds until the
 * overall deadline, by design — set `poolTimeout`, or allow 2 or more connections per host.
 */
export type Interceptor = (req: OutgoingRequest, next: NextFn) => Promise<Response>;

// Module-private access to a HeaderList's array (set by its static block).
let flatOf: (h: HeaderList) => string[];
let wrapFlat: (flat: string[]) => HeaderList;

/**
 * A mutable list of request headers. Names are matched case-insensitively and reported
 * lower-cased; names and values are validated on every write (`HG_INVALID_ARG`).
 */
export class HeaderList implements Iterable<[string, string]> {
  /** Flat `[name, value, ...]` in wire case. */
  #flat: string[];

  /** Builds a list from any header input `request()` accepts (validated). */
  constructor(init?: HeadersInit) {
    this.#flat = init === undefined ? [] : prepareHeaders(undefined, init);
  }

  /** The value of `name` (repeated fields joined with `, `), or `undefined`. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    const f = this.#flat;
    let out: string | undefined;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i]!.toLowerCase() === lower) out = out === undefined ? f[i + 1]! : `${out}, ${f[i + 1]!}`;
    }
    return out;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const f = this.#flat;
    const out: string[] = [];
    for (let i = 0; i < f.length; i += 2) if (f[i]!.toLowerCase() === lower) out.push(f[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i]!.toLowerCase() === lower) return true;
    return false;
  }

  /** Replaces every field named `name` with one. */
  set(name: string, value: string): this {
    checkField(name, value);
    this.#remove(name.toLowerCase());
    this.#flat.push(name, value);
    return this;
  }

  /** Adds a field (repeats allowed). */
  append(name: string, value: string): this {
    checkField(name, value);
    this.#flat.push(name, value);
    return this;
  }

  /** Removes every field named `name`; true when one was there. */
  delete(name: string): boolean {
    return this.#remove(name.toLowerCase());
  }

  /** `[name, value]` pairs in order, names lower-cased, repeated fields separate. */
  *entries(): IterableIterator<[string, string]> {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) yield [f[i]!.toLowerCase(), f[i + 1]!];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** Number of fields. */
  get size(): number {
    return this.#flat.length / 2;
  }

  /** A copy that changes independently. */
  clone(): HeaderList {
    return headerListOf(this.#flat.slice());
  }

  /** Lower-cased names, repeated fields joined with `, `. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) {
      const n = f[i]!.toLowerCase();
      out[n] = out[n] === undefined ? f[i + 1]! : `${out[n]}, ${f[i + 1]!}`;
    }
    return out;
  }

  #remove(lower: string): boolean {
    const f = this.#flat;
    let w = 0;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i]!.toLowerCase() !== lower) {
        f[w++] = f[i]!;
        f[w++] = f[i + 1]!;
      }
    }
    const removed = w !== f.length;
    f.length = w;
    return removed;
  }

  static {
    flatOf = (h) => h.#flat;
    wrapFlat = (flat) => {
      const h = new HeaderList();
      h.#flat = flat;
      return h;
    };
  }
}

/** @internal The list's flat `[name, value, ...]` array (live, wire case). */
export function headerFlat(h: HeaderList): string[] {
  return flatOf(h);
}

/**
 * Header values bound to origins: `name\nvalue` → the origins it may go to. Keyed by the
 * value, not the list, so the binding survives any copy of the headers (clone(), a list
 * rebuilt entry by entry, `{ ...req }`); bounded, oldest binding first out.
 */
const BOUND = new Map<string, Set<string>>();
const MAX_BOUND = 1024;

/**
 * @internal Binds the current value(s) of header `name` of `headers` to `origin` (scheme,
 * host, port): the redirect stage and the last stage before the transport drop that value
 * on any request to another origin, whatever SPEC §7's rule for that header would keep
 * (a token an interceptor added for one origin only).
 */
export function bindToOrigin(headers: HeaderList, name: string, origin: string): void {
  const lower = name.toLowerCase();
  for (const value of headers.getAll(lower)) {
    const key = `${lower}\n${value}`;
    const origins = BOUND.get(key) ?? new Set<string>();
    BOUND.delete(key);
    origins.add(origin);
    BOUND.set(key, origins);
    if (BOUND.size > MAX_BOUND) BOUND.delete(BOUND.keys().next().value!);
  }
}

/**
 * @internal `flat` (`[name, value, ...]`) without the bound values that may not go to
 * `origin`; `flat` itself when there are none.
 */
export function withoutForeignBound(flat: string[], origin: string): string[] {
  if (BOUND.size === 0) return flat;
  let out: string[] | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const origins = BOUND.get(`${flat[i]!.toLowerCase()}\n${flat[i + 1]!}`);
    const foreign = origins !== undefined && !origins.has(origin);
    if (foreign && out === undefined) out = flat.slice(0, i);
    else if (!foreign && out !== undefined) out.push(flat[i]!, flat[i + 1]!);
  }
  return out ?? flat;
}

/** @internal `req` as it may go out to its own origin: bound values of other origins dropped. */
export function boundToItsOrigin(req: OutgoingRequest): OutgoingRequest {
  if (BOUND.size === 0) return req;
  const flat = flatOf(req.headers);
  const kept = withoutForeignBound(flat, req.url.origin);
  return kept === flat ? req : { ...req, headers: wrapFlat(kept) };
}

/** @internal Wraps an already validated flat list without copying it. */
export function headerListOf(flat: string[]): HeaderList {
  return wrapFlat(flat);
}

function checkField(name: string, value: string): void {
  if (typeof name !== 'string') throw invalidArg('header names must be strings');
  validateHeaderName(name);
  if (typeof value !== 'string') throw invalidArg(`header ${JSON.stringify(name)} must be a string`);
  validateHeaderValue(name, value);
}

/**
 * @internal The body the client prepared from `request()`'s `body`: it opens straight
 * into what a connection writes, without converting twice.
 */
export class PreparedOutgoingBody implements OutgoingBody {
  readonly replayable: boolean;
  constructor(readonly prepared: PreparedBody) {
    this.replayable = prepared.replayable;
  }

  open(): string | Uint8Array | AsyncIterable<Uint8Array> {
    const w = this.writable([]);
    if (w.kind === 'buffer') return w.data;
    if (w.kind === 'none') return new Uint8Array(0);
    return w.source as AsyncIterable<Uint8Array>;
  }

  /** The body for one send, as a connection writes it (`headers`: its content-length). */
  writable(headers: string[]): WritableBody {
    // A stream asked for a second time throws HG_BODY_NOT_REPLAYABLE itself; any other
    // error (a content-length that is no number, ...) is the caller's HG_INVALID_ARG.
    return this.prepared.next(headers);
  }
}


/**
 * @internal Makes `req.deadline` read-only at runtime too (SPEC §12): assigning it throws
 * in strict code and does nothing otherwise. A copy (`{ ...req }`) is the copier's own.
 */
export function fixDeadline<T extends OutgoingRequest>(req: T): T {
  Object.defineProperty(req, 'deadline', { value: req.deadline, enumerable: true, writable: false, configurable: false });
  return req;
}

/** What {@link outgoingRequest} takes. */
export interface OutgoingRequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyOrFactory;
  signal?: AbortSignal;
  /** Overall budget (ms) from now; default none. */
  timeout?: number;
  timeouts?: Partial<TransportTimeouts>;
  trace?: TraceHooks;
  attempt?: number;
}

/**
 * Builds an {@link OutgoingRequest} by hand (for tests of an interceptor or a
 * RoundTripper). Headers and body are checked as `request()` checks them.
 */
export function outgoingRequest(url: string | URL, init: OutgoingRequestInit = {}): OutgoingRequest {
  const u = new URL(typeof url === 'string' ? url : url.href);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalidArg(`unsupported URL scheme ${u.protocol}`);
  const timeout = init.timeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    throw invalidArg('timeout must be a non-negative number of ms');
  }
  const expiresAt = timeout === undefined || timeout === 0 || timeout === Number.POSITIVE_INFINITY ? undefined : Date.now() + timeout;
  const body = init.body === undefined || init.body === null ? undefined : new PreparedOutgoingBody(prepareBody(init.body));
  return fixDeadline({
    method: checkMethod(init.method),
    url: u,
    headers: new HeaderList(init.headers),
    body,
    signal: init.signal,
    timeouts: init.timeouts,
    trace: init.trace,
    attempt: init.attempt ?? 0,
    deadline: Object.freeze({
      expiresAt,
      remaining: () => (expiresAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, expiresAt - Date.now())),
    }),
  });
}

/**
 * @internal Checks a request handed over at a seam (an interceptor's `next`, a
 * RoundTripper's `roundTrip`) before anything touches the wire: an http(s) URL with a
 * host, a method token, a {@link HeaderList}, an AbortSignal or none, a body that is
 * `undefined` or an {@link OutgoingBody}, timeouts an object or none. `HG_INVALID_ARG`
 * otherwise, naming what is wrong. The header list validates itself on every write.
 */
export function checkOutgoingRequest(r: unknown, where: string): asserts r is OutgoingRequest {
  const req = r as Partial<Record<keyof OutgoingRequest, unknown>> | null;
  if (typeof req !== 'object' || req === null) throw invalidArg(`${where} takes an OutgoingRequest, got ${describeValue(r)}`);
  const url = req.url;
  if (!(url instanceof URL)) throw invalidArg(`${where}: req.url must be a URL, got ${describeValue(url)}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArg(`${where}: unsupported URL scheme ${url.protocol} (only http: and https:)`);
  }
  if (url.hostname === '') throw invalidArg(`${where}: req.url has no host`);
  if (typeof req.method !== 'string') throw invalidArg(`${where}: req.method must be a string, got ${describeValue(req.method)}`);
  validateMethod(req.method);
  if (!(req.headers instanceof HeaderList)) {
    throw invalidArg(`${where}: req.headers must be a HeaderList (req.headers.set(...), or new HeaderList(init)), got ${describeValue(req.headers)}`);
  }
  if (req.signal !== undefined) checkSignal(req.signal);
  const body = req.body as Partial<OutgoingBody> | undefined | null;
  if (body !== undefined && (typeof body !== 'object' || body === null || typeof body.replayable !== 'boolean' || typeof body.open !== 'function')) {
    throw invalidArg(`${where}: req.body must be undefined (no body) or { replayable: boolean, open() }, got ${describeValue(body)}`);
  }
  if (req.timeouts !== undefined && (typeof req.timeouts !== 'object' || req.timeouts === null)) {
    throw invalidArg(`${where}: req.timeouts must be an object or undefined, got ${describeValue(req.timeouts)}`);
  }
  const d = req.deadline as Partial<RequestDeadline> | null | undefined;
  if (typeof d !== 'object' || d === null || typeof d.remaining !== 'function') {
    throw invalidArg(`${where}: req.deadline must be a RequestDeadline ({ expiresAt, remaining() }), got ${describeValue(d)}`);
  }
  // A remaining() that is no number (or NaN) would corrupt every timer armed from it.
  const left: unknown = d.remaining();
  if (typeof left !== 'number' || Number.isNaN(left)) {
    throw invalidArg(`${where}: req.deadline.remaining() must return a number of ms (Infinity: none), got ${describeValue(left)}`);
  }
}

/** True for a {@link RoundTripper}: an object with a `roundTrip` method. */
export function isRoundTripper(v: unknown): v is RoundTripper {
  return typeof v === 'object' && v !== null && typeof (v as { roundTrip?: unknown }).roundTrip === 'function';
}
