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
 * Files: deadline/timer.ts (now, LongTimer, failPhaseAfter, sleep), deadline/budget.ts
 * (Budget, DeadlineView), deadline/registry.ts (the shared deadline queue and signal
 * listeners), deadline/phase-clock.ts (PhaseClock, SharedTimer, exchange slots).
 *
 * Invariants: a Budget's deadline is queued only while its request is in flight (a
 * pending request keeps the process alive; a finished one leaves nothing ref'd); a
 * PhaseClock's timer is unref'd and disposed with its connection; `Budget.finish()`
 * leaves no queued deadline or listener; a holder is cancelled at most once.
 */

export { Budget, budgetOf, DeadlineView } from './deadline/budget.js';
export { EXCHANGE_SLOT, EXCHANGE_SLOT_PHASE, EXCHANGE_SLOTS, PhaseClock, SharedTimer } from './deadline/phase-clock.js';
export {
  type Cancelable,
  failPhaseAfter,
  isDisabled,
  LongTimer,
  now,
  type PhaseExpiry,
  type PhaseOwner,
  type PhaseSource,
  phaseTimeoutError,
  sleep,
} from './deadline/timer.js';
