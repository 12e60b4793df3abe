/**
 * h2/health — the connection-level waits of one HTTP/2 session (SPEC §13): the peer's
 * SETTINGS (`h2.settingsTimeout`, phase `h2-settings`; a peer allowing 0 streams), the PING
 * health check (a PING after `h2.pingInterval` of silence while streams are open, or at once
 * when the session is suspect; no ACK within `h2.pingTimeout`: phase `h2-ping`), the idle
 * timer, and the termination probe's tick (h2/probe.ts).
 *
 * Owns: what each slot of the session's clock does when it comes due, and the control frames
 * the session writes on its own (PINGs, PING ACKs, SETTINGS ACKs) as counted in `controlOut`.
 * Functions over the session, which owns the state (h2/session.ts); none of its own.
 *
 * Never: fails a stream itself (only the whole connection, through {@link H2Session.fail}),
 * opens or ends streams, builds requests or responses.
 *
 * Invariants: at most one PING of ours is outstanding (`pingSentAt` ≥ 0 while it is); its ACK
 * clears `suspect` and tells the owner; every control frame of ours is counted in `controlOut`
 * before it is written.
 */

import * as http2 from 'node:http2';
import { now } from '../deadline.js';
import { TimeoutError } from '../errors.js';
import { capCulprit, capError, capSiblingError, codecShutError } from './field-cap.js';
import { ackMatches, pingPayload, PROBE_EVERY } from './probe.js';
import type { H2Session } from './session.js';

/** The slots of the session's clock. */
export const SETTINGS = 0;
export const PING_DUE = 1;
export const PING_ACK = 2;
export const IDLE = 3;
export const ZERO = 4;
export const PROBE = 5;
export const SLOTS = 6;

/** The probe's tick period while exactly one body is being written (ms): it dates that body's DATA. */
export const SOLE_UPLOAD_EVERY = 10;

/** Streams before the peer's SETTINGS arrive, and when it sets no limit (SPEC §13). */
export const SLOTS_BEFORE_SETTINGS = 100;
export const SLOTS_WHEN_UNLIMITED = 1_000;

/**
 * Bytes of a PING or PING ACK we write, and of a SETTINGS ACK (the socket's `bytesWritten`
 * counts them before TLS, so exactly: an estimate erring high would hide a DATA frame of
 * a few bytes written in the same spell, issue #16 N2).
 */
export const PING_OUT = 17;
const SETTINGS_ACK_OUT = 9;

export function sendPing(conn: H2Session): void {
  if (conn.pingSentAt >= 0 || conn.isClosed) return;
  conn.pingSentAt = now();
  conn.clock.unset(PING_DUE);
  conn.clock.after(PING_ACK, conn.opts.pingTimeout);
  let ok = false;
  conn.controlOut += PING_OUT;
  const payload = pingPayload();
  try {
    ok = conn.session.ping(payload, (err, _ms, ack) => {
      if (err !== null || conn.isClosed) return;
      // RFC 9113 §6.7: an ACK with other opaque data is not this PING's; the wait goes on (issue #16 adv5 N4).
      if (!ackMatches(ack, payload)) return void conn.touch(17);
      conn.pingSentAt = -1;
      conn.clock.unset(PING_ACK);
      const wasSuspect = conn.suspect;
      conn.suspect = false;
      conn.touch(17);
      if (wasSuspect) conn.owner?.slotsChanged(conn);
    });
  } catch {
    ok = false;
  }
  if (!ok) conn.clock.after(PING_ACK, 0);
}

