// Adversarial suite: RFC 9112 §3.2 — a request with more than one Host line is invalid, and
// front and back servers that pick different lines disagree about the target. SPEC §11:
// invalid input is HG_INVALID_ARG "before anything is sent".
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { HourglassError, request } from '../../src/index.js';

describe('adversarial: a duplicate Host header', () => {
  const cases: [string, Record<string, string | string[]> | [string, string][]][] = [
    ['two pairs', [['host', 'public.example'], ['host', 'internal.admin']]],
    ['Host and host keys', { Host: 'public.example', host: 'internal.admin' }],
    ['an array value', { host: ['public.example', 'internal.admin'] }],
  ];
  for (const [name, headers] of cases) {
    it(`${name}: HG_INVALID_ARG and nothing on the wire`, { timeout: 5_000 }, async (t) => {
      let connections = 0;
      const server = net.createServer((s) => {
        connections++;
        s.on('error', () => {});
        s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      t.after(() => server.close());
      let caught: unknown;
      try {
        const res = await request(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, { headers });
        await res.dump();
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof HourglassError, `expected a rejection, got ${String(caught)}`);
      assert.equal(caught.code, 'HG_INVALID_ARG');
      assert.match(caught.message, /host/i);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(connections, 0, 'nothing was sent');
    });
  }
  it('a single Host override is still sent', { timeout: 5_000 }, async (t) => {
    let head = '';
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        head = String(d);
        s.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const res = await request(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, { headers: { Host: 'virtual.example' } });
    await res.dump();
    assert.equal(head.split('\r\n').filter((l) => /^host:/i.test(l)).length, 1);
    assert.match(head, /\r\nHost: virtual\.example\r\n/i);
  });
});
