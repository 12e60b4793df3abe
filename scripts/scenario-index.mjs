#!/usr/bin/env node
// Lists every scenario id (GO-17, PF-04, MF-22, ...) cited in src/ and test/, with the
// tests that cite it: `node scripts/scenario-index.mjs` prints `ID<TAB>file<TAB>test name`
// lines, the raw material of docs/SCENARIOS.md (whose descriptions are written by hand).
// Used by test/scenarios-doc.test.ts through `citedIds()`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ID_PATTERN = /\b(?:GO|UN|MF|PF|HG|H2|SE)-\d{2,3}(?=[a-z]?\b)/g;
const root = join(fileURLToPath(import.meta.url), '..', '..');

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every id cited in src/ and test/, with the files citing it. */
export function citedIds(base = root) {
  const ids = new Map();
  for (const dir of ['src', 'test']) {
    for (const file of walk(join(base, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(ID_PATTERN)) {
        const set = ids.get(m[0]) ?? new Set();
        set.add(relative(base, file));
        ids.set(m[0], set);
      }
    }
  }
  return ids;
}

const TITLE = /\b(?:it|test|describe)\(\s*(['"`])((?:\\.|(?!\1).)*)\1/;

/** The test a citation on line `i` belongs to: its own line, one just below a comment, or the enclosing one. */
function testAt(rawLines, i) {
  // A title may sit on the line after `it(`: look at each line joined with the next.
  const lines = rawLines.map((l, k) => `${l} ${(rawLines[k + 1] ?? '').trim()}`);
  const own = TITLE.exec(lines[i]);
  if (own) return own[2];
  if (/^\s*(\/\/|\*|\/\*)/.test(lines[i])) {
    for (let j = i + 1; j < Math.min(lines.length, i + 8); j++) {
      const m = TITLE.exec(lines[j]);
      if (m) return m[2];
      if (!/^\s*(\/\/|\*|\/\*)/.test(lines[j])) break;
    }
  }
  for (let j = i - 1; j >= 0; j--) {
    const m = TITLE.exec(lines[j]);
    if (m) return m[2];
  }
  return '(file header)';
}

export function citations(base = root) {
  const rows = [];
  for (const file of walk(join(base, 'test'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const m of line.matchAll(ID_PATTERN)) rows.push([m[0], relative(base, file), testAt(lines, i)]);
    });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seen = new Set();
  for (const r of citations().sort((a, b) => a[0].localeCompare(b[0]))) {
    const k = r.join('\t');
    if (!seen.has(k)) console.log(k);
    seen.add(k);
  }
  const tested = new Set(citations().map((r) => r[0]));
  for (const [id, files] of citedIds()) if (!tested.has(id)) console.log(`${id}\t(src only)\t${[...files].join(' ')}`);
}
