/**
 * proxy — which proxy a request goes through, and the CONNECT tunnel for https.
 *
 * Owns: resolving the `proxy` option (a URL, a function, or `'env'` with Go's and
 * curl's rules for `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`), and opening a tunnel with
 * `CONNECT host:port` on an already dialed proxy socket. Plain-http requests through a
 * proxy use absolute-form targets; that is the transport's business, not this module's.
 *
 * Invariants: `'env'` never proxies loopback; a CGI environment (`REQUEST_METHOD` set)
 * ignores `HTTP_PROXY` (golang/go httpoxy rule); proxy credentials are sent only to the
 * proxy (`Proxy-Authorization` on CONNECT), never through the tunnel; the CONNECT wait
 * is bounded and cancellable, and the socket is destroyed on any failure.
 */

import type { Socket } from 'node:net';
import { type Budget, failPhaseAfter, type LongTimer, now, type PhaseOwner } from './deadline.js';
import { ConnectError, type HourglassError, invalidArg } from './errors.js';
import { hostPort, unbracket } from './host.js';

/**
 * What tells one proxy route from another: scheme, host and port, and its credentials when
 * it has any — as a number standing for them, never in clear (pool keys show in stats).
 * Connections, CONNECT tunnels and TLS sessions are kept apart per identity, as Go keys its
 * pool by the whole proxy URL: a tunnel opened with one user's `Proxy-Authorization` never
 * carries another's.
 */
export function proxyIdentity(proxy: URL): string {
  const base = `${proxy.protocol}//${proxy.host}`;
  if (proxy.username === '' && proxy.password === '') return base;
  const userinfo = `${proxy.username}:${proxy.password}`;
  let id = credentialIds.get(userinfo);
  if (id === undefined) {
    // Never reused: after a clear, credentials seen again get a new number (a new pool key).
    id = nextCredentialId++;
    if (credentialIds.size >= 256) credentialIds.clear();
    credentialIds.set(userinfo, id);
  }
  return `${base}|auth#${id}`;
}

/** The numbers of the proxy credentials seen lately (bounded: cleared when full). */
const credentialIds = new Map<string, number>();
let nextCredentialId = 1;

/** The `proxy` option of a Transport. */
export type ProxyOption = string | URL | ((url: URL) => URL | string | null | undefined) | 'env';

/** Resolves the proxy for each request URL. */
export class ProxyResolver {
  private readonly fixed: URL | undefined;
  private readonly fn: ((url: URL) => URL | string | null | undefined) | undefined;
  private readonly env: boolean;

  constructor(option: ProxyOption | undefined) {
    this.env = option === 'env';
    this.fn = typeof option === 'function' ? option : undefined;
    this.fixed = option !== undefined && option !== 'env' && typeof option !== 'function' ? parseProxyUrl(option) : undefined;
  }

  /** The proxy for `url`, or undefined to go direct. */
  resolve(url: URL): URL | undefined {
    if (this.fixed !== undefined) return this.fixed;
    if (this.fn !== undefined) {
      const p = this.fn(url);
      return p === null || p === undefined || p === '' ? undefined : parseProxyUrl(p);
    }
    if (this.env) return proxyFromEnv(url, process.env);
    return undefined;
  }
}

