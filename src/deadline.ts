/**
 * deadline — owns time. Three mechanisms, used everywhere else:
 *
 * - {@link Budget}: one per request, created by the client and passed down to the
 *   transport, pool, dialer and connection. It holds the overall deadline and the
 *   caller's AbortSignal, and knows which component currently holds the request
 *   (its {@link Cancelable} "holder"). When the deadline passes or the signal fires,
 *   the holder is cancelled with a `TimeoutError` phase `request` or an `AbortError`.
 *   A budget with neither timeout nor signal arms nothing. The phase it reports is its
 *   holder's (the pool's waiter: `pool` or its dial's `dns`/`connect`/`tls`; the
 *   connection: `write`/`response-headers`/`body`); a layer holding the request without
 *   a holder object (retry backoff, cookie jar, download) names its own.
 *
 * - {@link PhaseClock}: several named due-times sharing one timer. Arming or
 *   refreshing a due-time only writes a number; the timer is re-scheduled lazily when
 *   it fires early or when a due-time moves earlier than the armed one. This is how a
 *   connection runs its write, write-idle, header, read-idle and throughput clocks
 *   without a `setTimeout` per request or per chunk.
 *
 * Budget deadlines share one timer ({@link DeadlineQueue}): a request costs no timer call.
 * Budgets sharing an AbortSignal share one 'abort' listener ({@link SignalWatch}): a
 * thousand requests on one signal leave one listener, and none once they finish.
 *
 * - {@link LongTimer}: the one way hourglass arms a timer. Any delay up to
 *   `Number.MAX_SAFE_INTEGER` ms means what it says (SPEC §11): Node clamps a
 *   `setTimeout` above 2^31−1 ms to 1 ms (with a TimeoutOverflowWarning), so a longer
 *   wait is reached in steps of at most 2^31−1 ms. The queue, the phase clock, `sleep`
 *   and every one-shot timer of the dialer, TLS, proxy and pool use it; those that fail
 *   a phase before the request is sent (dialer, TLS, proxy CONNECT, pool wait) are armed
 *   with {@link failPhaseAfter}, which builds their `TimeoutError` in one way.
 *
 * Invariants: a Budget's deadline is queued only while its request is in flight (a
 * pending request keeps the process alive; a finished one leaves nothing ref'd); a
 * PhaseClock's timer is unref'd and disposed with its connection; `Budget.finish()`
 * leaves no queued deadline or listener; a holder is cancelled at most once.
 */

import { AbortError, type ActivePhase, type HourglassError, redactUrl, TimeoutError, type TimeoutPhase } from './errors.js';

/** Longest delay Node's timers take (2^31 - 1 ms); a later due-time is reached in steps. */
const MAX_DELAY = 2_147_483_647;

/** Monotonic milliseconds. */
export const now: () => number = performance.now.bind(performance);

/**
 * Something that can be told to stop waiting and fail with an error: the layer holding a
 * request ({@link Budget.hold}). The holder reports the request's phase and whether any
 * of it was sent while it holds it — no other layer writes them (SPEC §12 item 3).
 */
export interface Cancelable {
  cancel(err: HourglassError): void;
  /** The request's phase while this holder has it (undefined: the budget's own). */
  readonly phase?: ActivePhase | undefined;
  /** Whether any byte of the current attempt's request reached the socket. */
  readonly requestSent?: boolean | undefined;
}

/** True when a timeout value means "no limit". */
export function isDisabled(ms: number | undefined): boolean {
  return ms === undefined || ms === 0 || ms === Number.POSITIVE_INFINITY;
}

/** Something whose current phase name a {@link Budget} may report (a shared dial's budget). */
export interface PhaseSource {
  readonly activePhase?: ActivePhase;
}

/**
 * A one-shot timer for any delay up to `Number.MAX_SAFE_INTEGER` ms (Infinity: never).
 * A delay beyond Node's 2^31−1 ms is reached in steps; `fn` runs once, when due. Ref'd
 * like `setTimeout` unless `unref()`'d; re-arming replaces the pending due time. One
 * object per owner (connection, dial, waiter), re-armed as often as needed.
 */
