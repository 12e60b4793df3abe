/**
 * response — the `Response` of SPEC §2 handed to callers.
 *
 * Owns: the public shape (status, headers, body, text/json/bytes/arrayBuffer/dump,
 * trailers, timings, reused, url/redirects) over a connection's {@link BodyChannel},
 * and the optional decoding stage (decompression) between the two; `Response.from` builds
 * one no connection produced (its input is checked in response-from.ts, its body fed by
 * body-source.ts into the same kind of channel).
 *
 * Invariants: the body is consumed once (a second reader gets `HG_BODY_USED`);
 * `text()` and friends read the channel directly when no decoding is needed, so the
 * common path builds no stream; the overall budget given to the final response is
 * finished when its body settles (ends, fails, is dumped or destroyed, or arrives whole:
 * SPEC §11) — except that a decoded body arriving whole releases only its connection: the
 * deadline and the signal keep covering the decoding until the decoded stream ends (SPEC
 * §2). A decoded body is read one way: `res.body` after `readInto`/`bytes()`/`dump()`
 * throws `HG_BODY_USED`; the decoded stream a readInto consumes has an 'error' listener
 * (failures reject the next read, never go unhandled). What settling does lives in a
 * {@link Settlement}, which the body channel holds — never the Response itself, so a
 * connection does not keep a dropped Response alive (an unread body, or one claimed by
 * `readInto`, is then destroyed when the Response is collected).
 */

import type { Readable } from 'node:stream';
import { type SourceIdle, sourceChannel } from './body-source.js';
import { type BodyChannel, type BodyEndListener, bodyUsed, copyChunks, joinChunks, watchUnread } from './conn/body.js';
import type { Budget, Cancelable } from './deadline.js';
import { HourglassError } from './errors.js';
import { headersObject } from './http1/headers.js';
import { checkFromInit, type ResponseFromInit } from './response-from.js';
import { Timings } from './timings.js';

export type { ResponseBodyInit } from './body-source.js';
export type { ResponseFromInit, ResponseHeadersInit } from './response-from.js';

/** Builds the decoding stage for a compressed body, given the raw body stream. */
export type BodyDecoder = (raw: Readable) => Readable;

/** Called once when the body settles: `err` is set when it failed. */
export interface BodyObserver {
  /** `res` is undefined only when the caller dropped the Response before its body settled. */
  bodySettled(res: Response | undefined, err: Error | undefined): void;
}

/**
 * @internal — what happens when a Response's body settles: the timings' end mark, the
 * request's budget finished, the observer told. Held by the body channel; it reaches the
 * Response only weakly (a collected Response must not be kept alive by its connection).
 */
class Settlement implements BodyEndListener, Cancelable {
  budget: Budget | undefined;
  observer: BodyObserver | undefined;
  /** Set (weakly) only while an observer waits. */
  response: WeakRef<Response> | undefined;
  /** Held strongly once a consumer claimed the body (the caller may keep only `res.body`). */
  pinned: Response | undefined;
  isSettled = false;
  error: Error | undefined;
  /** The body is decoded: it settles when the decoded stream does, not when the raw one does. */
  decoding = false;
  /** Decoding: the raw body arrived whole; the budget now covers the decoded stream (SPEC §2). */
  rawDone = false;
  /** Decoding: the decoded stream, once built. */
  decoded: Readable | undefined;
  /**
   * A Response.from stream body: no connection holds the budget for it, so the settlement
   * does — the deadline and the signal fail this channel (SPEC §12).
   */
  source: BodyChannel | undefined;
  /** As a from-body's budget holder: the head is in, the body is being read. */
  get phase(): 'body' | undefined {
    return this.source === undefined ? undefined : 'body';
  }
  get requestSent(): boolean | undefined {
    return this.source === undefined ? undefined : true;
  }
  constructor(private readonly timings: Timings) {}

  bodyEnded(err: Error | undefined): void {
    if (err === undefined && this.decoding && this.decoded?.destroyed !== true) {
      // The connection may go; the deadline and the signal keep covering the decoding.
      this.rawDone = true;
      this.budget?.hold(this);
      // Parked on the caller: the clock runs, but it does not keep the process alive.
      this.budget?.letProcessExit();
      return;
    }
    this.done(err);
  }

