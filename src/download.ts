/**
 * download — resumable downloads to a file (SPEC §8, §11 "Download").
 *
 * Owns: the attempt loop over mirrors (every request counts against the retry limit
 * per mirror, whatever its outcome; which statuses and errors are retried, the backoff,
 * the `Retry-After` cap and the wait-against-deadline rule are the client's
 * `RetryPolicy`, so no wait overruns every caller's deadline), the choice between
 * continuing with `Range` + `If-Range`, with `Range` alone (a `.part` without a
 * usable sidecar, as curl `-C -`) and restarting from zero, judging each answer (200,
 * 206, 416, retryable and final statuses), progress, and telling the callers about
 * each response (`onResponse`).
 * Options are checked in `download/options`, the on-disk state lives in
 * `download/part-file`, the header grammar in `download/range`, callers sharing one
 * transfer (each with its own deadline and signal) in `download/shared`; requests go
 * through an ordinary {@link Client} with its own retries disabled, so every request
 * is counted here (under the same policy the client would apply).
 *
 * Invariants: bytes reach the `.part` only from a 200, or from a 206 whose
 * `Content-Range` starts exactly at the `.part`'s end and agrees with the known size
 * and `Content-Length`; a 206 that turns out longer than announced is rolled back
 * (nothing of it is kept); `If-Range` never carries a weak ETag nor anything but
 * visible characters; a ranged request never sends `Accept-Encoding`, an unranged one
 * sends `identity`, so offsets always address the identity representation; at most
 * `limit + 1` requests per mirror; the body is streamed with backpressure (one chunk
 * in flight), never buffered whole; `received` in `onProgress` never decreases;
 * `dest` is only ever written by the final atomic rename, after the checksum passed.
 * Errors: the last attempt's error once every mirror is exhausted (`HttpStatusError`
 * `HG_HTTP_STATUS` for a status, `ProtocolError` `bad-range` for a bad 206/416 or a
 * 206 short of the end when no request is left), each caller's own overall
 * `TimeoutError` phase `request` (`requestSent` as of the current attempt) or
 * `AbortError`, `HG_CHECKSUM`, and `HG_WRITE` (with the system error as `cause`) when
 * the `.part`, its sidecar or `dest` fails.
 */

import type { Client } from './client.js';
import { Budget, sleep } from './deadline.js';
import {
  type DownloadOptions,
  type DownloadResult,
  type ResolvedDownload,
  resolveDownload,
} from './download/options.js';
import { PartFile } from './download/part-file.js';
import {
  attach,
  DeadlineOverrun,
  type Runnable,
  type TransferHost,
  type TransferState,
} from './download/shared.js';
import {
  contentLength,
  ifRangeValue,
  parseContentRange,
  parseUnsatisfiedRange,
  single,
  validatorChanged,
  validatorOf,
} from './download/range.js';
import { defaultClient } from './default-client.js';
import { AbortError, HourglassError, HttpStatusError, ProtocolError, TimeoutError } from './errors.js';
import type { Response } from './response.js';
import { waitFits } from './retry.js';
import type { TraceHooks } from './trace.js';

export type {
  DownloadOptions,
  DownloadResponseInfo,
  DownloadResult,
  DownloadRetryOptions,
} from './download/options.js';
/** A response status that ended a mirror (a final status, or a retryable one out of retries). */
export { HttpStatusError } from './errors.js';

/**
 * Downloads `urls` (mirrors of one file, tried in order) to `dest` through
 * `dest.part`, resuming where an earlier attempt or process stopped (a `.part` with no
 * usable sidecar is continued from its size with `Range` alone, as curl `-C -`).
 * Concurrent calls for the same destination (same real directory and name) share the
 * first call's transfer, mirrors and checksum; each keeps its own `timeout`, `signal`
 * and `onProgress`: a caller whose deadline or signal fires rejects alone, and the
 * transfer is aborted when no caller is left.
 */