export class LongTimer {
  private timer: NodeJS.Timeout | undefined;
  /** Monotonic ms the timer is due (Infinity when not armed). */
  private at = Number.POSITIVE_INFINITY;
  /** The armed step ends at `at` (the last step): fire without re-reading the clock. */
  private last = false;
  private refd = true;
  private readonly onStep = (): void => this.step();

  constructor(private readonly fn: () => void) {}

  /** Arms the timer `ms` from now (Infinity: disarms). */
  start(ms: number): this {
    return this.startAt(ms === Number.POSITIVE_INFINITY ? ms : now() + ms);
  }

  /** Arms the timer for monotonic time `at` (Infinity: disarms). */
  startAt(at: number): this {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = at;
    if (at !== Number.POSITIVE_INFINITY) this.schedule();
    return this;
  }

  /** Disarms the timer. Idempotent. */
  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Number.POSITIVE_INFINITY;
  }

  /** Whether the timer is armed. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Monotonic ms the timer is due (Infinity when not armed). */
  get dueAt(): number {
    return this.at;
  }

  /** Keeps the process alive while armed (the default, as `setTimeout`). */
  ref(): this {
    this.refd = true;
    this.timer?.ref();
    return this;
  }

  /** Does not keep the process alive. */
  unref(): this {
    this.refd = false;
    this.timer?.unref();
    return this;
  }

  private schedule(): void {
    const delay = Math.max(0, Math.ceil(this.at - now()));
    this.last = delay <= MAX_DELAY;
    this.timer = setTimeout(this.onStep, this.last ? delay : MAX_DELAY);
    if (!this.refd) this.timer.unref();
  }

  private step(): void {
    this.timer = undefined;
    if (!this.last) {
      this.schedule();
      return;
    }
    this.at = Number.POSITIVE_INFINITY;
    this.fn();
  }
}

/** How a phase that ran out before the request was sent is reported ({@link failPhaseAfter}). */
export interface PhaseExpiry {
  phase: TimeoutPhase;
  /** The configured limit (ms), reported as `timeout`. */
  timeout: number;
  /** What was being waited for, for the message ("handshake with h:443 (…)"); default: the standard message. */
  what?: string | undefined;
  cause?: Error | undefined;
  method?: string | undefined;
  url?: string | undefined;
}

/**
 * The `TimeoutError` of a phase that ran out `elapsed` ms after it began, before any
 * request byte was sent: "<phase> timeout: N ms elapsed, limit L ms, <what> (request not
 * sent) for METHOD URL".
 */
export function phaseTimeoutError(e: PhaseExpiry, elapsed: number): TimeoutError {
  const info = { phase: e.phase, timeout: e.timeout, elapsed, requestSent: false, cause: e.cause, method: e.method, url: e.url };
  if (e.what === undefined) return new TimeoutError(info);
  const target = e.url === undefined ? '' : ` for ${e.method ?? 'GET'} ${redactUrl(e.url)}`;
  return new TimeoutError(
    info,
    `${e.phase} timeout: ${Math.round(elapsed)} ms elapsed, limit ${e.timeout} ms, ${e.what} (request not sent)${target}`,
  );
}

/** What waits in a phase that a timer may fail: a dial, a handshake, a CONNECT, a pool waiter. */
export interface PhaseOwner extends Cancelable {
  /** How to report the phase running out now; `undefined` when it already ended. */
  phaseExpiry(): PhaseExpiry | undefined;
}

/**
 * A timer that fails a phase: `ms` from now (0, undefined or Infinity: none, and
 * `undefined` is returned) it asks `owner.phaseExpiry()` how to report the phase and
 * cancels the owner with {@link phaseTimeoutError}, the elapsed time counted from
 * `since` (monotonic ms, default now). Any `ms` up to `Number.MAX_SAFE_INTEGER` means
 * what it says ({@link LongTimer}). One closure per timer, as a bare `LongTimer`.
 */
