/**
 * dialer — turns `host:port` into one connected TCP socket (SPEC §3 `dialer.timeout`,
 * §6 `dialer`, §11 "Transport"). Modelled on Go's `net.Dialer` (src/net/dial.go).
 *
 * Owns: DNS resolution (skipped for IP literals), the RFC 8305 race between addresses,
 * the dial budget, `maxConcurrentDials` queueing, and the dns/connect trace hooks.
 * A Unix socket path (`DialRequest.path`, see unix.ts) is dialed as one attempt under
 * the same budget, timeout and abort.
 * Never does: TLS (see `tls.ts`), pooling, or anything HTTP. Its caller is the transport.
 *
 * Invariants:
 * - One budget (`timeout`) covers the slot wait, DNS and every attempt; it is never
 *   reset per attempt and a slow attempt is never aborted because a later one started:
 *   attempts race until one connects, all fail, or the budget ends (PF-04).
 * - A new attempt starts `fallbackDelay` after the previous one started, or at once
 *   when an attempt fails. The first socket to connect wins; every other is destroyed.
 * - Every `connectStart` gets exactly one `connectDone`. When `dial()` settles, no timer,
 *   no attempt socket and no dial slot of that dial is left.
 * - With a `budget`, the dial holds it while running: an overall timeout or an abort
 *   cancels the dial at once with the budget's error.
 */

import * as dns from 'node:dns';
import * as net from 'node:net';
import { type Budget, failPhaseAfter, isDisabled, LongTimer, now, type PhaseExpiry, type PhaseOwner } from '../deadline.js';
import {
  ConnectError,
  type DialAttempt,
  type HourglassError,
  invalidArg,
  redactUrl,
} from '../errors.js';
import { checkCount, checkDuration, checkOptionsObject, DEFAULTS, describeValue, DIALER_NAMES } from '../options.js';
import { emit, type TraceHooks } from '../trace.js';
import { hostPort as authority, unbracket } from '../host.js';
import { connectPath, PATH_FAMILY, PATH_PORT, pathName } from './unix.js';

/**
 * Longest TCP keep-alive probe delay the kernel takes (Linux: 32 767 s); a longer one
 * would be refused silently, leaving the system default (2 h) in force.
 */
const MAX_KEEPALIVE_DELAY = 32_767_000;

/** Options of a {@link Dialer}. Durations are milliseconds. */
export interface DialerOptions {
  /** Total budget for the slot wait, DNS and all attempts. Default 30 000; 0 or Infinity: none. */
  timeout?: number;
  /** TCP keep-alive initial delay. Default 15 000; 0 or Infinity disables keep-alive probes. */
  keepAlive?: number;
  /** RFC 8305 spacing between attempts. Default 300; 0 starts all at once; Infinity: next only on failure. */
  fallbackDelay?: number;
  /** Resolver with the signature of `dns.lookup`, called with `{ all: true }`. */
  lookup?: net.LookupFunction;
  /** Local address to bind; only addresses of its family are dialed. */
  localAddress?: string;
  /** Most dials of this Dialer running at once (0 = unlimited); excess dials wait FIFO. */
  maxConcurrentDials?: number;
}

/** The resolved options of a {@link Dialer} (every field set but `localAddress`). */
export type ResolvedDialerOptions = Readonly<
  Required<Omit<DialerOptions, 'localAddress'>> & { localAddress: string | undefined }
>;

/** Timing marks the dialer fills in (epoch ms); `Timings` has this shape. */
export interface DialMarks {
  /** When the dial was asked for (epoch ms), if the caller marks it. */
  readonly start?: number;
  lookup: number | undefined;
  connect: number | undefined;
}

