/**
 * download/shared — one running transfer and the callers attached to it (SPEC §8,
 * §11 "Download": concurrent calls for one `dest` share one transfer; each keeps its
 * own `timeout` and `signal`).
 *
 * Owns: the table of transfers by destination key (the real path of the destination's
 * directory + its file name, so a symlinked directory is the same destination), each
 * caller's deadline and signal (a {@link Budget} per caller, started when it called),
 * a caller leaving (its own `TimeoutError` phase `request` or `AbortError`) while the
 * transfer goes on for the others, aborting the transfer when the last caller leaves,
 * fanning progress and responses out to every caller, and mapping a transfer's
 * {@link DeadlineOverrun} onto each caller's own `TimeoutError`.
 *
 * Never does: HTTP, files (the transfer does), retries or timing of attempts.
 *
 * Invariants: a caller settles exactly once and its budget is finished when it does
 * (no timer or listener left behind); a transfer starts only with a caller attached
 * and its signal is aborted as soon as none is left; a new call for a destination
 * whose transfer is being aborted waits for that transfer to release the `.part`
 * before its own opens it; the table holds a destination only while its transfer runs.
 */

import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Budget } from '../deadline.js';
import { type ActivePhase, TimeoutError } from '../errors.js';
import type { Response } from '../response.js';
import type { DownloadResponseInfo } from './options.js';

/** What a running transfer reports for the `TimeoutError` of a caller that leaves. */
export interface TransferState {
  /** `download` or `retry-backoff`. */
  activePhase: ActivePhase;
  /** Whether the current attempt's request reached the socket. */
  requestSent: boolean;
  /** URL of the current attempt. */
  url: string;
  /** The last attempt's error (the `cause` of a caller's timeout). */
  lastError: Error | undefined;
}

/** What a transfer sees of its callers. */
export interface TransferHost {
  /** Aborted when the last caller has left. */
  readonly signal: AbortSignal;
  /** Milliseconds until the latest caller deadline (Infinity when a caller has none). */
  remaining(): number;
  /** Reports progress to every caller. */
  progress(p: { received: number; total: number | undefined }): void;
  /** Tells every caller about a response head. */
  response(res: Response, info: DownloadResponseInfo): void;
}

/**
 * Thrown by a transfer whose next wait would overrun every caller's deadline: each
 * caller turns it into its own `TimeoutError` phase `request` with `last` as cause.
 */
export class DeadlineOverrun extends Error {
  constructor(readonly last: unknown) {
    super('download deadline overrun');
  }
}

/** The per-call part of `download()`'s options. */
export interface CallerInit {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  onProgress: ((p: { received: number; total: number | undefined }) => void) | undefined;
  onResponse: ((res: Response, info: DownloadResponseInfo) => void) | undefined;
  /** The caller's own resolved `dest`, reported as `path`. */
  path: string;
  url: string;
}

/** A transfer as the table runs it. */
export interface Runnable<T> {
  readonly state: TransferState;
  run(host: TransferHost): Promise<T>;
}

/**
 * Starts the caller's clock now, then joins the transfer running for `dest` (same
 * real directory and name) or starts `make()`'s. Resolves with the transfer's result,
 * `path` set to the caller's own.
 */
export function attach<T extends { path: string }>(
  dest: string,
  init: CallerInit,
  make: () => Runnable<T>,
): Promise<T> {
  const budget = new Budget(init.timeout, init.signal, 'GET', init.url);
  budget.activePhase = 'download';
  if (budget.failure !== undefined) {
    budget.finish();
    return Promise.reject(budget.failure);
  }
  return destKey(dest).then(
    (key) => {
      let shared = table.get(key);
      if (shared === undefined || shared.closing) {
        let transfer: Runnable<T>;
        try {
          transfer = make();
        } catch (err) {
          budget.finish();
          throw err;
        }
        shared = new Shared<T>(key, transfer, shared?.done);
        table.set(key, shared);
      }
      return (shared as Shared<T>).join(budget, init);
    },
    (err: unknown) => {
      budget.finish();
      throw err;
    },
  );
}

// Private implementation past this point.

