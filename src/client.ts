/**
 * client — request policy (Go's Client): *what* to send. The transport decides *how*.
 *
 * Owns: the overall deadline (one {@link Budget} per request, shared by every redirect,
 * retry, backoff and the final body), redirects (rules in `redirect`), retries (rules
 * in `retry`), the cookie jar, default headers, userinfo → Basic auth, and the
 * diagnostics_channel request events. `send` below is the whole path of a request.
 *
 * Invariants: the budget is finished exactly once — when the final response's body
 * settles, or when the request fails; intermediate responses are drained or closed
 * before the next hop; an error thrown after the budget failed is the budget's error.
 */

import { type Budget as BudgetT, Budget, sleep } from './deadline.js';
import { closedError, HourglassError, RedirectError, redactUrl } from './errors.js';
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
import { nextHop } from './redirect.js';
import {
  type BodyOrFactory,
  checkMethod,
  type HeadersInit,
  type PreparedBody,
  parseRequestUrl,
  prepareBody,
  prepareHeaders,
  takeUserinfo,
  withHeader,
  withoutHeaders,
} from './request-init.js';
import type { WritableBody } from './conn/writer.js';
import type { BodyObserver, Response } from './response.js';
import { RetryPolicy, type RetryOptions, waitFits } from './retry.js';
import { channels, type TraceHooks } from './trace.js';
import { Transport } from './transport.js';

/** A tough-cookie compatible jar (sync or async methods). */
export interface CookieJarLike {
  getCookieString(url: string): string | Promise<string>;
  setCookie(cookie: string, url: string): unknown;
}

/** The next request of a redirect, as `checkRedirect` sees it. */
export interface RedirectRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
}
/** An earlier request of a redirect chain. */
export interface RedirectVia {
  url: string;
  method: string;
  status: number;
}

/** Options of a {@link Client}. */
export interface ClientOptions {
  transport?: Transport;
  /** Overall budget per request (ms), from `request()` to the end of the body. Default none. */
  timeout?: number;
  /** Redirects followed at most. Default 10. */
  maxRedirects?: number;
  /** Follow redirects at all. Default true. */
  followRedirects?: boolean;
  /** Throw to fail with that error as cause; return false to return the 3xx as is. */
  checkRedirect?: (next: RedirectRequest, via: RedirectVia[]) => boolean | undefined | void;
  jar?: CookieJarLike;
  retry?: RetryOptions | number;
  /** Default headers, overridden by a request's own. */
  headers?: HeadersInit;
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

/** Sends requests: redirects, retries, cookies and one deadline over all of them. */
export class Client {
  readonly transport: Transport;
  private readonly timeout: number | undefined;
  private readonly maxRedirects: number;
  private readonly followRedirects: boolean;
  private readonly checkRedirect: ClientOptions['checkRedirect'];
  private readonly jar: CookieJarLike | undefined;
  private readonly retry: RetryPolicy;
  private readonly headers: HeadersInit | undefined;
  private isClosed = false;

  constructor(options: ClientOptions = {}) {
    checkOptionsObject('Client options', '', options, CLIENT_NAMES);
    this.transport = options.transport === undefined ? new Transport() : checkTransport(options.transport);
    this.timeout = checkDuration('timeout', options.timeout);
    this.maxRedirects = options.maxRedirects === undefined ? DEFAULTS.maxRedirects : checkMaxRedirects(options.maxRedirects);
    this.followRedirects = options.followRedirects ?? true;
    this.checkRedirect = options.checkRedirect;
    this.jar = options.jar;
    this.retry = new RetryPolicy(options.retry);
    this.headers = options.headers;
  }

