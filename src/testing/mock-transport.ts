/**
 * mock-transport — {@link MockTransport}, an in-process `RoundTripper` for users' tests
 * (SPEC §12; undici's MockAgent, a Go `RoundTripper` fake): routes answer requests with
 * `Response.from` responses, errors or silence, and every request is recorded.
 *
 * Owns: recording (`calls`), route lookup (mock-routes.ts holds the table's rules), the
 * "no route" error, and the mock's waits (reading the request body, `delay`, `stall`).
 * A reply's Content-Encoding is decoded with the transport's own decoder, on the
 * transport's rule (not for HEAD, nor when the caller sent accept-encoding or range).
 *
 * Never does: sockets, timers that outlive the request.
 *
 * Invariants: every wait ends by the earliest of its own end, the request's deadline
 * (`TimeoutError` phase `request`, `activePhase` `response-headers`), its signal
 * (`AbortError`), the response-header timeout (phase `response-headers`) and the
 * read-idle timeout (phase `read-idle`: the head is silence too, as on the wire) — both
 * from `req.timeouts` or the mock's options — the errors the real transport gives, with
 * `phase`, `requestSent` (true: the mock took the whole request), `elapsed`, `method` and
 * `url`; a stream body of a reply stalls into the same `read-idle` error (body-source.ts
 * runs the clock while the caller waits for bytes) and the deadline cuts it as a wire
 * body (`activePhase` `body`). Reading the request body is bounded by `writeTimeout`
 * (phase `write`, as the real writer's; the mock always reads, so `writeIdleTimeout`
 * has nothing to time). A `delay()` cut before it answered leaves its route unused. When
 * a wait ends its timer and abort listener are gone, so nothing keeps the process alive.
 */

import { AssertionError } from 'node:assert';
import { Budget, type Cancelable, LongTimer, now } from '../deadline.js';
import { AbortError, type ActivePhase, closedError, HourglassError, TimeoutError, invalidArg, redactUrl } from '../errors.js';
import { DEFAULTS, checkDuration } from '../options.js';
import { Response } from '../response.js';
import type { SourceIdle } from '../body-source.js';
import { checkOutgoingRequest, type OutgoingRequest, type RequestDeadline, type RoundTripper } from '../round-tripper.js';
import { type MockReply, type MockReplyRequest, MockRoute, type MockUrlPattern, routeMethod, routePattern } from './mock-routes.js';
import { decodeResponse } from '../decompress.js';
import { requestBodyBytes } from './mock-body.js';

export type { MockRoute } from './mock-routes.js';
export type { MockReply, MockReplyBody, MockReplyRequest, MockUrlPattern } from './mock-routes.js';

/** Options of a {@link MockTransport}. */
export interface MockTransportOptions {
  /**
   * Response-header timeout (ms) for requests that carry none in `req.timeouts`; as the
   * real transport's, it bounds `delay()` and `stall()`. Default 300 000; 0/Infinity: none.
   */
  responseHeaderTimeout?: number | undefined;
  /**
   * Read-idle timeout (ms) for requests that carry none in `req.timeouts`; as the real
   * transport's, it bounds the silence before the head (`delay()`, `stall()`) and between
   * the chunks of a reply's stream body while the caller reads it. Default 300 000;
   * 0/Infinity: none.
   */
  readIdleTimeout?: number | undefined;
  /**
   * Write timeout (ms) for requests that carry none in `req.timeouts`: as the real
   * transport's, it bounds the whole request body — the mock reads every body to its
   * end, so a stream body that stops giving bytes fails with phase `write`. Default none.
   * (`writeIdleTimeout` never fires: the mock is a peer that always reads.)
   */
  writeTimeout?: number | undefined;
}

/** One request the mock received. */
export interface MockCall {
  method: string;
  /** The full URL (`url.href`). */
  url: string;
  /** Lower-cased names; repeated fields joined with `', '`. */
  headers: Record<string, string>;
  /** The body's bytes (a stream body read to its end), or undefined for none. */
  body: Buffer | undefined;
  /** The route that answered (its description), or undefined when none matched. */
  route: string | undefined;
}

/**
 * An in-process `RoundTripper`: `new Client({ transport: mock })`.
 *
 * @example
 * const mock = new MockTransport();
 * mock.on('GET', 'https://api.test/user').reply(200, { name: 'ada' });
 * const client = new Client({ transport: mock });
 * const res = await client.request('https://api.test/user');
 * assert.deepEqual(await res.json(), { name: 'ada' });
 * mock.assertAllUsed();
 */
