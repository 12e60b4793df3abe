/**
 * mock-wait — the waits of {@link MockTransport} (SPEC §12): one {@link Wait} per pause of
 * a mocked request (reading its body, a `delay`, a `stall`, an async reply function), and
 * the timeouts that bound it, each as the real transport would fire it.
 *
 * Never does: route lookup or building responses (mock-transport.ts).
 *
 * Invariants: a wait ends by the earliest of its own end, the request's deadline
 * (phase `request`), its signal (`AbortError`), the response-header timeout, the
 * read-idle timeout (silence before the head is read-idle too) and — while the request
 * body is read — the write timeout (phase `write`); when it ends its timer, abort
 * listener and hold on the budget are gone.
 */

import { type Budget, budgetOf, type Cancelable, LongTimer, now } from '../deadline.js';
import { AbortError, type ActivePhase, type HourglassError, TimeoutError } from '../errors.js';
import type { SourceIdle } from '../body-source.js';
import type { OutgoingRequest, RequestDeadline } from '../round-tripper.js';

/** What bounds one {@link Wait} and how it settles. */
export interface WaitSpec {
  /** Monotonic ms the wait's clocks count from. */
  from: number;
  /** How long the wait itself lasts (Infinity: until something else ends it). */
  ms: number;
  /** The response-header timeout (0: none; -1 while the request body is read: no header clock yet). */
  headerTimeout: number;
  /** The read-idle timeout (0: none); silence before the head counts too. */
  idleTimeout: number;
  /** While the request body is read: the write timeout (0: none). */
  writeTimeout: number;
  resolve: (v: never) => void;
  reject: (err: unknown) => void;
}

/**
 * One pending wait of the mock: a timer, an abort listener, and how it ends. Under a
 * client's deadline (a {@link Budget}) it holds the budget as the real connection does,
 * reporting its phase (`write` while it reads the request body, then `response-headers`)
 * and `requestSent`, and the budget's failure cancels it.
 */
export class Wait implements Cancelable {
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

  private readonly from: number;
  private readonly headerTimeout: number;
  private readonly idleTimeout: number;
  private readonly writeTimeout: number;
  private readonly resolve: (v: never) => void;
  private readonly reject: (err: unknown) => void;

  constructor(
    private readonly pending: Set<Wait>,
    private readonly req: OutgoingRequest,
    spec: WaitSpec,
  ) {
    const { from, ms, headerTimeout, idleTimeout, writeTimeout } = spec;
    this.from = from;
    this.headerTimeout = headerTimeout;
    this.idleTimeout = idleTimeout;
    this.writeTimeout = writeTimeout;
    this.resolve = spec.resolve;
    this.reject = spec.reject;
    this.timer = new LongTimer(() => this.due());
    this.endAt = from + ms;
    // headerTimeout: -1 while the request body is read (no header clock yet), 0 for none.
    this.headerAt = headerTimeout > 0 ? from + headerTimeout : Number.POSITIVE_INFINITY;
    // No byte of the head arrives while the mock waits: read-idle counts from `from`.
    this.idleAt = idleTimeout > 0 ? from + idleTimeout : Number.POSITIVE_INFINITY;
    this.writeAt = writeTimeout > 0 ? from + writeTimeout : Number.POSITIVE_INFINITY;
    const d = req.deadline;
    this.budget = budgetOf(d);
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
    const d: RequestDeadline = this.req.deadline;
    const own = budgetOf(d)?.timeoutError();
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
export function readIdleOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.readIdleTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}

/** The real connection's read-idle error: `elapsed` is the timeout (the silence it saw). */
function readIdleError(req: OutgoingRequest, timeout: number): TimeoutError {
  return new TimeoutError({ phase: 'read-idle', timeout, elapsed: timeout, requestSent: true, method: req.method, url: req.url });
}

/** The read-idle guard of a reply's stream body. */
export function readIdleGuard(req: OutgoingRequest, timeout: number): SourceIdle {
  return { timeout, error: () => readIdleError(req, timeout) };
}

/** The request's write timeout: its own, else the mock's (0: none). */
export function writeTimeoutOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.writeTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}

/** The request's response-header timeout: its own, else the mock's (0: none). */
export function headerTimeoutOf(req: OutgoingRequest, fallback: number): number {
  const ms = req.timeouts?.responseHeaderTimeout ?? fallback;
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}