  /** Sends a request; resolves with the final response (any status) once its head arrived. */
  request(input: string | URL, opts: RequestOptions = EMPTY_OPTIONS): Promise<Response> {
    let url: URL;
    let method: string;
    let headers: string[];
    let body: PreparedBody;
    let retry: RetryPolicy;
    let budget: BudgetT;
    try {
      if (this.isClosed) throw closedError('client', { url: typeof input === 'string' ? input : input.href });
      if (opts !== EMPTY_OPTIONS) checkOptionsObject('request options', '', opts, REQUEST_NAMES);
      url = parseRequestUrl(input);
      method = checkMethod(opts.method);
      headers = prepareHeaders(this.headers, opts.headers);
      takeUserinfo(url, headers);
      body = prepareBody(opts.body);
      const timeout = checkDuration('timeout', opts.timeout) ?? this.timeout;
      retry = opts.retry === undefined ? this.retry : new RetryPolicy(opts.retry);
      if (opts.maxRedirects !== undefined) checkMaxRedirects(opts.maxRedirects);
      budget = new Budget(timeout, checkSignal(opts.signal), method, redactUrl(url)!);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(method, url, headers, body, opts, retry, budget);
  }

  /** Closes idle connections and rejects new requests with `HG_CLOSED`. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.transport.close();
  }

  /**
   * The path of one request: hops (redirects) × attempts (retries), one budget. The first
   * attempt runs as a plain promise continuation (a request queued for a connection holds
   * no suspended frame); `loop` takes over only for a redirect, a retry or a cookie jar.
   */
  private send(
    method0: string,
    url0: URL,
    headers0: string[],
    body: PreparedBody,
    opts: RequestOptions,
    retry: RetryPolicy,
    budget: BudgetT,
  ): Promise<Response> {
    const info =
      channels.requestStart.hasSubscribers ||
      channels.requestHeaders.hasSubscribers ||
      channels.requestError.hasSubscribers ||
      channels.requestEnd.hasSubscribers
        ? describe(method0, url0, headers0)
        : undefined;
    if (channels.requestStart.hasSubscribers) channels.requestStart.publish({ request: info });
    if (this.jar !== undefined || budget.failure !== undefined) {
      return this.loop(method0, url0, headers0, body, opts, retry, budget, info, undefined);
    }
    // The first attempt runs as a plain promise continuation: a request waiting for a
    // connection holds no suspended frame. Only a redirect or a retry needs the loop.
    let first: Promise<Response>;
    try {
      first = this.attempt(method0, url0, headers0, body, body.present, budget, opts);
    } catch (err) {
      return this.loop(method0, url0, headers0, body, opts, retry, budget, info, { err });
    }
    return first.then(
      (res) => {
        const follow = opts.followRedirects ?? this.followRedirects;
        const retryStatus =
          retry.limit > 0 && retry.retriesStatus(res.status) && retry.allows(method0, headers0, body.replayable || !body.present);
        if ((follow && isRedirect(res.status)) || retryStatus) {
          return this.loop(method0, url0, headers0, body, opts, retry, budget, info, { res });
        }
        res.url = url0.href;
        return this.deliver(res, budget, info, method0, url0, headers0);
      },
      (err: unknown) => this.loop(method0, url0, headers0, body, opts, retry, budget, info, { err }),
    );
  }

  /** One attempt of one hop on the transport. */
  private attempt(
    method: string,
    url: URL,
    headers: string[],
    body: PreparedBody,
    hasBody: boolean,
    budget: BudgetT,
    opts: RequestOptions,
  ): Promise<Response> {
    return this.transport.roundTrip({
      method,
      url,
      headers,
      body: hasBody ? body.next(headers) : NO_BODY,
      replayable: body.replayable || !hasBody,
      rebody: hasBody && body.replayable ? () => body.next(headers) : undefined,
      budget,
      timeouts: opts.timeouts,
      trace: opts.trace,
    });
  }

  /** Hands the final response over: publishes `request:headers`, gives it the budget. */
  private deliver(
    res: Response,
    budget: BudgetT,
    info: RequestInfo | undefined,
    method0: string,
    url0: URL,
    headers0: string[],
  ): Response {
    if (channels.requestHeaders.hasSubscribers) channels.requestHeaders.publish({ request: info, response: res });
    const watch = channels.requestEnd.hasSubscribers || channels.requestError.hasSubscribers;
    res.attach(budget, watch ? new DiagnosticsObserver(info ?? describe(method0, url0, headers0)) : undefined);
    return res;
  }

  /**
   * Redirects × retries under one budget. `first` is the outcome of an attempt already
   * made (the fast path's), consumed by the first iteration.
   */
  private async loop(
    method0: string,
    url0: URL,
    headers0: string[],
    body: PreparedBody,
    opts: RequestOptions,
    retry: RetryPolicy,
    budget: BudgetT,
    info: RequestInfo | undefined,
    first: { res?: Response; err?: unknown } | undefined,
  ): Promise<Response> {
    try {
      budget.check();
      const follow = opts.followRedirects ?? this.followRedirects;
      const maxRedirects = opts.maxRedirects === undefined ? this.maxRedirects : checkMaxRedirects(opts.maxRedirects);
      const mode = opts.redirectMode ?? 'client';
      let method = method0;
      let url = url0;
      let headers = headers0;
      let hasBody = body.present;
      let redirects: string[] | undefined;
      let via: { url: string; method: string; status: number }[] | undefined;
      let attempt = 0;
      let res: Response;
      for (;;) {
        budget.method = method;
        budget.url = redactUrl(url)!;
        const hopHeaders = this.jar !== undefined ? await this.withCookies(headers, url, budget) : headers;
        try {
          const done = first;
          first = undefined;
          if (done !== undefined) {
            if (done.res === undefined) throw done.err;
            res = done.res;
          } else {
            res = await this.attempt(method, url, hopHeaders, body, hasBody, budget, opts);
          }
        } catch (err) {
          if (budget.failure !== undefined) throw budget.failure;
          if (attempt < retry.limit && retry.allows(method, headers, body.replayable || !hasBody) && retry.retriesError(err)) {
            attempt++;
            await this.backoff(retry.delay(attempt, undefined).ms, budget, err);
            continue;
          }
          throw err;
        }
        if (this.jar !== undefined) {
          try {
            await this.storeCookies(res, url, budget);
          } catch (err) {
            void res.dump(0, 0); // the budget failed while the jar had it: the body goes too
            throw err;
          }
        }

        if (attempt < retry.limit && retry.retriesStatus(res.status) && retry.allows(method, headers, body.replayable || !hasBody)) {
          const wait = retry.retryWait(attempt + 1, res.headers['retry-after']);
          if (wait !== undefined && waitFits(wait, budget.remaining())) {
            attempt++;
            await res.dump();
            await this.backoff(wait, budget, undefined);
            continue;
          }
        }

        if (!follow || (mode === 'error' && !isRedirect(res.status))) break;
        const hop = { method, url, headers, hasBody };
        let next: ReturnType<typeof nextHop>;
        try {
          next = nextHop(res.status, res.headers.location, hop, url0, body.replayable, mode === 'error' ? 'fetch' : mode);
        } catch (err) {
          await res.dump(DEFAULTS.redirectDrainBytes);
          throw err;
        }
        if (!next.follow) break;
        // Credentials in a Location become Basic auth, never part of a URL we report (Go).
        takeUserinfo(next.url, next.headers);
        if (mode === 'error') {
          await res.dump();
          throw new HourglassError(`${res.status} redirect to ${redactUrl(next.url)} with redirect mode "error"`, 'HG_BAD_REDIRECT', { method, url });
        }
        redirects ??= [];
        if (redirects.length >= maxRedirects) {
          await res.dump(DEFAULTS.redirectDrainBytes);
          throw new RedirectError(`stopped after ${maxRedirects} redirect${maxRedirects === 1 ? '' : 's'}`, redirects, { method, url });
        }
        via ??= [];
        via.push({ url: redactUrl(url)!, method, status: res.status });
        if (this.checkRedirect !== undefined) {
          let verdict: boolean | undefined | void;
          try {
            verdict = this.checkRedirect(
              { url: next.url.href, method: next.method, headers: headerRecord(next.headers) },
              via.map((v) => ({ ...v })),
            );
          } catch (err) {
            await res.dump(DEFAULTS.redirectDrainBytes);
            const e = new HourglassError('checkRedirect refused the redirect', 'HG_REDIRECT_REFUSED', { method, url, cause: err });
            (e as HourglassError & { response?: Response }).response = res;
            throw e;
          }
          if (verdict === false) break;
        }
        await res.dump(DEFAULTS.redirectDrainBytes);
        redirects.push(next.url.href);
        method = next.method;
        url = next.url;
        headers = next.headers;
        hasBody = hasBody && next.keepBody;
        attempt = 0;
      }
      res.url = url.href;
      if (redirects !== undefined) res.redirects = redirects;
      return this.deliver(res, budget, info, method0, url0, headers0);
    } catch (err) {
      budget.finish();
      const e = budget.failure ?? err;
      if (channels.requestError.hasSubscribers) channels.requestError.publish({ request: info, error: e });
      throw e;
    }
  }

  /**
   * Waits before a retry (any duration: `sleep` re-arms past 2^31−1 ms), or fails at once
   * when the wait would overrun the deadline. An infinite wait without a deadline is no
   * retry: the last error stands.
   */
  private async backoff(ms: number, budget: BudgetT, lastError: unknown): Promise<void> {
    const remaining = budget.remaining();
    if (!waitFits(ms, remaining)) {
      throw remaining === Number.POSITIVE_INFINITY && lastError !== undefined ? lastError : budget.timeoutError(lastError);
    }
    budget.activePhase = 'retry-backoff';
    await sleep(ms, budget);
  }

  /** Cookie header from the jar; an async jar is awaited under the budget (SPEC §11). */
  private async withCookies(headers: string[], url: URL, budget: BudgetT): Promise<string[]> {
    const fromJar = await underBudget(budget, () => this.jar!.getCookieString(url.href));
    if (fromJar === '' || fromJar === undefined) return headers;
    let existing = '';
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.toLowerCase() === 'cookie') existing = existing ? `${existing}; ${headers[i + 1]}` : headers[i + 1]!;
    }
    const value = existing ? `${existing}; ${fromJar}` : fromJar;
    return withHeader(withoutHeaders(headers, new Set(['cookie'])), 'cookie', value);
  }

