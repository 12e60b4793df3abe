/**
 * cli/demo — `hourglass demo` (what `npm start` runs, SPEC §10): starts a fault server
 * on loopback, fires every timeout of SPEC §3 against it and prints one table row per
 * observation — configured time, observed time, the error's class and phase, ✓ or ✗ —
 * then connection reuse, a stale idle connection retried invisibly, and a download
 * that resumes after injected resets.
 *
 * Owns: running the scenarios of `demo-scenarios.ts` one after another (so timings
 * are not disturbed by each other), a hard cap per scenario so the demo can never
 * hang, the table, colour (only on a TTY, never with NO_COLOR) and the exit code:
 * 0 only when every observation matched.
 */

import { performance } from 'node:perf_hooks';
import { FaultServer } from '../testing/index.js';
import { H2_CONNECTION_SCENARIOS, H2_TIMEOUT_SCENARIOS } from './demo-h2.js';
import {
  CONNECTION_SCENARIOS,
  type Observation,
  type Scenario,
  TIMEOUT_SCENARIOS,
} from './demo-scenarios.js';

/** A scenario that has not finished after this long is reported as failed. */
const SCENARIO_CAP_MS = 8_000;

/** Runs the demo; resolves the exit code (0 when every observation matched, else 1). */
export async function runDemo(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'Usage: hourglass demo\n\nStarts a fault server on loopback and shows every timeout of hourglass firing\n' +
        'against it, then connection reuse and a resumable download. Needs no network.\n' +
        'Exits 0 when every observation matches, 1 otherwise.\n',
    );
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`hourglass demo: unexpected argument ${JSON.stringify(argv[0])}\n`);
    return 2;
  }
  const paint = colours(process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  const t0 = performance.now();
  const fs = await FaultServer.start();
  const results: Observation[] = [];
  try {
    out(paint.bold('hourglass demo — every wait has a name'));
    out(paint.dim(`fault server on ${fs.origin}; each timeout below is provoked on purpose`));
    out();
    out(
      paint.bold(
        `  ${'phase'.padEnd(18)}${'option'.padEnd(24)}${'configured'.padStart(10)}${'observed'.padStart(10)}  error`,
      ),
    );
    for (const s of [...TIMEOUT_SCENARIOS, ...H2_TIMEOUT_SCENARIOS]) {
      const o = await runCapped(s, fs);
      results.push(o);
      out(timeoutRow(o, paint));
    }
    out();
    out(paint.bold(`  ${'connections'.padEnd(24)}${'took'.padStart(10)}  observation`));
    for (const s of [...CONNECTION_SCENARIOS, ...H2_CONNECTION_SCENARIOS]) {
      const o = await runCapped(s, fs);
      results.push(o);
      out(connectionRow(o, paint));
    }
  } finally {
    await fs.close();
  }
  const failed = results.filter((r) => !r.ok);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  out();
  if (failed.length === 0) {
    out(paint.green(`all ${results.length} observations match (${secs} s)`));
    return 0;
  }
  out(
    paint.red(
      `${failed.length} of ${results.length} observations did not match: ${failed.map((f) => f.name).join(', ')} (${secs} s)`,
    ),
  );
  return 1;
}

// Private implementation past this point.

/** Runs one scenario; a throw or a scenario that outlives the cap becomes a failed row. */
async function runCapped(s: Scenario, fs: FaultServer): Promise<Observation> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<Observation>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({ name: s.name, option: '', outcome: `no outcome within ${SCENARIO_CAP_MS} ms`, ok: false }),
      SCENARIO_CAP_MS,
    );
  });
  try {
    return await Promise.race([
      s.run(fs).catch(
        (err: unknown): Observation => ({
          name: s.name,
          option: '',
          outcome: `scenario failed: ${(err as Error)?.message ?? String(err)}`,
          ok: false,
        }),
      ),
      cap,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

type Paint = Record<'bold' | 'dim' | 'green' | 'red', (s: string) => string>;

function colours(on: boolean): Paint {
  const wrap =
    (open: number, close: number) =>
    (s: string): string =>
      on ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), red: wrap(31, 39) };
}

function mark(ok: boolean, paint: Paint): string {
  return ok ? paint.green('✓') : paint.red('✗');
}

function ms(v: number | undefined): string {
  return v === undefined ? '-' : `${Math.round(v)} ms`;
}

function timeoutRow(o: Observation, paint: Paint): string {
  const cols = `${o.name.padEnd(18)}${o.option.padEnd(24)}${ms(o.configured).padStart(10)}${ms(o.observed).padStart(10)}`;
  return `${mark(o.ok, paint)} ${cols}  ${o.ok ? o.outcome : paint.red(o.outcome)}`;
}

function connectionRow(o: Observation, paint: Paint): string {
  return `${mark(o.ok, paint)} ${o.name.padEnd(24)}${ms(o.observed).padStart(10)}  ${o.ok ? o.outcome : paint.red(o.outcome)}`;
}