/** One call to {@link Dialer.dial}. */
export interface DialRequest {
  host: string;
  port: number;
  /** Per-request dial timeout, overriding the Dialer's. */
  timeout?: number | undefined;
  /**
   * @internal — the overall request budget: held during the dial so an overall timeout or
   * abort cancels it (the transport's; a caller of `dial()` uses its own timeout).
   */
  budget?: Budget | undefined;
  trace?: TraceHooks | undefined;
  timings?: DialMarks | undefined;
  /** For error messages. */
  method?: string | undefined;
  url?: string | undefined;
  /** Node's `onread` for every attempt's socket (plain TCP only: where reads land). */
  onread?: net.OnReadOpts | undefined;
  /**
   * A Unix domain socket path to dial instead of `host:port` (SPEC §12): no DNS, one
   * attempt, no `localAddress`; the budget, timeout and abort are the same. `host` and
   * `port` then only name the request in messages. Trace hooks and errors report the
   * path as the address, with port 0 and family 0.
   */
  path?: string | undefined;
}

/** Dials TCP connections (or Unix socket paths); one instance is shared by a transport. */
export class Dialer {
  readonly options: ResolvedDialerOptions;
  /** Dials holding a slot (only counted when `maxConcurrentDials > 0`). */
  private running = 0;
  /** Dials waiting for a slot, oldest first. */
  private readonly waiting: DialRun[] = [];

  constructor(options: DialerOptions = {}) {
    checkOptionsObject('Dialer options', '', options, DIALER_NAMES);
    if (options.lookup !== undefined && typeof options.lookup !== 'function') {
      throw invalidArg(`dialer.lookup must be a function like dns.lookup, got ${describeValue(options.lookup)}`);
    }
    if (options.localAddress !== undefined && net.isIP(options.localAddress) === 0) {
      throw invalidArg(`dialer.localAddress must be an IP address, got ${describeValue(options.localAddress)}`);
    }
    this.options = Object.freeze({
      timeout: checkDuration('dialer.timeout', options.timeout) ?? DEFAULTS.dialTimeout,
      keepAlive: checkDuration('dialer.keepAlive', options.keepAlive) ?? DEFAULTS.keepAlive,
      fallbackDelay: checkDuration('dialer.fallbackDelay', options.fallbackDelay) ?? DEFAULTS.fallbackDelay,
      lookup: options.lookup ?? (dns.lookup as net.LookupFunction),
      localAddress: options.localAddress,
      maxConcurrentDials: checkCount('dialer.maxConcurrentDials', options.maxConcurrentDials) ?? 0,
    });
  }

  /** Resolves a connected socket (no-delay and keep-alive set), or rejects with a
   * `ConnectError`, a `TimeoutError` (phase `dns`/`connect`) or the budget's error. */
  dial(req: DialRequest): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const timeout = checkDuration('dialTimeout', req.timeout) ?? this.options.timeout;
      if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65_535) {
        throw invalidArg(`port must be an integer in 1..65535, got ${describeValue(req.port)}`, req);
      }
      new DialRun(this, req, timeout, resolve, reject).begin();
    });
  }

  /** Dials currently running and waiting for a slot. */
  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  // Private implementation past this point.

  /** @internal Gives `run` a slot now (true) or queues it until one frees (false). */
  acquire(run: DialRun): boolean {
    const max = this.options.maxConcurrentDials;
    if (max === 0) return true;
    if (this.running < max && this.waiting.length === 0) {
      this.running++;
      return true;
    }
    this.waiting.push(run);
    return false;
  }

  /** @internal Returns a slot (or leaves the queue); hands a freed slot to the oldest waiter. */
  giveBack(run: DialRun, hadSlot: boolean): void {
    if (this.options.maxConcurrentDials === 0) return;
    if (!hadSlot) {
      const i = this.waiting.indexOf(run);
      if (i !== -1) this.waiting.splice(i, 1);
      return;
    }
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next.start();
  }
}

/** An address to try. */
interface Target {
  address: string;
  family: number;
}

/** One in-flight or finished attempt. `detach` removes the dialer's listeners. */
interface Attempt extends DialAttempt {
  socket: net.Socket;
  settled: boolean;
  detach: () => void;
}

type RunState = 'queued' | 'dns' | 'connect' | 'done';

