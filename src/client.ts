/**
 * client — request policy (Go's Client): *what* to send. The transport decides *how*.
 *
 * Owns: turning `request()`'s arguments into one {@link OutgoingRequest} (checked URL,
 * headers, body, userinfo → Basic auth, default headers), the overall deadline (one
 * {@link Budget} per request, shared by every redirect, retry, backoff and the final
 * body: it is the request's `deadline`), handing the final response its budget, and
 * the diagnostics_channel request events. The policy itself (interceptors, redirects,
 * retries, cookies, network interceptors, the transport) is the chain assembled once
 * per client in `chain` ({@link assembleChain}).
 *
 * Invariants: the budget is finished exactly once — when the final response's body
 * settles, or when the request fails; an error thrown after the budget failed is the
 * budget's error; user code in the chain (an interceptor, a foreign RoundTripper) never
 * outlives the deadline or the signal: the call is raced against the budget.
 */

import { Budget } from './deadline.js';
import { closedError, invalidArg, redactUrl } from './errors.js';
import {
  CLIENT_NAMES,
  checkDuration,
  checkOptionsObject,
  checkSignal,
  DEFAULTS,
  describeValue,
  REQUEST_NAMES,
  TRANSPORT_NAMES,
  type TransportTimeouts,
} from './options.js';
import { joinedFields } from './http1/index.js';
import { afterHop, assembleChain, Call, type Chain, type WireCount, type CheckRedirect, type CookieJarLike } from './chain.js';
import {
  type BodyOrFactory,
  checkMethod,
  type HeadersInit,
  parseRequestUrl,
  prepareBody,
  prepareHeaders,
  takeUserinfo,
  UrlMemo,
} from './request-init.js';
import type { BodyObserver, Response } from './response.js';
import { RetryPolicy, type RetryOptions } from './retry.js';
import { fixDeadline, headerFlat, headerListOf, type Interceptor, isRoundTripper, type OutgoingRequest, PreparedOutgoingBody, type RoundTripper } from './round-tripper.js';
import { channels, type TraceHooks } from './trace.js';
import { Transport } from './transport.js';

export type { CheckRedirect, CookieJarLike, RedirectRequest, RedirectVia } from './chain.js';

/** Options of a {@link Client}. */
export interface ClientOptions<T extends RoundTripper = Transport> {
  /** Any {@link RoundTripper}; default a new {@link Transport}. */
  transport?: T;
  /** Overall budget per request (ms), from `request()` to the end of the body. Default none. */
  timeout?: number;
  /** Redirects followed at most. Default 10. */
  maxRedirects?: number;
  /** Follow redirects at all. Default true. */
  followRedirects?: boolean;
  /** Throw to fail with that error as cause; return false to return the 3xx as is. */
  checkRedirect?: CheckRedirect;
  jar?: CookieJarLike;
  retry?: RetryOptions | number;
  /** Default headers, overridden by a request's own. */
  headers?: HeadersInit;
  /**
   * Run once per call, outside redirects and retries, first outermost; they see the final
   * response (SPEC §12).
   */
  interceptors?: readonly Interceptor[];
  /** Run once per request on the wire (each redirect hop and retry), just above the transport. */
  networkInterceptors?: readonly Interceptor[];
}

/** Options of one request. */
export interface RequestOptions {
  method?: string;
  headers?: HeadersInit;
  body?: BodyOrFactory;
  signal?: AbortSignal;
  /** Overall budget (ms), overriding the client's. */
  timeout?: number;
  /** Per-request phase timeouts (SPEC §11). */
  timeouts?: Partial<TransportTimeouts>;
  maxRedirects?: number;
  followRedirects?: boolean;
  retry?: RetryOptions | number;
  trace?: TraceHooks;
  /** @internal — redirect method rules: Go's ('client') or WHATWG fetch's. */
  redirectMode?: 'client' | 'fetch' | 'error';
  /** @internal — the requests on the wire are counted here, across calls (`download()`'s). */
  wireCount?: WireCount;
}

/** Publishes `request:end` / `request:error` when a final body settles (only while subscribed). */
class DiagnosticsObserver implements BodyObserver {
  constructor(private readonly request: RequestInfo) {}
  bodySettled(res: Response | undefined, err: Error | undefined): void {
    if (err === undefined) {
      if (channels.requestEnd.hasSubscribers) channels.requestEnd.publish({ request: this.request, response: res });
    } else if (channels.requestError.hasSubscribers) {
      channels.requestError.publish({ request: this.request, error: err });
    }
  }
}

