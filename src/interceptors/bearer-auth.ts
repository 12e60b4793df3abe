/**
 * bearer-auth — {@link bearerAuth}, the registry-style token interceptor of SPEC §12
 * (Docker/OCI registries, OAuth resource servers): on a `401` carrying
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` it asks the caller's `token()`
 * for a token for that challenge and sends the request once more with
 * `Authorization: Bearer <token>`.
 *
 * Owns: the token cache (per origin and challenge, kept until a 401 refuses it), the
 * one-fetch-at-a-time rule per challenge, and the origin rule.
 *
 * Never does: fetch tokens itself, replay a body that is not replayable (the 401 is
 * returned), or send a token to an origin (scheme, host, port) other than the one whose
 * challenge produced it — a request to another origin gets no token, and a 401 that
 * came from another origin (after a redirect below this interceptor) is returned as is.
 *
 * Invariants: a request the caller gave its own `Authorization` passes untouched; at most
 * one replay per call; the 401 that is replayed is dumped first (its connection can be
 * reused); concurrent calls that meet the same challenge share one `token()` call.
 */

import { budgetOf } from '../deadline.js';
import { HourglassError, invalidArg } from '../errors.js';
import type { Response } from '../response.js';
import { bindToOrigin, type Interceptor, type OutgoingRequest } from '../round-tripper.js';
import { parseChallenges } from './challenge.js';

/** A `Bearer` challenge, as {@link BearerAuthOptions.token} receives it. */
export interface BearerChallenge {
  /** Where to get a token (the token endpoint), from `realm=`. */
  realm: string | undefined;
  /** `service=`. */
  service: string | undefined;
  /** `scope=` (space-separated scopes, as sent). */
  scope: string | undefined;
  /** Every parameter of the challenge by lower-cased name (`error`, …). */
  params: Readonly<Record<string, string>>;
  /** The URL that answered 401. */
  url: URL;
  /** The origin the token will be sent to (scheme, host and port). */
  origin: string;
}

/** Options of {@link bearerAuth}. */
export interface BearerAuthOptions {
  /**
   * Returns a token for `challenge`. Called once per origin and challenge; again only
   * when the server refuses the cached token with a new 401. Concurrent calls meeting
   * the same challenge share one `token()` call while at least one of them still waits:
   * `signal` aborts once every caller waiting for it gave up (its deadline passed or its
   * signal fired), and the next caller asks again — pass it on to the token request.
   */
  token: (challenge: BearerChallenge, signal: AbortSignal) => string | Promise<string>;
}

/**
 * An interceptor answering `WWW-Authenticate: Bearer` challenges (SPEC §12). It works in
 * `interceptors` or `networkInterceptors`: the header it adds is bound to its origin, so
 * the client's redirect stage drops it on any hop to another origin (even the same host
 * on another port, which §7 keeps for a caller's own `Authorization`). In
 * `networkInterceptors` it also sees every hop and gives each origin its own token; a 401
 * that comes from another origin is returned as is.
 *
 * @example
 * const client = new Client({
 *   networkInterceptors: [bearerAuth({ token: async (c) => fetchRegistryToken(c.realm, c.service, c.scope) })],
 * });
 */
export function bearerAuth(options: BearerAuthOptions): Interceptor {
  if (typeof options !== 'object' || options === null || typeof options.token !== 'function') {
    throw invalidArg('bearerAuth: options.token must be a function (challenge) => token');
  }
  const getToken = options.token;
  /** Token by origin + challenge. */
  const tokens = new Map<string, string>();
  /** The challenge key whose token an origin gets up front. */
  const current = new Map<string, string>();
  /** token() calls in flight, by key, while some caller still waits for them. */
  const inflight = new Map<string, Flight>();

  const fetchToken = (key: string, challenge: BearerChallenge, req: OutgoingRequest): Promise<string> => {
    let f = inflight.get(key);
    if (f === undefined) {
      const ac = new AbortController();
      const flight: Flight = {
        ac,
        waiters: 0,
        p: Promise.resolve()
          .then(() => getToken(challenge, ac.signal))
          .then((t) => {
            if (typeof t !== 'string' || t === '') throw invalidArg('bearerAuth: token() must return a non-empty string');
            if (!ac.signal.aborted) tokens.set(key, t);
            return t;
          })
          .finally(() => {
            if (inflight.get(key) === flight) inflight.delete(key);
          }),
      };
      inflight.set(key, (f = flight));
    }
    return waitFor(f, req, () => {
      if (inflight.get(key) === f) inflight.delete(key);
    });
  };

  return async function bearerAuthInterceptor(req: OutgoingRequest, next): Promise<Response> {
    if (req.headers.has('authorization')) return next(req);
    const origin = req.url.origin;
    const key0 = current.get(origin);
    const sent = key0 === undefined ? undefined : tokens.get(key0);
    const res = await next(sent === undefined ? req : withToken(req, sent));
    if (res.status !== 401) return res;
    const challenge = bearerChallenge(res, req.url);
    // Only a challenge from the origin this request went to earns that origin a token.
    if (challenge === undefined || challenge.origin !== origin) return res;
    if (req.body !== undefined && !req.body.replayable) return res;
    const key = `${origin}\n${challenge.realm ?? ''}\n${challenge.service ?? ''}\n${challenge.scope ?? ''}`;
    let token = tokens.get(key);
    if (token === undefined || token === sent) {
      // A new challenge, or the token we sent was refused: ask again.
      if (token !== undefined && tokens.get(key) === token) tokens.delete(key);
      await res.dump();
      // The wait for token() prepares the replay: phase `start`, the replay not sent.
      budgetOf(req.deadline)?.nextRequest();
      token = await fetchToken(key, challenge, req);
    } else {
      await res.dump();
    }
    current.set(origin, key);
    return next(withToken(req, token));
  };
}

