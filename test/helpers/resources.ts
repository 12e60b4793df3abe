// Counts what keeps a process alive — active handles, sockets, timers, as
// `process.getActiveResourcesInfo()` reports them by type — and the heap after a full
// GC, so a test can take a baseline, do work, and check that nothing grew.
//
// Notes: `getActiveResourcesInfo()` lists only *ref'd* resources (an unref'd idle
// keep-alive socket or an unref'd sweep timer is not there; that is the point: they
// do not hold the process). Node's own bookkeeping (the test runner's timers, a
// pending fs request) can add an entry or two, so comparisons allow a small slack.
// GC: `global.gc` when the process runs with `--expose-gc`; otherwise the flag is
// turned on at run time and `gc` taken from a fresh V8 context (works on Node 20+).
// If neither works, `heapAfterGc()` resolves to undefined and callers skip heap checks.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Counts of active resources by type, e.g. `{ TCPSocketWrap: 2, Timeout: 1 }`. */
export type ResourceCounts = Record<string, number>;

export interface ResourceSnapshot {
  /** Every ref'd resource by type. */
  counts: ResourceCounts;
  /** Sum of `counts`. */
  total: number;
  /** TCP/TLS/pipe sockets (client and server side) and connect requests. */
  sockets: number;
  /** `Timeout` entries (ref'd timers). */
  timers: number;
  /** Bytes of V8 heap in use after a full GC, when GC is available. */
  heapUsed: number | undefined;
}

/** Current ref'd resources by type. */
export function activeResources(): ResourceCounts {
  const out: ResourceCounts = {};
  for (const name of process.getActiveResourcesInfo()) out[name] = (out[name] ?? 0) + 1;
  return out;
}

const SOCKET_TYPES = /^(TCPSocketWrap|TLSWrap|PipeWrap|ConnectWrap|TCPConnectWrap|ShutdownWrap|WriteWrap)$/;

function sum(counts: ResourceCounts, pick: (name: string) => boolean): number {
  let n = 0;
  for (const [name, c] of Object.entries(counts)) if (pick(name)) n += c;
  return n;
}

let cachedGc: (() => void) | null | undefined;

/** A function running a full GC, or undefined when none can be had. */
export function getGc(): (() => void) | undefined {
  if (cachedGc !== undefined) return cachedGc ?? undefined;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') {
    cachedGc = g;
    return g;
  }
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    cachedGc = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    cachedGc = null;
  }
  return cachedGc ?? undefined;
}

/** Lets pending close callbacks and immediates run (a few loop turns). */
export async function settleLoop(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Heap in use after full GCs (several passes, so weak/finalizer chains clear), or undefined. */
export async function heapAfterGc(): Promise<number | undefined> {
  const gc = getGc();
  if (gc === undefined) return undefined;
  for (let i = 0; i < 4; i++) {
    gc();
    await settleLoop(2);
  }
  return process.memoryUsage().heapUsed;
}

/** Resources now (and the heap after GC when `withHeap`). */
export async function snapshot(withHeap = false): Promise<ResourceSnapshot> {
  await settleLoop();
  const heapUsed = withHeap ? await heapAfterGc() : undefined;
  const counts = activeResources();
  return {
    counts,
    total: sum(counts, () => true),
    sockets: sum(counts, (n) => SOCKET_TYPES.test(n)),
    timers: counts.Timeout ?? 0,
    heapUsed,
  };
}

/** `after - before` per type, only the types that changed. */
export function diffCounts(before: ResourceCounts, after: ResourceCounts): ResourceCounts {
  const out: ResourceCounts = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[name] ?? 0) - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

/** One line for diagnostics: `TCPSocketWrap=2 Timeout=1`. */
export function formatCounts(counts: ResourceCounts): string {
  const parts = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '(none)' : parts.join(' ');
}

/**
 * Polls `check` (every `stepMs`) until it returns true or `timeoutMs` passed; resolves
 * to the last result. Bounded: never waits longer than `timeoutMs` plus one step.
 */
export async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= end) return false;
    await new Promise<void>((resolve) => setTimeout(resolve, stepMs));
  }
}

/**
 * Waits until the ref'd resources are back to `baseline` plus `slack` in total and
 * no type exceeds its baseline by more than `slack`; resolves to the final snapshot.
 */
export async function waitForBaseline(
  baseline: ResourceSnapshot,
  slack: number,
  timeoutMs: number,
): Promise<ResourceSnapshot> {
  let snap = await snapshot();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && exceeds(baseline, snap, slack)) {
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    snap = await snapshot();
  }
  return snap;
}

/** Whether `now` has more resources than `baseline` allows with `slack`. */
export function exceeds(baseline: ResourceSnapshot, now: ResourceSnapshot, slack: number): boolean {
  if (now.total > baseline.total + slack) return true;
  for (const [name, c] of Object.entries(now.counts))
    if (c > (baseline.counts[name] ?? 0) + slack) return true;
  return false;
}
