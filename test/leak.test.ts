// No leaked handles: a process that makes requests (successes, timeouts, an abort) and
// then returns exits by itself at once — idle keep-alive sockets and every timer are
// unref'd or cleared, with or without close() (SPEC §3, §11).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaultServer } from '../src/testing/index.js';

const buildSrc = resolve('build/src');

function script(closeClient: boolean): string {
  return `
import { Client, Transport, request } from ${JSON.stringify(`${buildSrc}/index.js`)};
const origin = process.env.HG_ORIGIN;
const fs = { url: (p) => origin + p };
const c = new Client({ timeout: 5000, transport: new Transport({ responseHeaderTimeout: 100, readIdleTimeout: 5000 }) });
for (let i = 0; i < 5; i++) await (await c.request(fs.url('/ok'))).text();
await (await request(fs.url('/ok'))).text();
try { await c.request(fs.url('/never')); } catch {}
const ac = new AbortController();
const p = c.request(fs.url('/never'), { signal: ac.signal });
setTimeout(() => ac.abort(), 20);
try { await p; } catch {}
${closeClient ? 'await c.close();' : ''}
// The server (in the parent) keeps its side open: idle keep-alive sockets must not hold us.
process.stdout.write('done ' + Date.now() + '\\n');
`;
}

async function exitDelay(closeClient: boolean, origin: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hg-leak-'));
  const file = join(dir, 'leak.mjs');
  writeFileSync(file, script(closeClient));
  try {
    return await new Promise<number>((res, rej) => {
      const child = spawn(process.execPath, [file], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, HG_ORIGIN: origin },
      });
      let doneAt = 0;
      child.stdout.on('data', (d: Buffer) => {
        const m = /done (\d+)/.exec(d.toString());
        if (m) doneAt = Date.now();
      });
      const kill = setTimeout(() => {
        child.kill();
        rej(new Error('child did not exit within 10 s'));
      }, 10_000);
      child.on('exit', (code) => {
        clearTimeout(kill);
        if (code !== 0 || doneAt === 0) rej(new Error(`child exited ${code}`));
        else res(Date.now() - doneAt);
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('no leaked handles', () => {
  let fs: FaultServer;
  before(async () => {
    fs = await FaultServer.start();
  });
  after(() => fs.close());

  it('a process that made requests exits within 200 ms without close()', async () => {
    const ms = await exitDelay(false, fs.origin);
    assert.ok(ms < 200, `exited ${ms} ms after returning`);
  });

  it('and with close()', async () => {
    const ms = await exitDelay(true, fs.origin);
    assert.ok(ms < 200, `exited ${ms} ms after returning`);
  });
});
