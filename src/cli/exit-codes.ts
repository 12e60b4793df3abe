/**
 * cli/exit-codes — which process exit code an error means, following curl's numbers
 * where one applies (SPEC §10, §11), and the error summary `--json` prints.
 *
 * Owns: the error → exit code table and the CLI's own error classes (a file that
 * cannot be written, an HTTP status refused by `--fail`). Never prints anything.
 */

import { ConnectError, HourglassError, ProtocolError, RedirectError, TimeoutError } from '../errors.js';
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
  truncated: 18,
  http: 22,
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
});

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

/** `--fail` saw a status >= 400: curl's exit 22. */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  readonly code = 'HG_HTTP_STATUS';
  readonly status: number;
  constructor(status: number, statusText: string) {
    super(`The requested URL returned error: ${status}${statusText ? ` ${statusText}` : ''}`);
    this.status = status;
  }
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
};

/** The exit code for an error thrown while running `hourglass get`. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof WriteError) return EXIT.write;
  if (err instanceof ReadError) return err.exitCode;
  if (err instanceof HttpStatusError) return EXIT.http;
  // Timeouts first: a TimeoutError may wrap a connect error as its cause.
  // curl reports every timeout, resolve and connect included, as 28.
  if (err instanceof TimeoutError) return EXIT.timeout;
  if (err instanceof RedirectError) return EXIT.tooManyRedirects;
  if (err instanceof ProtocolError) return PROTOCOL_EXIT[err.reason] ?? EXIT.malformed;
  if (err instanceof ConnectError) return connectExit(err);
  if (err instanceof HourglassError) {
    if (err.code === 'HG_INVALID_ARG') return EXIT.usage;
    // download() gives up on a mirror's 4xx/5xx like curl --fail does.
    if (err.code === 'HG_HTTP_STATUS') return EXIT.http;
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
  return {
    name: str(e?.name) ?? 'Error',
    code: str(e?.code),
    phase: str(e?.phase),
    reason: str(e?.reason),
    message: str(e?.message) ?? String(err),
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
