/**
 * errors — every error class hourglass throws, in one place.
 *
 * Owns: the public error hierarchy of SPEC §4, the stable `code` strings, URL
 * redaction (userinfo never appears in a message or a `url` field), and
 * `isTimeout`. Internal "why" signals that drive retry decisions live here too
 * but are never exported from the package index.
 *
 * Invariants: every error's `name` is its class name; `url` is always redacted;
 * `instanceof` works across duplicate copies of the package through a
 * `Symbol.for` brand.
 */

const BRAND = Symbol.for('hourglass.error');

/** The phase names a {@link TimeoutError} can carry. */
export type TimeoutPhase =
  | 'dns'
  | 'connect'
  | 'tls'
  | 'pool'
  | 'write'
  | 'write-idle'
  | 'response-headers'
  | 'read-idle'
  | 'min-throughput'
  | 'request';

/** Reasons a {@link ProtocolError} can carry. */
export type ProtocolReason =
  | 'bad-status-line'
  | 'bad-header'
  | 'headers-too-large'
  | 'bad-content-length'
  | 'bad-chunk'
  | 'conflicting-framing'
  | 'truncated-body'
  | 'connection-closed'
  | 'unexpected-data'
  | 'body-too-large'
  | 'bad-encoding'
  | 'too-many-1xx'
  | 'bad-upgrade'
  | 'content-length-mismatch'
  | 'proxy-connect'
  | 'bad-range';

/** Context every error carries about the request it belongs to. */
export interface ErrorContext {
  method?: string | undefined;
  url?: string | URL | undefined;
  cause?: unknown;
}

/** Strips userinfo (and nothing else) from a URL for messages and logs. */
export function redactUrl(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (typeof url !== 'string') {
    if (url.username === '' && url.password === '') return url.href;
    const copy = new URL(url.href);
    copy.username = '';
    copy.password = '';
    return copy.href;
  }
  const at = url.indexOf('@');
  if (at === -1) return url;
  try {
    return redactUrl(new URL(url));
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@]*@/i, '$1');
  }
}

/** Base class of every error thrown by hourglass. */
export class HourglassError extends Error {
  /** Stable machine-readable code, e.g. `ETIMEDOUT`, `HG_PROTOCOL`. */
  code: string;
  /** Method of the request that failed, when known. */
  method: string | undefined;
  /** URL of the request that failed, without userinfo. */
  url: string | undefined;

  constructor(message: string, code: string, ctx: ErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = new.target.name;
    this.code = code;
    this.method = ctx.method;
    this.url = redactUrl(ctx.url);
  }

  /** Fills method/url if a lower layer did not know them. */
  withRequest(method: string | undefined, url: string | URL | undefined): this {
    if (this.method === undefined) this.method = method;
    if (this.url === undefined) this.url = redactUrl(url);
    return this;
  }

  static override [Symbol.hasInstance]<C extends abstract new (...args: never[]) => unknown>(
    this: C,
    value: unknown,
  ): value is InstanceType<C> {
    if (typeof value !== 'object' || value === null) return false;
    // Walk the prototype chain, comparing by brand + class name so that two copies of the
    // package agree; a subclass check still requires the right name in the chain.
    const wanted = this.name;
    if (!(BRAND in value)) return false;
    let proto: object | null = Object.getPrototypeOf(value);
    while (proto !== null) {
      const ctor = (proto as { constructor?: { name?: string } }).constructor;
      if (ctor?.name === wanted) return true;
      proto = Object.getPrototypeOf(proto);
    }
    return false;
  }
}
Object.defineProperty(HourglassError.prototype, BRAND, { value: true });

/** Fields of a {@link TimeoutError}. */
export interface TimeoutInfo extends ErrorContext {
  phase: TimeoutPhase;
  /** Configured timeout in ms. */
  timeout: number;
  /** Milliseconds since the phase's budget began. */
  elapsed: number;
  /** Whether any request byte reached the socket. */
  requestSent: boolean;
  /** For `phase: 'request'`: the transport phase that was running when the budget ran out. */
  activePhase?: string | undefined;
}