export function failPhaseAfter(ms: number | undefined, owner: PhaseOwner, since: number = now()): LongTimer | undefined {
  if (isDisabled(ms)) return undefined;
  return new LongTimer(() => {
    const e = owner.phaseExpiry();
    if (e !== undefined) owner.cancel(phaseTimeoutError(e, now() - since));
  }).start(ms!);
}

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
        let w = WATCHES.get(signal);
        if (w === undefined) {
          w = new SignalWatch(signal);
          WATCHES.set(signal, w);
          signal.addEventListener('abort', w);
        }
        w.budgets.add(this);
        this.watch = w;
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

/**
 * The one 'abort' listener of a signal, shared by every unfinished budget on it (a
 * listener object: no closure per request). It is removed when the last budget leaves.
 */
class SignalWatch {
  readonly budgets = new Set<Budget>();
  constructor(private readonly signal: AbortSignal) {}

  handleEvent(): void {
    const signal = this.signal;
    signal.removeEventListener('abort', this);
    WATCHES.delete(signal);
    const all = [...this.budgets];
    this.budgets.clear();
    for (const b of all) b.signalAborted(signal);
  }

  leave(b: Budget): void {
    this.budgets.delete(b);
    if (this.budgets.size === 0) {
      this.signal.removeEventListener('abort', this);
      WATCHES.delete(this.signal);
    }
  }
}

const WATCHES = new WeakMap<AbortSignal, SignalWatch>();

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

/** Budgets of one timeout length, oldest (earliest deadline) first. */
interface DeadlineList {
  head: Budget | undefined;
  tail: Budget | undefined;
}

/**
 * Every pending budget deadline, behind one shared timer. Budgets of the same timeout
 * length arrive in deadline order, so one FIFO list per length is sorted and its head is
 * its earliest; the timer is armed for the earliest head. A budget that finishes is only
 * unlinked — the timer stays armed, fires at its old time, finds nothing due and re-arms
 * for the earliest head left — so a request costs no timer call, and with one timeout
 * length the timer is re-armed about once per timeout period. The timer is ref'd while
 * any budget is pending (an in-flight request keeps the process alive) and unref'd when
 * none is — a budget parked on its caller ({@link Budget.letProcessExit}) does not count. Expiry is never early: a budget is due when now() has reached its deadline.
 */
class DeadlineQueue {
  private readonly lists = new Map<number, DeadlineList>();
  private readonly timer = new LongTimer(() => this.fire()).unref();
  private armedAt = Number.POSITIVE_INFINITY;
  private pending = 0;

  add(b: Budget): void {
    let list = this.lists.get(b.timeout);
    if (list === undefined) {
      list = { head: undefined, tail: undefined };
      this.lists.set(b.timeout, list);
    }
    b.queued = list;
    b.prevQueued = list.tail;
    b.nextQueued = undefined;
    if (list.tail === undefined) list.head = b;
    else list.tail.nextQueued = b;
    list.tail = b;
    b.keepsAlive = true;
    if (this.pending++ === 0) this.timer.ref();
    if (b.deadlineAt < this.armedAt) this.arm(b.deadlineAt);
  }

  remove(b: Budget): void {
    const list = b.queued;
    if (list === undefined) return;
    if (b.prevQueued === undefined) list.head = b.nextQueued;
    else b.prevQueued.nextQueued = b.nextQueued;
    if (b.nextQueued === undefined) list.tail = b.prevQueued;
    else b.nextQueued.prevQueued = b.prevQueued;
    b.queued = b.prevQueued = b.nextQueued = undefined;
    // Lists of lengths no longer in use go, once there are many (computed timeouts).
    if (list.head === undefined && this.lists.size > 16) this.lists.delete(b.timeout);
    this.letGo(b);
  }

  /** `b`'s deadline stays queued but stops holding the timer ref'd. */
  letGo(b: Budget): void {
    if (!b.keepsAlive) return;
    b.keepsAlive = false;
    if (--this.pending === 0) this.timer.unref();
  }

