/**
 * url-target — what the transport reads of a request's URL to route it: the scheme, host,
 * port and origin-form target (path and query), and the pool key of a direct connection,
 * kept for the URL object last seen ({@link TargetMemo}).
 *
 * Owns: reading those fields off a URL (once per URL object while its href stays the same).
 * Never: decides proxies, Unix sockets or TLS options (the transport asks for those per
 * request; the key kept here is only the one of a direct connection with the transport's
 * own TLS options, which depend on nothing else); parses or changes a URL.
 * Invariant: a kept target is handed out only for the same URL object with the same href
 * it was read from; a URL changed in place (an interceptor signing its query) is read again.
 */

import { unbracket } from './host.js';

/** The routing facts of one URL. */
export interface UrlTarget {
  readonly href: string;
  readonly https: boolean;
  /** Host without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** The origin-form request target: path, and `?query` when there is one. */
  readonly path: string;
  /** The pool key of a direct connection with the transport's own TLS options (set by the transport once known). */
  directKey: string | undefined;
  /** The key of those TLS options when `directKey` was made (they may have changed since). */
  directTlsKey: string | undefined;
}

/** Reads a URL's routing facts. */
export function targetOf(url: URL): UrlTarget {
  const https = url.protocol === 'https:';
  const search = url.search;
  return {
    href: url.href,
    https,
    host: unbracket(url.hostname),
    port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
    path: search === '' ? url.pathname : url.pathname + search,
    directKey: undefined,
    directTlsKey: undefined,
  };
}

/**
 * The target of the URL object last seen. A client sending to one URL string hands the
 * same URL object to every such request (request-init's UrlMemo), so the transport reads
 * it once, not per request (issue #16/#18: URL getters, the key's string and its map lookup).
 */
export class TargetMemo {
  private url: URL | undefined;
  private target: UrlTarget | undefined;

  of(url: URL): UrlTarget {
    const kept = this.target;
    if (kept !== undefined && url === this.url && url.href === kept.href) return kept;
    const t = targetOf(url);
    this.url = url;
    this.target = t;
    return t;
  }
}
