/**
 * h2/probe — notices that nghttp2 shut a connection down by itself. nghttp2 answers some
 * connection errors (DATA on stream 0 or on an idle stream, bad HPACK, an oversized frame,
 * a 7-byte SETTINGS...) with its own GOAWAY, then neither reads nor writes again, and
 * node emits nothing: without this the streams would wait for their own timeouts.
 *
 * How (measured on node 20: no session event, `session.state` field or socket event
 * changes; a JS Duplex between socket and session costs 1.3-2x CPU per request): the
 * socket's native handle counts the bytes node's HTTP/2 layer read and wrote. Every frame
 * node reports to hourglass marks the bytes read so far as accounted for
 * ({@link TerminationProbe.heard}). On a tick (every {@link PROBE_EVERY} ms while streams
 * are open) with no frame reported, if bytes arrived unaccounted for (and no connection
 * WINDOW_UPDATE explains them) a PING is submitted; if at the next tick it is still in
 * nghttp2's outbound queue, nothing was written meanwhile and the socket holds no
 * backlog, nghttp2 has terminated the session. A session that died while idle: the first
 * stream's HEADERS never leave; as nghttp2 also holds HEADERS for the peer's stream limit,
 * that only triggers the PING test, never a verdict of its own.
 *
 * Owns: its counters and the probe PING. Never: fails streams itself (it tells its
 * owner) or sends more than one PING per {@link PROBE_GAP} ms (it runs whatever
 * `h2.pingInterval` is: that option turns off the PING after silence only). A violation read right after a response head or 1xx is seen:
 * when the head was the last frame reported, or only frames of the same read came after
 * it, a quiet tick probes once (so one PING when a body pauses after a head that came
 * alone or with its first DATA). One read right after a DATA, SETTINGS, PING or GOAWAY
 * frame is seen too: those account for their own bytes only (a DATA frame its payload and
 * header, a SETTINGS frame 6 bytes per setting that changed, a GOAWAY its 17 bytes and
 * debug data), so the violation's bytes stay unaccounted for (issue #16 adv5 N1). Padding
 * or a SETTINGS frame repeating a value leaves bytes unaccounted for too: that costs one
 * PING, never a verdict.
 */

import type * as http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { now } from '../deadline.js';

/** Tick period while streams are open (ms). */
export const PROBE_EVERY = 50;
/** The least time between two probe PINGs of a connection (ms). */
const PROBE_GAP = 500;

/** Counters of a socket's native handle (what node's HTTP/2 layer read and wrote); -1 when not countable. */
export function handleBytes(socket: Socket, which: 'bytesRead' | 'bytesWritten'): number {
  const n = (socket as unknown as { _handle?: Record<string, unknown> | null })._handle?.[which];
  return typeof n === 'number' ? n : -1;
}

/** One connection's probe. */
export class TerminationProbe {
  /** A frame was reported since the last tick. */
  private sawFrame = false;
  /** Bytes read as of the last frame reported or probe answered. */
  private accounted = 0;
  /** Bytes written when the outstanding check began; -1: none outstanding. */
  private out = -1;
  /** When the outstanding check began (monotonic ms). */
  private outAt = 0;
  /** The outstanding check is a PING (else: the first stream's HEADERS after an idle spell). */
  private ping = false;
  /** No new PING before this (monotonic ms). */
  private after = 0;
  /** A header block was reported and no PING has been sent since ({@link heardBlock}). */
  private unsure = false;
  /** Bytes read when the last probe PING was submitted. */
  private readAtPing = 0;
  /** Bytes read as of the last header block reported (-1: none). */
  private blockRead = -1;
  /** The peer's connection window at the last PING decision (-1: not read yet). */
  private window = -1;

  constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly socket: Socket,
    /** Bytes queued in the socket below node's HTTP/2 layer (libuv, TLS). */
    private readonly backlog: () => number,
    /** A probe PING was submitted (its bytes are no stream's). */
    private readonly pinged: () => void = () => {},
  ) {}

  /** A first stream opened (its HEADERS are queued): what came while idle is no stream's silence. */
  started(): void {
    this.accounted = handleBytes(this.socket, 'bytesRead');
    this.unsure = false; // a dead session is seen by the HEADERS that never leave
    if (this.out < 0) {
      this.out = handleBytes(this.socket, 'bytesWritten');
      this.outAt = now();
      this.ping = false;
    }
  }

  /** Node reported a frame: the bytes read so far are accounted for. */
  heard(): void {
    this.sawFrame = true;
    const read = handleBytes(this.socket, 'bytesRead');
    // nghttp2 went on past the last header block — unless this frame came in the same
    // read as the block: bytes after it may still be unseen (issue #16 adv5 N1).
    if (read !== this.blockRead) this.unsure = false;
    this.accounted = read;
  }

  /**
   * Node reported a header block (a response head or 1xx) whose size on the wire is
   * unknown: bytes that came in the same read (a violation nghttp2 answered with its own
   * GOAWAY) may follow it unseen. Unless another frame is reported after it, the next quiet
   * tick probes once (issue #16 F0).
   */
  heardBlock(): void {
    this.heard();
    this.unsure = true;
    this.blockRead = this.accounted;
  }

  /** Node reported a frame of known size (SETTINGS ACK, PING): only its bytes are accounted for. */
  heardBytes(bytes: number): void {
    const before = this.accounted;
    this.heard();
    this.accounted = Math.min(this.accounted, before + bytes);
  }

  /** Bytes read that no frame node reported accounts for (h2/field-cap.ts). */
  unaccounted(): number {
    const read = handleBytes(this.socket, 'bytesRead');
    return read < 0 ? 0 : read - this.accounted;
  }

  /** A tick: true when nghttp2 has terminated the session. */
  tick(): boolean {
    const quiet = !this.sawFrame;
    this.sawFrame = false;
    const bytesIn = handleBytes(this.socket, 'bytesRead');
    if (bytesIn < 0) return false;
    const written = handleBytes(this.socket, 'bytesWritten');
    if (this.out >= 0) {
      // Node writes what was submitted from a setImmediate: a tick in the same turn of the
      // loop (a stream opened in the check phase, a tick due in the next timers phase)
      // would find the HEADERS still queued on a healthy session (issue #16 adv4 F-A).
      if (now() - this.outAt < PROBE_EVERY / 2) return false;
      const stuck = written === this.out && (this.session.state.outboundQueueSize ?? 0) > 0 && this.backlog() === 0;
      if (stuck && this.ping) return true;
      // HEADERS that did not leave may be held by nghttp2 for the peer's stream limit (a
      // batch opened while the last one's streams close), which no terminated session
      // explains: only a PING that does not leave either proves it (issue #16 adv4 F-A).
      if (stuck) this.sendPing(written);
      else if (this.ping && written !== this.out && now() - this.outAt >= PROBE_GAP && bytesIn > Math.max(this.readAtPing, this.accounted)) {
        // Our PING left but no answer came, and bytes arrived unaccounted for since it
        // left: the session may have died after the PING left (its ACK then goes unread).
        // A second PING that does not leave proves it (issue #16 adv5 N1). Bytes read
        // before it left were read by a live session (it wrote the PING after them): a
        // peer that does not ACK gets no PING per PROBE_GAP for them (adv6 M5).
        this.sendPing(written);
      }
      if (!this.ping && written !== this.out) this.out = -1;
      return false;
    }
    if (!quiet || bytesIn === this.accounted && !this.unsure || now() < this.after) return false;
    const window = this.session.state.remoteWindowSize ?? -1;
    const moved = this.window >= 0 && window > this.window;
    this.window = window;
    if (moved && !this.unsure) {
      // A connection WINDOW_UPDATE explains the bytes: nghttp2 is still reading.
      this.accounted = bytesIn;
      return false;
    }
    this.sendPing(written);
    return false;
  }

  private sendPing(written: number): void {
    try {
      if (!this.session.ping(() => this.answered())) return;
    } catch {
      return;
    }
    this.pinged();
    this.out = written;
    this.outAt = now();
    this.ping = true;
    this.unsure = false;
    this.readAtPing = handleBytes(this.socket, 'bytesRead');
  }

  private answered(): void {
    this.out = -1;
    // The peer answers in order: all read before the PING left was read by a live
    // session, whatever node reported of it (a WINDOW_UPDATE, PRIORITY or an extension
    // frame): one PING for it, not one every PROBE_GAP (issue #16 adv5 N6).
    if (this.readAtPing > this.accounted) this.accounted = this.readAtPing;
    this.heardBytes(17);
    this.after = now() + PROBE_GAP;
  }
}

/** Opaque data for a health-check PING: its ACK must carry the same 8 bytes (RFC 9113 §6.7). */
export function pingPayload(): Buffer {
  return randomBytes(8);
}

/** The ACK node handed to a PING's callback carries that PING's opaque data (issue #16 adv5 N4). */
export function ackMatches(ack: unknown, sent: Uint8Array): boolean {
  return ack instanceof Uint8Array && Buffer.compare(ack, sent) === 0;
}

/** nghttp2's NGHTTP2_ERR_PROTO: what node reports (as the session's error) for an ACK it has no PING or SETTINGS for. */
export const STRAY_ACK_ERRNO = -505;

/**
 * The message for {@link STRAY_ACK_ERRNO}. nghttp2 reports several breaches of RFC 9113 with
 * that one code, so the message names the common ones and claims none (issue #16 adv7 P1:
 * a GOAWAY raising its last-stream-id, a stream WINDOW_UPDATE of 0 and a bad ALTSVC frame
 * were all blamed on an ACK never sent). Node pairs each PING (SETTINGS) ACK with the oldest
 * of its own outstanding, whatever its payload, and takes one beyond them as such a breach
 * although RFC 9113 does not ask for that; no `node:http2` option changes it (adv5 N4).
 */
export const STRAY_ACK_MESSAGE =
  "HTTP/2 connection error: the server broke the protocol in a way node's HTTP/2 layer takes as fatal " +
  '(nghttp2 NGHTTP2_ERR_PROTO) and shut the connection down (GOAWAY PROTOCOL_ERROR sent): for example a ' +
  'PING or SETTINGS acknowledgement beyond those outstanding (a duplicate or unsolicited one, or the right ' +
  'one after one with other data), a WINDOW_UPDATE of 0, or a second GOAWAY raising its last-stream-id';
