/**
 * deadline/budget — the overall budget of one request: deadline + signal + the layer
 * holding the request now.
 *
 * Owns: {@link Budget} (created by the client, passed down to the transport, pool,
 * dialer and connection; shared by every redirect, retry and the body), the holder
 * hand-over ({@link Budget.hold}, {@link Budget.race}), and {@link DeadlineView}, the
 * read-only face user code gets as `req.deadline`.
 * Never: arms a timer of its own (its deadline waits in the process-wide queue,
 * deadline/registry.ts) or knows which layer holds it beyond the {@link Cancelable} contract.
 * Invariants: `finish()` leaves no queued deadline or listener; a holder is cancelled at
 * most once; the phase and `requestSent` a timeout reports are the holder's.
 */

import { AbortError, type ActivePhase, type HourglassError, TimeoutError } from '../errors.js';
import { type DeadlineList, PENDING, type SignalWatch, watchSignal } from './registry.js';
import { type Cancelable, isDisabled, now } from './timer.js';

/**
 * The overall budget of one request: deadline + signal + current holder.
 * Shared by every redirect and retry of that request and by its body.
 */
export class Budget {
  /** Monotonic ms when the request started. */
  readonly startedAt: number;
  /** Epoch ms when the request started (for timings). */
  readonly startedEpoch: number;
  /** Monotonic ms of the deadline; Infinity when there is none. */
  readonly deadlineAt: number;
  /** The configured overall timeout in ms (Infinity when none). */
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
  /** Method and URL of the current attempt, for error messages. */
  method: string;
  url: string;
  /**
   * The phase set last by a layer that holds the request without a holder object (a
   * retry's backoff, the cookie jar, a download), or left by the last holder.
   */
  private phase: ActivePhase = 'start';
  /** `requestSent` as the last holder left it. */
  private sent = false;
  /** Set once the budget failed (timeout or abort). */
  failure: HourglassError | undefined;

  private holder: Cancelable | undefined;
  /** Rejects the outermost wait of the chain ({@link guard}), whoever holds the request. */
  private guardReject: ((err: unknown) => void) | undefined;
  /** @internal — links in the {@link DeadlineQueue} while the deadline is pending. */
  queued: DeadlineList | undefined;
  /** @internal */ prevQueued: Budget | undefined;
  /** @internal */ nextQueued: Budget | undefined;
  /** @internal — this pending deadline keeps the process alive (see {@link letProcessExit}). */
  keepsAlive = false;
  /**
   * @internal — the count of the call's requests on the wire (chain.ts's WireCount), set as
   * the chain hands a request to hourglass's own Transport: a request the transport puts on
   * the wire by itself (an HTTP/2 replay, SPEC §13) counts there too, so the next request's
   * `attempt` (and `http.request.resend_count`) follows it.
   */
  wireCount: { sent: number } | undefined = undefined;
  private watch: SignalWatch | undefined;
  private finished = false;

