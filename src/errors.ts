/**
 * errors — every error class hourglass throws, in one place.
 *
 * Owns: the public error hierarchy of SPEC §4, the stable `code` strings, URL
 * redaction (userinfo never appears in a message or a `url` field), `isTimeout`,
 * and the `invalidArg`/`closedError` constructors every module uses for bad input
 * and closed objects.
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
  | 'h2-settings'
  | 'h2-ping'
  | 'request';

/**
 * What an overall (`request`) timeout reports as `activePhase`: the phase of
 * {@link TimeoutPhase} that was running, or one of the waits only the client and
 * `download()` know (`start`: no request of the call under way yet — before the first, or
 * between two while a redirect policy, a network interceptor or a token decides the next;
 * `body`: the caller was reading the response body; `retry-backoff`: waiting between
 * attempts; `cookie-jar`: an async jar; `download`: between the requests of a download).
 */
export type ActivePhase = Exclude<TimeoutPhase, 'request' | 'min-throughput' | 'h2-settings' | 'h2-ping'> | 'start' | 'body' | 'retry-backoff' | 'cookie-jar' | 'download';

/**
 * The `code` of an error hourglass itself decides. A {@link ConnectError} carries the
 * system's code instead ({@link SystemErrorCode}).
 */
export type HourglassErrorCode =
  /** Invalid input, thrown before anything is sent. */
  | 'HG_INVALID_ARG'
  /** The client or transport is closed. */
  | 'HG_CLOSED'
  /** A response body was already read. */
  | 'HG_BODY_USED'
  /** A request body cannot be sent again (an interceptor replayed a stream). */
  | 'HG_BODY_NOT_REPLAYABLE'
  /** A RoundTripper or interceptor resolved with something that is not a Response. */
  | 'HG_BAD_RESPONSE'
  /** A {@link ProtocolError}. */
  | 'HG_PROTOCOL'
  /** A {@link RedirectError}. */
  | 'HG_TOO_MANY_REDIRECTS'
  /** `checkRedirect` threw. */
  | 'HG_REDIRECT_REFUSED'
  /**
   * A redirect that cannot or may not be followed: an unparsable `Location`, a scheme
   * other than http/https, or any redirect under redirect mode `error` (fetch's
   * `redirect: 'error'`).
   */
  | 'HG_BAD_REDIRECT'
  /** The request body stream failed. */
  | 'HG_REQUEST_BODY'
  /** An {@link HttpStatusError}: a download, or the CLI's `--fail`, ended on an HTTP status. */
  | 'HG_HTTP_STATUS'
  /** A download's file could not be written. */
  | 'HG_WRITE'
  /** A download failed for another reason. */
  | 'HG_DOWNLOAD'
  /** A download's SHA-256 did not match. */
  | 'HG_CHECKSUM'
  /** A request matched no route of a MockTransport. */
  | 'HG_MOCK_UNMATCHED'
  /** A {@link TimeoutError}. */
  | 'ETIMEDOUT'
  /** An {@link AbortError}. */
  | 'ABORT_ERR';

/**
 * The code of a {@link ConnectError}: the operating system's or OpenSSL's code as Node
 * reports it (`ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`, `ERR_TLS_CERT_ALTNAME_INVALID`,
 * `CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, ...), or a proxy failure
 * (`HG_PROXY`: the proxy broke the CONNECT exchange; `HG_PROXY_STATUS`: it refused).
 * Certificate codes are the OpenSSL verify-result names, hence the patterns.
 */
export type SystemErrorCode =
  | `E${string}`
  | `CERT_${string}`
  | `UNABLE_TO_${string}`
  | `${string}_CERT${string}`
  | `ERROR_IN_${string}`
  | `INVALID_${string}`
  | 'HOSTNAME_MISMATCH'
  | 'PATH_LENGTH_EXCEEDED'
  | 'HG_PROXY'
  | 'HG_PROXY_STATUS';

/** Every `code` an {@link HourglassError} can carry. */
export type ErrorCode = HourglassErrorCode | SystemErrorCode;

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
  | 'bad-range'
  /** HTTP/2: the peer broke RFC 9113 at connection level (or sent a malformed stream). */
  | 'h2-protocol-error'
  /** HTTP/2: the peer reset the stream (RST_STREAM; `h2Code` says why). */
  | 'stream-reset'
  /** HTTP/2: the peer did not process the stream (REFUSED_STREAM, or above a GOAWAY) and its body cannot be replayed. */
  | 'stream-refused';

