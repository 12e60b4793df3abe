/**
 * throughput — the minimum-throughput guard's arithmetic (SPEC §3 `minThroughput`):
 * samples of the bytes received, taken `RATE_SAMPLES` times per window, and the rate
 * over the last window. No timers: the connection's PhaseClock calls `tick` on time.
 *
 * Invariants: the first judgement comes only after a whole window of body; then it
 * judges continuously over the last window; `begin` restarts the window (after the
 * body resumes from a pause, the consumer's delay never counts against the server).
 */

import { now } from '../deadline.js';
import type { MinThroughput } from '../options.js';

/** Samples per window. */
const RATE_SAMPLES = 4;

/** Measures body throughput over a sliding window. */
export class ThroughputMeter {
  /** Monotonic ms the current window started. */
  startedAt = 0;
  /** When the current tick was due: ticks keep to `startedAt + k · window / RATE_SAMPLES`. */
  private dueAt = 0;
  private readonly samples: number[] = [];

  /** Starts a window at `bytes` received so far; returns when the first tick is due. */
  begin(bytes: number, mt: MinThroughput): number {
    this.startedAt = now();
    this.samples.length = 0;
    this.samples.push(bytes);
    this.dueAt = this.startedAt + mt.window / RATE_SAMPLES;
    return this.dueAt;
  }

  /**
   * Records a tick at `bytes`. Returns the time of the next tick, or -1 when the rate
   * over the last window is below `mt.bytesPerSecond`.
   */
  tick(bytes: number, mt: MinThroughput): number {
    const t = now();
    const samples = this.samples;
    samples.push(bytes);
    if (samples.length > RATE_SAMPLES + 1) samples.shift();
    if (t - this.startedAt >= mt.window - 1) {
      const windowBytes = samples[samples.length - 1]! - samples[0]!;
      if ((windowBytes * 1000) / mt.window < mt.bytesPerSecond) return -1;
    }
    // The next tick keeps to the schedule from `startedAt`: counted from this tick's own time,
    // ticks a timer ran a little early drifted, and the judgement at a whole window was
    // missed by a quarter window (issue #16 adv8 F1).
    this.dueAt += mt.window / RATE_SAMPLES;
    if (this.dueAt <= t) this.dueAt = t + mt.window / RATE_SAMPLES;
    return this.dueAt;
  }
}
