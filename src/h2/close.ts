/**
 * h2/close — why an HTTP/2 stream closed before its response ended, as the error SPEC §13
 * names: not processed by the peer (REFUSED_STREAM, or above a GOAWAY's last-stream-id:
 * `stream-refused`, marked so the transport may replay it), the connection's own failure
 * (`h2-protocol-error`, a PING or SETTINGS timeout), a reset by the peer (`stream-reset`
 * with `h2Code`), or a dead socket (`connection-closed` before the head, `truncated-body`
 * after it, with the socket error as `cause`).
 *
 * Pure functions over what the stream and its session know; never touches a stream.
 * Invariant: a stream that got a response head is never called unprocessed.
 */

import * as http2 from 'node:http2';
import { ProtocolError } from '../errors.js';
import type { H2Session } from './session.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = http2.constants;

const UNPROCESSED = Symbol('hourglass.h2.unprocessed');

/** What a stream knows when it closed early. */
export interface StreamFacts {
  /** RST_STREAM code node reports for the stream (undefined: none). */
  rstCode: number | undefined;
  headSeen: boolean;
  /** Above a GOAWAY's last-stream-id. */
  aboveGoaway: boolean;
  /** Opened within the peer's advertised stream limit (a refusal then counts against the connection). */
  withinLimit: boolean;
  requestSent: boolean;
  /** The error node emitted on the stream, if any. */
  streamError: Error | undefined;
  /** nghttp2 reset the stream itself (PROTOCOL_ERROR): the response broke RFC 9113. */
  selfReset: boolean;
  /** Node reset the stream itself (ENHANCE_YOUR_CALM) for a head of more fields than it takes. */
  tooManyFields: boolean;
  /** The head declared a content-length that the body did not reach. */
  truncated: boolean;
  /** nghttp2 reset the stream for DATA beyond the head's content-length. */
  surplus: boolean;
}

/** On an unprocessed stream's error: the GOAWAY was graceful and its connection had processed other streams. */
const SERVED = Symbol('hourglass.h2.served');

/**
 * A stream above a graceful GOAWAY's last-stream-id on a connection that processed other
 * streams first: a server closing its connections after so many requests (nginx's
 * keepalive_requests) with more in flight than one connection's share — each replay makes
 * progress, so it may be replayed again (SPEC §13, twelfth attack F3).
 */
export function refusedAfterServing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { [SERVED]?: boolean })[SERVED] === true;
}

/** The way a stream was not processed by the peer, read from its error (undefined: it was, or may have been). */
export function unprocessed(err: unknown): 'refused' | 'goaway' | undefined {
  return typeof err === 'object' && err !== null ? (err as { [UNPROCESSED]?: 'refused' | 'goaway' })[UNPROCESSED] : undefined;
}

/**
 * The error of a stream the peer never processed (REFUSED_STREAM, or above a GOAWAY's
 * last-stream-id, with no response yet), which the transport may replay; else undefined.
 * Counts a refusal on the session.
 */
export function unprocessedError(s: H2Session, f: StreamFacts): Error | undefined {
  const goaway = f.aboveGoaway;
  if (f.headSeen || !(f.rstCode === NGHTTP2_REFUSED_STREAM || goaway)) return undefined;
  if (!goaway && f.withinLimit) s.refused();
  const err = new ProtocolError(
    'stream-refused',
    goaway ? 'the server went away (GOAWAY) before processing the stream' : 'the server refused the stream (REFUSED_STREAM)',
    {
      requestSent: f.requestSent,
      cause: f.streamError,
      h2Code: goaway ? (s.goawayCode ?? NGHTTP2_REFUSED_STREAM) : NGHTTP2_REFUSED_STREAM,
    },
  );
  (err as Error & { [UNPROCESSED]?: string })[UNPROCESSED] = goaway ? 'goaway' : 'refused';
  if (goaway && (s.goawayCode ?? NGHTTP2_NO_ERROR) === NGHTTP2_NO_ERROR && s.lastStreamId > 0 && Number.isFinite(s.lastStreamId)) {
    (err as Error & { [SERVED]?: boolean })[SERVED] = true;
  }
  return err;
}

/** Why the stream closed before its response ended. */
export function closeError(s: H2Session, f: StreamFacts): Error {
  const ctx = { requestSent: f.requestSent, cause: f.streamError };
  const skipped = unprocessedError(s, f);
  if (skipped !== undefined) return skipped;
  if (s.failure !== undefined) return s.failure(f.requestSent);
  const se = f.streamError as (Error & { code?: unknown }) | undefined;
  if (se !== undefined && (se.code === 'ERR_HTTP2_ERROR' || se.code === 'ERR_HTTP2_SESSION_ERROR')) {
    return s.protocolFailure(se)(f.requestSent);
  }
  if (f.tooManyFields) {
    return new ProtocolError('headers-too-large', `response head has more fields than fit in maxResponseHeaderBytes (${s.maxHeaderBytes})`, ctx);
  }
  if (f.selfReset) {
    // nghttp2 found the response malformed (a field name or value, :status, a pseudo-header
    // in the wrong place, a content-length the DATA did not match) and reset it itself.
    if (f.surplus) {
      return new ProtocolError('unexpected-data', 'the response body is longer than its content-length (the stream was reset with PROTOCOL_ERROR)', { ...ctx, h2Code: 1 });
    }
    return f.truncated
      ? new ProtocolError('truncated-body', 'the response body ended before its content-length (the stream was reset with PROTOCOL_ERROR)', { ...ctx, h2Code: 1 })
      : new ProtocolError('h2-protocol-error', 'the response on this stream broke RFC 9113 (malformed header block or framing); it was reset with PROTOCOL_ERROR', { ...ctx, h2Code: 1 });
  }
  const code = f.rstCode;
  // The socket died (node resets the streams of a destroyed session with CANCEL or INTERNAL_ERROR).
  const dead = s.socketError !== undefined || s.socket.destroyed || s.session.destroyed;
  const localReset = dead && (code === NGHTTP2_CANCEL || code === NGHTTP2_INTERNAL_ERROR);
  if (code !== undefined && code !== NGHTTP2_NO_ERROR && !localReset) {
    return new ProtocolError('stream-reset', `the server reset the stream with error code ${code}`, { ...ctx, h2Code: code });
  }
  if (!dead && code === NGHTTP2_NO_ERROR) {
    return new ProtocolError('stream-reset', 'the server closed the stream before the response ended', { ...ctx, h2Code: 0 });
  }
  const cause = s.socketError ?? f.streamError;
  return f.headSeen
    ? new ProtocolError('truncated-body', 'connection closed before the response body ended', { ...ctx, cause })
    : new ProtocolError('connection-closed', 'connection closed before the response head', { ...ctx, cause });
}
