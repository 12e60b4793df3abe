/**
 * import-cycles.test — the built package (`dist/`) has no import cycle (issue 15 item 8:
 * index ↔ fetch/download, cli/get ↔ cli/get-download). Walks every `.js` file's static
 * relative imports and re-exports and fails naming the first cycle found. Also proves
 * the walker itself finds a cycle when there is one.
 */

import * as assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const DIST = new URL('../../dist/', import.meta.url).pathname;
const SRC = new URL('../../src/', import.meta.url).pathname;
const T = { timeout: 10_000 };

/** `from './x.js'`, `import './x.js'`, `import('./x.js')` with a relative specifier. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

async function codeFiles(dir: string, ext: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await codeFiles(p, ext, out);
    else if (e.name.endsWith(ext) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * The import graph of the `.js` (or `.ts`: type-only imports count too) files under
 * `root`: file → files it imports.
 */
async function graphOf(root: string, ext = '.js'): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await codeFiles(root, ext)) {
    const src = await readFile(file, 'utf8');
    const deps: string[] = [];
    for (const m of src.matchAll(IMPORT)) deps.push(resolve(dirname(file), m[2]!.replace(/\.js$/, ext)));
    graph.set(file, deps);
  }
  return graph;
}

/** The first cycle found (as a list of files, first repeated at the end), or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      const s = state.get(dep);
      if (s === 'open') return [...stack.slice(stack.indexOf(dep)), dep];
      if (s === undefined && graph.has(dep)) {
        const found = visit(dep);
        if (found !== undefined) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.get(node) !== undefined) continue;
    const found = visit(node);
    if (found !== undefined) return found;
  }
  return undefined;
}

test('dist/ has no import cycle (index, fetch, download, default-client, cli/get, cli/get-download included)', T, async () => {
  const graph = await graphOf(DIST);
  for (const f of ['index.js', 'fetch.js', 'download.js', 'default-client.js', 'cli/get.js', 'cli/get-download.js']) {
    assert.ok(graph.has(join(DIST, f)), `dist/${f} was built`);
  }
  assert.ok([...graph.values()].some((deps) => deps.length > 0), 'imports were found at all');
  const cycle = findCycle(graph);
  assert.equal(cycle?.map((f) => relative(DIST, f)).join(' -> '), undefined);
});

test('src/cli/ has no import cycle either, counting type-only imports (cli/get ↔ cli/get-download)', T, async () => {
  // Type-only cycles elsewhere are by design (options.ts names the option types of the
  // modules that import its checks); the CLI's modules form a tree.
  const cli = join(SRC, 'cli/');
  const graph = new Map(
    [...(await graphOf(SRC, '.ts'))]
      .filter(([f]) => f.startsWith(cli))
      .map(([f, deps]) => [f, deps.filter((d) => d.startsWith(cli))] as const),
  );
  assert.ok(graph.get(join(cli, 'get.ts'))?.includes(join(cli, 'get-download.ts')), 'cli/get imports cli/get-download');
  const cycle = findCycle(graph);
  assert.equal(cycle?.map((f) => relative(SRC, f)).join(' -> '), undefined);
});

test('the cycle walker finds a cycle when there is one', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-cycles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a.js'), "import { b } from './b.js';\nexport const a = 1;\n");
  await writeFile(join(dir, 'b.js'), "export { c as b } from './c.js';\n");
  await writeFile(join(dir, 'c.js'), "import './a.js';\nexport const c = 2;\n");
  await writeFile(join(dir, 'd.js'), "import { a } from './a.js';\n");
  const cycle = findCycle(await graphOf(dir));
  assert.deepEqual(cycle?.map((f) => relative(dir, f)), ['a.js', 'b.js', 'c.js', 'a.js']);
});
