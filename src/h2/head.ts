/**
 * h2/head — the two heads of an HTTP/2 exchange: the request's HEADERS built from the
 * transport's flat header list, and the one place a `Response` is built from a
 * response's HEADERS (so a change of how Responses are made touches one call site).
 *
 * Never: validates request header syntax (the request layer did, SPEC §11), sends anything.
 * Response and trailer fields nghttp2 lets through are checked here ({@link checkFields})
 * with the HTTP/1.1 codec's rules (src/http1/headers.ts).
 * Invariants: connection-specific fields (RFC 9113 §8.2.2: Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade, HTTP2-Settings, and any field Connection
 * names) never go out (nghttp2 would refuse the whole request); `Host` becomes `:authority`; `TE` goes out only as `trailers`; response headers
 * never contain pseudo-headers; `statusText` is empty (HTTP/2 has no reason phrase: as
 * fetch and undici report it, and as curl prints `HTTP/2 200`).
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
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

/**
 * A received header block as `res.headers` holds it, and its pairs pushed on `raw`, in
 * one pass, the one conversion of a received block (head, 1xx, trailers; issue #16: the
 * head was converted twice). Node already joined repeated fields (`, `; set-cookie as an array) and names
 * are lower-case (nghttp2 refuses others, RFC 9113 §8.2.1), so each field is copied once:
 * set-cookie always as an array, everything else as a string.
 */
export function fieldsOf(h: IncomingHttpHeaders, raw: string[]): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v) || name === 'set-cookie') {
      const list = Array.isArray(v) ? v.map(String) : [String(v)];
      for (const one of list) raw.push(name, one);
      out[name] = name === 'set-cookie' ? list : list.join(', ');
    } else {
      const value = String(v);
      raw.push(name, value);
      out[name] = value;
    }
  }
  return out;
}

/**
 * Checks a received header block nghttp2 let through: every name an RFC 9110 token (no
 * space, not empty), every value free of CR, LF, NUL and other controls (as the HTTP/1.1
 * codec), and its size within `maxBytes`, counted as the HTTP/1.1 text of the same fields
 * (`name: value` and CRLF each). Returns the stream's error, or undefined.
 */
export function checkFields(h: IncomingHttpHeaders, maxBytes: number, trailers: boolean): ProtocolError | undefined {
  const what = trailers ? 'trailer section' : 'head';
  let bytes = 0;
  for (const name of Object.keys(h)) {
    const v = h[name];
    if (v === undefined) continue;
    const pseudo = name.charCodeAt(0) === 58; /* ':' */
    if (!pseudo && !isToken(name)) {
      return new ProtocolError('h2-protocol-error', `malformed HTTP/2 response: invalid field name ${JSON.stringify(name)} in the ${what}`, { h2Code: 1 });
    }
    for (const one of Array.isArray(v) ? v : [v]) {
      const value = String(one);
      if (!isFieldValue(value)) {
        return new ProtocolError('h2-protocol-error', `malformed HTTP/2 response: invalid character in the value of ${JSON.stringify(name)} in the ${what}`, { h2Code: 1 });
      }
      bytes += name.length + value.length + 4;
    }
  }
  if (bytes > maxBytes) return new ProtocolError('headers-too-large', `response ${what} exceeds ${maxBytes} bytes`);
  return undefined;
}

/** What the stream knows when the final response head arrives. */
export interface HeadInit {
  status: number;
  headers: IncomingHttpHeaders;
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
  const rawHeaders: string[] = [];
  const headers = fieldsOf(init.headers, rawHeaders);
  return new Response(
    {
      status: init.status,
      statusText: '',
      httpVersion: '2',
      headers,
      rawHeaders,
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
