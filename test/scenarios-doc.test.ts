// docs/SCENARIOS.md indexes every scenario id cited in src/ and test/ (issue 14 item 16):
// a citation a user cannot follow is a failure. Also checks that each row names a test
// file that exists and that the page has no row for an id nobody cites.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// build/test/scenarios-doc.test.js → the repository root.
const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const ID = /\b(?:GO|UN|MF|PF|HG|H2|SE)-\d{2,3}(?=[a-z]?\b)/g;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function cited(): Map<string, string> {
  const ids = new Map<string, string>();
  for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'test'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(ID)) if (!ids.has(m[0])) ids.set(m[0], file);
  }
  return ids;
}

function rows(): Map<string, string> {
  const doc = readFileSync(join(root, 'docs', 'SCENARIOS.md'), 'utf8');
  const out = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\| ([A-Z0-9]+-\d+) \| (.+) \|$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

test('every scenario id cited in src/ or test/ has a row in docs/SCENARIOS.md', { timeout: 10_000 }, () => {
  const ids = cited();
  assert.ok(ids.size > 50, `found ${ids.size} cited ids: the scan itself works`);
  const doc = rows();
  const missing = [...ids].filter(([id]) => !doc.has(id)).map(([id, file]) => `${id} (cited in ${file.slice(root.length + 1)})`);
  assert.deepEqual(missing, [], 'ids cited but missing from docs/SCENARIOS.md');
});

test('each docs/SCENARIOS.md row describes its scenario and names an existing test file', { timeout: 10_000 }, () => {
  const ids = cited();
  for (const [id, rest] of rows()) {
    assert.ok(ids.has(id), `${id} has a row but is cited nowhere (remove the row)`);
    const m = /^(.{20,}) \| `([^`]+)` — (.+)$/.exec(rest);
    assert.ok(m, `${id}: row has a description, a test file and a test name`);
    assert.ok(existsSync(join(root, m[2]!)), `${id}: ${m[2]} exists`);
    const file = readFileSync(join(root, m[2]!), 'utf8');
    assert.ok(file.includes(id), `${id}: ${m[2]} cites it`);
  }
});
