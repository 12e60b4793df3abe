// Adversarial suite, seams 4 (issue 15): a stream request body whose content-length is no
// valid number is the caller's HG_INVALID_ARG before anything is dialed — not
// HG_BODY_NOT_REPLAYABLE, which a stream's first open failing its framing check was taken
// for (the check threw inside the one-shot open, and the error was read as "opened twice").
import * as assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { Client, HourglassError } from '../../src/index.js';

test('a stream body with an invalid content-length is HG_INVALID_ARG, nothing dialed', { timeout: 5_000 }, async (t) => {
  let connections = 0;
  const srv = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`;
  const client = new Client({ timeout: 2000 });
  t.after(() => client.close());
  for (const cl of ['x', '-1', '1e3', '3 3']) {
    await assert.rejects(
      client.request(url, { method: 'POST', body: Readable.from([Buffer.from('abc')]), headers: { 'content-length': cl } }),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG' && /content-length/.test(e.message),
      `content-length ${JSON.stringify(cl)}`,
    );
  }
  assert.equal(connections, 0);
});
