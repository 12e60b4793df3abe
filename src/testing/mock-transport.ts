/**
 * mock-transport — {@link MockTransport}, an in-process `RoundTripper` for users' tests
 * (SPEC §12; undici's MockAgent, a Go `RoundTripper` fake): routes answer requests with
 * `Response.from` responses, errors or silence, and every request is recorded.
 *
 * Owns: recording (`calls`), route lookup (mock-routes.ts holds the table's rules), the
 * "no route" error, and the order of a mocked request: read its body, find the route,
 * wait (`delay`, `stall`, an async reply), answer. Its waits and their timeouts are
 * mock-wait.ts's. A reply's Content-Encoding is decoded with the transport's own
 * decoder, on the transport's rule (not for HEAD, nor when the caller sent
 * accept-encoding or range).
 *
 * Never does: sockets, timers that outlive the request.
 *
 * Invariants: every wait fails with the error the real transport gives (`phase`,
 * `requestSent` — true: the mock took the whole request —, `elapsed`, `method`, `url`);
 * a stream body of a reply stalls into the same `read-idle` error (body-source.ts runs
 * the clock while the caller waits for bytes) and the deadline cuts it as a wire body
 * (`activePhase` `body`). A `delay()` cut before it answered leaves its route unused
 * (and `calls[i].route` undefined). Every step works on a snapshot of the request taken
 * when `roundTrip` is called, framed by the transport's own rules (transport-head.ts).
 */

import { AssertionError } from 'node:assert';
import { now } from '../deadline.js';
import { closedError, HourglassError, invalidArg, redactUrl } from '../errors.js';
import { DEFAULT_TIMEOUTS, DEFAULTS, checkDuration, checkOptionsObject, resolveTimeouts } from '../options.js';
import { isGenuineResponse, Response } from '../response.js';
import type { SourceIdle } from '../body-source.js';
import { checkOutgoingRequest, headerFlat, type OutgoingRequest, type RoundTripper } from '../round-tripper.js';
import { openBody, requestHead } from '../transport-head.js';
import { jsonBody, type MockReply, type MockReplyRequest, MockRoute, type MockUrlPattern, routeMethod, routePattern } from './mock-routes.js';
import { decodeResponse } from '../decompress.js';
import { readRequestBody } from './mock-body.js';
import { headerTimeoutOf, readIdleGuard, readIdleOf, Wait, writeTimeoutOf } from './mock-wait.js';

export type { MockRoute } from './mock-routes.js';
export type { MockReply, MockReplyBody, MockReplyRequest, MockUrlPattern } from './mock-routes.js';

/** The keys of {@link MockTransportOptions}. */
const MOCK_OPTION_NAMES: ReadonlySet<string> = new Set(['responseHeaderTimeout', 'readIdleTimeout', 'writeTimeout']);

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
  /**
   * The route that answered (its description), or undefined when none matched or the
   * route's `delay()` was cut (timeout, signal, close) before it answered.
   */
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
    // A misspelt timeout never silently leaves a default (SPEC §11): the transport's name check.
    checkOptionsObject('MockTransport options', '', opts, MOCK_OPTION_NAMES);
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
    // The request's timeouts are checked as the transport checks them (names and values).
    resolveTimeouts(DEFAULT_TIMEOUTS, req.timeouts);
    if (this.closed) throw closedError('MockTransport', { method: req.method, url: req.url });
    // As the transport, the mock works on the request as it was handed over: a caller
    // that changes it after roundTrip() changes neither the route, nor `calls`, nor errors.
    return this.answer(snapshot(req));
  }

  /** The steps of {@link roundTrip} on the snapshot `req`. */
  private async answer(req: OutgoingRequest): Promise<Response> {
    const started = now();
    const method = req.method.toUpperCase();
    const url = req.url;
    // The transport's own framing rules (SPEC §11), with its codes and messages: a test
    // with the mock fails where the wire would.
    const flat = headerFlat(req.headers);
    const framed = requestHead(req.method, url, flat, openBody(req.body, flat), FRAMING_POLICY).body;
    const call: MockCall = { method, url: url.href, headers: headerRecord(req), body: undefined, route: undefined };
    this.calls.push(call);
    const read = readRequestBody(framed);
    try {
      call.body = await this.wait(req, started, Number.POSITIVE_INFINITY, read.bytes, false);
    } catch (err) {
      read.abandon();
      throw err;
    }
    const route = this.routes.find((r) => r.live && r.methodMatches(method) && r.urlMatches(url));
    if (route === undefined) throw this.unmatched(method, url);
    route.count++;
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
    // The route answers now (a reply, a stall, an error): `calls` names it.
    call.route = route.describe();
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
      // An object posing as a Response (a Proxy, Object.create(Response.prototype)) is no reply.
      if (typeof reply !== 'object' || reply === null || (reply instanceof Response && !isGenuineResponse(reply))) {
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
      const w = new Wait(
        this.waits,
        req,
        headers
          ? { from, ms, headerTimeout: headerTimeoutOf(req, this.headerTimeout), idleTimeout: readIdleOf(req, this.readIdle), writeTimeout: 0, resolve, reject }
          : { from, ms, headerTimeout: -1, idleTimeout: 0, writeTimeout: writeTimeoutOf(req, this.writeTimeout), resolve, reject },
      );
      this.waits.add(w);
      w.start(work);
    });
  }
}

/** What the framing check is told of the sender (nothing it adds is recorded). */
const FRAMING_POLICY = { disableKeepAlives: false, disableCompression: true } as const;

/** The request as handed over: its URL, headers and timeouts are copies (the body was not opened yet). */
function snapshot(req: OutgoingRequest): OutgoingRequest {
  return {
    ...req,
    url: new URL(req.url.href),
    headers: req.headers.clone(),
    timeouts: req.timeouts === undefined ? undefined : { ...req.timeouts },
  };
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
  const json = jsonBody(body, (why, cause) =>
    new HourglassError(`MockTransport: the reply body cannot be sent as JSON (${why})`, 'HG_BAD_RESPONSE', { method, url, cause }),
  );
  if (json !== undefined) {
    body = json;
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