/** Parses a proxy URL; a bare `host:port` means `http://host:port`. */
export function parseProxyUrl(value: string | URL): URL {
  if (value instanceof URL) return value;
  const v = value.includes('://') ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalidArg(`invalid proxy URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalidArg(`unsupported proxy scheme ${u.protocol}`);
  return u;
}

/** Environment lookup with the Go/curl rules (upper-case first, then lower-case). */
export function proxyFromEnv(url: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const host = unbracket(url.hostname).toLowerCase();
  if (isLoopback(host)) return undefined;
  const https = url.protocol === 'https:';
  let raw: string | undefined;
  if (https) raw = env.HTTPS_PROXY || env.https_proxy;
  else if (env.REQUEST_METHOD === undefined) raw = env.HTTP_PROXY || env.http_proxy;
  if (raw === undefined || raw === '') return undefined;
  const port = url.port === '' ? (https ? '443' : '80') : url.port;
  if (noProxyMatches(env.NO_PROXY ?? env.no_proxy ?? '', host, port)) return undefined;
  return parseProxyUrl(raw);
}

/** NO_PROXY matching: `*`; `host`, `host:port`; `example.com` also matches subdomains; `.example.com` only subdomains. */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  const h = unbracket(host).toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort = '';
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed !== null) {
      entry = bracketed[1]!;
      entryPort = bracketed[2] ?? '';
    } else if ((entry.match(/:/g) ?? []).length === 1) {
      const [hostPart, portPart] = entry.split(':') as [string, string];
      entry = hostPart;
      entryPort = portPart;
    }
    if (entryPort !== '' && entryPort !== port) continue;
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      if (h.endsWith(entry)) return true;
      continue;
    }
    if (h === entry || h.endsWith(`.${entry}`)) return true;
  }
  return false;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}

/** Options of {@link connectViaProxy}. */
export interface TunnelOptions {
  budget: Budget;
  /** Bound of the CONNECT exchange (ms; 0/Infinity: none): what is left of the dial budget. */
  timeout: number;
  /** The configured dial timeout and when the dial started (epoch ms), for the error. */
  dialTimeout?: number;
  dialStart?: number;
  method: string;
  url: string;
}

/** Sends `CONNECT host:port` on `socket` and resolves it once the proxy answers 2xx. */
export function connectViaProxy(
  socket: Socket,
  proxy: URL,
  host: string,
  port: number,
  o: TunnelOptions,
): Promise<Socket> {
  const authority = hostPort(host, port);
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username !== '' || proxy.password !== '') {
    const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    head += `Proxy-Authorization: Basic ${Buffer.from(cred).toString('base64')}\r\n`;
  }
  head += '\r\n';
  // The dial began before the tunnel: its elapsed time is reported (wall clock → monotonic).
  const started = o.dialStart !== undefined ? now() - (Date.now() - o.dialStart) : now();
  return new Promise<Socket>((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let timer: LongTimer | undefined;
    const ctx = { method: o.method, url: o.url };
    const done = (err: Error | undefined): void => {
      timer?.cancel();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      o.budget.release(holder);
      if (err !== undefined) {
        socket.destroy();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const holder: PhaseOwner = {
      // CONNECT is part of connecting (SPEC §3): the tunnel reports `connect` itself.
      phase: 'connect',
      requestSent: false,
      cancel: (err: HourglassError) => done(err),
      phaseExpiry: () => ({
        phase: 'connect',
        timeout: o.dialTimeout ?? o.timeout,
        what: `proxy did not answer CONNECT ${authority}`,
        ...ctx,
      }),
    };
    const onError = (err: Error): void =>
      done(new ConnectError(`proxy connection failed: ${err.message}`, (err as { code?: string }).code ?? 'ECONNRESET', { ...ctx, cause: err }));
    const onClose = (): void => done(new ConnectError('proxy closed the connection during CONNECT', 'ECONNRESET', ctx));
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 16_384) done(new ConnectError('proxy CONNECT response head too large', 'HG_PROXY', ctx));
        return;
      }
      const line = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(line);
      if (m === null) {
        done(new ConnectError(`malformed proxy CONNECT response: ${JSON.stringify(line.slice(0, 64))}`, 'HG_PROXY', ctx));
        return;
      }
      const status = Number(m[1]);
      if (status < 200 || status > 299) {
        done(
          new ConnectError(`proxy refused CONNECT to ${authority}: ${status} ${m[2] ?? ''}`.trim(), 'HG_PROXY_STATUS', {
            ...ctx,
            status,
          }),
        );
        return;
      }
      const rest = buf.subarray(end + 4);
      done(undefined);
      if (rest.length > 0) socket.unshift(rest);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    timer = failPhaseAfter(o.timeout, holder, started);
    o.budget.hold(holder);
    socket.write(head, 'latin1');
  });
}