  /** The raw body had settled before decoding was known: wait for the decoded stream instead. */
  reopen(): void {
    if (!this.isSettled || this.error !== undefined) return;
    this.isSettled = false;
    this.rawDone = true;
    this.timings.end = undefined;
  }

  /** Budget failed (overall timeout or abort) while the decoded body was pending. */
  cancel(err: HourglassError): void {
    this.budget = undefined;
    // A from-body still arriving: fail it (the producer destroys its stream).
    if (!this.rawDone) this.source?.fail(err);
    const d = this.decoded;
    if (d !== undefined) d.destroy(err);
    this.done(err);
  }

  /** The decoded stream closed (ended, failed or destroyed). */
  decodedClosed(d: Readable): void {
    if (this.rawDone) this.done(d.errored ?? undefined);
  }

  /** The decoded body will not be read (dump, or its Response was collected). */
  drop(): void {
    if (this.rawDone && this.decoded === undefined) this.done(undefined);
  }

  done(err: Error | undefined): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.error = err;
    if (this.timings.end === undefined) this.timings.end = Date.now();
    this.budget?.finish();
    this.budget = undefined;
    const o = this.observer;
    this.observer = undefined;
    if (o !== undefined) {
      const res = this.pinned ?? this.response?.deref();
      this.response = this.pinned = undefined;
      o.bodySettled(res, err);
    }
  }
}

/** @internal True only for a Response genuinely constructed here (not a Proxy, not a bare prototype object). */
export function isGenuineResponse(v: unknown): v is Response {
  return Response.isGenuine(v);
}

/** Decoded bodies whose Response was collected before the decoded stream was built. */
const DROPPED = new FinalizationRegistry<Settlement>((s) => s.drop());

/** Decoded bodies a readInto claimed, destroyed when their Response is collected. */
const READERS = new FinalizationRegistry<Readable>((d) => d.destroy());

function ignore(): void {}

function onDecodedClose(this: Readable & { [SETTLEMENT]?: Settlement }): void {
  this[SETTLEMENT]?.decodedClosed(this);
}
const SETTLEMENT = Symbol('settlement');

/**
 * Response headers as `res.headers` holds them (SPEC §2): lower-cased names, a null
 * prototype, every field but `set-cookie` one string (repeated lines joined with `', '`),
 * `set-cookie` always a `string[]`. Well-known names type as `string | undefined`, so
 * `const ct: string | undefined = res.headers['content-type']` compiles under `--strict`;
 * any other name may be absent, hence `| undefined` in the index signature.
 */
export interface ResponseHeaders {
  [name: string]: string | string[] | undefined;
  /** One entry per `Set-Cookie` line (values may contain commas). */
  'set-cookie'?: string[] | undefined;
  'accept-ranges'?: string | undefined;
  'age'?: string | undefined;
  'allow'?: string | undefined;
  'alt-svc'?: string | undefined;
  'cache-control'?: string | undefined;
  'connection'?: string | undefined;
  'content-disposition'?: string | undefined;
  'content-encoding'?: string | undefined;
  'content-language'?: string | undefined;
  'content-length'?: string | undefined;
  'content-location'?: string | undefined;
  'content-range'?: string | undefined;
  'content-security-policy'?: string | undefined;
  'content-type'?: string | undefined;
  'date'?: string | undefined;
  'etag'?: string | undefined;
  'expires'?: string | undefined;
  'keep-alive'?: string | undefined;
  'last-modified'?: string | undefined;
  'link'?: string | undefined;
  'location'?: string | undefined;
  'pragma'?: string | undefined;
  'proxy-authenticate'?: string | undefined;
  'retry-after'?: string | undefined;
  'server'?: string | undefined;
  'strict-transport-security'?: string | undefined;
  'trailer'?: string | undefined;
  'transfer-encoding'?: string | undefined;
  'upgrade'?: string | undefined;
  'vary'?: string | undefined;
  'via'?: string | undefined;
  'warning'?: string | undefined;
  'www-authenticate'?: string | undefined;
  'x-content-type-options'?: string | undefined;
  'x-frame-options'?: string | undefined;
  'access-control-allow-origin'?: string | undefined;
  'access-control-allow-credentials'?: string | undefined;
  'access-control-allow-headers'?: string | undefined;
  'access-control-allow-methods'?: string | undefined;
  'access-control-expose-headers'?: string | undefined;
  'access-control-max-age'?: string | undefined;
}

