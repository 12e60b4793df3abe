/**
 * unix — the Unix domain socket side of the dialer (SPEC §12 "Unix domain sockets").
 *
 * Owns: what a socket-path target looks like inside a dial (family {@link PATH_FAMILY},
 * port 0), opening the socket for it, and how it is named in messages (`unix:/path`).
 * Never does: the dial's budget, timeout, abort or trace handling — a path dial is one
 * ordinary attempt of `DialRun` (dialer.ts), so all of that is the dialer's.
 *
 * Invariants: a path target never goes through DNS and never binds `localAddress`;
 * port 0 is what marks a path target in messages (no TCP attempt has port 0: `dial()`
 * rejects it).
 */

import * as net from 'node:net';

/** `family` of a socket-path target (trace `connectStart`, `DialAttempt`): neither 4 nor 6. */
export const PATH_FAMILY = 0;

/** `port` reported for a socket-path target: a Unix socket has none. */
export const PATH_PORT = 0;

/** Connects to the Unix domain socket at `path` (Windows: a named pipe). */
export function connectPath(path: string, onread: net.OnReadOpts | undefined): net.Socket {
  return net.connect(onread === undefined ? { path } : { path, onread });
}

/** `unix:/run/x.sock` — how a path target is named where `host:port` would be. */
export function pathName(path: string): string {
  return `unix:${path}`;
}