  constructor(timeout: number | undefined, signal: AbortSignal | undefined, method: string, url: string) {
    this.startedAt = now();
    this.startedEpoch = Date.now();
    this.method = method;
    this.url = url;
    this.signal = signal;
    this.timeout = isDisabled(timeout) ? Number.POSITIVE_INFINITY : (timeout as number);
    this.deadlineAt = this.startedAt + this.timeout;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.failure = new AbortError(signal.reason, { method, url });
      } else {
        this.watch = watchSignal(signal, this);
      }
    }
    if (this.timeout !== Number.POSITIVE_INFINITY && this.failure === undefined) PENDING.add(this);
  }

  /**
   * Name of the phase currently running, reported by an overall timeout: the holder's
   * (the pool's waiter: `pool`, or its dial's `dns`/`connect`/`tls`; the connection:
   * `write`, `response-headers`, `body`), else the phase set last.
   */
  get activePhase(): ActivePhase {
    return this.holder?.phase ?? this.phase;
  }

  /** Names the phase of a layer that holds the request without a holder object. */
  set activePhase(phase: ActivePhase) {
    this.phase = phase;
  }

  /** Whether any byte of the current attempt's request reached the socket (the holder's word). */
  get requestSent(): boolean {
    return this.holder?.requestSent ?? this.sent;
  }

  set requestSent(sent: boolean) {
    this.sent = sent;
  }

  /**
   * A new request of the call is being prepared (a redirect hop, a retry, bearerAuth's
   * replay): until a layer holds it, the budget reports phase `start` and nothing sent.
   * What the call waits for meanwhile (a redirect policy, a token, a network
   * interceptor) precedes that request, and `requestSent` describes the current request,
   * not an earlier one of the call.
   */
  nextRequest(): void {
    this.phase = 'start';
    this.sent = false;
  }

  /** A holder leaves: what it reported stays until the next one reports. */
  private keep(holder: Cancelable | undefined): void {
    if (holder === undefined) return;
    const p = holder.phase;
    if (p !== undefined) this.phase = p;
    const sent = holder.requestSent;
    if (sent !== undefined) this.sent = sent;
  }

  /** Epoch ms of the deadline (SPEC §12 `RequestDeadline`); undefined when there is none. */
  get expiresAt(): number | undefined {
    return this.timeout === Number.POSITIVE_INFINITY ? undefined : this.startedEpoch + this.timeout;
  }

  /**
   * Waits for `p` — the whole chain of a request, user interceptors included — and
   * rejects with the budget's failure when that comes first, whoever holds the request
   * (an interceptor that never settles is cut). A response `p` resolves with after that
   * is closed.
   */
  guard<T extends { dump(maxBytes?: number, maxMs?: number): Promise<unknown> }>(p: Promise<T>): Promise<T> {
    if (this.failure !== undefined) {
      // Failed before (a pre-aborted signal) or while the chain ran synchronously: `p`
      // still settles later and must neither reject unhandled nor hold a connection.
      p.then((v) => void v.dump(0, 0).catch(ignore), ignore);
      return Promise.reject(this.failure);
    }
    return new Promise<T>((resolve, reject) => {
      this.guardReject = reject;
      p.then(
        (v) => {
          this.guardReject = undefined;
          if (this.failure !== undefined) {
            void v.dump(0, 0);
            reject(this.failure);
          } else {
            resolve(v);
          }
        },
        (e: unknown) => {
          this.guardReject = undefined;
          reject(this.failure ?? e);
        },
      );
    });
  }

  /** Milliseconds left before the deadline (Infinity when none). */
  remaining(): number {
    return this.deadlineAt === Number.POSITIVE_INFINITY ? this.deadlineAt : this.deadlineAt - now();
  }

  /** The frozen, read-only face of this budget that user code gets as `req.deadline` (made once). */
  get view(): DeadlineView {
    return (this.viewOf ??= new DeadlineView(this));
  }
  private viewOf: DeadlineView | undefined;

  /** Makes `holder` the one to cancel; cancels it at once if the budget already failed. */
  hold(holder: Cancelable): void {
    if (this.holder !== holder) this.keep(this.holder);
    this.holder = holder;
    if (this.failure !== undefined) holder.cancel(this.failure);
  }

  /** Stops `holder` from being cancelled (only if it is still the holder). */
  release(holder: Cancelable): void {
    if (this.holder === holder) {
      this.keep(holder);
      this.holder = undefined;
      return;
    }
    // Held under a race: the holder it will hand back to is gone.
    for (let h = this.holder; h instanceof Race; h = h.prev) {
      if (h.prev === holder) h.prev = undefined;
    }
  }

  /**
   * Waits for `p` under this budget (a cookie jar, a hook — any await of the request that
   * is not the transport's): rejects with the budget's failure (overall timeout or abort)
   * if that comes first. The current holder stays in charge: it is cancelled too if the
   * budget fails meanwhile, and holds the budget again once `p` settles.
   */
  race<T>(p: PromiseLike<T>): Promise<T> {
    if (this.failure !== undefined) {
      p.then(undefined, ignore); // what it settles with later is nobody's: never unhandled
      return Promise.reject(this.failure);
    }
    if (this.finished) return Promise.resolve(p);
    return new Promise<T>((resolve, reject) => {
      const r = new Race(this.holder, reject);
      this.holder = r;
      p.then(
        (v) => {
          this.unrace(r);
          resolve(v);
        },
        (e: unknown) => {
          this.unrace(r);
          reject(e);
        },
      );
    });
  }

  private unrace(r: Race): void {
    if (this.holder === r) this.holder = r.prev;
  }

  /** Throws the failure if the budget already failed. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * A budget for a deadline known only as the ms left of it (a foreign
   * `RequestDeadline`'s `remaining()`): its timeout is `left`; one already past (`left`
   * 0 or less) fails at once, its `TimeoutError` reporting `timeout` 0 (what was left)
   * and `elapsed` from now — never a sentinel value.
   */
  static forRemaining(left: number, signal: AbortSignal | undefined, method: string, url: string): Budget {
    if (left > 0) return new Budget(left, signal, method, url);
    // 0 means "none" to the constructor: arm the smallest timeout, report it as 0.
    const b = new Budget(Number.MIN_VALUE, signal, method, url);
    b.spentAtStart = true;
    return b;
  }

  /** Made by {@link forRemaining} from a deadline already past: its timeout reads 0. */
  private spentAtStart = false;

  /** Builds the overall-timeout error as of now (also used when a wait would overrun). */
  timeoutError(cause?: unknown): TimeoutError {
    return new TimeoutError({
      phase: 'request',
      timeout: this.spentAtStart ? 0 : this.timeout,
      elapsed: now() - this.startedAt,
      requestSent: this.requestSent,
      activePhase: this.activePhase,
      method: this.method,
      url: this.url,
      cause,
    });
  }

  /** Fails the budget now with `err` (cancelling the holder), as an abort would. */
  abort(err: HourglassError): void {
    this.fail(err);
  }

  /**
   * The deadline still runs, but no longer keeps the process alive: the request is
   * parked on its caller (a body that arrived whole waits to be decoded; SPEC §11: an
   * unread small response never keeps the process alive).
   */
  letProcessExit(): void {
    if (this.queued !== undefined) PENDING.letGo(this);
  }

  /** Clears the timer and the signal listener. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.holder = undefined;
    if (this.queued !== undefined) PENDING.remove(this);
    const w = this.watch;
    if (w !== undefined) {
      this.watch = undefined;
      w.leave(this);
    }
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** @internal — the deadline passed (called by the queue, after unlinking). */
  expire(): void {
    if (this.finished) return;
    this.fail(this.timeoutError());
  }

  /** @internal — the signal fired (called by its {@link SignalWatch}). */
  signalAborted(signal: AbortSignal): void {
    this.watch = undefined;
    this.fail(new AbortError(signal.reason, { method: this.method, url: this.url }));
  }

  private fail(err: HourglassError): void {
    if (this.failure !== undefined || this.finished) return;
    this.failure = err;
    const holder = this.holder;
    this.keep(holder);
    this.holder = undefined;
    holder?.cancel(err);
    const g = this.guardReject;
    this.guardReject = undefined;
    g?.(err);
  }
}

