/**
 * cli/progress — the progress bar `hourglass get -o FILE` draws on a terminal: bytes
 * received, percentage (when the size is known), rate over the last seconds, and ETA.
 *
 * Owns: deciding whether a bar may be drawn at all ({@link progressAllowed}: never when
 * stdout is not a TTY, with `--json` or `--silent`, or when the body goes to the
 * terminal) and redrawing it at most every 100 ms on stderr. Knows nothing of HTTP.
 */

import { performance } from 'node:perf_hooks';

/** Where the bar is drawn: a writable terminal (normally `process.stderr`). */
export interface ProgressSink {
  write(text: string): unknown;
  columns?: number | undefined;
}

const REDRAW_MS = 100;
/** Samples older than this do not count towards the rate. */
const RATE_WINDOW_MS = 3_000;

/** Whether a progress bar may be drawn for this command. */
export function progressAllowed(o: {
  json: boolean;
  silent: boolean;
  verbose: boolean;
  output: string | undefined;
}): boolean {
  return (
    process.stdout.isTTY === true &&
    process.stderr.isTTY === true &&
    !o.json &&
    !o.silent &&
    !o.verbose &&
    o.output !== undefined &&
    o.output !== '-'
  );
}

/** A redrawing one-line progress bar. */
export class ProgressBar {
  private readonly sink: ProgressSink;
  private readonly started = performance.now();
  private lastDraw = 0;
  private samples: { t: number; bytes: number }[] = [];
  private received = 0;
  private total: number | undefined;
  private drawn = false;
  /** Bytes that were on disk before this run (`--resume`): not counted in the speed. */
  private base = 0;

  constructor(sink: ProgressSink) {
    this.sink = sink;
  }

  /** Bytes already there before this run started (a resumed `.part`); the speed leaves them out. */
  setBase(bytes: number): void {
    this.base = Math.max(0, bytes);
  }

  /** Reports progress; redraws when the last redraw is old enough. */
  update(received: number, total: number | undefined): void {
    this.received = received;
    this.total = total !== undefined && total > 0 ? total : undefined;
    const t = performance.now();
    this.samples.push({ t, bytes: received });
    while (this.samples.length > 2 && t - this.samples[0]!.t > RATE_WINDOW_MS) this.samples.shift();
    if (t - this.lastDraw >= REDRAW_MS) this.draw(t);
  }

  /** Draws the final state and moves to a new line. */
  done(): void {
    if (this.received > 0 || this.drawn) {
      this.draw(performance.now(), true);
      this.sink.write('\n');
    }
  }

  /** Erases the bar (before an error message is printed). */
  clear(): void {
    if (this.drawn) this.sink.write('\r\x1b[2K');
  }

  private draw(t: number, final = false): void {
    this.lastDraw = t;
    this.drawn = true;
    // Only bytes moved in this run count towards the speed (not a resumed file's head).
    const moved = Math.max(0, this.received - this.base);
    const rate = final ? (moved * 1000) / Math.max(1, t - this.started) : this.rate();
    const size = `${fmtBytes(this.received)}${this.total !== undefined ? `/${fmtBytes(this.total)}` : ''}`;
    const speed = `${fmtBytes(rate)}/s`;
    let eta = '';
    if (this.total !== undefined && rate > 0 && !final)
      eta = ` ETA ${fmtClock((this.total - this.received) / rate)}`;
    if (final) eta = ` in ${fmtClock((t - this.started) / 1000)}`;
    const text = `${size}  ${speed}${eta}`;
    const cols = this.sink.columns !== undefined && this.sink.columns > 0 ? this.sink.columns : 80;
    let line = text;
    if (this.total !== undefined) {
      const frac = Math.min(1, this.received / this.total);
      const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
      // The bar takes what the numbers leave (reserving 40 columns so it does not
      // jitter as they change width), within 5..50 columns.
      const barWidth = Math.min(50, Math.max(5, cols - 1 - Math.max(40, text.length) - pct.length - 4));
      const filled = Math.round(frac * barWidth);
      line = `${pct} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${text}`;
    }
    this.sink.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
  }

  private rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.t - first.t < 1) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

/** `1.5 MiB` style sizes. */
export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function fmtClock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
