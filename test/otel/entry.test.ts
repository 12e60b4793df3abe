// The hourglass/otel entry point (SPEC §1, §14): reachable as `hourglass/otel` through
// package.json exports, and the main entry loads with no dependency installed — a copy
// of dist/ in a directory with no node_modules imports dist/index.js, while
// dist/otel/index.js there fails for want of @opentelemetry/api (so the check is real).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const T = { timeout: 30_000 };
const root = resolve(import.meta.dirname, '../../..');

describe('hourglass/otel entry point', () => {
  it('is exported as hourglass/otel with instrument()', T, async () => {
    const m = (await import('hourglass/otel' as string)) as { instrument?: unknown };
    assert.equal(typeof m.instrument, 'function');
  });

  it('the main entry loads without @opentelemetry installed; the otel entry needs it', T, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-otel-entry-'));
    try {
      cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', type: 'module' }));
      const main = execFileSync(
        process.execPath,
        ['--input-type=module', '-e', "const m = await import('./dist/index.js'); console.log(typeof m.Client, typeof m.request)"],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(main.trim(), 'function function');
      const otel = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "try { await import('./dist/otel/index.js'); console.log('loaded') } catch (e) { console.log(e.code) }",
        ],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(otel.trim(), 'ERR_MODULE_NOT_FOUND');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