  private arm(at: number): void {
    this.armedAt = at;
    this.timer.startAt(at);
  }

  private fire(): void {
    this.armedAt = Number.POSITIVE_INFINITY;
    const t = now();
    // Expire what is due in deadline order across lengths (a late timer may find several
    // due at once). Expiring a budget may finish or add others: re-read the heads each time.
    for (;;) {
      let first: Budget | undefined;
      for (const list of this.lists.values()) {
        const b = list.head;
        if (b !== undefined && b.deadlineAt <= t && (first === undefined || b.deadlineAt < first.deadlineAt)) first = b;
      }
      if (first === undefined) break;
      this.remove(first);
      first.expire();
    }
    let next = Number.POSITIVE_INFINITY;
    for (const list of this.lists.values()) {
      const b = list.head;
      if (b !== undefined && b.deadlineAt < next) next = b.deadlineAt;
    }
    if (next < this.armedAt) this.arm(next);
  }
}

/** The one queue of every pending budget deadline in the process. */
const PENDING = new DeadlineQueue();

/**
 * Several due-times (slots) sharing one lazily re-armed timer. `onExpire(slot)` is
 * called for the earliest expired slot; that slot is cleared before the call.
 *
 * Setting, clearing or moving a due-time later only writes a number; the timer is
 * re-armed only when a due-time moves *earlier* than the armed one, and otherwise fires
 * at its old time, finds nothing due and re-arms for what is left. So a keep-alive
 * connection serving request after request with the same timeouts re-arms about once
 * per timeout period, not per request or per chunk. The timer is unref'd: its owner (a
 * connection) holds a ref'd socket while a request is in flight, and nothing when idle.
 */
export class PhaseClock {
  private readonly due: number[];
  /** Its own timer; undefined when it runs on a {@link SharedTimer}. */
  private readonly timer: LongTimer | undefined;
  /** Monotonic ms at which the armed timer fires (Infinity when none). */
  armedFor = Number.POSITIVE_INFINITY;

  /** `shared`: arm that timer instead of one of its own (see {@link SharedTimer}). */
  constructor(
    slots: number,
    private readonly onExpire: (slot: number) => void,
    private readonly shared?: SharedTimer,
  ) {
    this.due = new Array<number>(slots).fill(Number.POSITIVE_INFINITY);
    this.timer = shared === undefined ? new LongTimer(() => this.fire()).unref() : undefined;
  }

  /** Sets slot's due time to `at` (monotonic ms); Infinity clears it. */
  set(slot: number, at: number): void {
    this.due[slot] = at;
    if (at < this.armedFor) this.arm(at);
  }

  /** Sets slot to expire `ms` from now, unless `ms` disables it. */
  after(slot: number, ms: number | undefined, from?: number): void {
    if (isDisabled(ms)) this.due[slot] = Number.POSITIVE_INFINITY;
    else this.set(slot, (from ?? now()) + (ms as number));
  }

  /** Clears one slot (lazily: the timer, if armed, finds nothing due). */
  unset(slot: number): void {
    this.due[slot] = Number.POSITIVE_INFINITY;
  }

  /** Clears every slot (lazily, as `unset`). */
  clear(): void {
    this.due.fill(Number.POSITIVE_INFINITY);
  }

  /** Clears every slot and the timer itself (the owner is going away). */
  dispose(): void {
    this.clear();
    if (this.shared !== undefined) this.shared.drop(this);
    else this.timer!.cancel();
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** Due time of a slot (Infinity when unset). */
  dueAt(slot: number): number {
    return this.due[slot]!;
  }

  private arm(at: number): void {
    this.armedFor = at;
    if (this.shared !== undefined) this.shared.want(this, at);
    else this.timer!.startAt(at);
  }

  /** The armed time came (its own timer, or the {@link SharedTimer} it runs on). */
  fire(): void {
    this.armedFor = Number.POSITIVE_INFINITY;
    const t = now();
    let expired = -1;
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.due.length; i++) {
      const d = this.due[i]!;
      // setTimeout may fire up to ~1 ms early relative to performance.now().
      if (d <= t + 1 && (expired === -1 || d < this.due[expired]!)) expired = i;
    }
    if (expired !== -1) this.due[expired] = Number.POSITIVE_INFINITY;
    // Re-arm for the rest before calling out: the callback may set or clear slots.
    for (const d of this.due) if (d < next) next = d;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    if (expired !== -1) this.onExpire(expired);
  }
}

