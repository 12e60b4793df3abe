/**
 * chain — the client's policy as one chain of stages, assembled in one place
 * ({@link assembleChain}, as OkHttp's getResponseWithInterceptorChain):
 *
 *   interceptors → redirect → retry → cookies → networkInterceptors → transport
 *
 * Owns: the order of the stages; where a redirect is decided (the redirect stage, with
 * the rules of `redirect`); where a retry by status or error is decided and waited for
 * (the retry stage: each hop is retried on its own, backoff under the budget); the
 * cookie jar's reads and writes; `OutgoingRequest.attempt` (0 first, +1 for every
 * retry and redirect hop — and, as the transport sees it, +1 for every request of the
 * call put on the wire, so an interceptor's replay counts as a resend too); the checks that an interceptor or a RoundTripper resolved
 * with a {@link Response} (`HG_BAD_RESPONSE`).
 *
 * Stages are shared objects, not closures: a call walks them by index (OkHttp's
 * RealInterceptorChain) and carries its own state in one {@link Call}. With no user
 * interceptor and no jar, a stage that has nothing to decide hands the promise of the
 * next one through untouched, so a request queued for a connection holds no suspended
 * async frame (the retry loop and a redirect are async only once they are needed).
 *
 * Never: sends bytes (the transport does), finishes the budget (the client does once
 * the final response is handed over or the call failed).
 */

import type { Budget } from './deadline.js';
import { sleep } from './deadline.js';
import { HourglassError, RedirectError, redactUrl } from './errors.js';
import { joinedFields } from './http1/index.js';
import { DEFAULTS, describeValue } from './options.js';
import { nextHop, redactLocation } from './redirect.js';
import { takeUserinfo } from './request-init.js';
import { isGenuineResponse, Response } from './response.js';
import { type RetryPolicy, waitFits } from './retry.js';
import {
  boundToItsOrigin,
  checkOutgoingRequest,
  fixDeadline,
  headerFlat,
  headerListOf,
  type Interceptor,
  type NextFn,
  type OutgoingRequest,
  type RoundTripper,
  withoutForeignBound,
} from './round-tripper.js';
import { Transport } from './transport.js';

/** A tough-cookie compatible jar (sync or async methods). */
export interface CookieJarLike {
  getCookieString(url: string): string | Promise<string>;
  setCookie(cookie: string, url: string): unknown;
}

/**
 * A redirect policy: throw (or reject) to fail with that error as cause; return (or
 * resolve) `false` to return the 3xx as is. An async policy is awaited under the
 * overall deadline and the signal.
 */
export type CheckRedirect = (
  next: RedirectRequest,
  via: RedirectVia[],
) => boolean | undefined | void | PromiseLike<boolean | undefined | void>;

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

/** @internal What the client configures once; the chain is built from it. */
export interface ChainConfig {
  interceptors: readonly Interceptor[];
  networkInterceptors: readonly Interceptor[];
  transport: RoundTripper;
  jar: CookieJarLike | undefined;
  checkRedirect: CheckRedirect | undefined;
}

/** One link of the chain. `i` is its own index: it calls `call.proceed(req, i + 1)`. */
interface Stage {
  run(call: Call, req: OutgoingRequest, i: number): Promise<Response>;
}

/** @internal The assembled chain of a client. */
export interface Chain {
  readonly stages: readonly Stage[];
  /**
   * No user interceptor and nothing to race: the client runs the redirect stage's decision
   * in its own continuation ({@link afterHop}) instead of one more promise per request.
   */
  readonly inlineRedirect: boolean;
  /** Whether the whole call must be raced against the budget (user code or a foreign RoundTripper runs). */
  readonly guarded: boolean;
  /** Network interceptors exist: each request on the wire gets its own copy. */
  readonly copiesPerAttempt: boolean;
  readonly config: ChainConfig;
}

/** @internal A count of requests put on the wire, shared by every call of one operation. */
export interface WireCount {
  /** Requests handed to the transport so far (the next one's `attempt`). */
  sent: number;
}

/** @internal The state of one call through the chain (one object per request). */
export class Call implements WireCount {
  /** `attempt` of the last request put on the wire. */
  hops = 0;
  /** Requests of this call handed to the transport so far, when it counts them itself. */
  sent = 0;
  /**
   * Where the requests on the wire are counted: the call itself, or a count shared by the
   * calls of one operation (a download's retries and resumes are resends too).
   */
  readonly count: WireCount;
  redirects: string[] | undefined;
  via: RedirectVia[] | undefined;