/** Sends requests through its chain: interceptors, redirects, retries, cookies, one deadline over all. */
export class Client<T extends RoundTripper = Transport> {
  readonly transport: T;
  private readonly timeout: number | undefined;
  private readonly maxRedirects: number;
  private readonly followRedirects: boolean;
  private readonly retry: RetryPolicy;
  private readonly headers: HeadersInit | undefined;
  private readonly chain: Chain;
  /** Shares one parsed URL between requests to the same string; only without user code in the chain. */
  private readonly urls: UrlMemo | undefined;
  private isClosed = false;

  constructor(options: ClientOptions<T> = {}) {
    checkOptionsObject('Client options', '', options, CLIENT_NAMES);
    this.transport = options.transport === undefined ? (new Transport() as RoundTripper as T) : checkTransport(options.transport);
    this.timeout = checkDuration('timeout', options.timeout);
    this.maxRedirects = options.maxRedirects === undefined ? DEFAULTS.maxRedirects : checkMaxRedirects(options.maxRedirects);
    this.followRedirects = options.followRedirects ?? true;
    this.retry = new RetryPolicy(options.retry);
    this.headers = options.headers;
    this.chain = assembleChain({
      interceptors: checkInterceptors('interceptors', options.interceptors),
      networkInterceptors: checkInterceptors('networkInterceptors', options.networkInterceptors),
      transport: this.transport,
      jar: options.jar,
      checkRedirect: options.checkRedirect,
    });
    this.urls = this.chain.guarded ? undefined : new UrlMemo();
  }

  /** Sends a request; resolves with the final response (any status) once its head arrived. */
  request(input: string | URL, opts: RequestOptions = EMPTY_OPTIONS): Promise<Response> {
    let call: Call;
    let req: OutgoingRequest;
    try {
      if (this.isClosed) throw closedError('client', { url: typeof input === 'string' ? input : input.href });
      if (opts !== EMPTY_OPTIONS) checkOptionsObject('request options', '', opts, REQUEST_NAMES);
      const urls = this.urls;
      const url = urls === undefined ? parseRequestUrl(input) : urls.parse(input);
      const method = checkMethod(opts.method);
      const headers = prepareHeaders(this.headers, opts.headers);
      takeUserinfo(url, headers);
      const body = prepareBody(opts.body);
      const timeout = checkDuration('timeout', opts.timeout) ?? this.timeout;
      const retry = opts.retry === undefined ? this.retry : new RetryPolicy(opts.retry);
      const maxRedirects = opts.maxRedirects === undefined ? this.maxRedirects : checkMaxRedirects(opts.maxRedirects);
      const signal = checkSignal(opts.signal);
      const budget = new Budget(timeout, signal, method, urls === undefined ? redactUrl(url)! : urls.redact(url));
      req = {
        method,
        url,
        headers: headerListOf(headers),
        body: body.present ? new PreparedOutgoingBody(body) : undefined,
        signal,
        timeouts: opts.timeouts,
        trace: opts.trace,
        attempt: 0,
        // User code (an interceptor, a RoundTripper) gets the budget's frozen view.
        deadline: this.chain.guarded ? budget.view : budget,
      };
      // User code sees it: its deadline is read-only at runtime too (SPEC §12).
      if (this.chain.guarded) fixDeadline(req);
      call = new Call(this.chain, budget, url, retry, opts.followRedirects ?? this.followRedirects, maxRedirects, opts.redirectMode ?? 'client', opts.wireCount);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(call, req);
  }

  /**
   * Closes idle connections and rejects new requests with `HG_CLOSED`. A {@link Transport}
   * is awaited; the `close()` of any other RoundTripper is awaited for at most
   * 1 s: one that never settles cannot hang this call. An
   * error it throws or rejects with is passed on.
   */
  async close(): Promise<void> {
    this.isClosed = true;
    const t = this.transport;
    if (t.close === undefined) return;
    if (t instanceof Transport) return t.close();
    await settleWithin(new Promise<void>((resolve) => resolve(t.close!())), FOREIGN_CLOSE_GRACE_MS);
  }

  /**
   * Runs the chain for one call. Its promise is a plain continuation: a request queued
   * for a connection holds no suspended frame.
   */
  private send(call: Call, req: OutgoingRequest): Promise<Response> {
    const budget = call.budget;
    const info =
      channels.requestStart.hasSubscribers ||
      channels.requestHeaders.hasSubscribers ||
      channels.requestError.hasSubscribers ||
      channels.requestEnd.hasSubscribers
        ? describe(req)
        : undefined;
    if (channels.requestStart.hasSubscribers) channels.requestStart.publish({ request: info });
    // Without interceptors the redirect stage (index 0) decides in this continuation.
    const inline = this.chain.inlineRedirect;
    let p = budget.failure !== undefined ? Promise.reject(budget.failure) : call.proceed(req, inline ? 1 : 0);
    if (this.chain.guarded) p = budget.guard(p);
    return p.then(
      (res) => {
        if (!inline) return deliver(res, budget, info, req);
        const final = afterHop(call, req, res, 0);
        if (final === res) return deliver(res, budget, info, req);
        return (final as Promise<Response>).then(
          (r) => deliver(r, budget, info, req),
          (err: unknown) => failed(budget, info, err),
        );
      },
      (err: unknown) => {
        discardBody(req);
        return failed(budget, info, err);
      },
    );
  }
}

/** The call failed: a stream body it never opened for a send is destroyed (eleventh attack F4). */
function discardBody(req: OutgoingRequest): void {
  const body = req.body;
  if (body instanceof PreparedOutgoingBody) body.prepared.discard?.();
}

/** The call failed: the budget is finished, its own failure (timeout, abort) wins. */
function failed(budget: Budget, info: RequestInfo | undefined, err: unknown): never {
  budget.finish();
  const e = budget.failure ?? err;
  if (channels.requestError.hasSubscribers) channels.requestError.publish({ request: info, error: e });
  throw e;
}

/** Hands the final response over: publishes `request:headers`, gives it the budget. */
function deliver(res: Response, budget: Budget, info: RequestInfo | undefined, req: OutgoingRequest): Response {
  if (channels.requestHeaders.hasSubscribers) channels.requestHeaders.publish({ request: info, response: res });
  const watch = channels.requestEnd.hasSubscribers || channels.requestError.hasSubscribers;
  res.attach(budget, watch ? new DiagnosticsObserver(info ?? describe(req)) : undefined);
  return res;
}

function checkMaxRedirects(n: unknown): number {
  if (typeof n !== 'number' || Number.isNaN(n) || n < 0) {
    throw invalidArg(`maxRedirects must be a non-negative number, got ${describeValue(n)}`);
  }
  return n;
}

function checkInterceptors(name: string, list: unknown): readonly Interceptor[] {
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((f) => typeof f === 'function')) {
    throw invalidArg(`${name} must be an array of functions (req, next) => Promise<Response>, got ${describeValue(list)}`);
  }
  return list.slice() as Interceptor[];
}

