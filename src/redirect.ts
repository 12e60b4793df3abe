/**
 * redirect — the redirect rules of SPEC §7 (current Go, with hourglass's stricter
 * header handling), as pure functions over a hop: given the response and the request
 * that produced it, what (if anything) to request next.
 *
 * Owns: which statuses are followed, method rewriting, body keeping, Location
 * resolution (relative, protocol-relative, fragment inheritance), refused schemes,
 * sensitive-header stripping (judged against the *original* host; URL-userinfo
 * credentials against the hop's origin), `Referer`.
 * Never does I/O; the client drains bodies, counts hops and asks `checkRedirect`.
 */

import { HourglassError, redactUrl } from './errors.js';
import { urlCredentials, withoutHeaders } from './request-init.js';

/** The request of one hop, as the client keeps it. */
export interface Hop {
  method: string;
  url: URL;
  headers: string[];
  /** Whether this hop carries a body. */
  hasBody: boolean;
}

/** What to do after a 3xx. */
export type RedirectDecision =
  | { follow: false }
  | { follow: true; method: string; url: URL; headers: string[]; keepBody: boolean };

const SENSITIVE = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2', 'proxy-authorization']);
const AUTHORIZATION = new Set(['authorization']);
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'content-language']);

/**
 * Decides the next hop. `mode` 'client' follows Go (301/302/303 → GET except HEAD);
 * 'fetch' follows WHATWG fetch (301/302: only POST → GET; 303: all but HEAD → GET).
 * `replayable` says whether the body can be sent again.
 */
export function nextHop(
  status: number,
  location: string | string[] | undefined,
  hop: Hop,
  original: URL,
  replayable: boolean,
  mode: 'client' | 'fetch' = 'client',
): RedirectDecision {
  if (status !== 301 && status !== 302 && status !== 303 && status !== 307 && status !== 308) return { follow: false };
  const loc = Array.isArray(location) ? location[0] : location;
  if (loc === undefined || loc === '') return { follow: false };
  let next: URL;
  try {
    next = new URL(locationText(loc), hop.url);
  } catch {
    // Echo the Location without its userinfo (redactUrl cuts up to the last '@').
    throw new HourglassError(`invalid redirect Location ${JSON.stringify(redactUrl(loc)!.slice(0, 200))}`, 'HG_BAD_REDIRECT', {
      method: hop.method,
      url: hop.url,
    });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new HourglassError(`refusing to follow a redirect to the ${next.protocol} scheme`, 'HG_BAD_REDIRECT', {
      method: hop.method,
      url: hop.url,
    });
  }
  if (next.port === '0') {
    // Port 0 is not a place to connect to: the server's Location is bad, not the caller's input.
    throw new HourglassError('refusing to follow a redirect to port 0', 'HG_BAD_REDIRECT', {
      method: hop.method,
      url: hop.url,
    });
  }
  if (next.hash === '' && hop.url.hash !== '') next.hash = hop.url.hash;

  let method = hop.method;
  let keepBody = hop.hasBody;
  if (status !== 307 && status !== 308) {
    // Go: 301/302/303 never carry the body, whatever the method. fetch: 303 always drops
    // it (but HEAD), 301/302 only turn POST into GET.
    const toGet =
      mode === 'client' || status === 303 ? method !== 'GET' && method !== 'HEAD' : method === 'POST';
    if (toGet) method = 'GET';
    if (mode === 'client' || toGet) keepBody = false;
  }
  if (keepBody && !replayable) return { follow: false };

  let headers = hop.headers;
  if (!keepBody) headers = withoutHeaders(headers, BODY_HEADERS);
  const downgrade = hop.url.protocol === 'https:' && next.protocol === 'http:';
  if (downgrade || !sameOrSubdomain(next.hostname, original.hostname)) headers = withoutHeaders(headers, SENSITIVE);
  // Credentials from URL userinfo are the URL's, like curl's: they never go to another
  // origin (scheme, host or port), whatever the rule above keeps of the caller's headers.
  const urlAuth = urlCredentials.has(hop.headers);
  const sameOrigin = next.protocol === hop.url.protocol && next.host === hop.url.host;
  if (urlAuth && !sameOrigin) headers = withoutHeaders(headers, AUTHORIZATION);
  // A Host override only makes sense for the host it was written for.
  if (next.host !== hop.url.host) headers = withoutHeaders(headers, new Set(['host']));
  headers = withoutHeaders(headers, new Set(['referer']));
  if (!downgrade) headers.push('referer', refererOf(hop.url));
  if (urlAuth && sameOrigin) urlCredentials.add(headers);
  return { follow: true, method, url: next, headers, keepBody };
}

/** True when `host` is `base` or a subdomain of it (Go's shouldCopyHeaderOnRedirect). */
export function sameOrSubdomain(host: string, base: string): boolean {
  const h = host.toLowerCase();
  const b = base.toLowerCase();
  if (h === b) return true;
  if (b.startsWith('[') || h.startsWith('[')) return false;
  return h.endsWith(`.${b}`) && h.length > b.length + 1;
}

function refererOf(url: URL): string {
  const r = new URL(url.href);
  r.username = '';
  r.password = '';
  r.hash = '';
  return r.href;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A `Location` as decoded from the wire (Latin-1, one char per byte) made into URL text:
 * bytes that form UTF-8 are read as UTF-8 (then percent-encoded by the URL parser, as a
 * browser does), any other byte >= 0x80 is percent-encoded as itself (as Go and curl).
 */
export function locationText(loc: string): string {
  if (/^[\x00-\x7f]*$/.test(loc)) return loc;
  const bytes = Buffer.from(loc, 'latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    let out = '';
    for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    return out;
  }
}

/** The parts of a response that carry its `Location`. */
interface LocationCarrier {
  readonly headers: { location?: string | string[] | undefined };
  readonly rawHeaders: string[];
}

/** The userinfo of an absolute or scheme-relative URL: up to the last `@` of the authority. */
const USERINFO = /^((?:[a-z][a-z0-9+.-]*:)?\/\/)[^/?#]*@/i;

/**
 * Strips userinfo from the `Location` of a 3xx response that an error is about to carry
 * (SPEC §11: no error field carries URL userinfo, `Location` values included). Only an
 * authority's userinfo goes: a relative `Location` such as `/users/@me` is left whole, and
 * so is the rest of the response. Returns `res`.
 */
export function redactLocation<R extends LocationCarrier>(res: R): R {
  const headers = res.headers as { location?: string | string[] | undefined };
  const loc = headers.location;
  if (typeof loc === 'string') headers.location = loc.replace(USERINFO, '$1');
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'location') raw[i + 1] = raw[i + 1]!.replace(USERINFO, '$1');
  }
  return res;
}
