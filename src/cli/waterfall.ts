/**
 * cli/waterfall — what `-v` shows about time: every trace event as it happens, with
 * milliseconds since the command started, and at the end a waterfall of the final
 * attempt (queue, dns, connect, tls, send, wait, download) drawn as bars.
 *
 * Owns: a {@link TraceRecorder} that implements the library's `TraceHooks` and keeps
 * monotonic marks of the latest attempt (printing each request head as written), and
 * the bar rendering. The marks come from
 * the trace hooks rather than `res.timings`, so the waterfall can also be drawn for a
 * request that failed before it had a response.
 */

import { performance } from 'node:perf_hooks';
import { hostPort as bracketed } from '../host.js';
import type { TraceHooks } from '../trace.js';
import { requestHeadLines } from './hops.js';

/** Monotonic marks (ms, `performance.now()`) of the latest attempt; unset = did not happen. */
export interface Marks {
  /** When the command started the request. */
  start: number;
  /** When the latest attempt asked for a connection (`getConn`). */
  attempt?: number;
  /** Attempts seen (redirect hops, retries, stale-connection retries). */
  attempts?: number;
  dnsStart?: number;
  dnsDone?: number;
  connectStart?: number;
  connectDone?: number;
  tlsStart?: number;
  tlsDone?: number;
  gotConn?: number;
  wroteRequest?: number;
  firstByte?: number;
  /** Body ended or the request failed. */
  end?: number;
}

/** One bar of the waterfall. */
export interface Segment {
  label: string;
  /** ms since `start`. */
  from: number;
  duration: number;
}

/** Records trace events; with a `log`, prints each one as it happens. */
export class TraceRecorder {
  readonly marks: Marks;
  /** Hooks to pass as `trace` in the request options. */
  readonly hooks: TraceHooks;
  private readonly log: ((line: string) => void) | undefined;

  constructor(log?: (line: string) => void) {
    this.log = log;
    this.marks = { start: performance.now() };
    const m = this.marks;
    this.hooks = {
      getConn: (i) => {
        // A new attempt (redirect, retry, stale-connection retry): forget the previous one.
        const attempts = (m.attempts ?? 0) + 1;
        for (const k of Object.keys(m) as (keyof Marks)[]) if (k !== 'start') delete m[k];
        m.attempts = attempts;
        m.attempt = this.event('getConn', i.hostPort);
      },
      dnsStart: (i) => void (m.dnsStart = this.event('dnsStart', i.host)),
      dnsDone: (i) =>
        void (m.dnsDone = this.event(
          'dnsDone',
          i.error ? `error=${i.error.message}` : i.addresses.map((a) => a.address).join(', '),
        )),
      connectStart: (i) => {
        const t = this.event('connectStart', hostPort(i.address, i.port));
        m.connectStart ??= t;
      },
      connectDone: (i) => {
        const t = this.event(
          'connectDone',
          `${hostPort(i.address, i.port)}${i.error ? ` error=${i.error.message}` : ''}`,
        );
        if (i.error === undefined) m.connectDone = t;
      },
      tlsHandshakeStart: () => void (m.tlsStart = this.event('tlsHandshakeStart', '')),
      tlsHandshakeDone: (i) =>
        void (m.tlsDone = this.event(
          'tlsHandshakeDone',
          i.error ? `error=${i.error.message}` : `${i.protocol ?? ''} alpn=${String(i.alpnProtocol)}`,
        )),
      gotConn: (i) =>
        void (m.gotConn = this.event(
          'gotConn',
          `reused=${i.reused} wasIdle=${i.wasIdle} idleTime=${Math.round(i.idleTime)}ms local=${i.localAddress ?? '?'} remote=${i.remoteAddress ?? '?'}`,
        )),
      putIdleConn: (i) => void this.event('putIdleConn', i.error ? `error=${i.error.message}` : ''),
      wroteHeaders: (i) => {
        this.event('wroteHeaders', '');
        // The head exactly as the transport wrote it (every header, the request-target form).
        if (this.log !== undefined && i !== undefined) for (const line of requestHeadLines(i.head)) this.log(line);
      },
      wait100Continue: () => void this.event('wait100Continue', ''),
      got100Continue: () => void this.event('got100Continue', ''),
      got1xxResponse: (i) => void this.event('got1xxResponse', String(i.status)),
      wroteRequest: (i) =>
        void (m.wroteRequest = this.event('wroteRequest', i.error ? `error=${i.error.message}` : '')),
      gotFirstResponseByte: () => void (m.firstByte = this.event('gotFirstResponseByte', '')),
    };
  }