/** The real path of `dest`'s directory joined with its name; `dest` as given when that fails. */
async function destKey(dest: string): Promise<string> {
  try {
    return join(await realpath(dirname(dest)), basename(dest));
  } catch {
    return dest;
  }
}

interface Caller<T> {
  budget: Budget;
  init: CallerInit;
  resolve(v: T): void;
  reject(err: unknown): void;
}

/** Running transfers by destination key. */
const table = new Map<string, Shared<{ path: string }>>();

class Shared<T extends { path: string }> implements TransferHost {
  readonly done: Promise<T>;
  /** Set once no caller is left or the transfer settled: a new call starts a new transfer. */
  closing = false;
  private readonly callers = new Set<Caller<T>>();
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  constructor(
    private readonly key: string,
    private readonly transfer: Runnable<T>,
    previous: Promise<unknown> | undefined,
  ) {
    // A transfer being aborted still holds the .part: let it go first.
    const start = previous === undefined ? Promise.resolve() : previous.then(noop, noop);
    this.done = start.then(() => transfer.run(this));
    this.done.then(
      (res) => this.settle(undefined, res),
      (err: unknown) => this.settle(err, undefined),
    );
  }

  join(budget: Budget, init: CallerInit): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const caller: Caller<T> = { budget, init, resolve, reject };
      this.callers.add(caller);
      budget.hold({ cancel: (err) => this.leave(caller, err) });
    });
  }

  remaining(): number {
    let latest = Number.NEGATIVE_INFINITY;
    for (const c of this.callers) latest = Math.max(latest, c.budget.remaining());
    return latest;
  }

  progress(p: { received: number; total: number | undefined }): void {
    for (const c of this.callers) {
      try {
        c.init.onProgress?.(p);
      } catch (err) {
        // A throwing callback fails its own caller, not the others.
        this.leave(c, err, true);
      }
    }
  }

  response(res: Response, info: DownloadResponseInfo): void {
    for (const c of this.callers) {
      if (c.init.onResponse === undefined) continue;
      try {
        c.init.onResponse(res, info);
      } catch (err) {
        this.leave(c, err, true);
      }
    }
  }

  /**
   * A caller's deadline or signal fired (or its callback threw: `ownError`): it alone
   * rejects. A caller whose own callback threw, when it was the last one, rejects once
   * the aborted transfer has let go of its `.part` (so the caller may remove or reuse
   * the directory at once), within what is left of its deadline and never more than
   * {@link RELEASE_WAIT} ms; a deadline or an abort rejects at once.
   */
  private leave(caller: Caller<T>, err: unknown, ownError = false): void {
    if (!this.callers.delete(caller)) return;
    const wait = ownError ? Math.min(RELEASE_WAIT, caller.budget.remaining()) : 0;
    caller.budget.finish();
    const reason = err instanceof TimeoutError ? this.timeoutFor(caller, this.transfer.state.lastError) : err;
    const last = this.callers.size === 0 && !this.closing;
    if (last) {
      this.closing = true;
      this.controller.abort(err);
    }
    if (!last || !(wait > 0)) {
      caller.reject(reason);
      return;
    }
    const timer = setTimeout(() => caller.reject(reason), wait);
    this.done.then(noop, noop).then(() => {
      clearTimeout(timer);
      caller.reject(reason);
    });
  }

  private settle(err: unknown, res: T | undefined): void {
    this.closing = true;
    if (table.get(this.key) === (this as unknown)) table.delete(this.key);
    for (const c of this.callers) {
      c.budget.finish();
      if (err === undefined) c.resolve({ ...res!, path: c.init.path });
      else c.reject(err instanceof DeadlineOverrun ? this.timeoutFor(c, err.last) : err);
    }
    this.callers.clear();
  }

  /** The caller's own overall timeout, describing what the transfer was doing. */
  private timeoutFor(caller: Caller<T>, cause: unknown): TimeoutError {
    const b = caller.budget;
    const s = this.transfer.state;
    b.activePhase = s.activePhase;
    b.requestSent = s.requestSent;
    b.url = s.url;
    return b.timeoutError(cause);
  }
}

function noop(): void {}

/** The most a caller whose callback threw waits for the aborted transfer to release its `.part` (ms). */
const RELEASE_WAIT = 1000;
