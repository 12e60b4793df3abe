/**
 * fetch — a WHATWG `fetch()` facade over {@link Client} (SPEC §7): the global
 * `Request`/`RequestInit` in, a global `Response` out, hourglass's deadlines and
 * connection management underneath.
 *
 * Owns: turning fetch's inputs into `RequestOptions` (method normalisation, the body
 * types of the Fetch standard and their default `Content-Type`, `redirect` →
 * `followRedirects`/`redirectMode`), and turning our `Response` into a global one
 * whose body is a pull-based web stream over `res.body`. It never talks to the
 * transport and adds no policy of its own beyond what fetch prescribes; redirects,
 * retries, timeouts and the jar stay the client's.
 *
 * Invariants:
 * - errors: an abort rejects (or errors the body stream) with `signal.reason` itself;
 *   every other failure is `TypeError('fetch failed')` whose `cause` is the
 *   `HourglassError` (invalid input keeps its own message), so `isTimeout(err)` holds;
 * - every response's body is either handed to the caller as a web stream, whose
 *   cancellation (or garbage collection) destroys our body and closes the connection,
 *   or — for null-body statuses and HEAD — dumped at once so the connection is freed;
 * - known-length bodies are sent as bytes (Content-Length, replayable on 307/308);
 *   only a `ReadableStream`/async-iterable body is streamed (chunked).
 */

import type { Client, RequestOptions } from './client.js';
import { AbortError, HourglassError } from './errors.js';
import { defaultClient } from './default-client.js';
import { checkOptionsObject, FETCH_INIT_NAMES, type TransportTimeouts } from './options.js';
import type { BodyInit as HgBodyInit } from './request-init.js';
import type { Response as HgResponse } from './response.js';

/** `RequestInit` plus hourglass's extensions. */
export interface FetchInit extends RequestInit {
  /** Overall budget in ms, from the call to the end of the body (SPEC §3). Default: the client's. */
  timeout?: number;
  /** The client to send with. Default `defaultClient()`. */
  client?: Client;
  /** Per-request phase timeouts (SPEC §11). */
  timeouts?: Partial<TransportTimeouts>;
}

/**
 * WHATWG `fetch()` over hourglass. Resolves once the response head arrived; the body
 * streams. Rejects with `signal.reason` on abort, else with `TypeError('fetch failed')`
 * carrying the hourglass error as `cause`.
 */
export async function fetch(
  input: string | URL | Request,
  init: FetchInit = {},
): Promise<globalThis.Response> {
  try {
    checkOptionsObject('fetch init', '', init, FETCH_INIT_NAMES);
  } catch (err) {
    throw toFetchError(err);
  }
  const req = await resolveRequest(input, init);
  const signal = req.signal;
  if (signal?.aborted) throw signal.reason;
  const client = init.client ?? defaultClient();
  const opts: RequestOptions = {
    method: req.method,
    headers: req.headers,
    body: req.body,
    signal,
    timeout: init.timeout,
    timeouts: init.timeouts,
    followRedirects: req.redirect !== 'manual',
    redirectMode: req.redirect === 'error' ? 'error' : 'fetch',
  };
  let res: HgResponse;
  try {
    res = await client.request(req.url, opts);
  } catch (err) {
    throw toFetchError(err);
  }
  if (req.redirect === 'follow' && req.streamed && isFollowable307(res)) {
    // The client returns a 307/308 it cannot replay the body for; fetch calls that a network error.
    void res.dump().catch(ignore);
    const cause = new HourglassError(
      `cannot follow a ${res.status} redirect with a streamed request body`,
      'HG_BAD_REDIRECT',
      { method: res.method, url: res.url },
    );
    throw new TypeError('fetch failed', { cause });
  }
  return toWebResponse(res, NULL_BODY_STATUS.has(res.status) || req.method === 'HEAD');
}

// Private implementation past this point.