/** The state of one `dial()` call. All transitions end in `win` or `fail`. */
class DialRun implements PhaseOwner {
  private state: RunState = 'queued';
  /** The phase reported to the budget (see {@link phase}); the run alone writes it. */
  private reached: 'dns' | 'connect' = 'connect';
  private readonly startedAt = now();
  private hasSlot = false;
  /** Set once `dnsDone` was emitted (so a failure does not emit it twice). */
  private dnsAnswered = false;
  private readonly attempts: Attempt[] = [];
  private pending: Target[] = [];
  private lastFailed: Attempt | undefined;
  private timer: LongTimer | undefined;
  private fallbackTimer: LongTimer | undefined;

  constructor(
    private readonly dialer: Dialer,
    private readonly req: DialRequest,
    private readonly timeout: number,
    private readonly resolve: (s: net.Socket) => void,
    private readonly reject: (e: Error) => void,
  ) {}

  begin(): void {
    const budget = this.req.budget;
    if (budget !== undefined) {
      budget.hold(this); // cancels at once if the budget already failed
      if (this.state === 'done') return;
      if (budget.remaining() <= 0) {
        this.fail(budget.timeoutError());
        return;
      }
    }
    this.timer = failPhaseAfter(this.timeout, this, this.startedAt);
    if (this.dialer.acquire(this)) this.start();
  }

  /** Called with a slot: resolve the name, or dial an IP literal directly. */
  start(): void {
    if (this.state !== 'queued') {
      this.dialer.giveBack(this, true); // cancelled while the slot was on its way
      return;
    }
    this.hasSlot = true;
    if (this.req.path !== undefined) {
      // Like an IP literal: no DNS phase (lookup = the dial's start), straight to connect.
      if (this.req.timings !== undefined) this.req.timings.lookup = this.req.timings.start ?? Date.now();
      this.connect([{ address: this.req.path, family: PATH_FAMILY }]);
      return;
    }
    const host = unbracket(this.req.host);
    const family = net.isIP(host);
    if (family !== 0) {
      // No DNS happened: the dns phase is 0 (the wait for a dial slot counts as tcp).
      if (this.req.timings !== undefined) this.req.timings.lookup = this.req.timings.start ?? Date.now();
      this.connect([{ address: host, family }]);
      return;
    }
    this.state = 'dns';
    this.reached = 'dns';
    emit(this.req.trace, 'dnsStart', { host });
    let answered = false;
    const onLookup = (err: NodeJS.ErrnoException | null, res: string | dns.LookupAddress[], fam?: number) => {
      if (answered) return;
      answered = true;
      this.resolved(host, err, res, fam);
    };
    try {
      this.dialer.options.lookup(host, { all: true }, onLookup);
    } catch (err) {
      if (answered) throw err; // not the resolver's failure: a bug past it
      onLookup(err as NodeJS.ErrnoException, []);
    }
  }

  /** Budget cancel (overall timeout or abort). */
  cancel(err: HourglassError): void {
    this.fail(err);
  }

  // --- DNS -----------------------------------------------------------------------

  private resolved(
    host: string,
    err: NodeJS.ErrnoException | null,
    res: string | dns.LookupAddress[] | undefined,
    fam: number | undefined,
  ): void {
    if (this.state !== 'dns') return; // timed out or cancelled meanwhile
    this.dnsAnswered = true;
    const list: Target[] = [];
    if (err == null) {
      const raw = typeof res === 'string' ? [{ address: res, family: fam ?? 0 }] : (res ?? []);
      for (const a of raw) {
        const family = a.family === 4 || a.family === 6 ? a.family : net.isIP(a.address);
        if (family !== 0) list.push({ address: a.address, family });
      }
    }
    const dnsError =
      err ?? (list.length === 0 ? sysError('ENOTFOUND', `lookup of ${host} returned no address`) : null);
    emit(this.req.trace, 'dnsDone', { addresses: list.map((t) => ({ ...t })), error: dnsError ?? undefined });
    if (this.req.timings !== undefined) this.req.timings.lookup = Date.now();
    if (dnsError !== null) {
      const code = dnsError.code ?? 'ENOTFOUND';
      const msg = `DNS lookup of ${host} failed: ${code}${forUrl(this.req)}`;
      this.fail(new ConnectError(msg, code, { ...this.ctx(), port: this.req.port, cause: dnsError }));
      return;
    }
    const local = this.dialer.options.localAddress;
    const usable = local === undefined ? list : list.filter((t) => t.family === net.isIP(local));
    if (usable.length === 0) {
      const msg = `no address of ${host} has the family of localAddress ${local}`;
      this.fail(new ConnectError(`${msg}${forUrl(this.req)}`, 'EADDRNOTAVAIL', this.ctx()));
      return;
    }
    this.connect(interleave(usable));
  }

