/**
 * phase-timer.test — the one helper that arms "a timer that fails a phase"
 * (`failPhaseAfter` in deadline.ts, used by the dialer, TLS, the proxy CONNECT and the
 * pool wait) and the one IPv6-bracket helper (host.ts).
 */

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { failPhaseAfter, PhaseClock, type PhaseExpiry, type PhaseOwner, SharedTimer } from '../src/deadline.js';
import { type HourglassError, TimeoutError } from '../src/errors.js';
import { bracket, hostPort, unbracket } from '../src/host.js';
import { sleep } from './helpers/setup.js';

const T = { timeout: 5_000 };

/** An owner that records what cancelled it; `expiry` undefined reports "already ended". */
function owner(expiry: PhaseExpiry | undefined): PhaseOwner & { errors: HourglassError[] } {
  const errors: HourglassError[] = [];
  return { errors, phaseExpiry: () => expiry, cancel: (err) => errors.push(err) };
}

test('failPhaseAfter arms nothing for 0, undefined or Infinity', T, () => {
  const o = owner({ phase: 'pool', timeout: 1 });
  for (const ms of [0, undefined, Number.POSITIVE_INFINITY]) assert.equal(failPhaseAfter(ms, o), undefined);
});

test('failPhaseAfter fails the owner with the phase, limit, elapsed since the phase began, and the message', T, async () => {
  const o = owner({ phase: 'tls', timeout: 30, what: 'handshake with [::1]:443', method: 'GET', url: 'https://u:p@h/x' });
  const since = performance.now() - 100; // the phase began 100 ms before the timer was armed
  failPhaseAfter(30, o, since);
  await sleep(200);
  assert.equal(o.errors.length, 1);
  const err = o.errors[0]!;
  assert.ok(err instanceof TimeoutError);
  assert.deepEqual([err.phase, err.timeout, err.requestSent, err.url], ['tls', 30, false, 'https://h/x']);
  assert.ok(err.elapsed >= 125 && err.elapsed < 400, `elapsed ${err.elapsed}`);
  assert.match(
    err.message,
    /^tls timeout \(tlsHandshakeTimeout\): \d+ ms elapsed, limit 30 ms, handshake with \[::1\]:443 \(request not sent\) for GET https:\/\/h\/x$/,
  );
});

test('without `what` the standard message is used; an owner whose phase ended is left alone', T, async () => {
  const o = owner({ phase: 'pool', timeout: 10, method: 'GET', url: 'http://h/' });
  failPhaseAfter(10, o);
  const ended = owner(undefined);
  failPhaseAfter(10, ended);
  await sleep(100);
  assert.match(o.errors[0]!.message, /^pool timeout \(poolTimeout\): \d+ ms elapsed, limit 10 ms \(request not sent\) for GET http:\/\/h\/$/);
  assert.equal(ended.errors.length, 0);
});

test('failPhaseAfter takes any duration up to Number.MAX_SAFE_INTEGER (no 1 ms clamp past 2^31-1)', T, async () => {
  const o = owner({ phase: 'connect', timeout: 2 ** 31 + 5 });
  const timer = failPhaseAfter(2 ** 31 + 5, o)!;
  const far = failPhaseAfter(Number.MAX_SAFE_INTEGER, o)!;
  try {
    await sleep(50);
    assert.equal(o.errors.length, 0, 'did not fire early');
    assert.ok(timer.armed && far.armed);
    assert.ok(timer.dueAt - performance.now() > 2 ** 31 - 1000, "due in about 2^31 ms");
  } finally {
    timer.cancel();
    far.cancel();
  }
});

test('host: one way to strip and add IPv6 brackets', T, () => {
  assert.deepEqual(['[::1]', '::1', 'example.com', '127.0.0.1', '[', '[]'].map(unbracket), ['::1', '::1', 'example.com', '127.0.0.1', '[', '']);
  assert.deepEqual(['::1', '[::1]', 'example.com', '10.0.0.1'].map(bracket), ['[::1]', '[::1]', 'example.com', '10.0.0.1']);
  assert.equal(hostPort('::1', 443), '[::1]:443');
  assert.equal(hostPort('[fe80::1]', 80), '[fe80::1]:80');
  assert.equal(hostPort('example.com', 8080), 'example.com:8080');
});