/** A holder standing in while {@link Budget.race} waits; `prev` is the holder it hands back to. */
class Race implements Cancelable {
  constructor(
    public prev: Cancelable | undefined,
    private readonly reject: (err: unknown) => void,
  ) {}

  cancel(err: HourglassError): void {
    this.reject(err);
    const prev = this.prev;
    this.prev = undefined;
    prev?.cancel(err);
  }
}

let budgetOfView: (v: DeadlineView) => Budget;

/**
 * What user code gets as `OutgoingRequest.deadline` (SPEC §12 `RequestDeadline`): frozen
 * and read-only (`expiresAt`, `remaining()`); the budget behind it is reachable only by
 * {@link budgetOf}, so an interceptor can neither fail, extend nor re-label the call's
 * deadline.
 */
export class DeadlineView {
  /** Epoch ms when the overall timeout expires; `undefined`: none. */
  readonly expiresAt: number | undefined;
  readonly #budget: Budget;

  constructor(budget: Budget) {
    if (!(budget instanceof Budget)) throw new TypeError('DeadlineView: not a budget');
    this.#budget = budget;
    this.expiresAt = budget.expiresAt;
    Object.freeze(this);
  }

  /** Milliseconds left before the overall timeout (Infinity when there is none). */
  remaining(): number {
    return this.#budget.remaining();
  }

  static {
    budgetOfView = (v) => v.#budget;
  }
}
Object.freeze(DeadlineView.prototype);

/** The client's budget behind a request's `deadline` (the budget itself or its view), else undefined. */
export function budgetOf(d: unknown): Budget | undefined {
  if (d instanceof Budget) return d;
  if (d instanceof DeadlineView) return budgetOfView(d);
  return undefined;
}

function ignore(): void {}