/** One token() call and how many callers still wait for it. */
interface Flight {
  readonly p: Promise<string>;
  readonly ac: AbortController;
  waiters: number;
}

/**
 * Waits for `f` within `req`'s deadline and signal. A caller that gives up stops waiting;
 * the last one to give up aborts token()'s signal and `drop`s the shared call, so no later
 * caller waits on a token() that nobody's deadline covers any more.
 */
function waitFor(f: Flight, req: OutgoingRequest, drop: () => void): Promise<string> {
  f.waiters++;
  let over = false;
  const leave = (gaveUp: boolean, reason?: unknown): void => {
    if (over) return;
    over = true;
    if (--f.waiters === 0 && gaveUp) {
      drop();
      f.ac.abort(reason);
    }
  };
  const d = budgetOf(req.deadline);
  // The client's own budget: its race rejects with the call's own failure (timeout, abort).
  const waiting = d !== undefined ? d.race(f.p) : underForeignDeadline(f.p, req);
  return waiting.then(
    (t) => {
      leave(false);
      return t;
    },
    (err: unknown) => {
      leave(d !== undefined ? d.failure !== undefined : err instanceof GaveUp, err);
      throw err instanceof GaveUp ? err.reason : err;
    },
  );
}

/** Why a caller stopped waiting for token() (its signal or deadline). */
class GaveUp {
  constructor(readonly reason: unknown) {}
}

/** `p` within a deadline that is not the client's (a request built with `outgoingRequest()`). */
function underForeignDeadline(p: Promise<string>, req: OutgoingRequest): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const signal = req.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new GaveUp(signal?.reason));
    };
    if (signal?.aborted === true) return reject(new GaveUp(signal.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const left = req.deadline.remaining();
    if (left <= 2 ** 31 - 1) {
      timer = setTimeout(() => {
        done();
        reject(new GaveUp(new DOMException("the request's deadline passed while token() ran", 'TimeoutError')));
      }, Math.max(0, left));
      timer.unref();
    }
    p.then(
      (t) => {
        done();
        resolve(t);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

/** A copy of `req` carrying the token (the caller's request is left as it was). */
function withToken(req: OutgoingRequest, token: string): OutgoingRequest {
  const headers = req.headers.clone();
  try {
    headers.set('authorization', `Bearer ${token}`);
  } catch (err) {
    throw new HourglassError('bearerAuth: the token is not a valid header value', 'HG_INVALID_ARG', { cause: err });
  }
  // The token is for this origin only: a redirect to any other drops it (SPEC §12),
  // wherever this interceptor sits in the chain.
  bindToOrigin(headers, 'authorization', req.url.origin);
  return { ...req, headers };
}

/** The first `Bearer` challenge of a 401, or undefined. */
function bearerChallenge(res: Response, fallback: URL): BearerChallenge | undefined {
  const value = res.headers['www-authenticate'];
  if (typeof value !== 'string') return undefined;
  const ch = parseChallenges(value).find((c) => c.scheme === 'bearer');
  if (ch === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(res.url);
  } catch {
    url = fallback;
  }
  return {
    realm: ch.params['realm'],
    service: ch.params['service'],
    scope: ch.params['scope'],
    params: ch.params,
    url,
    origin: url.origin,
  };
}
