/**
 * h2/field-cap — what a stream and its siblings are told when nghttp2 shut a connection
 * down by itself (the termination probe's verdict, h2/probe.ts), and the one case of it
 * that is no broken frame: a response header field over nghttp2's per-field cap.
 *
 * nghttp2 refuses an HPACK string (a field's name or value) longer than 65 536 bytes on
 * the wire (NGHTTP2_HD_MAX_NV), whatever `maxResponseHeaderBytes` allows: the frames are
 * valid RFC 9113, but the decoder's state is the connection's, so nghttp2 sends GOAWAY
 * (COMPRESSION_ERROR) and stops; node emits nothing, and the probe finds the session dead.
 * Which stream carried the block is not reported either, and node stops reading once
 * nghttp2 stops (measured on node 20: the bytes read end with the read that held the
 * string's length, 64 KiB at most), so the block's size is never seen whole. It is inferred:
 * a whole 64 KiB read arrived that no frame node reported accounts for (a header block in
 * CONTINUATIONs that big, which a field over the cap needs; a broken frame is rarely that
 * big — a 20 KB oversized DATA frame is not taken for it) and exactly one stream awaits
 * its head — that stream fails `headers-too-large`, the others say their connection was
 * lost for another stream's head. Otherwise (the block came in smaller reads, as over TLS
 * it may, several heads were awaited, or a trailer section) every stream gets the message
 * that names both causes (a broken frame, or a field over the cap).
 *
 * Never: fails a stream itself (the session does), reads the socket.
 * Invariant: no message says the server broke RFC 9113 when it may not have.
 */

import { ProtocolError } from '../errors.js';

/** nghttp2's cap on one HPACK string (a field's name or value) on the wire, in bytes. */
export const HPACK_STRING_CAP = 65_536;

/** What the session knows of a stream when nghttp2 shut the connection down. */
export interface CapSuspect {
  /** No final response head was reported yet (and the stream has not failed). */
  readonly awaitingHead: boolean;
}

/** The one stream whose head may be the oversized block, or undefined when it cannot be told. */
export function capCulprit<S extends CapSuspect>(unaccounted: number, streams: Iterable<S>): S | undefined {
  if (unaccounted < HPACK_STRING_CAP) return undefined;
  let found: S | undefined;
  for (const st of streams) {
    if (!st.awaitingHead) continue;
    if (found !== undefined) return undefined;
    found = st;
  }
  return found;
}

const SHUT = "node's HTTP/2 codec (nghttp2) shut the connection down (GOAWAY sent)";

/** The stream whose response head nghttp2 refused. */
export function capError(sent: boolean): ProtocolError {
  return new ProtocolError(
    'headers-too-large',
    `response head refused: a header block of 64 KiB or more arrived and ${SHUT} (over HTTP/2 one header field is capped at ${HPACK_STRING_CAP} bytes by the codec, whatever maxResponseHeaderBytes allows)`,
    { requestSent: sent },
  );
}

/** A sibling of {@link capError}'s stream: its own frames were valid. */
export function capSiblingError(sent: boolean): ProtocolError {
  return new ProtocolError(
    'h2-protocol-error',
    `HTTP/2 connection lost: ${SHUT} after refusing another stream's response head, a header block of 64 KiB or more (one header field is capped at ${HPACK_STRING_CAP} bytes by the codec); this stream's frames were not at fault`,
    { requestSent: sent },
  );
}

/** The verdict when no culprit can be told. */
export function codecShutError(sent: boolean): ProtocolError {
  return new ProtocolError(
    'h2-protocol-error',
    `HTTP/2 connection error: ${SHUT} after a frame from the server it refused: a frame that broke RFC 9113, or a header field over its ${HPACK_STRING_CAP}-byte per-field cap`,
    { requestSent: sent },
  );
}