/** A named wait expired. `code` is `ETIMEDOUT`. */
export class TimeoutError extends HourglassError {
  phase: TimeoutPhase;
  timeout: number;
  elapsed: number;
  requestSent: boolean;
  /** For an overall (`request`) timeout: which phase was running when it fired. */
  activePhase: string | undefined;

  constructor(info: TimeoutInfo, message?: string) {
    const during = info.activePhase ? ` during ${info.activePhase}` : '';
    super(
      message ??
        `${info.phase} timeout: ${Math.round(info.elapsed)} ms elapsed, limit ${info.timeout} ms${during}` +
          `${info.requestSent ? ' (request sent)' : ' (request not sent)'}` +
          (info.url ? ` for ${info.method ?? 'GET'} ${redactUrl(info.url)}` : ''),
      'ETIMEDOUT',
      info,
    );
    this.phase = info.phase;
    this.timeout = info.timeout;
    this.elapsed = Math.round(info.elapsed);
    this.requestSent = info.requestSent;
    this.activePhase = info.activePhase;
  }
}

/** The caller's `AbortSignal` fired. `cause` is `signal.reason`. */
export class AbortError extends HourglassError {
  constructor(reason: unknown, ctx: ErrorContext = {}) {
    super('The operation was aborted', 'ABORT_ERR', { ...ctx, cause: reason });
    this.name = 'AbortError';
  }
}

/** One address the dialer tried. */
export interface DialAttempt {
  address: string;
  port: number;
  family: number;
  error: Error | undefined;
}

/** Fields of a {@link ConnectError}. */
export interface ConnectInfo extends ErrorContext {
  address?: string | undefined;
  port?: number | undefined;
  attempts?: DialAttempt[] | undefined;
  /** For a failed proxy CONNECT: the proxy's status code. */
  status?: number | undefined;
}

/** Establishing the connection failed: DNS, TCP, TLS or a proxy tunnel. `code` is the system code. */
export class ConnectError extends HourglassError {
  address: string | undefined;
  port: number | undefined;
  attempts: DialAttempt[];
  /** Status of a refused proxy CONNECT, when that is what failed. */
  status: number | undefined;

  constructor(message: string, code: string, info: ConnectInfo = {}) {
    super(message, code, info);
    this.address = info.address;
    this.port = info.port;
    this.attempts = info.attempts ?? [];
    this.status = info.status;
  }
}

/** The peer broke HTTP/1.1 framing or the connection died mid-exchange. `code` is `HG_PROTOCOL`. */
export class ProtocolError extends HourglassError {
  reason: ProtocolReason;
  /** For a connection that died: whether any request byte reached the socket (unknown: undefined). */
  requestSent: boolean | undefined;
  constructor(reason: ProtocolReason, message: string, ctx: ErrorContext & { requestSent?: boolean } = {}) {
    super(`${message} (${reason})`, 'HG_PROTOCOL', ctx);
    this.reason = reason;
    this.requestSent = ctx.requestSent;
  }
}

/** More redirects than allowed. `code` is `HG_TOO_MANY_REDIRECTS`. */
export class RedirectError extends HourglassError {
  redirects: string[];
  constructor(message: string, redirects: string[], ctx: ErrorContext = {}) {
    super(message, 'HG_TOO_MANY_REDIRECTS', ctx);
    this.redirects = redirects.map((u) => redactUrl(u) ?? u);
  }
}

/** Thrown for invalid input before anything is sent. */
export function invalidArg(message: string, ctx: ErrorContext = {}): HourglassError {
  return new HourglassError(message, 'HG_INVALID_ARG', ctx);
}

/** Thrown when using a closed client or transport. */
export function closedError(what: string, ctx: ErrorContext = {}): HourglassError {
  return new HourglassError(`${what} is closed`, 'HG_CLOSED', ctx);
}

/** True for a {@link TimeoutError} anywhere in the `cause` chain. */
export function isTimeout(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 16 && e != null; depth++) {
    if (e instanceof TimeoutError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Maps a system error code from a socket to a short human phrase. */
export function describeSystemError(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.message ?? String(err);
}