/** The default of `request()`'s options: shared, frozen, and not worth checking. */
const EMPTY_OPTIONS: RequestOptions = Object.freeze({});

/** How long (ms) {@link Client.close} waits for a user RoundTripper's `close()`. */
const FOREIGN_CLOSE_GRACE_MS = 1000;

/** `p`, or undefined once `ms` pass first (the timer is cleared when `p` settles). */
function settleWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([p, grace]).finally(() => clearTimeout(timer));
}

/** A `transport` must be a RoundTripper: an object with a `roundTrip` method (SPEC §12). */
function checkTransport<T>(t: T): T {
  if (isRoundTripper(t)) {
    // close() is optional; one that is not a function would fail client.close() raw.
    const close = (t as { close?: unknown }).close;
    if (close !== undefined && typeof close !== 'function') {
      throw invalidArg(`transport.close must be a function or undefined, got ${describeValue(close)}`);
    }
    return t;
  }
  let hint = '';
  if (typeof t === 'object' && t !== null && Object.keys(t).some((k) => TRANSPORT_NAMES.has(k))) {
    hint = '; pass new Transport({ ... }) for Transport options';
  }
  throw invalidArg(`transport must be a RoundTripper (an object with a roundTrip method), got ${describeValue(t)}${hint}`);
}

/** What diagnostics_channel messages carry as `request` (credentials redacted). */
export interface RequestInfo {
  method: string;
  url: string;
  headers: Record<string, string>;
}

function describe(req: OutgoingRequest): RequestInfo {
  const h = joinedFields(headerFlat(req.headers));
  if (h.authorization !== undefined) h.authorization = '[redacted]';
  if (h['proxy-authorization'] !== undefined) h['proxy-authorization'] = '[redacted]';
  return { method: req.method, url: redactUrl(req.url)!, headers: h };
}
