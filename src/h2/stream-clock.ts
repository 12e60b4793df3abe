/**
 * h2/stream-clock — what one HTTP/2 stream does when one of its clocks comes due (SPEC §13):
 * `writeTimeout`, `writeIdleTimeout` (a flow-control stall of this stream, or a socket that
 * takes nothing at all, which fails the whole connection), `expectContinueTimeout` (the body
 * goes anyway), `responseHeaderTimeout`, `readIdleTimeout`, `minThroughput`.
 *
 * Owns: the expiry decisions (through conn/expiry.ts's judgeExpiry) and the error they fail
 * the stream with. Functions over the stream, which owns its clock and state (h2/stream.ts).
 *
 * Never: arms a clock for a new phase (the stream does), resets anything but this stream
 * except through its session's `fail` / `markSuspect`.
 *
 * Invariants: a header, read-idle or write-idle expiry makes the connection suspect (a PING
 * now); nothing happens once the stream failed or finished.
 */

import { judgeExpiry } from '../conn/expiry.js';
import { EXCHANGE_SLOT, EXCHANGE_SLOT_PHASE, now } from '../deadline.js';
import { TimeoutError } from '../errors.js';
import type { H2Stream } from './stream.js';

const { WRITE, HEADERS, READ_IDLE, CONTINUE, WRITE_IDLE } = EXCHANGE_SLOT;
const SLOT_PHASE = EXCHANGE_SLOT_PHASE;

export function onClock(hs: H2Stream, slot: number): void {
  if (hs.failed !== undefined || hs.finished) return;
  const t = hs.req.timeouts;
  if (slot === CONTINUE) {
    hs.sendBody();
    return;
  }
  let flowControl: boolean | undefined;
  const expiry = judgeExpiry(slot, {
    timeouts: t,
    clock: hs.clock,
    meter: hs.meter,
    bodyBytes: hs.bodyBytes,
    phaseStart: hs.phaseStart,
    channel: hs.channel,
    writeIdle: () => {
      const stall = writeIdleStall(hs);
      if (stall !== undefined) flowControl = true;
      return stall;
    },
  });
  if (expiry === undefined) return;
  const { timeout, elapsed } = expiry;
  if (slot === WRITE) flowControl = writeWait(hs);
  hs.fail(new TimeoutError({ phase: SLOT_PHASE[slot]!, timeout, elapsed, requestSent: hs.sent, flowControl }));
  // A stream that heard nothing for too long makes its connection suspect (SPEC §13); so
  // does a window that never opened: a peer that stopped reading its socket cannot say
  // so otherwise (its receive buffer took our bytes), and will not answer the PING.
  if (slot === HEADERS || slot === READ_IDLE || slot === WRITE_IDLE) hs.session.markSuspect();
}

/**
 * What a `writeTimeout` expiry waited on: the peer's window (true), a socket that took
 * nothing (false), or neither (undefined): a body held back for `100 Continue` or a body
 * source that has not yielded is no wait on the peer (issue #16 adv7 P2).
 */
function writeWait(hs: H2Stream): boolean | undefined {
  const up = hs.upload;
  if (up === undefined || !up.started || up.pending === 0) return undefined;
  return hs.session.socketBacklog(false) === 0;
}

/**
 * The write-idle slot came due: the ms since the last flush when the peer's window has
 * stayed shut for `writeIdleTimeout` (a flow-control stall of this stream), else
 * undefined. A socket that takes nothing at all fails the whole connection here (SPEC §13).
 */
function writeIdleStall(hs: H2Stream): number | undefined {
  const limit = hs.req.timeouts.writeIdleTimeout;
  if (hs.upload === undefined || hs.upload.done || hs.upload.pending === 0) {
    // Nothing waits to be taken: the body source is slow, not the peer.
    hs.uploadProgress();
    return undefined;
  }
  const verdict = hs.judge.judge(limit, now());
  if (verdict === 'progress') {
    hs.uploadProgress();
    return undefined;
  }
  if (typeof verdict === 'number') {
    hs.clock.set(WRITE_IDLE, verdict); // the limit itself, not "from now" (SPEC §3)
    return undefined;
  }
  const elapsed = now() - hs.judge.flushedAt;
  if (verdict !== 'window') {
    hs.session.fail((sent) => new TimeoutError({ phase: 'write-idle', timeout: limit, elapsed, requestSent: sent, flowControl: false }));
    return undefined;
  }
  return elapsed;
}