  constructor(
    readonly chain: Chain,
    readonly budget: Budget,
    /** The URL the call started with (sensitive headers are kept only on its host). */
    readonly original: URL,
    readonly retry: RetryPolicy,
    readonly follow: boolean,
    readonly maxRedirects: number,
    readonly mode: 'client' | 'fetch' | 'error',
    count?: WireCount,
  ) {
    this.count = count ?? this;
  }

  /** Runs stage `i` with `req`. */
  proceed(req: OutgoingRequest, i: number): Promise<Response> {
    try {
      return this.chain.stages[i]!.run(this, req, i);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/**
 * @internal Builds the chain of a client, in the order SPEC §12 gives: user interceptors →
 * redirect → retry → cookies (only with a jar) → network interceptors → transport.
 */
export function assembleChain(config: ChainConfig): Chain {
  const stages: Stage[] = [];
  for (const fn of config.interceptors) stages.push(new InterceptorStage(fn));
  stages.push(REDIRECT);
  stages.push(RETRY);
  if (config.jar !== undefined) stages.push(new CookieStage(config.jar));
  for (const fn of config.networkInterceptors) stages.push(new InterceptorStage(fn));
  const native = config.transport instanceof Transport;
  stages.push(native ? NATIVE_TRANSPORT : new ForeignTransportStage(config.transport));
  const guarded = config.interceptors.length > 0 || config.networkInterceptors.length > 0 || !native;
  return {
    stages,
    inlineRedirect: config.interceptors.length === 0 && !guarded,
    guarded,
    copiesPerAttempt: config.networkInterceptors.length > 0,
    config,
  };
}

/**
 * A user interceptor: `next` runs the rest of the chain; the result must be a Response.
 * What it throws goes up as is. A response `next` gave it that it neither returns nor
 * began to read (it threw after `next`, or replayed and kept the second) is discarded,
 * so its connection is not held by a Response nobody will read.
 */
class InterceptorStage implements Stage {
  constructor(private readonly fn: Interceptor) {}

  run(call: Call, req: OutgoingRequest, i: number): Promise<Response> {
    let given: Response[] | undefined;
    let settled = false;
    const next: NextFn = (r) => {
      // Once the interceptor answered (or the call failed), a late next() would run
      // outside the call's deadline and signal: it sends nothing.
      if (settled || call.budget.failure !== undefined || call.budget.isFinished) return Promise.reject(lateNext(call, req));
      checkOutgoingRequest(r, 'next()');
      // SPEC §12: the deadline is read-only. A copy carrying another one (earlier or later)
      // goes on under the call's: every stage below and the wire run by the call's deadline.
      if (r.deadline !== req.deadline) r = fixDeadline({ ...r, deadline: req.deadline });
      // A replay while an earlier response of this call is unclaimed: that one goes
      // first (it may hold the only connection the replay could get), as a retry does.
      const pending = given === undefined ? undefined : unclaimed(given);
      const sent = pending === undefined ? call.proceed(r, i + 1) : pending.then(() => call.proceed(r, i + 1));
      return sent.then((res) => {
        (given ??= []).push(res);
        return res;
      });
    };
    return Promise.resolve(this.fn(req, next)).then(
      (v) => {
        settled = true;
        if (given !== undefined) discardUnused(given, v);
        return checkResponse(v, req);
      },
      (err: unknown) => {
        settled = true;
        if (given !== undefined) discardUnused(given, undefined);
        throw err;
      },
    );
  }
}

/** The error of a next() called after its interceptor settled. */
function lateNext(call: Call, req: OutgoingRequest): HourglassError {
  return (
    call.budget.failure ??
    new HourglassError('next() was called after the interceptor settled: the call is over, nothing was sent', 'HG_CLOSED', {
      method: req.method,
      url: req.url,
    })
  );
}

/** Discards the responses of `given` nobody claimed yet; settles once they let go of their connections. */
function unclaimed(given: readonly Response[]): Promise<void> | undefined {
  let waits: Promise<void>[] | undefined;
  for (const res of given) if (!res.bodyUsed) (waits ??= []).push(res.dump().catch(() => undefined));
  return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
}

/** Discards (drains a small rest, else closes) the responses of `given` but `kept` whose bodies nobody claimed. */
function discardUnused(given: readonly Response[], kept: unknown): void {
  for (const res of given) if (res !== kept && !res.bodyUsed) void res.dump().catch(() => undefined);
}

/** Follows redirects; hands anything else through. */
const REDIRECT: Stage = {
  run(call, req, i) {
    return call.proceed(req, i + 1).then((res) => afterHop(call, req, res, i));
  },
};

/**
 * @internal The redirect stage's decision on a hop's response: follow it (a promise of the
 * final response) or hand it up as the final one. `i` is the redirect stage's index.
 */
export function afterHop(call: Call, req: OutgoingRequest, res: Response, i: number): Response | Promise<Response> {
  if (call.follow && isRedirect(res.status)) return followRedirect(call, req, res, i);
  return finalResponse(call, req, res);
}

async function followRedirect(call: Call, req: OutgoingRequest, res: Response, i: number): Promise<Response> {
  const { mode, maxRedirects } = call;
  const { method, url } = req;
  const replayable = req.body === undefined || req.body.replayable;
  const hop = { method, url, headers: headerFlat(req.headers), hasBody: req.body !== undefined };
  let next: ReturnType<typeof nextHop>;
  try {
    next = nextHop(res.status, res.headers.location, hop, call.original, replayable, mode === 'error' ? 'fetch' : mode);
  } catch (err) {
    await res.dump(DEFAULTS.redirectDrainBytes);
    throw err;
  }
  if (!next.follow) return finalResponse(call, req, res);
  // Headers bound to one origin (an interceptor's token) never follow to another.
  const hopFlat = withoutForeignBound(next.headers, next.url.origin);
  // Credentials in a Location become Basic auth, never part of a URL we report (Go).
  takeUserinfo(next.url, hopFlat);
  if (mode === 'error') {
    await res.dump();
    throw new HourglassError(`${res.status} redirect to ${redactUrl(next.url)} with redirect mode "error"`, 'HG_BAD_REDIRECT', {
      method,
      url,
    });
  }
  const redirects = (call.redirects ??= []);
  if (redirects.length >= maxRedirects) {
    await res.dump(DEFAULTS.redirectDrainBytes);
    throw new RedirectError(`stopped after ${maxRedirects} redirect${maxRedirects === 1 ? '' : 's'}`, redirects, { method, url });
  }
  const via = (call.via ??= []);
  via.push({ url: redactUrl(url)!, method, status: res.status });
  const check = call.chain.config.checkRedirect;
  if (check !== undefined) {
    let verdict: boolean | undefined | void;
    try {
      const v = check({ url: next.url.href, method: next.method, headers: joinedFields(hopFlat) }, via.map((x) => ({ ...x })));
      // An async policy is awaited under the deadline and the signal (SPEC §11): its
      // refusal must never be outrun by the next hop.
      verdict = isThenable(v) ? await awaitPolicy(call.budget, v) : v;
    } catch (err) {
      if (call.budget.failure !== undefined) {
        void res.dump(0, 0);
        throw call.budget.failure;
      }
      await res.dump(DEFAULTS.redirectDrainBytes);
      const e = new HourglassError('checkRedirect refused the redirect', 'HG_REDIRECT_REFUSED', { method, url, cause: err });
      (e as HourglassError & { response?: Response }).response = redactLocation(res);
      throw e;
    }
    if (verdict === false) return finalResponse(call, req, res);
  }
  await res.dump(DEFAULTS.redirectDrainBytes);
  call.budget.nextRequest(); // the next hop: a network interceptor's wait is before its send
  redirects.push(next.url.href);
  call.budget.method = next.method;
  call.budget.url = redactUrl(next.url)!;
  const hopReq: OutgoingRequest = {
    ...req,
    method: next.method,
    url: next.url,
    headers: headerListOf(hopFlat),
    body: next.keepBody ? req.body : undefined,
    attempt: ++call.hops,
  };
  return REDIRECT.run(call, call.chain.guarded ? fixDeadline(hopReq) : hopReq, i);
}

/**
 * Awaits an async redirect policy under the budget. It decides the next hop, so a wait for
 * it is that hop's: phase `start`, nothing of it sent. A policy that keeps the 3xx gives
 * the phase back (the 3xx is the final response, its body still to read).
 */
async function awaitPolicy(budget: Budget, v: PromiseLike<boolean | undefined | void>): Promise<boolean | undefined | void> {
  const phase = budget.activePhase;
  const sent = budget.requestSent;
  budget.nextRequest();
  const verdict = await budget.race(v);
  if (verdict === false) {
    budget.activePhase = phase;
    budget.requestSent = sent;
  }
  return verdict;
}

function finalResponse(call: Call, req: OutgoingRequest, res: Response): Response {
  res.url = req.url.href;
  if (call.redirects !== undefined) res.redirects = call.redirects;
  return res;
}

/** Retries one hop by error or status (RetryPolicy); without retries, a pass-through. */
const RETRY: Stage = {
  run(call, req, i) {
    if (call.retry.limit === 0) return call.proceed(call.chain.copiesPerAttempt ? copyFor(req, req.attempt) : req, i + 1);
    return retryLoop(call, req, i);
  },
};

async function retryLoop(call: Call, req: OutgoingRequest, i: number): Promise<Response> {
  const { retry } = call;
  const budget = call.budget;
  const allowed = retry.allows(req.method, headerFlat(req.headers), req.body === undefined || req.body.replayable);
  let n = 0;
  let wire = call.chain.copiesPerAttempt ? copyFor(req, req.attempt) : req;
  for (;;) {
    let res: Response;
    try {
      res = await call.proceed(wire, i + 1);
    } catch (err) {
      if (budget.failure !== undefined) throw budget.failure;
      if (n < retry.limit && allowed && retry.retriesError(err)) {
        n++;
        await backoff(retry.delay(n, undefined).ms, budget, err);
        wire = copyFor(req, ++call.hops);
        continue;
      }
      throw err;
    }
    if (n < retry.limit && allowed && retry.retriesStatus(res.status)) {
      let wait: number | undefined;
      try {
        wait = retry.retryWait(n + 1, res.headers['retry-after']);
      } catch (err) {
        void res.dump(); // a backoff that throws: its error goes up, the response goes
        throw err;
      }
      if (wait !== undefined && waitFits(wait, budget.remaining())) {
        n++;
        await res.dump();
        await backoff(wait, budget, undefined);
        wire = copyFor(req, ++call.hops);
        continue;
      }
    }
    return res;
  }
}

/** A request of its own for one trip on the wire (what stages below change stays there). */
function copyFor(req: OutgoingRequest, attempt: number): OutgoingRequest {
  // The URL too: a network interceptor that signs the query in place must not sign it
  // again on the next retry, nor leak it into the next hop's Referer.
  return fixDeadline({ ...req, url: new URL(req.url.href), headers: req.headers.clone(), attempt });
}

/**
 * Waits before a retry (any duration: `sleep` re-arms past 2^31−1 ms), or fails at once
 * when the wait would overrun the deadline. An infinite wait without a deadline is no
 * retry: the last error stands. The retry stage holds the request meanwhile, so it
 * names the phase.
 */
async function backoff(ms: number, budget: Budget, lastError: unknown): Promise<void> {
  const remaining = budget.remaining();
  if (!waitFits(ms, remaining)) {
    throw remaining === Number.POSITIVE_INFINITY && lastError !== undefined ? lastError : budget.timeoutError(lastError);
  }
  budget.activePhase = 'retry-backoff';
  await sleep(ms, budget);
  budget.nextRequest(); // the retry: a network interceptor's wait is before its send
}

/** Adds the jar's cookies to each request on the wire and stores its Set-Cookie values. */
class CookieStage implements Stage {
  constructor(private readonly jar: CookieJarLike) {}

  async run(call: Call, req: OutgoingRequest, i: number): Promise<Response> {
    const budget = call.budget;
    budget.check();
    const href = req.url.href;
    const fromJar = await underBudget(budget, () => this.jar.getCookieString(href));
    let wire = req;
    if (fromJar !== '' && fromJar !== undefined) {
      const headers = req.headers.clone();
      const existing = headers.getAll('cookie').join('; ');
      headers.delete('cookie');
      headers.append('cookie', existing ? `${existing}; ${fromJar}` : fromJar);
      wire = fixDeadline({ ...req, headers });
    }
    const res = await call.proceed(wire, i + 1);
    try {
      await this.store(res, href, budget);
    } catch (err) {
      void res.dump(0, 0); // the budget failed while the jar had it: the body goes too
      throw err;
    }
    return res;
  }

  /** Stores Set-Cookie values; an async jar is awaited under the budget (SPEC §11). */
  private async store(res: Response, href: string, budget: Budget): Promise<void> {
    const set = res.headers['set-cookie'];
    if (set === undefined) return;
    for (const c of Array.isArray(set) ? set : [set]) {
      try {
        await underBudget(budget, () => this.jar.setCookie(c, href));
      } catch {
        if (budget.failure !== undefined) throw budget.failure;
        // A cookie the jar refuses (bad domain, ...) is ignored, as browsers and Go do.
      }
    }
  }
}

/**
 * Runs a jar call: a plain value passes straight through; a promise is awaited under the
 * request's budget (overall timeout and signal), with `activePhase` 'cookie-jar' — the
 * cookie stage holds the request meanwhile.
 */
async function underBudget<T>(budget: Budget, call: () => T | PromiseLike<T>): Promise<T> {
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

/** @internal */
export function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<T>).then === 'function';
}

/** hourglass's own Transport: it reads the budget from the request's deadline and honours it. */
const NATIVE_TRANSPORT: Stage = {
  run(call, req) {
    // Where the request goes out: a value bound to another origin (a token) stays here.
    const wire = onWire(call, boundToItsOrigin(req), call.budget);
    call.budget.wireCount = call.count; // the transport's own replays count as sends (issue #16)
    return (call.chain.config.transport as Transport).roundTrip(wire);
  },
};

/**
 * `req` as the transport gets it: under the call's budget, its `attempt` the number of
 * requests of the call sent before it (a replay by an interceptor — bearerAuth's 401,
 * a custom one calling `next` again — is a resend as much as a retry or a hop is; so is
 * every request after the first of an operation sharing a {@link WireCount}).
 */
function onWire(call: Call, req: OutgoingRequest, deadline: OutgoingRequest['deadline']): OutgoingRequest {
  const n = call.count.sent++;
  // The call's deadline, whatever deadline a copy passed to next() carried (SPEC §12: it is read-only).
  return req.deadline === deadline && req.attempt === n ? req : { ...req, deadline, attempt: n };
}

/** Any other RoundTripper: raced against the budget, its result checked. */
class ForeignTransportStage implements Stage {
  constructor(private readonly rt: RoundTripper) {}

  run(call: Call, req: OutgoingRequest): Promise<Response> {
    // A RoundTripper of the user's gets the budget's frozen view.
    const wire = onWire(call, boundToItsOrigin(req), call.budget.view);
    // The race is in place before the RoundTripper runs: one that holds the budget itself
    // (a MockTransport's waits, a wrapped Transport) then holds it over the race and names
    // the phase; one that does not is cut by the race.
    let trip!: (p: PromiseLike<Response>) => void;
    const raced = call.budget.race(new Promise<Response>((resolve) => (trip = resolve)));
    let got: Promise<Response>;
    try {
      got = Promise.resolve(this.rt.roundTrip(wire));
    } catch (err) {
      got = Promise.reject(err as Error);
    }
    trip(got);
    // A Response that comes after the deadline or abort cut the race is nobody's: its body
    // is closed, as the chain does for a response an interceptor dropped.
    got.then((v) => {
      if (call.budget.failure !== undefined) discardLate(v);
    }, ignoreError);
    return raced.then((v) => checkResponse(v, req));
  }
}

/** Closes the body of a Response nobody will read (anything else is left alone). */
function discardLate(v: unknown): void {
  if (!isGenuineResponse(v)) return;
  try {
    if (!v.bodyUsed) void v.dump(0, 0).catch(ignoreError);
  } catch {
    // A foreign object posing as a Response: nothing of ours to close.
  }
}

function ignoreError(): void {}

/**
 * `HG_BAD_RESPONSE` unless `v` is a {@link Response} that was really constructed (a
 * connection's or `Response.from`'s): a Proxy, `Object.create(Response.prototype)` or a
 * subclass instance that skipped construction passes `instanceof` but is none.
 */
function checkResponse(v: unknown, req: OutgoingRequest): Response {
  if (isGenuineResponse(v)) return v;
  const what = v instanceof Response ? 'an object posing as a Response (not made by a request or Response.from)' : describeValue(v);
  throw new HourglassError(`an interceptor or RoundTripper resolved with ${what}, not a Response`, 'HG_BAD_RESPONSE', {
    method: req.method,
    url: req.url,
  });
}

/** @internal */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}
