/**
 * route-kit — the types and small helpers shared by the built-in route modules
 * (./routes.ts, ./routes-faults.ts, ./routes-content.ts, ./malformed.ts).
 *
 * Owns: the route types, path-pattern matching (`/status/:code`), and query-string
 * readers. Invariant: query helpers never throw; a missing or unparsable value
 * yields the default.
 */

import type { Exchange, HeaderInit } from './exchange.js';

/** A route script. */
export type RouteHandler = (ex: Exchange) => void | Promise<void>;

export interface RouteOptions {
  /** Read the whole request body before the handler runs (default true). */
  readBody?: boolean;
}

/** A built-in route: a path pattern (`:name` matches one segment), its doc line and script. */
export interface BuiltinRoute extends RouteOptions {
  path: string;
  description: string;
  handler: RouteHandler;
}

/** The first route whose pattern matches `path`, with its parameters. */
export function matchRoute<R extends { readonly path: string }>(
  routes: readonly R[],
  path: string,
): { route: R; params: Record<string, string> } | null {
  const segs = path.split('/');
  for (const route of routes) {
    const pat = route.path.split('/');
    if (pat.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pat.length && ok; i++) {
      if (pat[i]!.startsWith(':')) params[pat[i]!.slice(1)] = decodeURIComponent(segs[i]!);
      else ok = pat[i] === segs[i];
    }
    if (ok) return { route, params };
  }
  return null;
}

/** Integer query parameter, or `def` when absent or not a number. */
export function num(q: URLSearchParams, name: string, def: number): number {
  const v = q.get(name);
  if (v === null || v.trim() === '') return def;
  const n = Number(v);
  return Number.isFinite(n) ? n : def;
}

/** Boolean query flag: present and not `0`/`false`. */
export function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v !== '0' && v !== 'false';
}

/** Extra response headers from repeated `h=Name:Value` parameters. */
export function extraHeaders(q: URLSearchParams): [string, string][] {
  const out: [string, string][] = [];
  for (const h of q.getAll('h')) {
    const colon = h.indexOf(':');
    if (colon > 0) out.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  return out;
}

/** `pairs` followed by the `h=` extras of the request. */
export function withExtras(ex: Exchange, pairs: [string, string][]): HeaderInit {
  return [...pairs, ...extraHeaders(ex.query)];
}
