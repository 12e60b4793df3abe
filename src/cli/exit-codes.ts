/**
 * cli/exit-codes — which process exit code an error means, following curl's numbers
 * where one applies (SPEC §10, §11), and the error summary `--json` prints.
 *
 * Owns: the error → exit code table, the CLI's own error classes (a file that
 * cannot be written, a body cut short; an HTTP status refused by `--fail` is the
 * library's {@link HttpStatusError}, as `download()` throws it), the wording the CLI
 * adds to a library error (the flag that sets a timeout, the system error that ended
 * a transfer), and the shape of the `--json` line ({@link GetResult}). Never prints
 * anything.
 */

import {
  ConnectError,
  HourglassError,
  HttpStatusError,
  ProtocolError,
  RedirectError,
  TIMEOUT_OPTIONS,
  TimeoutError,
} from '../errors.js';
import type { ResponseHeaders } from '../response.js';
import { CERT_ERROR_CODES } from '../tls.js';
import { UsageError } from './args.js';

/** The exit codes the CLI uses; the numbers are curl's. */
export const EXIT = Object.freeze({
  ok: 0,
  other: 1,
  usage: 2,
  dns: 6,
  connect: 7,
  malformed: 8,
  /** HTTP/2 framing layer (connection-level protocol error, GOAWAY with an error code). */
  http2: 16,
  truncated: 18,
  http: 22,
  emptyReply: 52,
  write: 23,
  read: 26,
  timeout: 28,
  range: 33,
  tls: 35,
  tooManyRedirects: 47,
  recv: 56,
  badEncoding: 61,
  tooLarge: 63,
  cert: 60,
  cacert: 77,
  /** An HTTP/2 stream closed with an error (RST_STREAM). */
  http2Stream: 92,
});

/** The exit-code section of `hourglass get --help`: every code the CLI uses, in curl's words. */
export const EXIT_CODE_HELP: readonly string[] = Object.freeze([
  "Exit codes (curl's numbers):",
  '   0  ok',
  '   1  unsupported URL scheme; --sha256 mismatch (the file is not kept)',
  '   2  usage error',
  '   3  malformed URL',
  '   6  DNS lookup failed',
  '   7  connect failed',
  '   8  malformed response',
  '  16  HTTP/2 connection error (framing, GOAWAY with an error code)',
  '  18  body cut short by a clean close',
  '  22  HTTP status >= 400 with --fail',
  '  23  write error; binary body refused on a terminal (use -o - or -o FILE)',
  '  26  -d @FILE cannot be read',
  '  28  timeout (the message names the flag that sets it)',
  '  33  range request refused on --resume',
  '  35  TLS handshake failed',
  '  47  too many redirects',
  '  52  the server closed the connection without replying (empty reply)',
  '  56  connection reset while receiving',
  '  60  certificate verification failed',
  '  61  bad content encoding',
  '  77  --cacert FILE cannot be read or holds no certificate',
  '  92  HTTP/2 stream reset by the server',
]);

/** A local file (`-o`) could not be written: curl's exit 23. */
export class WriteError extends Error {
  override name = 'WriteError';
  readonly code: string;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.code = (cause as { code?: string } | undefined)?.code ?? 'EIO';
  }
}

/** A local file the command line names (`-d @file`, `--cacert`) could not be read. */
export class ReadError extends Error {
  override name = 'ReadError';
  readonly code: string;
  /** Exit code: 26 for data files, 77 for CA files (curl's). */
  readonly exitCode: number;
  constructor(message: string, cause: unknown, exitCode: number) {
    super(message, { cause });
    this.code = (cause as { code?: string } | undefined)?.code ?? 'EIO';
    this.exitCode = exitCode;
  }
}

/**
 * The connection ended before the body did (curl's 18 for a clean close, 56 for a reset).
 * `--json` reports the library error it wraps (name, code, reason); the message says how
 * many bytes were missing or which system error ended it.
 */
export class BodyCutError extends Error {
  override name = 'BodyCutError';
  readonly exitCode: number;
  constructor(message: string, cause: ProtocolError, exitCode: number) {
    super(message, { cause });
    this.exitCode = exitCode;
  }
}

/** What `hourglass get` learned; `--json` prints it. */
export interface GetResult {
  status: number | null;
  url: string;
  headers: ResponseHeaders | null;
  bytes: number;
  timings: Record<string, unknown> | null;
  error: ReturnType<typeof errorSummary> | null;
  /** Only for downloads: `{ path, sha256, resumed, attempts }`. */
  download?: Record<string, unknown>;
}

/** `--fail` saw a status >= 400 (curl's exit 22), with curl's message. */
export function failedStatus(status: number, statusText: string, ctx: { method: string; url: string }): HttpStatusError {
  return new HttpStatusError(
    status,
    ctx,
    `The requested URL returned error: ${status}${statusText ? ` ${statusText}` : ''}`,
  );
}

const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_ADDRFAMILY',
]);

/** Protocol failure reasons and curl's number for each; anything unlisted is 8. */
const PROTOCOL_EXIT: Record<string, number> = {
  'truncated-body': EXIT.truncated,
  'content-length-mismatch': EXIT.truncated,
  'connection-closed': EXIT.recv,
  'proxy-connect': EXIT.recv,
  'bad-encoding': EXIT.badEncoding,
  'body-too-large': EXIT.tooLarge,
  'bad-range': EXIT.range,
  'h2-protocol-error': EXIT.http2,
  'stream-reset': EXIT.http2Stream,
  // Refused streams replayed and refused again: curl gives up with "Connection died".
  'stream-refused': EXIT.recv,
};

