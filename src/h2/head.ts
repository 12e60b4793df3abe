/**
 * h2/head — the two heads of an HTTP/2 exchange: the request's HEADERS built from the
 * transport's flat header list, and the one place a `Response` is built from a
 * response's HEADERS (so a change of how Responses are made touches one call site).
 *
 * Never: validates request header syntax (the request layer did, SPEC §11), sends anything.
 * Response and trailer fields nghttp2 lets through are checked here ({@link readFields})
 * with the HTTP/1.1 codec's rules (src/http1/headers.ts).
 * Invariants: connection-specific fields (RFC 9113 §8.2.2: Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade, HTTP2-Settings, and any field Connection
 * names) never go out (nghttp2 would refuse the whole request); `Host` becomes `:authority`; `TE` goes out only as `trailers`; response headers
 * never contain pseudo-headers; `statusText` is empty (HTTP/2 has no reason phrase: as
 * fetch and undici report it, and as curl prints `HTTP/2 200`).
 */

import type { OutgoingHttpHeaders } from 'node:http2';
import type { BodyChannel } from '../conn/body.js';
import { ProtocolError } from '../errors.js';
import { isFieldValue, isToken } from '../http1/headers.js';
import { Response } from '../response.js';
import type { Timings } from '../timings.js';

const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** The request's HEADERS: pseudo-headers first, then the fields, names lower-cased. */
export function requestHeaders(method: string, scheme: string, authority: string, path: string, flat: string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
  out[':method'] = method;
  out[':scheme'] = scheme;
  out[':authority'] = authority;
  out[':path'] = path;
  let named: Set<string> | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i]!.toLowerCase();
    if (n === 'host') out[':authority'] = flat[i + 1]!;
    else if (n === 'connection') {
      for (const token of flat[i + 1]!.split(',')) (named ??= new Set()).add(token.trim().toLowerCase());
    }
  }
  if (method === 'CONNECT') {
    delete out[':scheme'];
    delete out[':path'];
  }
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i]!.toLowerCase();
    const v = flat[i + 1]!;
    if (DROPPED.has(n) || named?.has(n) === true) continue;
    if (n === 'te' && v.trim().toLowerCase() !== 'trailers') continue;
    const prev = out[n];
    if (prev === undefined) out[n] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[n] = [String(prev), v];
  }
  return out;
}

/** What {@link readFields} checks a block against: the size limit, and which block it is (for the message). */
export interface FieldCheck {
  maxBytes: number;
  trailers: boolean;
  /** The request was written whole (the error's `requestSent`). */
  requestSent?: boolean;
}

/**
 * A received header block as `res.headers` holds it, its pairs pushed on `raw` as received,
 * and — with `check` — checked in the same pass (issue #16: checking and converting were
 * two passes over the block): every name an RFC 9110 token (no space, not empty), every
 * value free of CR, LF, NUL and other controls (as the HTTP/1.1 codec), and the block's
 * size within `check.maxBytes`, counted as the HTTP/1.1 text of the same fields (`name:
 * value` and CRLF each, pseudo-headers included).
 *
 * `flat` is the block as node received it (`[name, value, ...]`, the third argument of its
 * 'response', 'headers' and 'trailers' events; names lower-case, nghttp2 refuses others, RFC
 * 9113 §8.2.1): each field once, so repeated fields are joined with `', '` as over HTTP/1.1
 * (set-cookie as an array) and `rawHeaders` holds every pair. Node's own header object keeps
 * only the first of a repeated content-type and joins cookies with `'; '` (twelfth attack F6),
 * and counted a repeated field once (F7). A block that fails returns the stream's error.
 */
export function readFields(flat: readonly string[], raw: string[]): Record<string, string | string[]>;
export function readFields(flat: readonly string[], raw: string[], check: FieldCheck): Record<string, string | string[]> | ProtocolError;
export function readFields(flat: readonly string[], raw: string[], check?: FieldCheck): Record<string, string | string[]> | ProtocolError {
  const out = Object.create(null) as Record<string, string | string[]>;
  let bytes = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const v = flat[i + 1]!;
    const pseudo = name.charCodeAt(0) === 58; /* ':' */
    if (check !== undefined) {
      if (!pseudo && !isToken(name)) return badField(check, `invalid field name ${JSON.stringify(name)}`);
      if (!isFieldValue(v)) return badField(check, `invalid character in the value of ${JSON.stringify(name)}`);
      bytes += name.length + v.length + 4;
    }
    if (pseudo) continue;
    raw.push(name, v);
    const prev = out[name];
    if (name === 'set-cookie') {
      if (prev === undefined) out[name] = [v];
      else (prev as string[]).push(v);
    } else {
      out[name] = prev === undefined ? v : `${prev as string}, ${v}`;
    }
  }
  if (check !== undefined && bytes > check.maxBytes) {
    return new ProtocolError('headers-too-large', `response ${check.trailers ? 'trailer section' : 'head'} exceeds ${check.maxBytes} bytes`, { requestSent: check.requestSent });
  }
  return out;
}

function badField(check: FieldCheck, what: string): ProtocolError {
  return new ProtocolError('h2-protocol-error', `malformed HTTP/2 response: ${what} in the ${check.trailers ? 'trailer section' : 'head'}`, { h2Code: 1, requestSent: check.requestSent });
}

/** What the stream knows when the final response head arrives. */
export interface HeadInit {
  status: number;
  /** The head's fields, checked ({@link readFields}), and their pairs. */
  headers: Record<string, string | string[]>;
  rawHeaders: string[];
  url: string;
  method: string;
  reused: boolean;
  timings: Timings;
}

/**
 * Builds the `Response` of an HTTP/2 exchange: the only place in src/h2 that constructs
 * one. `httpVersion` is `'2'`.
 */
export function makeResponse(init: HeadInit, channel: BodyChannel): Response {
  return new Response(
    {
      status: init.status,
      statusText: '',
      httpVersion: '2',
      headers: init.headers,
      rawHeaders: init.rawHeaders,
      url: init.url,
      method: init.method,
      reused: init.reused,
      timings: init.timings,
    },
    channel,
  );
}

/**
 * The request head as text for `wroteHeaders` (curl -v shows HTTP/2 requests the same
 * way): `METHOD /path HTTP/2`, then `:authority` as `host`, then the fields sent.
 */
export function headText(h: OutgoingHttpHeaders): string {
  let text = `${String(h[':method'])} ${String(h[':path'] ?? '')} HTTP/2\r\nhost: ${String(h[':authority'])}\r\n`;
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58) continue;
    const v = h[name];
    for (const one of Array.isArray(v) ? v : [v]) text += `${name}: ${String(one)}\r\n`;
  }
  return `${text}\r\n`;
}
