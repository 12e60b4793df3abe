/**
 * host — IPv6 literals in brackets: the one place hourglass strips them (a URL's
 * `hostname` is `[::1]`; DNS, `net.connect`, TLS and NO_PROXY want `::1`) and adds them
 * (an authority or a message: `[::1]:443`).
 *
 * Invariants: `unbracket(bracket(h)) === unbracket(h)`; only a name holding a `:` (an
 * IPv6 literal: no host name or IPv4 address has one) is bracketed.
 */

/** `[::1]` → `::1`; anything else unchanged. */
export function unbracket(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 0x5b && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `::1` (or `[::1]`) → `[::1]`; a name or an IPv4 address unchanged. */
export function bracket(host: string): string {
  const h = unbracket(host);
  return h.includes(':') ? `[${h}]` : h;
}

/** `host:port` as in an authority: `[::1]:443`, `example.com:80`. */
export function hostPort(host: string, port: number | string): string {
  return `${bracket(host)}:${port}`;
}