export class MockTransport implements RoundTripper {
  /** Every request received, in order (unmatched ones too). */
  readonly calls: MockCall[] = [];
  private readonly routes: MockRoute[] = [];
  private readonly headerTimeout: number;
  private readonly readIdle: number;
  private readonly writeTimeout: number;
  private closed = false;
  private readonly waits = new Set<Wait>();

  constructor(opts: MockTransportOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw invalidArg('MockTransport: options must be an object');
    this.headerTimeout = checkDuration('responseHeaderTimeout', opts.responseHeaderTimeout) ?? DEFAULTS.responseHeaderTimeout;
    this.readIdle = checkDuration('readIdleTimeout', opts.readIdleTimeout) ?? DEFAULTS.readIdleTimeout;
    this.writeTimeout = checkDuration('writeTimeout', opts.writeTimeout) ?? 0;
  }

  /**
   * Adds a route: `method` (or `'*'`) and a full URL string, a RegExp tried on the URL's
   * `href`, or a predicate. Routes are tried in the order added; one answers once unless
   * `.times(n)` or `.persist()`.
   */
  on(method: string, url: MockUrlPattern): MockRoute {
    const route = new MockRoute(routeMethod(method), routePattern(url));
    this.routes.push(route);
    return route;
  }

  /** Routes that have not answered as often as they must. */
  pending(): MockRoute[] {
    return this.routes.filter((r) => !r.satisfied);
  }

  /** Throws an `AssertionError` listing every route that has not answered as often as it must. */
  assertAllUsed(): void {
    const left = this.pending();
    if (left.length === 0) return;
    throw new AssertionError({
      message: `MockTransport: ${left.length} route(s) not used up:\n  ${left.map((r) => r.describe()).join('\n  ')}`,
    });
  }

  /** Answers `req` from the first live matching route. */
  async roundTrip(req: OutgoingRequest): Promise<Response> {
    checkOutgoingRequest(req, 'MockTransport.roundTrip');
    if (this.closed) throw closedError('MockTransport', { method: req.method, url: req.url });
    const started = now();
    const method = req.method.toUpperCase();
    const url = req.url;
    const call: MockCall = { method, url: url.href, headers: headerRecord(req), body: undefined, route: undefined };
    this.calls.push(call);
    call.body = await this.wait(req, started, Number.POSITIVE_INFINITY, requestBodyBytes(req.body), false);
    const route = this.routes.find((r) => r.live && r.methodMatches(method) && r.urlMatches(url));
    if (route === undefined) throw this.unmatched(method, url);
    route.count++;
    call.route = route.describe();
    const sent = now();
    if (route.delayMs > 0) {
      try {
        await this.wait(req, sent, route.delayMs, undefined, true);
      } catch (err) {
        // Cut before it answered (signal, deadline, a timeout): the route did not answer,
        // so it stays live for `times` and `assertAllUsed`.
        route.count--;
        throw err;
      }
    }
    const action = route.action;
    if (action === undefined) {
      throw invalidArg(`MockTransport: route ${route.describe()} has no reply, stall or error`, { method, url });
    }
    if (action.kind === 'stall') {
      await this.wait(req, sent, Number.POSITIVE_INFINITY, undefined, true);
      throw new Error('unreachable: a stall never ends by itself');
    }
    if (action.kind === 'error') throw action.error;
    let reply: MockReply;
    if (typeof action.reply === 'function') {
      const view: MockReplyRequest = { method, url: new URL(url.href), headers: { ...call.headers }, body: call.body };
      reply = await this.wait(req, sent, Number.POSITIVE_INFINITY, Promise.resolve(action.reply(view)), true);
      if (typeof reply !== 'object' || reply === null) {
        throw new HourglassError('MockTransport: a reply function must return { status, body?, headers? }', 'HG_BAD_RESPONSE', { method, url });
      }
    } else {
      reply = action.reply;
    }
    const res = replyResponse(reply, method, url, readIdleGuard(req, readIdleOf(req, this.readIdle)));
    // Content-Encoding is decoded as the real transport decodes it: unless the caller
    // asked for an encoding (its own accept-encoding) or a range, or it is a HEAD.
    if (method !== 'HEAD' && !req.headers.has('accept-encoding') && !req.headers.has('range')) {
      try {
        decodeResponse(res, method, url.href, Number.POSITIVE_INFINITY);
      } catch (err) {
        void res.dump(0, 0);
        throw err;
      }
    }
    return res;
  }