  /** Stores Set-Cookie values; an async jar is awaited under the budget (SPEC §11). */
  private async storeCookies(res: Response, url: URL, budget: BudgetT): Promise<void> {
    const set = res.headers['set-cookie'];
    if (set === undefined) return;
    for (const c of Array.isArray(set) ? set : [set]) {
      try {
        await underBudget(budget, () => this.jar!.setCookie(c, url.href));
      } catch {
        if (budget.failure !== undefined) throw budget.failure;
        // A cookie the jar refuses (bad domain, ...) is ignored, as browsers and Go do.
      }
    }
  }
}

/**
 * Runs a jar call: a plain value passes straight through; a promise is awaited under the
 * request's budget (overall timeout and signal), with `activePhase` 'cookie-jar'.
 */
async function underBudget<T>(budget: BudgetT, call: () => T | PromiseLike<T>): Promise<T> {
  budget.check();
  const v = call();
  if (!isThenable(v)) return v;
  const phase = budget.activePhase;
  budget.activePhase = 'cookie-jar';
  try {
    return await budget.race(v);
  } finally {
    if (budget.activePhase === 'cookie-jar') budget.activePhase = phase;
  }
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<T>).then === 'function';
}

function checkMaxRedirects(n: unknown): number {
  if (typeof n !== 'number' || Number.isNaN(n) || n < 0) {
    throw new HourglassError(`maxRedirects must be a non-negative number, got ${describeValue(n)}`, 'HG_INVALID_ARG');
  }
  return n;
}