/** Context every error carries about the request it belongs to. */
export interface ErrorContext {
  method?: string | undefined;
  url?: string | URL | undefined;
  cause?: unknown;
}

/** WHATWG's special schemes: the only ones whose URLs always parse an authority. */
const SPECIAL_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:']);

/** Strips userinfo (and nothing else) from a URL for messages and logs. */
export function redactUrl(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (typeof url !== 'string') {
    if (url.username === '' && url.password === '') return SPECIAL_SCHEMES.has(url.protocol) ? url.href : cutOpaqueUserinfo(url.href);
    const copy = new URL(url.href);
    copy.username = '';
    copy.password = '';
    return copy.href;
  }
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  try {
    return redactUrl(new URL(url));
  } catch {
    // Unparsable: nobody can tell where userinfo ends (a password may hold '@', '/' or
    // ':'), so everything between the scheme and the last '@' goes.
    const scheme = /^[a-z][a-z0-9+.-]*:[/\\]*/i.exec(url);
    return (scheme === null ? '' : scheme[0]) + url.slice(at + 1);
  }
}

/**
 * 'user:pw@host/…' typed without a scheme parses as scheme 'user:' with no userinfo;
 * what stands before an '@' in front of the first '/', '?' or '#' is userinfo all the same.
 */
function cutOpaqueUserinfo(href: string): string {
  const end = href.search(/[/?#]/);
  const cut = (end === -1 ? href : href.slice(0, end)).lastIndexOf('@');
  return cut === -1 ? href : href.slice(cut + 1);
}

/** Base class of every error thrown by hourglass. */
export class HourglassError extends Error {
  /** Stable machine-readable code, e.g. `ETIMEDOUT`, `HG_PROTOCOL` (see {@link ErrorCode}). */
  code: ErrorCode;
  /** Method of the request that failed, when known. */
  method: string | undefined;
  /** URL of the request that failed, without userinfo. */
  url: string | undefined;

  constructor(message: string, code: ErrorCode, ctx: ErrorContext = {}) {
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
  activePhase?: ActivePhase | undefined;
  /** For `write`/`write-idle` over HTTP/2: whether the wait was on the peer's flow-control window. */
  flowControl?: boolean | undefined;
}

/**
 * The option that sets each timeout phase (SPEC §3), named in every {@link TimeoutError}
 * message so a user knows which knob to turn: "read-idle timeout (readIdleTimeout): …".
 */
export const TIMEOUT_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  dns: 'dialTimeout',
  connect: 'dialTimeout',
  tls: 'tlsHandshakeTimeout',
  pool: 'poolTimeout',
  write: 'writeTimeout',
  'write-idle': 'writeIdleTimeout',
  'response-headers': 'responseHeaderTimeout',
  'read-idle': 'readIdleTimeout',
  'min-throughput': 'minThroughput',
  'h2-settings': 'h2.settingsTimeout',
  'h2-ping': 'h2.pingTimeout',
  request: 'timeout',
});

/** A named wait expired. `code` is `ETIMEDOUT`. */
export class TimeoutError extends HourglassError {
  declare code: 'ETIMEDOUT';
  /** Which wait expired. */
  phase: TimeoutPhase;
  /** Configured timeout in ms. */
  timeout: number;
  /** Milliseconds since the phase's budget began. */
  elapsed: number;
  /** Whether any request byte reached the socket. */
  requestSent: boolean;
  /** For an overall (`request`) timeout: which phase was running when it fired. */
  activePhase: ActivePhase | undefined;
  /**
   * For a `write`/`write-idle` timeout on HTTP/2: true when the request was waiting for the
   * peer's flow-control window (stream or connection), false when the socket itself
   * accepted no byte; undefined on HTTP/1.1, and when the wait was on neither (the body
   * held back for `100 Continue`, or a body source that had not yielded).
   */
  flowControl: boolean | undefined;

  constructor(info: TimeoutInfo, message?: string) {
    const during = info.activePhase ? ` during ${info.activePhase}` : '';
    const prefix = `${info.phase} timeout`;
    const knob = TIMEOUT_OPTIONS[info.phase];
    const named = knob === undefined ? prefix : `${prefix} (${knob})`;
    super(
      message !== undefined
        ? message.startsWith(prefix) && knob !== undefined && !message.startsWith(`${prefix} (`)
          ? named + message.slice(prefix.length)
          : message
        : `${named}: ${Math.round(info.elapsed)} ms elapsed, limit ${info.timeout} ms${during}` +
            `${info.requestSent ? ' (request sent)' : ' (request not sent)'}` +
            (info.flowControl === true ? ' waiting for the peer\'s HTTP/2 flow-control window' : '') +
            (info.url ? ` for ${info.method ?? 'GET'} ${redactUrl(info.url)}` : ''),
      'ETIMEDOUT',
      info,
    );
    this.phase = info.phase;
    this.timeout = info.timeout;
    this.elapsed = Math.round(info.elapsed);
    this.requestSent = info.requestSent;
    this.activePhase = info.activePhase;
    this.flowControl = info.flowControl;
  }
}

/** The caller's `AbortSignal` fired. `cause` is `signal.reason`. */
export class AbortError extends HourglassError {
  declare code: 'ABORT_ERR';
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
  declare code: SystemErrorCode;
  address: string | undefined;
  port: number | undefined;
  attempts: DialAttempt[];
  /** Status of a refused proxy CONNECT, when that is what failed. */
  status: number | undefined;

  /** `code` is the system's code as Node reported it (see {@link SystemErrorCode}). */
  constructor(message: string, code: string, info: ConnectInfo = {}) {
    super(message, code as SystemErrorCode, info);
    this.address = info.address;
    this.port = info.port;
    this.attempts = info.attempts ?? [];
    this.status = info.status;
  }
}

/** The peer broke HTTP/1.1 or HTTP/2 framing, reset a stream, or the connection died mid-exchange. `code` is `HG_PROTOCOL`. */
export class ProtocolError extends HourglassError {
  declare code: 'HG_PROTOCOL';
  reason: ProtocolReason;
  /** For a connection that died: whether any request byte reached the socket (unknown: undefined). */
  requestSent: boolean | undefined;
  /** HTTP/2 error code (RFC 9113 §7) of a reset stream or a connection error; undefined otherwise. */
  h2Code: number | undefined;
  constructor(reason: ProtocolReason, message: string, ctx: ErrorContext & { requestSent?: boolean; h2Code?: number } = {}) {
    super(`${message} (${reason})`, 'HG_PROTOCOL', ctx);
    this.reason = reason;
    this.requestSent = ctx.requestSent;
    this.h2Code = ctx.h2Code;
  }
}

/** More redirects than allowed. `code` is `HG_TOO_MANY_REDIRECTS`. */
export class RedirectError extends HourglassError {
  declare code: 'HG_TOO_MANY_REDIRECTS';
  redirects: string[];
  constructor(message: string, redirects: string[], ctx: ErrorContext = {}) {
    super(message, 'HG_TOO_MANY_REDIRECTS', ctx);
    this.redirects = redirects.map((u) => redactUrl(u) ?? u);
  }
}

/**
 * A response status the caller did not accept: `download()` ends a mirror on one (a final
 * 4xx, or a retryable status out of retries), and the CLI's `--fail` on any status >= 400.
 * `code` is `HG_HTTP_STATUS`.
 */
export class HttpStatusError extends HourglassError {
  declare code: 'HG_HTTP_STATUS';
  /** The response's status code. */
  readonly status: number;
  /** `message` defaults to "unexpected HTTP status N for METHOD URL". */
  constructor(status: number, ctx: ErrorContext = {}, message?: string) {
    const target = ctx.url === undefined ? '' : ` for ${ctx.method ?? 'GET'} ${redactUrl(ctx.url)}`;
    super(message ?? `unexpected HTTP status ${status}${target}`, 'HG_HTTP_STATUS', ctx);
    this.status = status;
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

/**
 * True for a {@link TimeoutError} anywhere in the `cause` chain (SPEC §4), and a type
 * guard: after it, `err.phase` and the other fields type-check. A timeout of
 * `request()` or `download()` rejects with the `TimeoutError` itself (an overall timeout
 * keeps the error it cut short as its `cause`); `fetch()` wraps it, as WHATWG fetch
 * must (`TypeError('fetch failed')` whose `cause` is the `TimeoutError`), so for a fetch
 * error read the fields from `err.cause`.
 */
export function isTimeout(err: unknown): err is TimeoutError {
  let e: unknown = err;
  for (let depth = 0; depth < 16 && e != null; depth++) {
    if (e instanceof TimeoutError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
