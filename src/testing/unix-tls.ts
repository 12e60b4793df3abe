/**
 * unix-tls — TLS for a fault server listening on a Unix domain socket.
 *
 * Owns: a `net.Server` that wraps each accepted socket in a server-side `TLSSocket`
 * itself. A `tls.Server` pairs its TLS socket with the raw socket under it by peer
 * address and port, which a Unix socket does not have, so the fault server cannot use
 * it there; here the pairing is the closure.
 *
 * Invariants: `onAccept` runs once per accepted socket, `onSecure` at most once, after
 * the handshake; a failed handshake is recorded in `info.tlsError` and destroys the socket.
 */

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ConnectionInfo } from './conn.js';

/** A Unix-socket listener speaking TLS with `options` (no client certificates). */
export function unixTlsServer(
  options: tls.SecureContextOptions & { ALPNProtocols?: string[] },
  onAccept: (raw: net.Socket) => ConnectionInfo,
  onSecure: (info: ConnectionInfo, raw: net.Socket, socket: tls.TLSSocket) => void,
): net.Server {
  const secureContext = tls.createSecureContext(options);
  const ALPNProtocols = options.ALPNProtocols;
  return net.createServer({ allowHalfOpen: true }, (raw) => {
    const info = onAccept(raw);
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext, ...(ALPNProtocols ? { ALPNProtocols } : {}) });
    let secured = false;
    socket.once('secure', () => {
      secured = true;
      onSecure(info, raw, socket);
    });
    socket.on('error', (err: Error) => {
      if (secured) return; // the connection's own handlers deal with it from here
      info.tlsError = err.message;
      socket.destroy();
    });
  });
}
