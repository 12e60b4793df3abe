// Budget deadlines (src/deadline.ts): every pending deadline in the process sits in one
// queue behind one timer. What must hold: deadlines of mixed lengths expire in order and
// never early; a finished budget never fires and does not delay the others; a budget
// added while another expires is honoured; many distinct lengths all fire; a pending
// deadline keeps the process alive and a finished one does not.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { Budget, type Cancelable } from '../src/deadline.js';
import { TimeoutError } from '../src/errors.js';

const T = { timeout: 20_000 };

interface Fired {
  label: string;
  at: number;
  err: unknown;
}

/** A budget whose holder records when (and with what) it was cancelled. */
function watched(timeout: number, label: string, log: Fired[], onFire?: () => void): Budget {
  const b = new Budget(timeout, undefined, 'GET', `http://127.0.0.1/${label}`);
  const holder: Cancelable = {
    cancel(err) {
      log.push({ label, at: performance.now(), err });
      onFire?.();
    },
  };
  b.hold(holder);
  return b;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Budget deadlines share one queue', () => {
  it('mixed lengths expire in deadline order, never early, as request-phase timeouts', T, async () => {
    const log: Fired[] = [];
    const t0 = performance.now();
    const budgets = [
      watched(120, 'b120', log),
      watched(40, 'b40', log),
      watched(80, 'b80', log),
      watched(40, 'b40-second', log),
      watched(43, 'b43', log), // due 3 ms after the 40s: must not ride along with them
    ];
    await settle(400);
    assert.deepEqual(
      log.map((f) => f.label),
      ['b40', 'b40-second', 'b43', 'b80', 'b120'],
    );
    for (const f of log) {
      const want = Number(/\d+/.exec(f.label)![0]);
      assert.ok(f.at - t0 >= want - 0.001, `${f.label} fired at ${(f.at - t0).toFixed(2)} ms, before ${want}`);
      assert.ok(f.at - t0 < want + 250, `${f.label} fired at ${(f.at - t0).toFixed(2)} ms`);
      assert.ok(f.err instanceof TimeoutError && f.err.phase === 'request');
      assert.ok((f.err as TimeoutError).elapsed >= want);
    }
    for (const b of budgets) b.finish();
  });

  it('a finished budget never fires, and finishing the earliest delays nobody', T, async () => {
    const log: Fired[] = [];
    const t0 = performance.now();
    const early = watched(30, 'early', log);
    watched(60, 'later', log);
    const finished = watched(45, 'finished', log);
    early.finish();
    finished.finish();
    assert.equal(early.isFinished, true);
    await settle(300);
    assert.deepEqual(
      log.map((f) => f.label),
      ['later'],
    );
    assert.ok(log[0]!.at - t0 >= 60 && log[0]!.at - t0 < 300);
  });

  it('a shorter budget added while another expires fires on time', T, async () => {
    const log: Fired[] = [];
    let added = 0;
    watched(30, 'first', log, () => {
      added = performance.now();
      watched(20, 'added-on-expiry', log);
      watched(500, 'long', log).finish();
    });
    await settle(300);
    assert.deepEqual(
      log.map((f) => f.label),
      ['first', 'added-on-expiry'],
    );
    const late = log[1]!.at - added;
    assert.ok(late >= 20 && late < 250, `added budget fired ${late.toFixed(1)} ms after it was made`);
  });

  it('twenty distinct lengths (lists come and go) all fire, in order', T, async () => {
    const log: Fired[] = [];
    for (let i = 20; i >= 1; i--) watched(10 + i * 7, `b${i}`, log);
    // And finished budgets of other lengths, so that empty lists are dropped meanwhile.
    for (let i = 0; i < 30; i++) watched(1000 + i, `gone${i}`, log).finish();
    await settle(500);
    assert.deepEqual(
      log.map((f) => f.label),
      Array.from({ length: 20 }, (_, i) => `b${i + 1}`),
    );
  });

  it('a timeout beyond the longest timer delay (2^31-1 ms) neither fires early nor spins', T, async () => {
    const log: Fired[] = [];
    const huge = watched(3e9, 'huge', log);
    let calls = 0;
    const orig = globalThis.setTimeout;
    globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => {
      calls++;
      return orig(...a);
    }) as typeof setTimeout;
    try {
      await settle(200);
    } finally {
      globalThis.setTimeout = orig;
    }
    assert.deepEqual(log, []);
    assert.ok(calls < 10, `${calls} timers armed in 200 ms`);
    huge.finish();
  });

  it('a pending deadline keeps the process alive; a finished one does not', T, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-deadline-'));
    try {
      const mod = JSON.stringify(`${resolve('build/src')}/deadline.js`);
      const run = async (body: string): Promise<{ ms: number; out: string }> => {
        const file = join(dir, `s${Math.random().toString(36).slice(2)}.mjs`);
        writeFileSync(file, `import { Budget } from ${mod};\n${body}\n`);
        const t0 = performance.now();
        const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
        });
        const killer = setTimeout(() => child.kill(), 10_000);
        await new Promise((r) => child.on('exit', r));
        clearTimeout(killer);
        return { ms: performance.now() - t0, out };
      };
      const pending = await run(
        "const b = new Budget(300, undefined, 'GET', 'u'); b.hold({ cancel: (e) => console.log('fired', e.phase) });",
      );
      assert.equal(pending.out.trim(), 'fired request');
      const finished = await run(
        "const b = new Budget(60000, undefined, 'GET', 'u'); b.finish(); new Budget(60000, undefined, 'GET', 'v').finish(); console.log('done');",
      );
      assert.equal(finished.out.trim(), 'done');
      assert.ok(finished.ms < 5_000, `exited after ${finished.ms.toFixed(0)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