/** The default of `request()`'s options: shared, frozen, and not worth checking. */
const EMPTY_OPTIONS: RequestOptions = Object.freeze({});

/** A `transport` must be a RoundTripper: an object with a `roundTrip` method (SPEC §12). */
function checkTransport(t: unknown): Transport {
  if (typeof t === 'object' && t !== null && typeof (t as { roundTrip?: unknown }).roundTrip === 'function') {
    return t as Transport;
  }
  let hint = '';
  if (typeof t === 'object' && t !== null && Object.keys(t).some((k) => TRANSPORT_NAMES.has(k))) {
    hint = '; pass new Transport({ ... }) for Transport options';
  }
  throw new HourglassError(
    `transport must be a RoundTripper (an object with a roundTrip method), got ${describeValue(t)}${hint}`,
    'HG_INVALID_ARG',
  );
}

const NO_BODY: WritableBody = Object.freeze({ kind: 'none' });

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** Lower-cased names, repeats joined; a null prototype (`__proto__` is an ordinary name). */
function headerRecord(flat: string[]): Record<string, string> {
  return joinedFields(flat);
}

/** What diagnostics_channel messages carry as `request` (credentials redacted). */
export interface RequestInfo {
  method: string;
  url: string;
  headers: Record<string, string>;
}

function describe(method: string, url: URL, headers: string[]): RequestInfo {
  const h = headerRecord(headers);
  if (h.authorization !== undefined) h.authorization = '[redacted]';
  if (h['proxy-authorization'] !== undefined) h['proxy-authorization'] = '[redacted]';
  return { method, url: redactUrl(url)!, headers: h };
}
