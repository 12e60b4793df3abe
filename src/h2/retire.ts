/**
 * h2/retire — keeps a closed HTTP/2 session's native handle reachable until a moment past
 * its socket's close (issue #16 N10). Node 20 aborts the process (`~Http2Session`:
 * `current_nghttp2_memory_ == 0`) when the garbage collector takes a session's handle while
 * one of its streams still holds nghttp2 memory (part of a header block a CONTINUATION flood
 * never ended): node drops its own reference at teardown, and a minor collection right after
 * took the handle first about every other time.
 *
 * Owns: the set of retiring handles and their release timers.
 * Never: touches the session or its socket beyond listening for the socket's 'close'.
 * Invariants: a handle is held (by its H2Session while it lives, then here) until
 * {@link RETIRE_MS} after its socket closed; every release timer is unref'd.
 */

import type * as http2 from 'node:http2';
import type { Socket } from 'node:net';

/** The native handles of closed sessions, kept reachable until a moment past their socket's close. */
const retiring = new Set<object>();
/** How long past its socket's close a closed session's handle is kept (ms). */
const RETIRE_MS = 200;

/** The session's native handle (node's internal `kHandle`); undefined where node has none yet. */
export function nativeHandle(s: http2.ClientHttp2Session): object | undefined {
  const key = Object.getOwnPropertySymbols(s).find((k) => k.description === 'kHandle');
  const h = key === undefined ? undefined : (s as unknown as Record<symbol, unknown>)[key];
  return typeof h === 'object' && h !== null ? h : undefined;
}

/** Keeps `handle` reachable until {@link RETIRE_MS} after `socket` closed. */
export function retire(handle: object | undefined, socket: Socket): void {
  if (handle === undefined || retiring.has(handle)) return;
  retiring.add(handle);
  const release = (): void => {
    setTimeout(() => retiring.delete(handle), RETIRE_MS).unref();
  };
  if (socket.closed) release();
  else socket.once('close', release);
}