/** @internal What a connection builds a {@link Response} from. */
export interface ResponseParts {
  status: number;
  statusText: string;
  httpVersion: string;
  headers: Record<string, string | string[]>;
  rawHeaders: string[];
  url: string;
  method: string;
  reused: boolean;
  timings: Timings;
}

/** One HTTP response. The body streams; read it once. */
export class Response {
  /**
   * Set by the real constructor (a connection's, or `Response.from`'s) only. `instanceof`
   * is not enough at a seam: an object made by `Object.create(Response.prototype)`, a Proxy
   * of a Response or a subclass instance that skipped construction passes it and then fails
   * deep inside with a TypeError. A private field, not a WeakSet entry per Response (an
   * ephemeron the GC visits, issue #16).
   */
  readonly #genuine = true;
  /** @internal */
  static isGenuine(v: unknown): v is Response {
    return typeof v === 'object' && v !== null && #genuine in v;
  }
  /** Status code of the final response. */
  readonly status: number;
  readonly statusText: string;
  /** `'1.1'` or `'1.0'`. */
  readonly httpVersion: string;
  /** Lower-cased names; repeated headers joined with `', '`, `set-cookie` always `string[]`. */
  readonly headers: ResponseHeaders;
  /** Name/value pairs as received. */
  readonly rawHeaders: string[];
  /** Final URL after redirects. */
  url: string;
  /** URLs requested because of redirects, in order. */
  redirects: string[] = [];
  /** Whether the connection came from the idle pool. */
  readonly reused: boolean;
  /** Marks and phases of SPEC §5. */
  readonly timings: Timings;
  /** Method of the request that produced this response. */
  readonly method: string;

  private readonly channel: BodyChannel;
  private readonly settlement: Settlement;
  private decoder: BodyDecoder | undefined;
  private decoded: Readable | undefined;
  private used = false;
  /** readInto claimed the body (further readInto calls are the same consumer). */
  private reading = false;
  /** A readInto over the decoded body is in progress. */
  private decodedReadPending = false;
  /** Decoded bytes a readInto did not have room for. */
  private spill: Buffer | undefined;

  /**
   * Not constructible by users: a Response comes from a request or {@link Response.from}.
   * (The published declaration keeps only this signature, so `new Response()` does not
   * compile; connections build responses through the internal one.)
   */
  constructor(notConstructible: never);
  /** @internal — responses are made by the connection (HTTP/1.1 and HTTP/2). */
  constructor(init: ResponseParts, channel: BodyChannel);
  constructor(init: ResponseParts, channel?: BodyChannel) {
    this.status = init.status;
    this.statusText = init.statusText;
    this.httpVersion = init.httpVersion;
    // headersObject's invariant: set-cookie is always an array, everything else a string.
    this.headers = init.headers as ResponseHeaders;
    this.rawHeaders = init.rawHeaders;
    this.url = init.url;
    this.method = init.method;
    this.reused = init.reused;
    this.timings = init.timings;
    this.channel = channel!;
    this.settlement = new Settlement(init.timings);
    channel!.listener = this.settlement;
    channel!.method = init.method;
    channel!.url = init.url;
  }

  /**
   * Builds a response that no connection produced — for caches, short-circuiting
   * interceptors and mocks (SPEC §12). It reads like any other: `text()`, `json()`,
   * `bytes()`, `readInto()`, `body`, `dump()`, one consumer only (`HG_BODY_USED`), headers
   * with lower-cased names and a null prototype. A stream body is pulled as it is read and
   * destroyed if the body is abandoned. Bad input is `HG_INVALID_ARG`.
   *
   * @example
   * const cached = Response.from({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'hi', url });
   */
  static from(init: ResponseFromInit): Response {
    return Response.fromSource(init, undefined);
  }

