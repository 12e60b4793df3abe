/**
 * h2/teardown — how one HTTP/2 session ends (SPEC §13): a GOAWAY from the peer (draining
 * with NO_ERROR, failing with an error code), a connection-level error from node (a socket
 * error is kept as the cause of `connection-closed`; a protocol error is recorded as the
 * session's failure), nghttp2 shutting an idle session down by itself (its own GOAWAY, which
 * node never reports: through the bytes the socket wrote), and the close itself: quietly
 * (GOAWAY(NO_ERROR), then FIN) when the session is healthy as far as we know, else at once.
 *
 * Owns: the session's GOAWAY facts (`goingAway`, `goawayCode`, `goawayDebug`,
 * `lastStreamId`), its `failure` and `socketError`, and its closing. Functions over the
 * session, which owns the state (h2/session.ts); none of its own besides h2/retire.ts's.
 *
 * Never: retries or replays a stream (the transport, from the stream's error), dials, fails
 * a stream other than through {@link SessionStream.connectionFailed}.
 *
 * Invariants: the failure is recorded before the streams hear of it; the first recorded
 * failure stays; the owner hears `sessionClosed` exactly once ({@link markClosed}).
 */

import * as http2 from 'node:http2';
import { ProtocolError } from '../errors.js';
import { channels } from '../trace.js';
import { handleBytes, STRAY_ACK_ERRNO, STRAY_ACK_MESSAGE } from './probe.js';
import { retire } from './retire.js';
import type { H2Session } from './session.js';

/** Bytes of the smallest GOAWAY (no debug data): what nghttp2 writes when it shuts a session. */
const GOAWAY_OUT = 17;

/** nghttp2 library error codes (negative) to RFC 9113 error codes, where they map. */
const LIB_TO_H2: Readonly<Record<number, number>> = { [-505]: 1, [-524]: 3, [-522]: 6, [-523]: 9, [-536]: 1, [-532]: 1 };
/** NGHTTP2_ERR_FLOW_CONTROL: node's codec shuts the session for a window overflow, a stream's included (adv7). */
const FLOW_CONTROL_ERRNO = -524;
const FLOW_CONTROL_MESSAGE =
  "HTTP/2 connection error: a flow-control window went past 2^31-1 — the server's WINDOW_UPDATE or its SETTINGS_INITIAL_WINDOW_SIZE raised it (RFC 9113 §6.9.1, §6.9.2; node's codec shuts the whole connection, a stream's window included)";

/**
 * Whether nghttp2 shut the session down while it had no stream (issue #16 adv5 N7): the
 * peer sent something since the session went idle, and the session wrote at least a
 * GOAWAY's 17 bytes on its own (PING and SETTINGS ACKs are subtracted; a WINDOW_UPDATE
 * or RST_STREAM trailing the last stream went before the idle mark). Such a session is
 * failed here, so it leaves the pool before a request is put on it. A healthy one taken
 * for dead (the peer's frame answered by both a WINDOW_UPDATE and an RST_STREAM) only
 * costs a new connection.
 */
export function diedIdle(conn: H2Session): boolean {
  if (!wroteAlone(conn)) return false;
  conn.fail(
    (sent) =>
      new ProtocolError('h2-protocol-error', 'HTTP/2 connection error: a frame from the server broke RFC 9113 while the connection was idle, and it was shut down (GOAWAY sent)', {
        requestSent: sent,
      }),
  );
  return true;
}

/** Since the idle mark: bytes were read, and at least a GOAWAY's worth written on the session's own. */
function wroteAlone(conn: H2Session): boolean {
  const mark = conn.idleMark;
  if (mark === undefined) return false;
  const read = handleBytes(conn.socket, 'bytesRead');
  const written = handleBytes(conn.socket, 'bytesWritten');
  return read >= 0 && written >= 0 && read !== mark.read && written - conn.controlOut >= mark.written + GOAWAY_OUT;
}