  /** Fails waiting requests with `HG_CLOSED`; later requests fail the same way. */
  close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waits]) w.fail(closedError('MockTransport'));
    return Promise.resolve();
  }

  private unmatched(method: string, url: URL): HourglassError {
    let best: MockRoute | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const r of this.routes) {
      const d = r.distance(method, url);
      if (d < bestScore) {
        best = r;
        bestScore = d;
      }
    }
    const closest = best === undefined ? 'no routes are defined' : `closest route: ${best.describe()}`;
    return new HourglassError(`MockTransport: no route for ${method} ${redactUrl(url) ?? ''}; ${closest}`, 'HG_MOCK_UNMATCHED', {
      method,
      url,
    });
  }

  /**
   * Waits `ms` (or until `work` settles), bounded by the request's deadline and signal
   * and, when `headers` is set, the response-header timeout counted from `from`.
   */
  private wait<T>(req: OutgoingRequest, from: number, ms: number, work: Promise<T> | undefined, headers: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w = headers
        ? new Wait(this.waits, req, from, ms, headerTimeoutOf(req, this.headerTimeout), readIdleOf(req, this.readIdle), 0, resolve, reject)
        : new Wait(this.waits, req, from, ms, -1, 0, writeTimeoutOf(req, this.writeTimeout), resolve, reject);
      this.waits.add(w);
      w.start(work);
    });
  }
}

/**
 * One pending wait of the mock: a timer, an abort listener, and how it ends. Under a
 * client's deadline (a {@link Budget}) it holds the budget as the real connection does,
 * reporting its phase (`write` while it reads the request body, then `response-headers`)
 * and `requestSent`, and the budget's failure cancels it.
 */
class Wait implements Cancelable {
  private readonly timer: LongTimer;
  private readonly onAbort = (): void => this.fail(new AbortError(this.req.signal?.reason, this.ctx()));
  private done = false;
  private readonly endAt: number;
  private readonly headerAt: number;
  private readonly idleAt: number;
  private readonly writeAt: number;
  private readonly deadlineAt: number;
  private readonly startedEpoch = Date.now();
  /** The client's budget, held while the wait runs (undefined for a hand-built request). */
  private readonly budget: Budget | undefined;
  /** The request was received whole: every wait but the request body's is for the head. */
  readonly requestSent = true;

  constructor(
    private readonly pending: Set<Wait>,
    private readonly req: OutgoingRequest,
    private readonly from: number,
    ms: number,
    private readonly headerTimeout: number,
    private readonly idleTimeout: number,
    /** While the request body is read: the write timeout (0: none). */
    private readonly writeTimeout: number,
    private readonly resolve: (v: never) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.timer = new LongTimer(() => this.due());
    this.endAt = from + ms;
    // headerTimeout: -1 while the request body is read (no header clock yet), 0 for none.
    this.headerAt = headerTimeout > 0 ? from + headerTimeout : Number.POSITIVE_INFINITY;
    // No byte of the head arrives while the mock waits: read-idle counts from `from`.
    this.idleAt = idleTimeout > 0 ? from + idleTimeout : Number.POSITIVE_INFINITY;
    this.writeAt = writeTimeout > 0 ? from + writeTimeout : Number.POSITIVE_INFINITY;
    const d = req.deadline;
    this.budget = d instanceof Budget ? d : undefined;
    // A budget fails the wait itself (cancel); a plain deadline needs the mock's own clock.
    const remaining = this.budget !== undefined ? Number.POSITIVE_INFINITY : d.remaining();
    this.deadlineAt = remaining === Number.POSITIVE_INFINITY ? remaining : now() + Math.max(0, remaining);
  }

  /** The phase reported to the budget while this wait holds it. */
  get phase(): ActivePhase {
    return this.headerTimeout >= 0 ? 'response-headers' : 'write';
  }

  /** The budget failed (overall timeout or abort): the wait fails with its error. */
  cancel(err: HourglassError): void {
    this.fail(err);
  }

  start(work: Promise<unknown> | undefined): void {
    this.budget?.hold(this); // cancels at once if the budget already failed
    if (this.done) return;
    const signal = this.req.signal;
    if (signal?.aborted === true) return this.onAbort();
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (work !== undefined) {
      work.then(
        (v) => this.end(() => this.resolve(v as never)),
        (err: unknown) => this.fail(err),
      );
    }
    this.due();
  }

