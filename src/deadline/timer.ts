/**
 * deadline/timer — the one way hourglass arms a timer, and how a phase that runs out
 * before the request is sent is reported.
 *
 * Owns: monotonic time ({@link now}), {@link LongTimer} (any delay up to
 * `Number.MAX_SAFE_INTEGER` ms, reached in steps of Node's 2^31−1 ms), the
 * {@link Cancelable} holder contract, {@link failPhaseAfter} / {@link phaseTimeoutError}
 * for the dialer, TLS, proxy and pool, and {@link sleep} under a budget.
 * Never: knows what a request, a connection or a redirect is.
 * Invariant: a timer fires once, never early by its own clock; a cancelled one never fires.
 */

import { type ActivePhase, type HourglassError, redactUrl, TimeoutError, type TimeoutPhase } from '../errors.js';
import type { Budget } from './budget.js';

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
