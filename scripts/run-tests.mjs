// Runs every compiled test file (build/test/**/*.test.js) with node's test runner, one file
// at a time (on this 2-core machine node --test runs files one at a time anyway).
//
// A file that fails is run once more and the retry is reported by name: a real bug fails
// both times and fails the run; a timing flake on a loaded machine does not sink CI. The
// failing tests' TAP blocks are repeated at the end (a CI log is often read by its tail); the
// last line is the plain summary `N passed, N failed` over the final run of every file.
//
// Usage: node scripts/run-tests.mjs [substring filter...]   (env NO_RETRY=1 disables the retry)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function run(file) {
  const r = spawnSync(process.execPath, ['--test', '--test-timeout=120000', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  process.stdout.write(out);
  const num = (key) => {
    const m = out.match(new RegExp(`^# ${key} (\\d+)$`, 'gm'));
    return m ? Number(m[m.length - 1].split(' ')[2]) : 0;
  };
  return { ok: r.status === 0, pass: num('pass'), fail: num('fail') + num('cancelled'), why: failures(out) };
}

/** Each leaf `not ok` line with the head of its YAML block (error, expected/actual, location). */
function failures(out) {
  const lines = out.split('\n');
  const picked = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*not ok /.test(lines[i])) continue;
    const block = [lines[i]];
    for (let j = i + 1; j < lines.length && j <= i + 25 && !/^\s*\.\.\.$/.test(lines[j]); j++) block.push(lines[j]);
    // A suite's `not ok` only repeats its failing children ("N subtests failed"): skip it.
    if (!block.some((l) => /subtests? failed|failureType: 'subtestsFailed'/.test(l))) picked.push(block.join('\n'));
  }
  return picked.slice(0, 10);
}

const filters = process.argv.slice(2);
const files = walk('build/test', [])
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

let passed = 0;
let failed = 0;
const retried = [];
const failing = [];
const whys = [];
/** What failed in the first run of each retried file (a flake is still worth a look). */
const flakes = [];
for (const file of files) {
  let r = run(file);
  if (!r.ok && process.env.NO_RETRY !== '1') {
    console.log(`\n### ${file} failed; running it once more to tell a flake from a bug\n`);
    retried.push(file);
    flakes.push(`--- ${file}\n${r.why.join('\n') || '(no TAP failure lines: the file crashed or timed out)'}`);
    r = run(file);
  }
  passed += r.pass;
  failed += r.fail;
  if (!r.ok) {
    failing.push(file);
    whys.push(`--- ${file}\n${r.why.join('\n') || '(no TAP failure lines: the file crashed or timed out)'}`);
    if (r.fail === 0) failed += 1; // a file that crashed before reporting counts as a failure
  }
}
console.log('');
if (retried.length > 0) console.log(`retried once: ${retried.join(', ')}\nwhat failed in their first run:\n${flakes.join('\n')}\n`);
if (failing.length > 0) {
  // Repeated at the end so a CI log cut to its tail still says what failed and why.
  console.log(`what failed (second run):\n${whys.join('\n')}\n`);
  console.log(`failing: ${failing.join(', ')}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failing.length === 0 ? 0 : 1);