/** One tick of the termination probe (h2/probe.ts): fails the connection when nghttp2 gave up on it. */
function probeTick(conn: H2Session): void {
  // Draining after a GOAWAY(NO_ERROR) the session still reads: a violation may still come (issue #16 adv5 N1).
  if (conn.streams.size === 0 || conn.goingAway && conn.goawayCode !== http2.constants.NGHTTP2_NO_ERROR) return;
  // `h2.pingInterval: 0` turns off the PING after silence only, as it leaves the suspect
  // PING after a stream timeout: this check still runs (issue #16 adv6 M6).
  // While one body is being written the tick also dates its DATA (below): a partial send is
  // seen by nothing else, so it runs every SOLE_UPLOAD_EVERY ms then and write-idle is named
  // within that of its due time (SPEC §3: 15 ms), not up to a probe period late (adv6 M8).
  const t = now();
  conn.clock.after(PROBE, conn.uploaders === 1 ? SOLE_UPLOAD_EVERY : PROBE_EVERY, t);
  if (conn.uploaders === 1) {
    // The write-idle judgement's clock of the only upload (h2/upload.ts): when DATA last went
    // out. Only when that upload was the only one since the last tick: a sibling that began
    // or ended meanwhile may have sent it (issue #16 adv6 M3).
    // The window shrank, or bytes went out while nothing else happened on the connection
    // (as WriteIdleJudge's dataOut): a peer that reopens the connection window within one
    // tick hides the shrink, not the bytes.
    const w = conn.sendWindow();
    const out = conn.bytesOut();
    if (conn.windowEpoch === conn.uploadEpoch && (w < conn.windowSeen || conn.trafficSeen === conn.traffic && out > conn.outSeen)) conn.lastDataAt = t;
    conn.windowSeen = w;
    conn.outSeen = out;
    conn.trafficSeen = conn.traffic;
    conn.windowEpoch = conn.uploadEpoch;
  } else conn.windowEpoch = -1;
  // The termination probe keeps its own period whatever the tick's.
  if (t - conn.probedAt < PROBE_EVERY - 1) return;
  conn.probedAt = t;
  if (!conn.probe.tick()) return;
  // Which stream's head nghttp2 refused, when that can be told (h2/field-cap.ts; issue #16 adv5 N9).
  const culprit = capCulprit(conn.probe.unaccounted(), conn.streams);
  culprit?.connectionFailed(capError);
  conn.fail(culprit === undefined ? codecShutError : capSiblingError);
}

export function onSettings(conn: H2Session): void {
  conn.controlOut += SETTINGS_ACK_OUT; // our SETTINGS ACK
  // Only the frame's bytes are accounted for (a violation read with it is still seen,
  // issue #16 adv5 N1): 6 per setting that changed (one sent unchanged is left to the
  // probe, which then only checks with a PING).
  const now = conn.session.remoteSettings as Record<string, unknown>;
  let changed = 0;
  for (const k of Object.keys(now)) if (now[k] !== conn.lastRemoteSettings[k]) changed++;
  conn.lastRemoteSettings = { ...now };
  conn.touch(9 + 6 * changed);
  const first = !conn.gotSettings;
  conn.gotSettings = true;
  if (first) conn.clock.unset(SETTINGS);
  conn.hint.maxStreams = Math.min(conn.peerLimit(), SLOTS_BEFORE_SETTINGS);
  if (conn.peerLimit() > 0) conn.hint.zeroCloses = 0;
  // A peer allowing 0 streams: if it still does after settingsTimeout, close (SPEC §13).
  if (conn.streamSlots() === 0 && conn.clock.dueAt(ZERO) === Number.POSITIVE_INFINITY) {
    conn.clock.after(ZERO, conn.opts.settingsTimeout === Number.POSITIVE_INFINITY ? 10_000 : conn.opts.settingsTimeout);
  }
  conn.owner?.slotsChanged(conn);
}

export function onClock(conn: H2Session, slot: number): void {
  if (conn.isClosed) return;
  if (slot === PROBE) {
    probeTick(conn);
    return;
  }
  if (slot === IDLE) {
    if (conn.streams.size === 0) conn.close();
    return;
  }
  if (slot === ZERO) {
    if (conn.streamSlots() === 0 && conn.streams.size === 0 && !conn.goingAway && !conn.suspect) {
      // The waiters go to a new connection; when that one too allowed none, they fail (SPEC §13).
      conn.hint.zeroCloses = (conn.hint.zeroCloses ?? 0) + 1;
      if (conn.hint.zeroCloses >= 2) {
        conn.hint.zeroCloses = 0;
        // The waiters first: closing lets them dial again.
        conn.owner?.noStreamsAllowed(conn);
      }
      conn.close();
    }
    return;
  }
  if (slot === PING_DUE) {
    if (conn.streams.size > 0) sendPing(conn);
    return;
  }
  const settings = slot === SETTINGS;
  const timeout = settings ? conn.opts.settingsTimeout : conn.opts.pingTimeout;
  const since = settings ? conn.startedAt : conn.pingSentAt;
  const elapsed = now() - since;
  const what = settings ? "waiting for the server's HTTP/2 SETTINGS" : 'waiting for the HTTP/2 PING acknowledgement';
  conn.fail(
    (sent) =>
      new TimeoutError({
        phase: settings ? 'h2-settings' : 'h2-ping',
        timeout,
        elapsed,
        requestSent: sent,
      }, `${settings ? 'h2-settings' : 'h2-ping'} timeout: ${Math.round(elapsed)} ms elapsed, limit ${timeout} ms, ${what}${sent ? ' (request sent)' : ' (request not sent)'}`),
    http2.constants.NGHTTP2_PROTOCOL_ERROR,
  );
}
