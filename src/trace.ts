/**
 * trace — optional per-request hooks with Go's httptrace names (SPEC §5, §11) and
 * the `node:diagnostics_channel` channels.
 *
 * Owns: the hook types, `emit` (calls a hook if present and swallows anything it
 * throws: a hook never breaks a request) and the channel objects. Channels cost one
 * `hasSubscribers` check when nobody listens.
 */

import * as diagnostics from 'node:diagnostics_channel';

/** Argument of `dnsDone`. */
export interface DnsDoneInfo {
  addresses: { address: string; family: number }[];
  error: Error | undefined;
}
/** Argument of `gotConn`. */
export interface GotConnInfo {
  reused: boolean;
  wasIdle: boolean;
  /** ms the connection sat idle before this request (0 when fresh). */
  idleTime: number;
  localAddress: string | undefined;
  remoteAddress: string | undefined;
}

/** Argument of `wroteHeaders`. */
export interface WroteHeadersInfo {
  /** Request line and header fields through the blank line, as written (latin1/utf8 text). */
  head: string;
}

/** Hooks called during one request attempt, in Go's order. Every hook is optional. */
export interface TraceHooks {
  getConn?(info: { hostPort: string }): void;
  dnsStart?(info: { host: string }): void;
  dnsDone?(info: DnsDoneInfo): void;
  connectStart?(info: { address: string; port: number; family: number }): void;
  connectDone?(info: { address: string; port: number; error: Error | undefined }): void;
  tlsHandshakeStart?(): void;
  tlsHandshakeDone?(info: { protocol: string | null; alpnProtocol: string | false | null; error: Error | undefined }): void;
  gotConn?(info: GotConnInfo): void;
  putIdleConn?(info: { error: Error | undefined }): void;
  /** The request head was handed to the socket; `head` is its bytes exactly as serialized (HTTP/1.1). */
  wroteHeaders?(info: WroteHeadersInfo): void;
  wait100Continue?(): void;
  got100Continue?(): void;
  got1xxResponse?(info: { status: number; headers: Record<string, string | string[]> }): void;
  wroteRequest?(info: { error: Error | undefined }): void;
  gotFirstResponseByte?(): void;
}

type HookName = keyof TraceHooks;

/** Calls `hooks[name](arg)` if present; a throwing hook is ignored. */
export function emit<K extends HookName>(
  hooks: TraceHooks | undefined,
  name: K,
  ...arg: Parameters<NonNullable<TraceHooks[K]>>
): void {
  if (hooks === undefined) return;
  const fn = hooks[name] as ((...a: unknown[]) => void) | undefined;
  if (fn === undefined) return;
  try {
    fn.apply(hooks, arg);
  } catch {
    // A hook must never break a request.
  }
}

/**
 * The `connection` of `hourglass:connection:open` / `hourglass:connection:close`
 * messages (SPEC §11): the pool key and the socket's addresses, captured when the
 * connection was made (so `close` still carries them). Over a proxy the remote end is
 * the proxy. A Unix-socket connection has no addresses (undefined).
 */
export interface ConnectionInfo {
  /** Pool key: scheme, host, port and what else separates pools. */
  readonly key: string;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** 4 or 6, as `dns.lookup` gives families. */
  readonly family: number | undefined;
}

/**
 * A connection's {@link ConnectionInfo}, captured when it is made: a closed socket no
 * longer reports its addresses (`connection:close`). One for HTTP/1.1 and HTTP/2.
 */
export function connectionInfo(
  key: string,
  socket: { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number; remoteFamily?: string | number },
): ConnectionInfo {
  const f = socket.remoteFamily;
  return Object.freeze({
    key,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    family: f === 'IPv4' || f === 4 ? 4 : f === 'IPv6' || f === 6 ? 6 : undefined,
  });
}

/** diagnostics_channel channels of SPEC §5. */
export const channels = {
  requestStart: diagnostics.channel('hourglass:request:start'),
  requestHeaders: diagnostics.channel('hourglass:request:headers'),
  requestEnd: diagnostics.channel('hourglass:request:end'),
  requestError: diagnostics.channel('hourglass:request:error'),
  connectionOpen: diagnostics.channel('hourglass:connection:open'),
  connectionClose: diagnostics.channel('hourglass:connection:close'),
};