/** The exit code for an error thrown while running `hourglass get`. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return err.exitCode;
  if (err instanceof BodyCutError) return err.exitCode;
  if (err instanceof WriteError) return EXIT.write;
  if (err instanceof ReadError) return err.exitCode;
  // `--fail`, or download() giving up on a mirror's status, as curl --fail does.
  if (err instanceof HttpStatusError) return EXIT.http;
  // Timeouts first: a TimeoutError may wrap a connect error as its cause.
  // curl reports every timeout, resolve and connect included, as 28.
  if (err instanceof TimeoutError) return EXIT.timeout;
  if (err instanceof RedirectError) return EXIT.tooManyRedirects;
  if (err instanceof ProtocolError) {
    // A body cut by a reset (a system error) is curl's 56; by a clean close, 18.
    if (err.reason === 'truncated-body' && systemCode(err) !== undefined) return EXIT.recv;
    // No complete head and no system error: the server closed cleanly, curl's 52.
    if (err.reason === 'connection-closed' && systemCode(err) === undefined) return EXIT.emptyReply;
    if (err.reason === 'stream-reset' && err.h2Code === 7) return EXIT.recv; // REFUSED_STREAM, as curl
    // Refused by a GOAWAY carrying an error code (again after the replay): curl's framing-layer 16.
    if (err.reason === 'stream-refused' && err.h2Code !== undefined && err.h2Code !== 0 && err.h2Code !== 7) return EXIT.http2;
    return PROTOCOL_EXIT[err.reason] ?? EXIT.malformed;
  }
  if (err instanceof ConnectError) return connectExit(err);
  if (err instanceof HourglassError) {
    if (err.code === 'HG_INVALID_ARG') return EXIT.usage;
    // curl has no digest check; documented in --help as 1.
    if (err.code === 'HG_CHECKSUM') return EXIT.other;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== err) {
      const inner = exitCodeFor(cause);
      if (inner !== EXIT.other) return inner;
    }
    return EXIT.other;
  }
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'EPIPE') return EXIT.write;
  return EXIT.other;
}

/** The CLI flag that sets each timeout phase (the library names the option). */
export const TIMEOUT_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  dns: '--connect-timeout',
  connect: '--connect-timeout',
  tls: '--tls-timeout',
  'response-headers': '--header-timeout',
  'read-idle': '--read-timeout',
  'min-throughput': '--min-speed/--min-speed-window',
  request: '--timeout',
});

/**
 * The message the CLI prints for an error: the library's, with the CLI flag beside the
 * option a timeout names ("read-idle timeout (readIdleTimeout / --read-timeout): …") and
 * the system error that ended a connection.
 */
export function cliMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  let text = typeof message === 'string' ? message : String(err);
  if (err instanceof TimeoutError) {
    const option = TIMEOUT_OPTIONS[err.phase];
    const flag = TIMEOUT_FLAGS[err.phase];
    const named = `${err.phase} timeout (${option})`;
    if (option !== undefined && flag !== undefined && text.startsWith(named))
      text = `${err.phase} timeout (${option} / ${flag})${text.slice(named.length)}`;
  } else if (err instanceof ProtocolError) {
    const sys = systemCode(err);
    if (sys !== undefined) text += `: ${describeSystemError(sys)}`;
    else if (err.reason === 'connection-closed') text += ': empty reply from server (the server closed the connection)';
  }
  return text;
}

/** `ECONNRESET` → `connection reset by peer (ECONNRESET)`. */
export function describeSystemError(code: string): string {
  const words = SYSTEM_ERRORS[code];
  return words === undefined ? code : `${words} (${code})`;
}

/** The system error code (`ECONNRESET`, ...) under a library error, if any. */
export function systemCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && /^E[A-Z]+$/.test(c) && c !== 'ETIMEDOUT') return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

const SYSTEM_ERRORS: Record<string, string> = {
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'broken pipe',
  ECONNABORTED: 'connection aborted',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ENETDOWN: 'network down',
};

/** What `--json` reports for an error: `{ name, code, phase, reason, message }`. */
export function errorSummary(err: unknown): {
  name: string;
  code: string | null;
  phase: string | null;
  reason: string | null;
  message: string;
} {
  const e = err as {
    name?: unknown;
    code?: unknown;
    phase?: unknown;
    reason?: unknown;
    message?: unknown;
  } | null;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const src = err instanceof BodyCutError ? (err.cause as typeof e) : e;
  return {
    name: str(src?.name) ?? 'Error',
    code: str(src?.code),
    phase: str(src?.phase),
    reason: str(src?.reason),
    message: cliMessage(err),
  };
}

// Private implementation past this point.

function connectExit(err: ConnectError): number {
  const code = err.code;
  if (DNS_CODES.has(code)) return EXIT.dns;
  if (CERT_ERROR_CODES.has(code) || code.startsWith('CERT_')) return EXIT.cert;
  if (code === 'HG_PROXY' || code === 'HG_PROXY_STATUS') return EXIT.recv;
  // Failures inside the TLS handshake carry OpenSSL's codes, or a socket code with a
  // message that names the handshake (tls.ts); a plain TCP failure has neither.
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /^TLS handshake/.test(err.message))
    return EXIT.tls;
  return EXIT.connect;
}