  /** @internal — `from` with a read-idle guard on a stream body (MockTransport's, SPEC §12). */
  static fromSource(init: ResponseFromInit, idle: SourceIdle | undefined): Response {
    const { status, statusText, url, method, rawHeaders, body, declared } = checkFromInit(init);
    const { channel, start, stream } = sourceChannel(body, idle, declared);
    const timings = new Timings(Date.now());
    timings.response = timings.start;
    const res = new Response(
      {
        status,
        statusText,
        httpVersion: '1.1',
        headers: headersObject(rawHeaders),
        rawHeaders,
        url,
        method,
        reused: false,
        timings,
      },
      channel,
    );
    if (stream) {
      res.settlement.source = channel;
      watchUnread(res, channel);
    }
    start();
    return res;
  }

  /** Whether at least one redirect was followed. */
  get redirected(): boolean {
    return this.redirects.length > 0;
  }

  /** Trailers, filled when the body ends (lower-cased names). */
  get trailers(): Record<string, string> {
    return this.channel.trailers;
  }

  /** The decoded body as a Node `Readable`. Throws `HG_BODY_USED` once another reader claimed it. */
  get body(): Readable {
    if (this.used) throw bodyUsed(this.method, this.url);
    return this.stream();
  }

  /** The body stream (decoded when needed), built once. */
  private stream(): Readable {
    if (this.decoded !== undefined) return this.decoded;
    this.pin();
    const raw = this.channel.stream();
    if (this.decoder === undefined) return (this.decoded = raw);
    const d = this.decoder(raw) as Readable & { [SETTLEMENT]?: Settlement };
    this.decoded = d;
    const s = this.settlement;
    s.decoded = d;
    d[SETTLEMENT] = s;
    d.once('close', onDecodedClose);
    // The budget failed while nobody read: the decoded body fails the same way.
    if (s.isSettled && s.error !== undefined && s.rawDone) d.destroy(s.error);
    return d;
  }

