/**
 * redact — the one place that decides which parts of a URL or a header are secrets, for
 * everything hourglass writes out for someone else to read: `url.full` on spans
 * (hourglass/otel), HAR entries (`toHarEntry`, `hourglass get --har`), the `logger()`
 * interceptor's line and entry.
 *
 * Owns: the secret query parameters (those OpenTelemetry's HTTP conventions name for
 * `url.full`: `AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`; and the bearer
 * token of RFC 6750 §2.3 `access_token`, AWS SigV4's presigned `X-Amz-Signature` and
 * `X-Amz-Security-Token`, `api_key`), the secret
 * header fields (credentials and cookies), {@link redactUrl}, {@link redactHeader} and
 * {@link redactText} (free text such as an error message that quotes a URL or a header line).
 *
 * Never: re-encodes what it keeps (the rest of a URL stays byte for byte), or throws.
 *
 * Invariants: a redacted query value is `REDACTED` (the convention's word), userinfo
 * becomes `REDACTED:REDACTED`; a redacted header value is `[redacted]` (as the
 * diagnostics messages of SPEC §5 show it).
 */

/** Query parameters whose values are secrets (case-sensitive, as the convention lists them). */
const SECRET_PARAMS = new Set([
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
  'access_token',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'api_key',
]);

/** Header fields whose values are secrets (lowercase). */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-amz-security-token',
  'x-goog-api-key',
]);

/**
 * Whether the value of query parameter `name` is a secret. `name` may be raw (as in the
 * URL) or decoded: the server decodes `Sig%6eature` to `Signature`, so a name is judged
 * by its decoded form (a malformed escape is judged as written).
 */
export function isSecretParam(name: string): boolean {
  if (SECRET_PARAMS.has(name)) return true;
  if (!name.includes('%') && !name.includes('+')) return false;
  try {
    return SECRET_PARAMS.has(decodeURIComponent(name.replace(/\+/g, ' ')));
  } catch {
    return false;
  }
}

/**
 * `href` with userinfo as `REDACTED:REDACTED` and the values of the secret parameters of
 * its query and of its fragment (an OAuth implicit grant answers
 * `#access_token=…&token_type=bearer`) as `REDACTED`; the rest byte for byte (no
 * re-encoding). A string that is not an absolute URL has only its query and fragment
 * redacted (e.g. a relative `Location`).
 */
export function redactUrl(href: string): string {
  const at = userinfoEnd(href);
  if (at !== -1) href = href.slice(0, href.indexOf('//') + 2) + 'REDACTED:REDACTED' + href.slice(at);
  const hash = href.indexOf('#');
  const q = href.indexOf('?');
  if (q !== -1 && (hash === -1 || q < hash)) {
    const end = hash === -1 ? href.length : hash;
    const query = redactParams(href.slice(q + 1, end));
    if (query !== undefined) href = href.slice(0, q + 1) + query + href.slice(end);
  }
  const h = href.indexOf('#');
  if (h === -1) return href;
  // `#a=1&b=2`, or a client-side route with its own query: `#/callback?access_token=…`.
  const fq = href.indexOf('?', h);
  const from = fq === -1 ? h + 1 : fq + 1;
  const fragment = redactParams(href.slice(from));
  return fragment === undefined ? href : href.slice(0, from) + fragment;
}

/** `name=value` pairs joined by `&` with each secret value `REDACTED`; undefined when none is. */
function redactParams(params: string): string | undefined {
  const parts = params.split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq !== -1 && isSecretParam(parts[i].slice(0, eq))) {
      parts[i] = `${parts[i].slice(0, eq)}=REDACTED`;
      changed = true;
    }
  }
  return changed ? parts.join('&') : undefined;
}

/** The value of header `name` as it may be shown: `[redacted]` for a secret field, else as is. */
export function redactHeader(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.has(lower)) return '[redacted]';
  if (lower === 'location' || lower === 'content-location' || lower === 'referer') return redactUrl(value);
  return value;
}

/** Secret header names as they may appear in a quoted header line (`Name: value`, `Name : value`). */
const SECRET_HEADER_LINE = new RegExp(`\\b(${[...SECRET_HEADERS].join('|')})(\\s*:\\s*)[^"'\\r\\n]*`, 'gi');

/**
 * Free text (an error message or stack) with what {@link redactUrl} and
 * {@link redactHeader} hide hidden in it too: userinfo of any absolute URL, the values of
 * secret query or fragment parameters (`?sig=...`, `&Signature=...`,
 * `#access_token=...`), and the values of quoted
 * secret header lines (`Set-Cookie : sid=...`). The rest is kept as is.
 */
export function redactText(text: string): string {
  let out = text.replace(/\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#@"']*@/g, '$1REDACTED:REDACTED@');
  out = out.replace(/([?&;#])([^=&#\s"';]+)=([^&#\s"';]*)/g, (m, sep: string, name: string) =>
    isSecretParam(name) ? `${sep}${name}=REDACTED` : m,
  );
  return out.replace(SECRET_HEADER_LINE, (_m, name: string, colon: string) => `${name}${colon}[redacted]`);
}

/** The index of the `@` that ends an absolute URL's userinfo, or -1. */
function userinfoEnd(href: string): number {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(href);
  if (m === null) return -1;
  const start = m[0].length;
  let end = href.length;
  for (const c of ['/', '?', '#']) {
    const i = href.indexOf(c, start);
    if (i !== -1 && i < end) end = i;
  }
  return href.lastIndexOf('@', end - 1) >= start ? href.lastIndexOf('@', end - 1) : -1;
}
