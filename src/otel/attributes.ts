/**
 * otel/attributes — the mapping from what hourglass knows about a request to the
 * attributes of OpenTelemetry's stable HTTP client semantic conventions (SPEC §14).
 *
 * Owns: method normalisation (`_OTHER` + `http.request.method_original`), span names,
 * `url.full` redaction (userinfo and the query parameters the convention names),
 * `server.*` / `url.scheme` from a URL or a pool key, `error.type` for errors and
 * statuses, the abort rule (an aborted request is not an error), protocol versions.
 *
 * Never: imports `@opentelemetry/api` or does I/O. Pure functions, table-tested
 * (test/otel/attributes.test.ts), so the instrumentation itself stays small.
 *
 * Invariant: every value is a string or a number (attribute values), never undefined in
 * a returned record: an attribute that does not apply is absent.
 */

import { redactUrl } from '../redact.js';

/** Attribute records as OpenTelemetry takes them. */
export type Attrs = Record<string, string | number | boolean>;

/** Methods the convention knows (RFC 9110 plus PATCH), case-sensitive. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/** `http.request.method` (and `http.request.method_original` for an unknown method). */
export function methodAttributes(method: string): Attrs {
  if (KNOWN_METHODS.has(method)) return { 'http.request.method': method };
  return { 'http.request.method': '_OTHER', 'http.request.method_original': method };
}

/** Span name: the method, or `HTTP` for one the convention does not know. */
export function spanName(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'HTTP';
}

/**
 * `url.full` as the convention wants it: userinfo becomes `REDACTED:REDACTED`, and the
 * values of the secret query parameters (src/redact.ts: the convention's
 * `AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`, and a few more) become
 * `REDACTED`; the rest of the URL is kept byte for byte (no re-encoding of the query).
 */
export function fullUrl(url: URL): string {
  return redactUrl(url.href);
}

/** `server.address`, `server.port` and `url.scheme` of a request URL. */
export function serverAttributes(url: URL): Attrs {
  const scheme = url.protocol.slice(0, -1);
  const port = url.port !== '' ? Number(url.port) : scheme === 'https' ? 443 : 80;
  return { 'server.address': unbracket(url.hostname), 'server.port': port, 'url.scheme': scheme };
}

/** The attributes of a request known before it is sent (span start). */
export function requestAttributes(method: string, url: URL, attempt: number): Attrs {
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : url.protocol.slice(0, -1);
  const a: Attrs = {
    'http.request.method': KNOWN_METHODS.has(method) ? method : '_OTHER',
    'url.full': fullUrl(url),
    'server.address': unbracket(url.hostname),
    'server.port': url.port !== '' ? Number(url.port) : scheme === 'https' ? 443 : 80,
    'url.scheme': scheme,
  };
  if (!KNOWN_METHODS.has(method)) a['http.request.method_original'] = method;
  // Conditionally required: only on a resend (redirect hop or retry).
  if (attempt > 0) a['http.request.resend_count'] = attempt;
  return a;
}

/** `network.protocol.version` from a response's `httpVersion` or an ALPN choice. */
export function protocolVersion(v: string): string {
  if (v === 'h2' || v === '2.0') return '2';
  return v;
}

/** `error.type` of a response status: the status as a string for 4xx and 5xx (client spans). */
export function statusErrorType(status: number): string | undefined {
  return status >= 400 ? String(status) : undefined;
}

/** Whether an error is an abort by the caller's signal: not an error for the conventions. */
export function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/**
 * The TimeoutError in `err`'s cause chain, if any (its `phase` names the wait); never one
 * below an `HG_REQUEST_BODY` (the body source's, not this request's).
 */
export function timeoutOf(err: unknown): { readonly phase: string } | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    const o = e as { name?: unknown; phase?: unknown; cause?: unknown; code?: unknown };
    // A failed request body's cause is its source's failure (e.g. a piped download's
    // read-idle timeout), not a wait of this request on the wire.
    if (o.code === 'HG_REQUEST_BODY') return undefined;
    if (o.name === 'TimeoutError' && typeof o.phase === 'string') return o as { phase: string };
    e = o.cause;
  }
  return undefined;
}

/** The phase of the TimeoutError in `err`'s cause chain, if any. */
export function timeoutPhase(err: unknown): string | undefined {
  return timeoutOf(err)?.phase;
}

/**
 * `error.type` of a failure: `timeout` for a TimeoutError (anywhere in the cause
 * chain above a failed request body's), else the error's `code` (ECONNREFUSED, HG_PROTOCOL, ...), else its class name,
 * else `_OTHER`. Undefined for an abort (not an error).
 */
export function errorType(err: unknown): string | undefined {
  if (isAbort(err)) return undefined;
  if (timeoutPhase(err) !== undefined) return 'timeout';
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  }
  return '_OTHER';
}

/** The attributes of a failure: `error.type` and `hourglass.timeout.phase` where they apply. */
export function errorAttributes(err: unknown): Attrs {
  const a: Attrs = {};
  const type = errorType(err);
  if (type !== undefined) a['error.type'] = type;
  const phase = timeoutPhase(err);
  if (phase !== undefined) a['hourglass.timeout.phase'] = phase;
  return a;
}

/**
 * `server.address`, `server.port`, `url.scheme` from a pool key
 * (`https://host:port|...`, see transport's `poolKey`), for connection metrics.
 */
export function keyAttributes(key: string): Attrs {
  const bar = key.indexOf('|');
  const origin = bar === -1 ? key : key.slice(0, bar);
  try {
    return serverAttributes(new URL(origin));
  } catch {
    return {};
  }
}

/**
 * The socket path of a pool key of a Unix-socket connection (`...|unix=PATH[|proxy=...|tls=...]`),
 * for `network.transport` `unix` and `network.peer.address`; undefined for TCP.
 */
export function unixSocketPath(key: string): string | undefined {
  const i = key.indexOf('|unix=');
  if (i === -1) return undefined;
  let end = key.length;
  for (const next of ['|proxy=', '|tls=']) {
    const j = key.indexOf(next, i + 6);
    if (j !== -1 && j < end) end = j;
  }
  return key.slice(i + 6, end);
}

/** The subset of `attrs` named by `keys`. */
export function pick(attrs: Attrs, keys: readonly string[]): Attrs {
  const out: Attrs = {};
  for (const k of keys) if (attrs[k] !== undefined) out[k] = attrs[k];
  return out;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