/** {@link H2Session.close}. */
export function closeSession(conn: H2Session, now: boolean): void {
  if (conn.isClosed) return;
  const s = conn.session;
  Reflect.deleteProperty(s, 'close'); // the skip set by onGoaway, if node never called it
  // Quietly only when the session is healthy as far as we know: one nghttp2 shut down by
  // itself (a PING unanswered, or its own GOAWAY written while idle) never finishes a
  // graceful close and would hold the socket (and the process) ~1 s (issue #16 adv5 N8);
  // nor when the transport is closing (`now`).
  const doubtful = conn.suspect || conn.pingSentAt >= 0 || (conn.streams.size === 0 && wroteAlone(conn));
  if (!now && !s.destroyed && conn.streams.size === 0 && !conn.socket.destroyed && !doubtful) {
    // Quietly: GOAWAY(NO_ERROR), then node ends the socket (the peer sees the FIN);
    // destroyed anyway if that does not finish promptly.
    s.close(() => conn.socket.destroy());
    setTimeout(() => {
      if (!s.destroyed) s.destroy();
      conn.socket.destroy();
    }, 1_000).unref();
  } else {
    if (!s.destroyed) s.destroy();
    conn.socket.destroy();
  }
  markClosed(conn);
}

/** {@link H2Session.fail}. */
export function failSession(conn: H2Session, err: (requestSent: boolean) => Error, h2Code: number): void {
  if (conn.isClosed) return;
  conn.failure ??= err;
  for (const st of [...conn.streams]) st.connectionFailed(conn.failure);
  if (!conn.session.destroyed) conn.session.destroy(undefined, h2Code);
  conn.socket.destroy();
  markClosed(conn);
}

export function onGoaway(conn: H2Session, code: number, last: number, debug?: Buffer): void {
  conn.touch(17 + (debug?.length ?? 0)); // only this frame's bytes (issue #16 adv5 N1)
  // The server's own words, kept for the error message (printable ASCII, 200 bytes at most).
  const said = debug?.subarray(0, 200).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  if (said !== undefined && said !== '') conn.goawayDebug = said;
  conn.goingAway = true;
  conn.goawayCode = code;
  conn.lastStreamId = last;
  // Marked now: node destroys the streams (and forgets their ids) right after this event.
  for (const st of conn.streams) if (st.id === 0 || st.id > last) st.aboveGoaway = true;
  if (code !== http2.constants.NGHTTP2_NO_ERROR) {
    const c = code;
    conn.failure ??= (sent) =>
      new ProtocolError('h2-protocol-error', `the server closed the HTTP/2 connection with error code ${c} (GOAWAY${conn.goawayDebug === undefined ? '' : `: "${conn.goawayDebug}"`})`, {
        requestSent: sent,
        h2Code: c,
      });
  }
  conn.owner?.slotsChanged(conn);
  if (conn.streams.size === 0) {
    conn.close();
    return;
  }
  if (code === http2.constants.NGHTTP2_NO_ERROR) {
    // Node closes the session right after this event, and a closing session sends no
    // PING: the draining streams would lose their health check (SPEC §13). That one call
    // is skipped; the session closes itself when its last stream ends (ended()).
    const s = conn.session;
    Object.defineProperty(s, 'close', {
      configurable: true,
      writable: true,
      value: () => {
        Reflect.deleteProperty(s, 'close');
      },
    });
  }
}

export function onError(conn: H2Session, err: Error): void {
  if (isSocketError(err)) {
    conn.socketError = err;
    return;
  }
  const f = conn.protocolFailure(err);
  for (const st of [...conn.streams]) st.connectionFailed(f);
}

/** {@link H2Session.protocolFailure}. */
export function protocolFailure(conn: H2Session, err: Error): (requestSent: boolean) => Error {
  const errno = (err as { errno?: unknown }).errno;
  // The peer's GOAWAY code when it named an error; else what our side found (a GOAWAY
  // NO_ERROR before our own PROTOCOL_ERROR does not make the failure NO_ERROR, adv7 P1).
  const h2Code = conn.goawayCode || (typeof errno === 'number' ? LIB_TO_H2[errno] : undefined) || 1;
  const message =
    errno === STRAY_ACK_ERRNO ? STRAY_ACK_MESSAGE : errno === FLOW_CONTROL_ERRNO ? FLOW_CONTROL_MESSAGE : `HTTP/2 connection error: ${err.message}`;
  conn.failure ??= (sent) => new ProtocolError('h2-protocol-error', message, { cause: err, requestSent: sent, h2Code });
  return conn.failure;
}

export function markClosed(conn: H2Session): void {
  if (conn.isClosed) return;
  conn.isClosed = true;
  conn.clock.dispose();
  conn.streamTimer.release();
  retire(conn.handle, conn.socket);
  conn.handle = undefined;
  if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ connection: conn.info });
  const owner = conn.owner;
  conn.owner = undefined;
  owner?.sessionClosed(conn);
}

function isSocketError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_HTTP2_ERROR';
}