  /** Restarts the clock: call right before sending the request. */
  begin(): void {
    this.marks.start = performance.now();
  }

  /** Marks the end (body done or request failed). */
  finish(): void {
    this.marks.end ??= performance.now();
  }

  /** ms since the command started. */
  elapsed(): number {
    return performance.now() - this.marks.start;
  }

  private event(name: string, detail: string): number {
    const t = performance.now();
    this.log?.(`* [${fmtMs(t - this.marks.start).padStart(9)}] ${name}${detail ? ` ${detail}` : ''}`);
    return t;
  }
}

/** The segments of the final attempt, in order; phases that did not happen are left out. */
export function segments(m: Marks): Segment[] {
  const out: Segment[] = [];
  const add = (label: string, a: number | undefined, b: number | undefined): void => {
    if (a === undefined || b === undefined || b < a) return;
    out.push({ label, from: a - m.start, duration: b - a });
  };
  const end = m.end;
  if (m.attempt !== undefined && (m.attempts ?? 1) > 1) add('earlier hops', m.start, m.attempt);
  const dialBegin = m.dnsStart ?? m.connectStart ?? m.tlsStart;
  add('queue', m.attempt, dialBegin ?? m.gotConn ?? end);
  add('dns', m.dnsStart, m.dnsDone ?? (m.connectStart === undefined ? end : undefined));
  add(
    'connect',
    m.connectStart,
    m.connectDone ?? (m.tlsStart === undefined && m.gotConn === undefined ? end : undefined),
  );
  add('tls', m.tlsStart, m.tlsDone ?? (m.gotConn === undefined ? end : undefined));
  add('send', m.gotConn, m.wroteRequest ?? (m.firstByte === undefined ? end : undefined));
  add('wait', m.wroteRequest, m.firstByte ?? end);
  add('download', m.firstByte, end);
  return out;
}

/** Renders the waterfall: one line per segment with a bar scaled to the total. */
export function renderWaterfall(m: Marks, width = 40): string[] {
  const segs = segments(m);
  const total = (m.end ?? performance.now()) - m.start;
  const scale = total > 0 ? width / total : 0;
  const lines = [`* timing waterfall (ms)      start   duration`];
  for (const s of segs) {
    const from = Math.min(width - 1, Math.floor(s.from * scale));
    const len = s.duration > 0 ? Math.max(1, Math.round(s.duration * scale)) : 0;
    const bar = ' '.repeat(from) + '█'.repeat(Math.min(len, width - from));
    lines.push(
      `*   ${s.label.padEnd(14)} ${fmtMs(s.from).padStart(9)} ${fmtMs(s.duration).padStart(9)}  |${bar.padEnd(width)}|`,
    );
  }
  if (m.firstByte !== undefined)
    lines.push(`*   ${'first byte'.padEnd(14)} ${fmtMs(m.firstByte - m.start).padStart(9)}`);
  lines.push(`*   ${'total'.padEnd(14)} ${''.padStart(9)} ${fmtMs(total).padStart(9)}`);
  return lines;
}

/** `12.3` style milliseconds. */
export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

function hostPort(address: string, port: number): string {
  // A Unix socket path is reported as the address with port 0.
  if (port === 0 && address.startsWith('/')) return `unix:${address}`;
  return bracketed(address, port);
}