export function download(
  urls: string | string[],
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  let cfg: ResolvedDownload;
  try {
    cfg = resolveDownload(urls, dest, opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const init = {
    timeout: opts.timeout,
    signal: opts.signal,
    onProgress: opts.onProgress,
    onResponse: opts.onResponse,
    path: cfg.dest,
  };
  return attach(cfg.dest, { ...init, url: cfg.urls[0]! }, () => new Transfer(cfg, opts));
}

// Private implementation past this point.

/** Bytes per read of a body into the `.part` file (one buffer per download, reused). */
const COPY_BUFFER = 64 * 1024;
/** Error codes that end the download at once, whatever mirror is left. */
const FATAL_CODES: ReadonlySet<string> = new Set(['HG_INVALID_ARG', 'HG_CLOSED', 'HG_BODY_USED']);

/** How one request ended, as the attempt loop sees it. */
type Outcome =
  | { kind: 'complete' }
  /** A 206 covered part of the rest: ask for the remainder at once (`error` if no request is left). */
  | { kind: 'continue'; error: Error }
  /** `wait` 0: at once; else the policy's wait (from `retryAfter` when the response had one). */
  | { kind: 'retry'; error: Error; wait?: 0; retryAfter?: string | string[] | undefined }
  | { kind: 'next-mirror'; error: Error };

/** One download: its options resolved, and the counters of its result. */
class Transfer implements Runnable<DownloadResult> {
  readonly state: TransferState;
  private readonly cfg: ResolvedDownload;
  private readonly opts: DownloadOptions;
  private readonly client: Client;
  /** Marks the current attempt's request as sent (one hook object per transfer). */
  private readonly trace: TraceHooks;
  private host: TransferHost | undefined;
  private attempts = 0;
  /**
   * Requests on the wire of the whole transfer (hops included): each call starts its
   * count here, so a retry, a resume or a mirror is a resend (`http.request.resend_count`).
   */
  private readonly wireCount = { sent: 0 };
  private resumed = false;
  private reported = -1;
  /** The one buffer bodies are read into (allocated on the first body). */
  private buffer: Buffer | undefined;

  constructor(cfg: ResolvedDownload, opts: DownloadOptions) {
    this.cfg = cfg;
    this.opts = opts;
    this.client = opts.client ?? defaultClient();
    this.state = { activePhase: 'download', requestSent: false, url: cfg.urls[0]!, lastError: undefined };
    this.trace = {
      wroteHeaders: () => {
        this.state.requestSent = true;
      },
    };
  }

  /** Runs until done, failed, or aborted through `host.signal` (no caller left). */
  async run(host: TransferHost): Promise<DownloadResult> {
    this.host = host;
    // Deadlines belong to the callers; this budget only carries the abort.
    const budget = new Budget(undefined, host.signal, 'GET', this.cfg.urls[0]!);
    try {
      budget.check();
      const part = await PartFile.open(this.cfg.dest);
      try {
        if (part.size > 0) this.progress(part);
        return await this.loop(part, budget);
      } finally {
        await part.close();
      }
    } catch (err) {
      throw fileError(err, this.cfg.dest);
    } finally {
      budget.finish();
    }
  }

  /**
   * Mirrors in order; on each, requests until success, a final answer, or the retry
   * limit. Every request counts against the limit whatever its outcome (a 206 that
   * covers only part of the rest, a restart from zero): `limit + 1` requests per mirror.
   */
  private async loop(part: PartFile, budget: Budget): Promise<DownloadResult> {
    for (const url of this.cfg.urls) {
      for (let tries = 1; ; tries++) {
        const outcome = await this.attempt(url, part, budget);
        if (outcome.kind === 'complete') return this.finish(part);
        this.state.lastError = outcome.error;
        if (outcome.kind === 'next-mirror' || tries > this.cfg.limit) break;
        if (outcome.kind === 'continue') continue;
        const wait = outcome.wait ?? this.cfg.retry.retryWait(tries, outcome.retryAfter);
        // A Retry-After beyond the policy's cap: this mirror is done for now.
        if (wait === undefined) break;
        if (!waitFits(wait, this.remaining())) {
          // An endless wait with no deadline at all is no retry (as the client): next mirror.
          if (this.remaining() === Number.POSITIVE_INFINITY) break;
          throw new DeadlineOverrun(outcome.error);
        }
        if (wait > 0) {
          this.state.activePhase = 'retry-backoff';
          await sleep(wait, budget);
        }
      }
    }
    throw this.state.lastError ?? new HourglassError('download failed', 'HG_DOWNLOAD');
  }

  /**
   * One request: continue with Range + If-Range when the sidecar names a validator,
   * with Range alone when the `.part` has no sidecar (curl `-C -`), else from zero.
   */
  private async attempt(url: string, part: PartFile, budget: Budget): Promise<Outcome> {
    budget.check();
    const remaining = this.remaining();
    if (remaining <= 0) throw new DeadlineOverrun(this.state.lastError);
    const offset = part.size;
    const ifRange = offset > 0 ? ifRangeValue(part.meta?.validator) : undefined;
    const ranged = offset > 0 && (ifRange !== undefined || part.meta === undefined);
    if (offset > 0 && !ranged) await this.restart(part);
    const headers = !ranged
      ? [...this.cfg.headers, 'accept-encoding', 'identity']
      : ifRange === undefined
        ? [...this.cfg.headers, 'range', `bytes=${offset}-`]
        : [...this.cfg.headers, 'range', `bytes=${offset}-`, 'if-range', ifRange];
    this.state.url = url;
    this.state.activePhase = 'download';
    this.state.requestSent = false;
    this.attempts++;
    let res: Response;
    try {
      // The callers' deadlines bound the request (the last to leave aborts it): with
      // any deadline set, the client's own overall timeout must not cut it shorter.
      res = await this.client.request(url, {
        headers,
        signal: this.host!.signal,
        timeouts: this.opts.timeouts,
        retry: 0,
        trace: this.trace,
        wireCount: this.wireCount,
        ...(remaining === Number.POSITIVE_INFINITY ? {} : { timeout: 0 }),
      });
    } catch (err) {
      return this.failed(err, budget);
    }
    try {
      this.host!.response(res, { url, attempt: this.attempts });
      return await this.judge(res, url, part, ranged);
    } catch (err) {
      abandon(res);
      return this.failed(err, budget);
    }
  }

  /** Milliseconds until the latest caller's deadline. */
  private remaining(): number {
    return this.host!.remaining();
  }

  /** Decides what a response means for the `.part`. */
  private async judge(res: Response, url: string, part: PartFile, ranged: boolean): Promise<Outcome> {
    const offset = part.size;
    const ctx = { method: 'GET', url };
    if (res.status === 200) {
      // Unranged, or the range was ignored / If-Range failed: the full body, from zero.
      if (offset > 0) await this.restart(part);
      const len = contentLength(res.headers);
      await part.saveMeta({
        url,
        validator: validatorOf(res.headers),
        ...(len !== undefined && !Number.isNaN(len) ? { size: len } : {}),
      });
      await this.stream(res, part, undefined);
      return { kind: 'complete' };
    }
    if (res.status === 206) return this.partial(res, url, part, ranged);
    await res.dump();
    if (res.status === 416 && ranged) {
      const held = parseUnsatisfiedRange(res.headers['content-range']);
      const size = part.meta?.size;
      if (held === offset && (size === undefined || size === held)) {
        if (size === undefined && part.meta !== undefined) await part.saveMeta({ ...part.meta, size: held });
        this.resumed = true;
        return { kind: 'complete' };
      }
      await this.restart(part);
      const got = single(res.headers['content-range']) ?? 'none';
      return {
        kind: 'retry',
        wait: 0,
        error: new ProtocolError(
          'bad-range',
          `416 Content-Range ${got} does not match the ${offset} bytes held; restarting`,
          ctx,
        ),
      };
    }
    const error = new HttpStatusError(res.status, ctx);
    if (this.cfg.retry.retriesStatus(res.status)) {
      return { kind: 'retry', error, retryAfter: res.headers['retry-after'] };
    }
    return { kind: 'next-mirror', error };
  }

  /** A 206: appended only when its Content-Range continues the `.part` exactly. */
  private async partial(res: Response, url: string, part: PartFile, ranged: boolean): Promise<Outcome> {
    const offset = part.size;
    const ctx = { method: 'GET', url };
    const raw = single(res.headers['content-range']) ?? 'none';
    const cr = parseContentRange(res.headers['content-range']);
    const known = part.meta?.size;
    const len = cr === undefined ? 0 : cr.end - cr.start + 1;
    const cl = contentLength(res.headers);
    let problem: string | undefined;
    if (cr === undefined) problem = `206 with an invalid Content-Range (${raw})`;
    else if (cr.start !== offset)
      problem = `206 Content-Range ${raw} does not start at the requested offset ${offset}`;
    else if (ranged && cr.total !== undefined && known !== undefined && cr.total !== known) {
      problem = `206 Content-Range ${raw} disagrees with the known size ${known}`;
    } else if (cl !== undefined && cl !== len)
      problem = `206 Content-Length ${cl} disagrees with Content-Range ${raw}`;
    if (problem !== undefined) {
      abandon(res);
      return { kind: 'next-mirror', error: new ProtocolError('bad-range', problem, ctx) };
    }
    if (ranged && validatorChanged(part.meta?.validator, res.headers)) {
      // The server sent a different representation's bytes despite If-Range: start over.
      abandon(res);
      await this.restart(part);
      return {
        kind: 'retry',
        wait: 0,
        error: new ProtocolError('bad-range', '206 for a changed representation', ctx),
      };
    }
    const total = cr!.total;
    const validator = validatorOf(res.headers);
    if (!ranged || (part.meta === undefined && ifRangeValue(validator) !== undefined)) {
      // From zero, or a foreign `.part` continued with Range alone whose server now
      // names a validator: from here on it is resumed with If-Range.
      await part.saveMeta({ url, validator, ...(total !== undefined ? { size: total } : {}) });
    } else if (part.meta !== undefined && known === undefined && total !== undefined) {
      await part.saveMeta({ ...part.meta, size: total });
    }
    const mark = await part.mark();
    if (offset > 0) this.resumed = true;
    try {
      await this.stream(res, part, len);
    } catch (err) {
      if (err instanceof ProtocolError && err.reason === 'bad-range') await part.rollback(mark);
      throw err;
    }
    if (part.size < offset + len) {
      return {
        kind: 'retry',
        error: new ProtocolError(
          'truncated-body',
          `206 body ended after ${part.size - offset} of ${len} bytes`,
          ctx,
        ),
      };
    }
    const size = part.meta?.size ?? total;
    if (size === undefined || part.size >= size) return { kind: 'complete' };
    return {
      kind: 'continue',
      error: new ProtocolError('bad-range', `206 Content-Range ${raw} stops short of the ${size} bytes`, ctx),
    };
  }

  /**
   * Streams the body into the `.part` through one reused buffer (`res.readInto`), one
   * write in flight: a download of any size allocates nothing per chunk. `limit` caps a 206.
   */
  private async stream(res: Response, part: PartFile, limit: number | undefined): Promise<void> {
    let got = 0;
    const buf = (this.buffer ??= Buffer.allocUnsafeSlow(COPY_BUFFER));
    for (let n = await res.readInto(buf); n > 0; n = await res.readInto(buf)) {
      if (limit !== undefined && got + n > limit) {
        throw new ProtocolError('bad-range', `206 body longer than its Content-Range (${limit} bytes)`, {
          method: 'GET',
          url: res.url,
        });
      }
      got += n;
      await part.append(buf.subarray(0, n));
      this.progress(part);
    }
  }

  /**
   * Classifies a failed request: fatal errors are thrown; what the retry policy retries
   * (connect failures, dial/TLS/pool timeouts, a connection closed before the response)
   * is retried, and so is any other timeout or protocol failure of the exchange — the
   * next request resumes from the `.part`; a bad range and anything else (a redirect
   * that cannot be followed, ...) move to the next mirror.
   */
  private failed(err: unknown, budget: Budget): Outcome {
    if (budget.failure !== undefined) throw budget.failure;
    if (!(err instanceof HourglassError) || err instanceof AbortError || FATAL_CODES.has(err.code)) throw err;
    if (err instanceof TimeoutError && err.phase === 'request' && this.remaining() <= 15) {
      throw new DeadlineOverrun(err);
    }
    if (err instanceof ProtocolError && err.reason === 'bad-range')
      return { kind: 'next-mirror', error: err };
    if (this.cfg.retry.retriesError(err) || err instanceof TimeoutError || err instanceof ProtocolError) {
      return { kind: 'retry', error: err };
    }
    return { kind: 'next-mirror', error: err };
  }

  private async restart(part: PartFile): Promise<void> {
    await part.reset();
    this.resumed = false;
  }

  private progress(part: PartFile): void {
    if (part.size <= this.reported) return;
    this.reported = part.size;
    this.host!.progress({ received: part.size, total: part.meta?.size });
  }

  /** Verifies, then fsync + rename; a mismatch deletes the `.part` and its sidecar. */
  private async finish(part: PartFile): Promise<DownloadResult> {
    const sha256 = await part.digest();
    if (this.cfg.sha256 !== undefined && sha256 !== this.cfg.sha256) {
      await part.discard();
      throw new HourglassError(`sha256 mismatch: expected ${this.cfg.sha256}, got ${sha256}`, 'HG_CHECKSUM', {
        method: 'GET',
        url: part.meta?.url,
      });
    }
    const bytes = part.size;
    this.progress(part);
    await part.commit(this.cfg.dest);
    return { path: this.cfg.dest, bytes, sha256, resumed: this.resumed, attempts: this.attempts };
  }
}

/**
 * A failed file operation (it carries a `syscall`) as an `HourglassError` with code
 * `HG_WRITE` and the system error as `cause`; every other error passes unchanged.
 */
function fileError(err: unknown, dest: string): unknown {
  if (err instanceof HourglassError || typeof (err as { syscall?: unknown } | null)?.syscall !== 'string')
    return err;
  const e = err as NodeJS.ErrnoException;
  return new HourglassError(`download to ${dest} failed: ${e.message}`, 'HG_WRITE', {
    method: 'GET',
    cause: err,
  });
}

/** Closes an unread or partly read body (its connection is closed, not reused). */
function abandon(res: Response): void {
  // dump(0, 0) closes whatever is left, whoever was reading; a body already settled is a no-op.
  res.dump(0, 0).catch(() => {});
}