/** A fetch call's inputs, normalised. */
interface ResolvedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: HgBodyInit;
  /** Whether the body is sent as a stream (not replayable). */
  streamed: boolean;
  signal: AbortSignal | undefined;
  redirect: 'follow' | 'manual' | 'error';
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
/** Methods the Fetch standard upper-cases; any other keeps its case (so `patch` stays `patch`). */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** RFC 9112 reason-phrase, which the Response constructor insists on. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Merges `input` and `init` as `new Request(input, init)` would, without building one. */
async function resolveRequest(input: string | URL | Request, init: FetchInit): Promise<ResolvedRequest> {
  const fromRequest = input instanceof Request ? input : undefined;
  const url = fromRequest !== undefined ? fromRequest.url : input instanceof URL ? input.href : String(input);
  // WHATWG fetch refuses credentials in the URL (a Request cannot be made from one; Node's
  // fetch throws the same): they would become an Authorization header the caller did not
  // set (eleventh attack F8). The client's own request() keeps curl's and Go's behaviour.
  // Only a URL with an '@' can carry them: the others are not parsed here (the client parses once).
  if (url.includes('@') && URL.canParse(url)) {
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') throw new TypeError('Request cannot be constructed from a URL that includes credentials');
  }

  let method = init.method ?? fromRequest?.method ?? 'GET';
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  if (NORMALIZED_METHODS.has(upper)) method = upper;

  const redirect = init.redirect ?? fromRequest?.redirect ?? 'follow';
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
    throw new TypeError(`invalid redirect mode ${JSON.stringify(redirect)}`);
  }

  const headers = new Headers(init.headers ?? fromRequest?.headers);
  if (!headers.has('accept')) headers.set('accept', '*/*');

  let body: HgBodyInit = null;
  let streamed = false;
  if (init.body !== undefined && init.body !== null) {
    const extracted = await extractBody(init.body);
    body = extracted.body;
    streamed = extracted.streamed;
    if (extracted.type !== undefined && !headers.has('content-type'))
      headers.set('content-type', extracted.type);
  } else if (init.body === undefined && fromRequest?.body != null) {
    if (fromRequest.bodyUsed) throw new TypeError('Request body has already been used');
    body = checkedChunks(fromRequest.body);
    streamed = true;
  }
  if (body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError('Request with GET/HEAD method cannot have body.');
  }

  const signal = init.signal !== undefined ? (init.signal ?? undefined) : fromRequest?.signal;
  return { url, method, headers, body, streamed, signal, redirect };
}

/** The Fetch standard's "extract a body": bytes where the length is known, else a stream. */
async function extractBody(
  body: unknown,
): Promise<{ body: HgBodyInit; type: string | undefined; streamed: boolean }> {
  const bytes = (data: Uint8Array, type?: string) => ({ body: data, type, streamed: false });
  if (typeof body === 'string') return { body, type: 'text/plain;charset=UTF-8', streamed: false };
  if (body instanceof URLSearchParams) {
    return {
      body: body.toString(),
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
      streamed: false,
    };
  }
  // Buffer sources are copied, as fetch does: later writes by the caller do not change what is sent.
  if (body instanceof ArrayBuffer) return bytes(new Uint8Array(body.slice(0)));
  if (ArrayBuffer.isView(body)) {
    return bytes(new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)));
  }
  if (body instanceof Blob) return bytes(new Uint8Array(await body.arrayBuffer()), body.type || undefined);
  if (body instanceof FormData) {
    // The Response constructor serialises multipart/form-data and picks the boundary.
    const encoded = new globalThis.Response(body);
    return bytes(
      new Uint8Array(await encoded.arrayBuffer()),
      encoded.headers.get('content-type') ?? undefined,
    );
  }
  if (body instanceof ReadableStream) {
    if (body.locked) throw new TypeError('Response body object should not be disturbed or locked');
    return { body: checkedChunks(body), type: undefined, streamed: true };
  }
  if (isAsyncIterable(body)) return { body: checkedChunks(body), type: undefined, streamed: true };
  // Anything else is converted to a string, as WebIDL's BodyInit union does.
  return { body: String(body), type: 'text/plain;charset=UTF-8', streamed: false };
}

