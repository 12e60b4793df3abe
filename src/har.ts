/**
 * har — HAR 1.2 entries from responses (SPEC §14), so a request hourglass made opens in
 * browser devtools next to the page's own.
 *
 * Owns: {@link toHarEntry} (one response with its timings → one entry), {@link harLog}
 * (entries → the `{ log }` document) and the HAR types. The timings map the marks of
 * SPEC §5: `blocked` = waiting for a connection (the pool), `dns`, `connect` (including
 * TLS, as HAR 1.2 says, and a proxy's CONNECT tunnel, as browsers count it: the
 * `connect` mark is its end), `ssl`, `send`, `wait`, `receive`; a phase that did not happen
 * on this request (dns/connect/ssl on a reused connection, ssl over plain TCP) is -1.
 *
 * Never: reads a body, does I/O, or writes a secret: header values of credentials and
 * cookies (request and response, `Set-Cookie` included) become `[redacted]`, and the
 * values of signed-URL query parameters become `REDACTED` in `request.url`,
 * `queryString`, `Location` and `redirectURL` (one rule with `url.full`: src/redact.ts);
 * `request.url` and `redirectURL` hold no fragment (HAR 1.2; it never went on the wire).
 *
 * Invariant: `entry.time` is exactly the sum of the timings that are not -1 (`ssl`
 * excluded: it is inside `connect`), all whole milliseconds (the marks are epoch ms).
 */

import { isSecretParam, redactHeader, redactUrl } from './redact.js';
import type { Response } from './response.js';

/** A name/value pair of HAR. */
export interface HarNameValue {
  name: string;
  value: string;
}

/** HAR 1.2 `timings` (ms; -1 for a phase that does not apply). */
export interface HarTimings {
  blocked: number;
  dns: number;
  connect: number;
  send: number;
  wait: number;
  receive: number;
  ssl: number;
}

/** A HAR 1.2 entry (the fields hourglass fills). */
export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    content: { size: number; mimeType: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
  };
  cache: Record<string, never>;
  timings: HarTimings;
  serverIPAddress?: string;
  connection?: string;
}

/** A HAR 1.2 document. */
export interface HarLog {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    entries: HarEntry[];
  };
}

/** What a caller knows of the request that a Response does not carry. */
export interface HarRequestInfo {
  /** Request headers as sent (pairs, or a flat `[name, value, ...]` list); secrets are masked. */
  headers?: readonly (readonly [string, string])[] | readonly string[];
  /** Request body size in bytes (default 0 with no body; -1 unknown). */
  bodySize?: number;
  /** Decoded response body size in bytes, when the caller read it (default: Content-Length, else 0). */
  contentSize?: number;
}

/**
 * One HAR 1.2 entry for `res` (a response of any hop), from its head and its timings.
 * Call it after the body settled for a `receive` phase (else it is 0). Userinfo never
 * appears: request URLs carry none (the client moved it to `Authorization`).
 */
export function toHarEntry(res: Response, request: HarRequestInfo = {}): HarEntry {
  const t = res.timings;
  const url = new URL(res.url);
  const fresh = !res.reused;
  const socket = t.socket ?? t.start;
  const dnsEnd = t.lookup ?? socket;
  const tcpEnd = t.connect ?? dnsEnd;
  const connected = t.secureConnect ?? tcpEnd;
  const sent = t.upload ?? connected;
  const first = t.response ?? sent;
  const end = t.end ?? first;
  const timings: HarTimings = {
    blocked: span(t.start, socket),
    // No lookup / connect mark: no connection was made at all (a MockTransport reply), so
    // dns and connect did not happen: -1, not 0 ms. (An IP literal or a Unix socket has a
    // lookup mark at the dial's start: dns 0, as got counts it.)
    dns: fresh && t.lookup !== undefined ? span(socket, dnsEnd) : -1,
    connect: fresh && (t.connect !== undefined || t.secureConnect !== undefined) ? span(dnsEnd, connected) : -1,
    send: span(connected, sent),
    wait: span(sent, first),
    receive: span(first, end),
    ssl: fresh && t.secureConnect !== undefined ? span(tcpEnd, connected) : -1,
  };
  const time = (['blocked', 'dns', 'connect', 'send', 'wait', 'receive'] as const).reduce(
    (sum, k) => sum + Math.max(0, timings[k]),
    0,
  );
  // A HEAD response, 1xx, 204 and 304 have no body whatever Content-Length says (RFC 9110 §6.4.1).
  const noBody = res.method === 'HEAD' || res.status < 200 || res.status === 204 || res.status === 304;
  const length = Number(res.headers['content-length']);
  const bodyLength = noBody ? 0 : Number.isFinite(length) ? length : -1;
  const version = `HTTP/${res.httpVersion}`;
  return {
    startedDateTime: new Date(t.start).toISOString(),
    time,
    request: {
      method: res.method,
      url: redactUrl(withoutFragment(url.href)),
      httpVersion: version,
      cookies: [],
      headers: pairs(request.headers),
      queryString: [...url.searchParams].map(([name, value]) => ({ name, value: isSecretParam(name) ? 'REDACTED' : value })),
      headersSize: -1,
      bodySize: request.bodySize ?? 0,
    },
    response: {
      status: res.status,
      statusText: res.statusText,
      httpVersion: version,
      cookies: [],
      headers: pairs(res.rawHeaders),
      content: {
        size: request.contentSize ?? Math.max(0, bodyLength),
        mimeType: headerText(res.headers['content-type']) ?? 'x-unknown',
      },
      redirectURL: redirectUrl(res, url),
      headersSize: -1,
      bodySize: bodyLength,
    },
    cache: {},
    timings,
  };
}

/** The HAR 1.2 document of `entries`, in the order given. */
export function harLog(entries: readonly HarEntry[], creator = { name: 'hourglass', version: '0' }): HarLog {
  return { log: { version: '1.2', creator, entries: [...entries] } };
}

// Private implementation past this point.

/** Whole ms from `a` to `b`, never negative. */
function span(a: number, b: number): number {
  return Math.max(0, Math.round(b - a));
}

function pairs(list: readonly (readonly [string, string])[] | readonly string[] | undefined): HarNameValue[] {
  if (list === undefined) return [];
  const out: HarNameValue[] = [];
  if (list.length > 0 && typeof list[0] === 'string') {
    const flat = list as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ name: flat[i], value: redactHeader(flat[i], flat[i + 1]) });
  } else {
    for (const [name, value] of list as readonly (readonly [string, string])[]) out.push({ name, value: redactHeader(name, value) });
  }
  return out;
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The absolute target of a 3xx `Location`, else ''. */
function redirectUrl(res: Response, base: URL): string {
  const loc = headerText(res.headers.location);
  if (loc === undefined || res.status < 300 || res.status >= 400) return '';
  try {
    return redactUrl(withoutFragment(new URL(loc, base).href));
  } catch {
    return redactUrl(withoutFragment(loc));
  }
}

/** `href` without its fragment: HAR 1.2 URLs never hold one (it is not sent either). */
function withoutFragment(href: string): string {
  const hash = href.indexOf('#');
  return hash === -1 ? href : href.slice(0, hash);
}