// SharedTimer (issue #16): the clocks of an HTTP/2 connection's streams share one timer.
test('clocks on a SharedTimer each fire their slot on time, the earliest first, whatever order they were set in', T, async () => {
  const shared = new SharedTimer();
  const t0 = performance.now();
  const fired: [string, number, number][] = [];
  const clock = (name: string): PhaseClock => new PhaseClock(2, (slot) => fired.push([name, slot, performance.now() - t0]), shared);
  const a = clock('a');
  const b = clock('b');
  const c = clock('c');
  a.after(1, 120);
  b.after(0, 40); // earlier than the armed time: re-arms
  c.after(0, 80);
  c.after(1, 160);
  await sleep(260);
  assert.deepEqual(fired.map(([n, s]) => `${n}${s}`), ['b0', 'c0', 'a1', 'c1']);
  for (const [name, slot, at] of fired) {
    const due = ({ a1: 120, b0: 40, c0: 80, c1: 160 } as Record<string, number>)[`${name}${slot}`]!;
    assert.ok(at >= due - 2 && at < due + 60, `${name}${slot} fired at ${Math.round(at)} ms, due at ${due}`);
  }
});

test('a clock disposed before its time never fires; the others on the same timer still do', T, async () => {
  const shared = new SharedTimer();
  const fired: string[] = [];
  const a = new PhaseClock(1, () => fired.push('a'), shared);
  const b = new PhaseClock(1, () => fired.push('b'), shared);
  a.after(0, 30);
  b.after(0, 60);
  a.dispose();
  await sleep(120);
  assert.deepEqual(fired, ['b']);
  b.dispose();
});

test('a clock whose slot moved later is run at the old time, finds nothing due and asks again (lazy re-arming)', T, async () => {
  const shared = new SharedTimer();
  const fired: number[] = [];
  const t0 = performance.now();
  const a = new PhaseClock(1, () => fired.push(performance.now() - t0), shared);
  a.after(0, 30);
  a.after(0, 90); // later: only a number is written
  await sleep(60);
  assert.deepEqual(fired, [], 'nothing was due at 30 ms');
  await sleep(80);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 88 && fired[0]! < 150, `fired at ${Math.round(fired[0]!)} ms`);
});

test('a clock run by the shared timer may set another slot, dispose a sibling or start a new clock', T, async () => {
  const shared = new SharedTimer();
  const fired: string[] = [];
  let late: PhaseClock | undefined;
  const b = new PhaseClock(1, () => fired.push('b'), shared);
  const a = new PhaseClock(2, (slot) => {
    fired.push(`a${slot}`);
    if (slot === 0) {
      a.after(1, 20);
      b.dispose();
      late = new PhaseClock(1, () => fired.push('late'), shared);
      late.after(0, 40);
    }
  }, shared);
  a.after(0, 20);
  b.after(0, 21);
  await sleep(150);
  assert.deepEqual(fired, ['a0', 'a1', 'late']);
  a.dispose();
  late?.dispose();
});

test('the last clock going leaves the shared timer armed (a new clock due later arms nothing); release() disarms it once no clock is left', T, async () => {
  const shared = new SharedTimer();
  const set = globalThis.setTimeout;
  const clear = globalThis.clearTimeout;
  let armed = 0;
  let cleared = 0;
  globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => {
    armed++;
    return set(...a);
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t?: NodeJS.Timeout) => {
    cleared++;
    clear(t);
  }) as typeof clearTimeout;
  try {
    const fired: string[] = [];
    const a = new PhaseClock(1, () => fired.push('a'), shared);
    a.after(0, 10_000);
    a.dispose();
    const b = new PhaseClock(1, () => fired.push('b'), shared);
    b.after(0, 10_001);
    assert.equal(armed, 1, 'one setTimeout for the two clocks in a row');
    assert.equal(cleared, 0);
    // A clock still on it: release() leaves the timer to it.
    shared.release();
    assert.equal(cleared, 0);
    b.dispose();
    shared.release();
    assert.equal(cleared, 1, 'released with no clock: disarmed');
    assert.deepEqual(fired, []);
  } finally {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
  }
  // A timer left armed by a dropped clock fires, finds nothing, and a clock after it still fires on time.
  const fired: number[] = [];
  const c = new PhaseClock(1, () => {}, shared);
  c.after(0, 20);
  c.dispose();
  const t0 = performance.now();
  const d = new PhaseClock(1, () => fired.push(performance.now() - t0), shared);
  d.after(0, 60);
  await sleep(120);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 58 && fired[0]! < 110, `fired at ${Math.round(fired[0]!)} ms`);
});