  /** Whether the body was already consumed or claimed. */
  get bodyUsed(): boolean {
    return this.used || this.channel.claimed;
  }

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    // One reaction on bytes(), which never throws synchronously.
    return this.bytes().then(utf8Text);
  }

  /** Reads the whole body and parses it as JSON. */
  async json<T = unknown>(): Promise<T> {
    const text = await this.text();
    return JSON.parse(text) as T;
  }

  /** Reads the whole body. */
  bytes(): Promise<Buffer> {
    // Not an async function: the channel's own promise and one reaction, no async frame
    // and await on top of it (issue #16: text() made 4 promises per response).
    return this.chunks().then(joinAll);
  }

  /** Every chunk of the body (claims it). */
  private chunks(): Promise<Buffer[]> {
    try {
      this.claim();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.decoder === undefined) return this.channel.collect();
    return this.decodedChunks();
  }

  /** The chunks of a decoded body (claimed already). */
  private async decodedChunks(): Promise<Buffer[]> {
    const chunks: Buffer[] = [];
    for await (const c of this.stream()) chunks.push(c as Buffer);
    return chunks;
  }

  /**
   * Reads the whole body into a new ArrayBuffer of its own (never memory a chunk shares):
   * the chunks are copied into it once.
   */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.chunks().then(joinToArrayBuffer);
  }

  /**
   * Copies the next body bytes into `into` and resolves with how many were copied; 0 means
   * the body has ended. Like Go's `Body.Read` or `FileHandle.read`: the caller owns the
   * memory, so streaming a body of any size this way allocates nothing per chunk (with
   * `res.body`, every chunk is a new Buffer the garbage collector must find). One read at a
   * time; the body's timeouts apply while a read waits. Claims the body like `res.body`.
   *
   * @example
   * const buf = new Uint8Array(64 * 1024);
   * for (let n; (n = await res.readInto(buf)) > 0; ) hash.update(buf.subarray(0, n));
   */
  readInto(into: Uint8Array): Promise<number> {
    if (!(into instanceof Uint8Array)) {
      return Promise.reject(new TypeError('readInto expects a Uint8Array (or Buffer)'));
    }
    if (this.decoder !== undefined) return this.readDecodedInto(into);
    if (this.used && !this.reading) {
      return Promise.reject(bodyUsed(this.method, this.url));
    }
    if (!this.reading) this.pin();
    this.used = this.reading = true;
    return this.channel.readInto(into);
  }

  /**
   * Discards the rest of the body. A remainder of at most `maxBytes` (64 KiB) that
   * arrives within `maxMs` (1 s) is drained so the connection can be reused; otherwise
   * the connection is closed. Settles when the connection was released or closed.
   */
  dump(maxBytes = 65_536, maxMs = 1_000): Promise<void> {
    this.used = true;
    if (this.decoder !== undefined) {
      if (this.decoded !== undefined) this.decoded.destroy();
      else this.settlement.drop();
    }
    return this.channel.discard(maxBytes, maxMs);
  }

  /**
   * @internal — the body bytes that arrived (as on the wire, before decoding) when the
   * body failed before its end (cut, reset, timeout); undefined when it ended or is open.
   * For the HAR entry of a request cut mid-body (src/cli/har-log.ts).
   */
  get failedBodyBytes(): number | undefined {
    const ch = this.channel;
    return ch.error !== undefined && !ch.ended ? ch.received : undefined;
  }

  /** @internal — installs the decoding stage (called before the caller sees the response). */
  setDecoder(decoder: BodyDecoder): void {
    this.decoder = decoder;
    const s = this.settlement;
    s.decoding = true;
    s.reopen();
    DROPPED.register(this, s);
  }

  /**
   * @internal — the client hands over the request's budget and an observer for the
   * final response; if the body already settled (no body), they finish at once.
   */
  attach(budget: Budget | undefined, observer: BodyObserver | undefined): void {
    const s = this.settlement;
    if (s.isSettled) {
      budget?.finish();
      observer?.bodySettled(this, s.error);
      return;
    }
    s.budget = budget;
    s.observer = observer;
    if (observer !== undefined) s.response = new WeakRef(this);
    if (s.rawDone) {
      budget?.hold(s);
      budget?.letProcessExit();
    } else if (s.source !== undefined) {
      budget?.hold(s);
    }
  }

  /** readInto over a decoded body: the decoder's chunks, copied out. */
  private async readDecodedInto(into: Uint8Array): Promise<number> {
    if (!this.reading) {
      this.claim();
      this.reading = true;
      // Failures are read from `errored` by the next read: never an unhandled 'error'.
      const d = this.stream().on('error', ignore);
      // Only this Response can read on: once it is collected, the body goes.
      READERS.register(this, d);
    }
    if (this.decodedReadPending) {
      throw new HourglassError('readInto: another read is still pending', 'HG_BODY_USED');
    }
    if (into.length === 0) return 0;
    this.decodedReadPending = true;
    try {
      return await this.copyDecoded(into);
    } finally {
      this.decodedReadPending = false;
    }
  }

  private async copyDecoded(into: Uint8Array): Promise<number> {
    const r = this.stream();
    for (;;) {
      const spill = this.spill;
      if (spill !== undefined) {
        const n = Math.min(spill.length, into.length);
        spill.copy(into, 0, 0, n);
        this.spill = n === spill.length ? undefined : spill.subarray(n);
        return n;
      }
      const chunk = r.read() as Buffer | null;
      if (chunk !== null) {
        this.spill = chunk;
        continue;
      }
      if (r.errored !== null) throw r.errored;
      if (r.readableEnded || r.destroyed) return 0;
      await readableOrEnd(r);
    }
  }

  private claim(): void {
    if (this.used || this.channel.claimed) throw bodyUsed(this.method, this.url);
    this.used = true;
    this.pin();
  }

  /** A consumer claimed the body: an observer waiting for its end keeps this Response. */
  private pin(): void {
    const s = this.settlement;
    if (s.observer !== undefined) s.pinned = this;
  }
}

/** Resolves when `r` may have data again, ended, failed or closed. */
function readableOrEnd(r: Readable): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      r.off('readable', done).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    r.on('readable', done).on('end', done).on('error', done).on('close', done);
  });
}


function joinAll(chunks: Buffer[]): Buffer {
  let total = 0;
  for (const c of chunks) total += c.length;
  return joinChunks(chunks, total);
}

function joinToArrayBuffer(chunks: Buffer[]): ArrayBuffer {
  let total = 0;
  for (const c of chunks) total += c.length;
  // Never pooled: the ArrayBuffer is exactly the body, not a slab other buffers share.
  return copyChunks(chunks, Buffer.allocUnsafeSlow(total)).buffer as ArrayBuffer;
}

function utf8Text(b: Buffer): string {
  return b.toString('utf8');
}
