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
 * It also sets the header list size node enforces ({@link nodeHeaderCap}), so that
 * `maxResponseHeaderBytes` decides a head's fate, not node's own count, and the largest
 * request head node sends ({@link MAX_SEND_HEAD}), so that one HTTP/1.1 sends goes out.
 *
 * Never: fails a stream itself (the session does), reads the socket.
 * Invariant: no message says the server broke RFC 9113 when it may not have.
 */

import { HourglassError, ProtocolError } from '../errors.js';

/** The least header list size node is told to enforce (bytes as node counts them). */
const NODE_CAP_FLOOR = 65_536;
/** The least a field weighs as node counts it: a 1-byte name, an empty value, 32 (RFC 9113 §6.5.2). */
const NODE_FIELD_MIN = 33;

/**
 * The header list size node itself enforces (and advertises in SETTINGS), at least what a
 * head that readFields (h2/head.ts) accepts can weigh as node counts it. Node counts a field
 * as name + value + 32 (RFC 9113 §6.5.2), readFields as its HTTP/1.1 text, name + value + 4
 * (5 bytes at least): a head of L bytes for readFields has at most L / 5 fields, so it
 * weighs at most L + 28 L / 5 for node, plus the pseudo-header; and 64 KiB at least. Over
 * node's caps node resets the stream itself, and which code that reset carries (node's
 * ENHANCE_YOUR_CALM, or nghttp2's INTERNAL_ERROR when a write of ours was in progress —
 * the peer's packet timing decides) cannot be read back for sure; up to them readFields
 * decides, `headers-too-large` whatever the timing (issue #16). Memory stays bounded by
 * node's per-session cap (`maxSessionMemory`), which counts every stream's header fields.
 */
export function nodeHeaderCap(maxHeaderBytes: number): number {
  return Math.min(Math.max(Math.ceil((maxHeaderBytes * 33) / 5) + 64, NODE_CAP_FLOOR), 2 ** 32 - 1);
}

/** The most fields node lets a head have: as many as {@link nodeHeaderCap} can hold. */
export function nodeFieldCap(maxHeaderBytes: number): number {
  return Math.min(Math.floor(nodeHeaderCap(maxHeaderBytes) / NODE_FIELD_MIN), 2 ** 31 - 1) + 8;
}

/**
 * The largest request header block node's codec is told to send (its
 * `maxSendHeaderBlockLength`, 64 KiB by default, over which it refuses the HEADERS itself and
 * the stream closed as if the server had refused it, REFUSED_STREAM: twelfth attack F5).
 * A request head as HTTP/1.1 would send it goes out; one whose fields weigh more (name +
 * value + 32 each, more than HPACK can make of them) fails before a stream opens
 * ({@link requestHeadTooLarge}).
 */
export const MAX_SEND_HEAD = 16 * 1024 * 1024;

/** The error for a request head over {@link MAX_SEND_HEAD}, or undefined when it fits (`flat`: name, value, ...). */
export function requestHeadTooLarge(flat: readonly string[], path: string): HourglassError | undefined {
  let bytes = path.length + 64; // the pseudo-headers, generously
  for (let i = 0; i < flat.length; i++) bytes += flat[i]!.length + (i % 2 === 0 ? 32 : 0);
  if (bytes <= MAX_SEND_HEAD) return undefined;
  return new HourglassError(`request head too large for HTTP/2: its fields weigh ${bytes} bytes, over the ${MAX_SEND_HEAD} bytes node's HTTP/2 codec is told to send`, 'HG_INVALID_ARG');
}

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
