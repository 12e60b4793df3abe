// Adversarial suite: download() destinations. SPEC §11: invalid input throws HourglassError
// HG_INVALID_ARG before anything is sent; a NUL byte cannot be in a path.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { download, HourglassError } from '../../src/index.js';

describe('adversarial: download destinations', () => {
  for (const [name, dest, message] of [
    ['a NUL byte', '/tmp/hg-adv\0evil', /NUL/],
    ['a number', 5, /number 5/],
    ['an empty string', '', /string ""/],
  ] as const) {
    it(`${name} in dest is HG_INVALID_ARG, nothing sent`, { timeout: 5_000 }, async (t) => {
      let connections = 0;
      const srv = net.createServer((s) => {
        connections++;
        s.on('error', () => {});
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      t.after(() => srv.close());
      let caught: unknown;
      try {
        await download(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/f`, dest as string);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof HourglassError, `got ${String(caught)}`);
      assert.equal(caught.code, 'HG_INVALID_ARG');
      assert.match(caught.message, message);
      assert.equal(connections, 0);
    });
  }
});
