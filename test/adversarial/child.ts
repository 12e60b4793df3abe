// Runs a small ESM script in a child `node` process against the built package (dist/), for
// the adversarial suites that must observe a whole process: whether it exits by itself,
// what the garbage collector does, how far its RSS grows. The script gets `HG` (the path
// of dist/index.js, to import) and `HG_URL` in its environment and reports one JSON line
// on stdout prefixed with `RESULT `; `runChild` resolves with that object, how long the
// child took to exit after reporting, and is bounded by `limitMs` (the child is killed).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const DIST = resolve('dist/index.js');

export interface ChildOutcome {
  /** The RESULT line's JSON, or undefined when none came. */
  result: Record<string, unknown> | undefined;
  /** Exit code (null when killed). */
  code: number | null;
  /** ms from the RESULT line to the exit (Infinity when it had to be killed). */
  exitAfterResult: number;
  stderr: string;
}

/** Runs `source` (an ES module) with node `flags`; kills it after `limitMs`. */
export async function runChild(
  source: string,
  env: Record<string, string>,
  limitMs: number,
  flags: string[] = [],
): Promise<ChildOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'hg-adv-'));
  const file = join(dir, 'child.mjs');
  writeFileSync(file, source);
  try {
    return await new Promise<ChildOutcome>((res) => {
      const child = spawn(process.execPath, [...flags, file], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env, HG: DIST },
      });
      let out = '';
      let stderr = '';
      let result: Record<string, unknown> | undefined;
      let resultAt = 0;
      let killed = false;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^RESULT (.*)$/m.exec(out);
        if (m !== null && result === undefined) {
          result = JSON.parse(m[1]!) as Record<string, unknown>;
          resultAt = performance.now();
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const kill = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, limitMs);
      child.on('exit', (code) => {
        clearTimeout(kill);
        res({
          result,
          code,
          exitAfterResult: killed || resultAt === 0 ? Number.POSITIVE_INFINITY : performance.now() - resultAt,
          stderr,
        });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