/**
 * One lazily re-armed, unref'd timer for many short-lived {@link PhaseClock}s (the streams
 * of one HTTP/2 connection: a stream's clock would otherwise arm a `setTimeout` of its own
 * per request, issue #16). A clock on it arms nothing itself: it asks for a time, and the
 * timer is re-armed only when that time is earlier than the armed one. When it fires, every
 * clock whose time has come runs ({@link PhaseClock.fire}); the others ask again. So
 * streams that come and go with the same timeouts re-arm it about once per timeout period.
 *
 * Invariant: it holds exactly the clocks that asked and were not disposed since. With none
 * left it stays armed until its time, when it finds nothing to run and stops (lazily, as a
 * {@link PhaseClock}'s unset): a connection serving one request at a time re-armed a
 * `setTimeout` per request when the last clock's going disarmed it. Unref'd, it never holds
 * the process.
 */
export class SharedTimer {
  private readonly clocks = new Set<PhaseClock>();
  private readonly timer = new LongTimer(() => this.fire()).unref();
  private armedFor = Number.POSITIVE_INFINITY;

  /** `clock` wants to run at `at` (monotonic ms). */
  want(clock: PhaseClock, at: number): void {
    this.clocks.add(clock);
    if (at < this.armedFor) {
      this.armedFor = at;
      this.timer.startAt(at);
    }
  }

  /** `clock` is going away (the timer stays armed, see the invariant). */
  drop(clock: PhaseClock): void {
    this.clocks.delete(clock);
  }

  /** Its owner is gone (a closed connection): a timer no clock needs is disarmed now, not at its time. */
  release(): void {
    if (this.clocks.size > 0) return;
    this.timer.cancel();
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.armedFor = Number.POSITIVE_INFINITY;
    const t = now();
    // A clock run here may dispose itself or others, or start new ones: iterate a copy.
    for (const clock of [...this.clocks]) {
      if (!this.clocks.has(clock)) continue;
      // Only a clock whose time has come (never early: a clock due a moment later runs at
      // its own time, adv8 F1); its slots keep PhaseClock's own tolerance.
      if (clock.armedFor <= t) clock.fire();
      else if (clock.armedFor !== Number.POSITIVE_INFINITY) this.want(clock, clock.armedFor);
      else this.clocks.delete(clock);
    }
  }
}

/**
 * Sleeps `ms` (any duration up to `Number.MAX_SAFE_INTEGER`; Infinity: until the budget
 * fails), failing early if the budget fails.
 */
export function sleep(ms: number, budget: Budget | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = new LongTimer(() => {
      budget?.release(holder);
      resolve();
    });
    const holder: Cancelable = {
      cancel(err) {
        timer.cancel();
        reject(err);
      },
    };
    timer.start(ms);
    budget?.hold(holder);
  });
}

function ignore(): void {}

/**
 * The timer slots of one exchange (an HTTP/1.1 request on its connection, an HTTP/2
 * stream) on its {@link PhaseClock}, and the phase each one's TimeoutError names
 * (CONTINUE is not an error: it sends the body). One table for both connection types.
 */
export const EXCHANGE_SLOT = { WRITE: 0, HEADERS: 1, READ_IDLE: 2, RATE: 3, CONTINUE: 4, WRITE_IDLE: 5 } as const;
export const EXCHANGE_SLOTS = 6;
export const EXCHANGE_SLOT_PHASE: readonly TimeoutPhase[] = ['write', 'response-headers', 'read-idle', 'min-throughput', 'write', 'write-idle'];