  // --- Connect race ----------------------------------------------------------------

  private connect(targets: Target[]): void {
    this.state = 'connect';
    this.reached = 'connect';
    this.pending = targets;
    this.next();
  }

  /** Starts the next attempt and schedules the one after it. */
  private next(): void {
    this.fallbackTimer?.cancel();
    const target = this.pending.shift();
    if (target === undefined) return;
    const isPath = this.req.path !== undefined;
    const port = isPath ? PATH_PORT : this.req.port;
    const localAddress = this.dialer.options.localAddress;
    let socket: net.Socket;
    try {
      const onread = this.req.onread;
      socket = isPath
        ? connectPath(target.address, onread)
        : net.connect({ host: target.address, port, family: target.family, localAddress, ...(onread ? { onread } : {}) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const msg = `cannot dial ${hostPort(target.address, port)}: ${e.message}${forUrl(this.req)}`;
      this.fail(new ConnectError(msg, e.code ?? 'EINVAL', { ...this.ctx(), ...target, port, cause: e }));
      return;
    }
    const attempt: Attempt = { ...target, port, error: undefined, socket, settled: false, detach: () => {} };
    const onConnect = (): void => this.connected(attempt);
    const onError = (err: Error): void => this.attemptFailed(attempt, err);
    attempt.detach = () => socket.off('connect', onConnect).off('error', onError);
    this.attempts.push(attempt);
    emit(this.req.trace, 'connectStart', { address: target.address, port, family: target.family });
    socket.once('connect', onConnect).once('error', onError);
    const delay = this.dialer.options.fallbackDelay;
    if (this.pending.length > 0 && delay !== Number.POSITIVE_INFINITY) {
      if (delay === 0) this.next();
      else (this.fallbackTimer ??= new LongTimer(() => this.next())).start(delay);
    }
  }

  private attemptFailed(attempt: Attempt, err: Error): void {
    if (attempt.settled) return;
    this.settle(attempt, err);
    this.lastFailed = attempt;
    if (this.state !== 'connect') return;
    if (this.pending.length > 0) this.next();
    else if (this.attempts.every((a) => a.settled)) this.fail(this.allFailedError());
  }

  private connected(attempt: Attempt): void {
    if (this.state !== 'connect' || attempt.settled) {
      attempt.socket.destroy(); // a late connection
      return;
    }
    attempt.settled = true;
    emit(this.req.trace, 'connectDone', { address: attempt.address, port: attempt.port, error: undefined });
    const socket = attempt.socket;
    attempt.detach();
    this.finish(sysError('ECANCELED', 'another address connected first'));
    if (this.req.timings !== undefined) this.req.timings.connect = Date.now();
    socket.setNoDelay(true);
    const keepAlive = this.dialer.options.keepAlive;
    if (isDisabled(keepAlive)) socket.setKeepAlive(false);
    else socket.setKeepAlive(true, Math.min(keepAlive, MAX_KEEPALIVE_DELAY));
    this.resolve(socket);
  }

  // --- Endings -----------------------------------------------------------------------

  /** The dial's own budget ran out: what to report (undefined: the dial already ended). */
  phaseExpiry(): PhaseExpiry | undefined {
    this.timer = undefined;
    if (this.state === 'done') return undefined;
    const phase = this.state === 'dns' ? 'dns' : 'connect';
    const inFlight = this.attempts.filter((a) => !a.settled);
    for (const a of inFlight)
      a.error = sysError('ETIMEDOUT', `connect ETIMEDOUT ${hostPort(a.address, a.port)}`);
    let what: string;
    let cause: Error | undefined;
    if (this.state === 'dns') {
      what = `resolving ${unbracket(this.req.host)}`;
    } else if (this.state === 'queued') {
      what = `waiting for a dial slot (maxConcurrentDials ${this.dialer.options.maxConcurrentDials})`;
    } else {
      what = `attempted ${this.attempts.map((a) => hostPort(a.address, a.port)).join(', ')}`;
      const attempts = this.attempts.map(publicAttempt);
      const msg = `connect to ${hostPort(this.req.host, this.req.port)} timed out; ${what}`;
      const { address, port } = this.attempts[this.attempts.length - 1]!;
      cause = new ConnectError(msg, 'ETIMEDOUT', { ...this.ctx(), address, port, attempts });
    }
    return { phase, timeout: this.timeout, what, cause, ...this.ctx() };
  }

  private allFailedError(): ConnectError {
    const last = this.lastFailed ?? this.attempts[this.attempts.length - 1]!;
    const code = (last.error as NodeJS.ErrnoException | undefined)?.code ?? 'ECONNREFUSED';
    const tried = this.attempts.map((a) => `${hostPort(a.address, a.port)} (${errCode(a.error)})`).join(', ');
    const msg = `connect to ${hostPort(this.req.host, this.req.port)} failed: ${code}; tried ${tried}${forUrl(this.req)}`;
    return new ConnectError(msg, code, {
      ...this.ctx(),
      address: last.address,
      port: last.port,
      attempts: this.attempts.map(publicAttempt),
      cause: last.error,
    });
  }

  private fail(err: Error): void {
    if (this.state === 'done') return;
    this.finish(err);
    this.reject(err);
  }

  /** Clears everything; in-flight attempts end with `why`. */
  private finish(why: Error): void {
    const hadSlot = this.hasSlot;
    if (this.state === 'dns' && !this.dnsAnswered)
      emit(this.req.trace, 'dnsDone', { addresses: [], error: why });
    this.state = 'done';
    this.hasSlot = false;
    this.timer?.cancel();
    this.fallbackTimer?.cancel();
    this.timer = this.fallbackTimer = undefined;
    this.pending = [];
    this.req.budget?.release(this);
    for (const a of this.attempts) if (!a.settled) this.settle(a, a.error ?? why);
    this.dialer.giveBack(this, hadSlot);
  }

  private settle(attempt: Attempt, err: Error): void {
    attempt.settled = true;
    attempt.error = err;
    attempt.socket.destroy();
    emit(this.req.trace, 'connectDone', { address: attempt.address, port: attempt.port, error: err });
  }

  /**
   * The phase this run reports while it holds the request's budget (SPEC §3: `dns` while
   * resolving, else `connect` — the wait for a dial slot included); it stays what it
   * reached once the run is over, so the budget keeps it when the run lets go.
   */
  get phase(): 'dns' | 'connect' {
    return this.reached;
  }

  /** A dial writes no request byte. */
  get requestSent(): false {
    return false;
  }

  private ctx(): { method: string | undefined; url: string | undefined } {
    return { method: this.req.method, url: this.req.url };
  }
}

/** RFC 8305 §4: the first address's family first, then alternate families. */
export function interleave<T extends { family: number }>(list: readonly T[]): T[] {
  if (list.length < 2) return [...list];
  const first = list[0]!.family;
  const a = list.filter((t) => t.family === first);
  const b = list.filter((t) => t.family !== first);
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

function hostPort(host: string, port: number): string {
  return port === PATH_PORT ? pathName(host) : authority(host, port);
}

function publicAttempt(a: Attempt): DialAttempt {
  return { address: a.address, port: a.port, family: a.family, error: a.error };
}

function errCode(err: Error | undefined): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? err?.message ?? 'unknown';
}

function sysError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

function forUrl(req: DialRequest): string {
  if (req.url === undefined) return '';
  return ` for ${req.method ?? 'GET'} ${redactUrl(req.url)}`;
}
