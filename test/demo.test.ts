/**
 * demo.test — `hourglass demo` (what `npm start` runs) as a user runs it: the built
 * binary exits 0 well within 30 s, every timeout phase of SPEC §3 appears in its table
 * with a ✓, and it prints no colour codes when stdout is not a terminal. Also the
 * `faults` command: it prints its URL and route list and stops cleanly on SIGTERM.
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function hg(args: string[], opts: { timeoutMs: number; until?: RegExp }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.until?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `hourglass ${args.join(' ')} still running after ${opts.timeoutMs} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('hourglass demo', () => {
  it('exits 0 within 30 s and shows every timeout phase firing with a ✓', async () => {
    const r = await hg(['demo'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
    const phases = [
      'dns',
      'connect',
      'tls',
      'pool',
      'write',
      'write-idle',
      'response-headers',
      'read-idle',
      'min-throughput',
      'request',
      'h2-settings',
      'h2-ping',
    ];
    for (const phase of phases) {
      const row = r.stdout.split('\n').find((l) => l.slice(2).startsWith(`${phase} `));
      assert.ok(row !== undefined, `no row for ${phase}:\n${r.stdout}`);
      assert.ok(row.startsWith('✓'), `row for ${phase} did not match: ${row}`);
      assert.match(row, new RegExp(`TimeoutError ${phase}`), row);
    }
    assert.match(r.stdout, /keep-alive/);
    assert.match(r.stdout, /stale idle connection/);
    assert.match(r.stdout, /^✓ h2 GOAWAY replay /m);
    assert.match(r.stdout, /observations match/);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when stdout is not a TTY');
  });
});

describe('hourglass faults', () => {
  it('prints its URL and the route list, and stops on SIGTERM', async () => {
    const r = await hg(['faults'], { timeoutMs: 10_000, until: /Press Ctrl-C/ });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /listening on http:\/\/127\.0\.0\.1:\d+/);
    for (const route of ['/ok', '/never', '/delay-headers', '/drip', '/stall-body', '/range']) {
      assert.match(
        r.stdout,
        new RegExp(`^\\s+${route.replace('/', '\\/')}\\b`, 'm'),
        `route ${route} missing`,
      );
    }
  });

  it('rejects a bad port with exit 2', async () => {
    const r = await hg(['faults', '--port', 'x'], { timeoutMs: 10_000 });
    assert.equal(r.code, 2);
  });
});