  /** Fires whatever is due, else re-arms for the earliest due time. */
  private due(): void {
    if (this.done) return;
    const t = now();
    if (this.deadlineAt <= t) return this.fail(this.deadlineError(t));
    if (this.headerAt <= t && this.headerAt <= this.idleAt) return this.fail(this.headerError(t));
    if (this.idleAt <= t) return this.fail(readIdleError(this.req, this.idleTimeout));
    if (this.writeAt <= t) return this.fail(this.writeError(t));
    if (this.endAt <= t) return this.end(() => this.resolve(undefined as never));
    this.timer.startAt(Math.min(this.deadlineAt, this.headerAt, this.idleAt, this.writeAt, this.endAt));
  }

  fail(err: unknown): void {
    this.end(() => this.reject(err));
  }

  private end(settle: () => void): void {
    if (this.done) return;
    this.done = true;
    this.timer.cancel();
    this.budget?.release(this);
    this.req.signal?.removeEventListener('abort', this.onAbort);
    this.pending.delete(this);
    settle();
  }

  private ctx(): { method: string; url: URL } {
    return { method: this.req.method, url: this.req.url };
  }

  private deadlineError(t: number): TimeoutError {
    // The client's deadline knows the configured timeout and when the request began.
    const d = this.req.deadline as RequestDeadline & { timeoutError?: () => unknown };
    const own = typeof d.timeoutError === 'function' ? d.timeoutError() : undefined;
    const known = own instanceof TimeoutError;
    const timeout = known ? own.timeout : d.expiresAt === undefined ? 0 : Math.max(0, Math.round(d.expiresAt - this.startedEpoch));
    return new TimeoutError({
      phase: 'request',
      timeout,
      elapsed: known ? own.elapsed : t - this.from,
      requestSent: true,
      activePhase: this.phase,
      ...this.ctx(),
    });
  }

  /** The real writer's: the head went out, the body did not end within `writeTimeout`. */
  private writeError(t: number): TimeoutError {
    return new TimeoutError({ phase: 'write', timeout: this.writeTimeout, elapsed: t - this.from, requestSent: true, ...this.ctx() });
  }

  private headerError(t: number): TimeoutError {
    return new TimeoutError({
      phase: 'response-headers',
      timeout: this.headerTimeout,
      elapsed: t - this.from,
      requestSent: true,
      ...this.ctx(),
    });
  }
}

/** The request's read-idle timeout: its own, else the mock's (0: none). */
function readIdleOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.readIdleTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}

/** The real connection's read-idle error: `elapsed` is the timeout (the silence it saw). */
function readIdleError(req: OutgoingRequest, timeout: number): TimeoutError {
  return new TimeoutError({ phase: 'read-idle', timeout, elapsed: timeout, requestSent: true, method: req.method, url: req.url });
}

/** The read-idle guard of a reply's stream body. */
function readIdleGuard(req: OutgoingRequest, timeout: number): SourceIdle {
  return { timeout, error: () => readIdleError(req, timeout) };
}

/** The request's write timeout: its own, else the mock's (0: none). */
function writeTimeoutOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.writeTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}

/** The request's response-header timeout: its own, else the mock's (0: none). */
function headerTimeoutOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.responseHeaderTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}

function headerRecord(req: OutgoingRequest): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [name, value] of req.headers.entries()) {
    const n = name.toLowerCase();
    const prev = out[n];
    out[n] = prev === undefined ? value : `${prev}, ${value}`;
  }
  return out;
}

function replyResponse(reply: MockReply, method: string, url: URL, idle: SourceIdle): Response {
  let body = reply.body;
  let headers = reply.headers;
  const isBody =
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
  if (!isBody) {
    body = JSON.stringify(body);
    const pairs = headers === undefined ? [] : [...headerPairs(headers)];
    if (!pairs.some(([n]) => n.toLowerCase() === 'content-type')) pairs.push(['content-type', 'application/json']);
    headers = pairs;
  }
  return Response.fromSource(
    {
      status: reply.status,
      statusText: reply.statusText,
      headers,
      body: method === 'HEAD' ? undefined : (body as Parameters<typeof Response.from>[0]['body']),
      url,
      method,
    },
    idle,
  );
}

function headerPairs(h: NonNullable<MockReply['headers']>): Iterable<readonly [string, string]> {
  if (typeof (h as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') return h as Iterable<readonly [string, string]>;
  const out: Array<[string, string]> = [];
  for (const [n, v] of Object.entries(h as Record<string, string | number | readonly string[] | undefined>)) {
    if (Array.isArray(v)) for (const x of v as readonly string[]) out.push([n, x]);
    else if (v !== undefined) out.push([n, String(v)]);
  }
  return out;
}
