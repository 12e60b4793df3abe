/**
 * h2/delivery — the response body of one HTTP/2 stream as it arrives and ends (SPEC §13):
 * DATA handed to the body channel (`maxResponseBytes`, backpressure: a full channel pauses
 * the stream so its receive window stays shut), the peer's END_STREAM, and a close before
 * the end, classified by h2/close.ts from what the stream knows ({@link facts}): a reset
 * nghttp2 sent itself (a malformed response, a body past its content-length) told from the
 * peer's own by the bytes the socket wrote.
 *
 * Owns: the stream's body byte count and its end. Functions over the stream, which owns the
 * state (h2/stream.ts); none of its own.
 *
 * Never: reads on behalf of a consumer that is not reading, builds an error's text for an
 * early close itself (h2/close.ts does).
 *
 * Invariants: only an END_STREAM pushed while the stream was open completes the body; a
 * close before it fails the stream exactly once, a turn later (when connection-level causes
 * are recorded on the session).
 */

import * as http2 from 'node:http2';
import { EXCHANGE_SLOT } from '../deadline.js';
import { ProtocolError } from '../errors.js';
import { closeError, type StreamFacts } from './close.js';
import { handleBytes } from './probe.js';
import type { H2Stream } from './stream.js';

const { READ_IDLE, RATE } = EXCHANGE_SLOT;
/** Bytes of an HTTP/2 frame header. */
const FRAME_HEADER = 9;
const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;
/** An RST_STREAM frame on the wire (9-byte header, 4-byte code). */
const RST_STREAM_BYTES = 13;

export function onData(hs: H2Stream, chunk: Buffer): void {
  const ch = hs.channel;
  if (ch === undefined || hs.failed !== undefined) return;
  // Only this DATA frame's bytes (its header included) are accounted for: a violation
  // read with it is still seen by the probe (issue #16 adv5 N1).
  hs.session.touch(chunk.length + FRAME_HEADER);
  hs.bodyBytes += chunk.length;
  if (hs.bodyBytes > hs.rawLimit) {
    hs.fail(new ProtocolError('body-too-large', `response body exceeds maxResponseBytes (${hs.rawLimit})`, {}));
    return;
  }
  if (hs.clock.dueAt(READ_IDLE) !== Number.POSITIVE_INFINITY) hs.clock.after(READ_IDLE, hs.req.timeouts.readIdleTimeout);
  if (!ch.push(chunk, true) && !hs.remoteEnded) {
    // Backpressure: not reading the stream keeps its receive window shut (SPEC §13). Once
    // the peer ended the stream there is no window to keep shut: what node holds is taken
    // (h2/stream.ts drainEnded).
    hs.stream?.pause();
    hs.setParked(true);
    hs.clock.unset(RATE);
  }
}

export function onEnd(hs: H2Stream): void {
  if (hs.failed !== undefined) return;
  const s = hs.stream;
  // RST_STREAM(NO_ERROR) while our upload waits for the peer's window: node ends the
  // readable side but keeps the closed stream until its writes drain, which they never
  // will, so 'close' would not come (the request waited for an idle timeout): let node's
  // stream go, and its 'close' settles the request (adv8 F6). A closed stream sends nothing more.
  if (s !== undefined && s.closed && !s.destroyed && s.writableLength > 0) s.destroy();
  if (hs.channel === undefined) {
    // Before any head: a reset or a dead connection ends the readable side too ('close'
    // classifies those); END_STREAM alone (an empty DATA frame) is malformed (RFC 9113 §8.1).
    setImmediate(() => {
      const code = hs.stream?.rstCode;
      if (hs.failed !== undefined || hs.finished || (code !== undefined && code !== NGHTTP2_NO_ERROR)) return;
      if (hs.session.failure !== undefined || hs.session.session.destroyed || hs.streamError !== undefined) return;
      if (code === NGHTTP2_NO_ERROR && hs.stream?.closed === true) return;
      hs.fail(new ProtocolError('h2-protocol-error', 'the server ended the stream before sending a response head', { requestSent: hs.sent }));
    });
    return;
  }
  // A reset or a dead socket ends the readable side too (RST_STREAM NO_ERROR included):
  // without the peer's END_STREAM that is a failure, which 'close' reports.
  const code = hs.stream?.rstCode;
  if (!hs.remoteEnded || code !== undefined && code !== NGHTTP2_NO_ERROR) return;
  hs.session.touch(FRAME_HEADER); // at most an empty DATA frame with END_STREAM
  hs.complete = true;
  hs.clock.clear();
  hs.channel.end();
}

export function onClose(hs: H2Stream): void {
  if (hs.finished || hs.failed !== undefined) return;
  if (hs.complete) return; // the body settles through the channel
  // A reset nghttp2 sent itself (a malformed response) leaves the socket only after this
  // event: bytes written by the next turn tell it from the peer's own RST_STREAM.
  const out = handleBytes(hs.session.socket, 'bytesWritten');
  // Connection-level causes are recorded on the session a moment after the stream closes.
  setImmediate(closeLater, hs, out, true);
}

function closeLater(hs: H2Stream, out: number, first: boolean): void {
  if (hs.finished || hs.failed !== undefined || hs.complete) return;
  // The session is already destroyed but its error not yet heard (a stream nghttp2 reset
  // for a WINDOW_UPDATE overflow, then the connection it shut: adv8 F5): one turn more, so
  // the stream fails with the connection's cause, not as a reset by the peer.
  if (first && hs.session.session.destroyed && hs.session.failure === undefined) {
    setImmediate(closeLater, hs, out, false);
    return;
  }
  const own = out >= 0 && handleBytes(hs.session.socket, 'bytesWritten') - out >= RST_STREAM_BYTES;
  hs.selfReset = own && hs.stream?.rstCode === NGHTTP2_PROTOCOL_ERROR;
  // Node resets a head of more fields than maxHeaderListPairs itself (issue #16 adv4 F1).
  hs.tooManyFields = own && !hs.headSeen && hs.stream?.rstCode === NGHTTP2_ENHANCE_YOUR_CALM;
  hs.fail(closeError(hs.session, facts(hs)));
}

/** How this stream stands when it closed early (for {@link closeError}). */
export function facts(hs: H2Stream): StreamFacts {
  return {
    rstCode: hs.stream?.rstCode,
    headSeen: hs.headSeen,
    aboveGoaway: hs.aboveGoaway || hs.id > hs.session.lastStreamId,
    withinLimit: hs.withinLimit,
    requestSent: hs.sent,
    streamError: hs.streamError,
    selfReset: hs.selfReset,
    tooManyFields: hs.tooManyFields,
    truncated: hs.channel !== undefined && hs.channel.expectedLength >= 0 && hs.bodyBytes < hs.channel.expectedLength,
    surplus: hs.selfReset && surplus(hs),
  };
}

/**
 * nghttp2 dropped DATA of this stream that would have passed its content-length (it checks
 * each DATA piece before handing it on, and resets the stream with PROTOCOL_ERROR): since
 * the head it counted more DATA on the connection than node handed to any stream, by more
 * than the body still lacked. Padding, or DATA for a stream already closed, in that span
 * can only add to the count (issue #16 adv4 F4).
 */
function surplus(hs: H2Stream): boolean {
  const length = hs.channel?.expectedLength ?? -1;
  if (hs.recvMark < 0 || length < 0) return false;
  const recv = hs.session.recvData();
  if (recv < hs.recvMark) return false; // a WINDOW_UPDATE went out since: unknown
  const dropped = recv - hs.recvMark - (hs.session.dataIn - hs.dataMark);
  return dropped > length - hs.bodyBytes;
}
