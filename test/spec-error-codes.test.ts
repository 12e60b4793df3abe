// Every `HG_*` error code the sources name (`'HG_…'` literals in src/) appears in
// docs/SPEC.md §4 (Errors) or §12 (Seams), so the error table cannot fall behind the code
// again (issue #17: HG_BAD_REDIRECT was thrown but undocumented). KNOWN_GAPS lists the
// codes that were already missing when this test was written: it may only shrink — a
// new code needs its SPEC row, and a gap that gets documented must leave the list.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// build/test/spec-error-codes.test.js → the repository root.
const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

/** Codes allowed to be undocumented: none since issue #17 documented the last nine. */
const KNOWN_GAPS = new Set<string>([]);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The text of SPEC sections `## N.` for each N in `numbers`. */
function sections(spec: string, numbers: number[]): string {
  const parts = spec.split(/^(?=## \d+\. )/m);
  return parts.filter((p) => numbers.some((n) => p.startsWith(`## ${n}. `))).join('\n');
}

test('every HG_* code in src/ is in SPEC §4 or §12 (known gaps excepted, and only shrinking)', { timeout: 10_000 }, () => {
  const codes = new Map<string, string>();
  for (const file of sources(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/'(HG_[A-Z_]+)'/g)) if (!codes.has(m[1]!)) codes.set(m[1]!, file);
  }
  assert.ok(codes.has('HG_BAD_REDIRECT') && codes.size > 5, 'the scan found the codes');
  const spec = sections(readFileSync(join(root, 'docs', 'SPEC.md'), 'utf8'), [4, 12]);
  assert.ok(spec.includes('## 4. ') && spec.includes('## 12. '), 'both sections found');
  const documented = (code: string): boolean => new RegExp(`\\b${code}\\b`).test(spec);
  const missing = [...codes].filter(([c]) => !documented(c) && !KNOWN_GAPS.has(c)).map(([c, f]) => `${c} (${f})`);
  assert.deepEqual(missing, [], 'codes thrown in src/ but absent from SPEC §4 and §12');
  const stale = [...KNOWN_GAPS].filter((c) => documented(c) || !codes.has(c));
  assert.deepEqual(stale, [], 'KNOWN_GAPS entries now documented (or gone): remove them');
  assert.ok(documented('HG_BAD_REDIRECT'));
});