/** Re-yields a stream's chunks, refusing anything but bytes (as fetch does). */
async function* checkedChunks(source: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError('Received non-Uint8Array chunk');
    yield chunk;
  }
}

function isFollowable307(res: HgResponse): boolean {
  const location = res.headers.location;
  return (res.status === 307 || res.status === 308) && location !== undefined && location !== '';
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

/** Maps a failure of the request to what fetch rejects with. */
function toFetchError(err: unknown): unknown {
  if (err instanceof AbortError) return err.cause;
  if (err instanceof HourglassError && err.code === 'HG_INVALID_ARG')
    return new TypeError(err.message, { cause: err });
  if (err instanceof TypeError && err.cause === undefined) return err;
  return new TypeError('fetch failed', { cause: err });
}

/** Builds the global Response; its body (if any) streams from ours. */
function toWebResponse(res: HgResponse, nullBody: boolean): globalThis.Response {
  const body = nullBody ? undefined : webBody(res);
  if (nullBody) void res.dump().catch(ignore);
  const stream = body?.stream ?? null;

  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      try {
        headers.append(name, v);
      } catch {
        // A value the Headers class refuses cannot be represented; the strict parser lets none through.
      }
    }
  }
  // The constructor only takes statuses 200–599 and RFC reason phrases; anything else
  // (e.g. 101) is set on the instance afterwards.
  const statusOk = res.status >= 200 && res.status <= 599;
  const textOk = REASON_PHRASE.test(res.statusText);
  const out = new globalThis.Response(stream, {
    status: statusOk ? res.status : 200,
    statusText: textOk ? res.statusText : '',
    headers,
  });
  if (!statusOk) {
    define(out, 'status', res.status);
    define(out, 'ok', false);
  }
  if (!textOk) define(out, 'statusText', res.statusText);
  const url = new URL(res.url);
  url.hash = '';
  define(out, 'url', url.href);
  define(out, 'redirected', res.redirected);
  if (body !== undefined) abandoned.register(out, body.state, body.state);
  return out;
}

/**
 * A pull-based web stream over `res.body`: one chunk is read from our stream per
 * pull, so backpressure reaches the socket; cancelling destroys our body, which
 * closes the connection unless the body had already ended.
 */
function webBody(res: HgResponse): { stream: ReadableStream<Uint8Array>; state: BodyState } {
  let chunks: AsyncIterator<Buffer> | undefined;
  const state: BodyState = { res, stream: undefined, pulled: false, done: false };
  const finish = (): void => {
    state.done = true;
    abandoned.unregister(state);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        state.pulled = true;
        chunks ??= res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        try {
          const r = await chunks.next();
          if (state.done) return;
          if (r.done === true) {
            finish();
            controller.close();
          } else {
            controller.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength));
          }
        } catch (err) {
          if (state.done) return;
          finish();
          controller.error(toFetchError(err));
        }
      },
      cancel() {
        finish();
        res.body.destroy();
      },
    },
    { highWaterMark: 0 },
  );
  state.stream = new WeakRef(stream);
  return { stream, state };
}

/** What the finalizer of a dropped Response needs; never references the Response. */
interface BodyState {
  res: HgResponse;
  stream: WeakRef<ReadableStream<Uint8Array>> | undefined;
  /** Set by the first pull (the stream is disturbed). */
  pulled: boolean;
  /** Set once the stream closed, errored or was cancelled. */
  done: boolean;
}

/**
 * Destroys the body of a global Response dropped without being read or cancelled, so
 * its connection does not stay checked out (as undici does). A body whose stream is
 * still held and being read (locked or disturbed) is left alone.
 */
const abandoned = new FinalizationRegistry<BodyState>((state) => {
  const stream = state.stream?.deref();
  if (state.done || (stream !== undefined && (stream.locked || state.pulled))) return;
  state.res.body.destroy();
});

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true });
}

function ignore(): void {}
