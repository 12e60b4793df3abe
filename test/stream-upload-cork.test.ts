// A stream request body's head waits for the end of the turn with the body's first small
// pieces (one writev for a small upload; issue #18, outside attack of 2026-12-07: a 2 × 1 KiB
// Readable body cost 0.78 × undici's CPU written as head + one write per piece). What must
// not change: the head leaves within the turn even when the source is slow, pieces of every
// size arrive in order and exactly, under either framing.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { Client } from '../src/index.js';

const T = { timeout: 10_000 };

async function echoServer(t: TestContext): Promise<{ url: string; headAt: () => number; bodies: Buffer[] }> {
  let headAt = 0;
  const bodies: Buffer[] = [];
  const server = http.createServer((req, res) => {
    headAt = performance.now();
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(parts));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/up`, headAt: () => headAt, bodies };
}

function client(t: TestContext): Client {
  const c = new Client();
  t.after(() => c.close());
  return c;
}

describe('stream request bodies and the turn-end cork', () => {
  it('a source slow to give its first piece: the head reaches the server at once, not with the piece', T, async (t) => {
    const srv = await echoServer(t);
    const c = client(t);
    async function* slow(): AsyncGenerator<Buffer> {
      await delay(400);
      yield Buffer.from('late');
    }
    const start = performance.now();
    const res = await c.request(srv.url, { method: 'POST', body: slow() });
    assert.equal(await res.text(), 'ok');
    assert.ok(srv.headAt() - start < 250, `head after ${Math.round(srv.headAt() - start)} ms`);
    assert.equal(srv.bodies[0]!.toString(), 'late');
  });

  // Seventeenth outside attack F1: pieces held by the cork were sent as the source's buffer
  // was at the end of the turn, not as it was yielded (`EEEEE` for A, B, C, D, E).
  for (const size of [1, 100, 4096, 16 * 1024 - 1]) {
    for (const framing of ['chunked', 'content-length'] as const) {
      it(`a source that refills one ${size}-byte buffer for each of 5 pieces (${framing}): each piece as it was yielded`, T, async (t) => {
        const srv = await echoServer(t);
        const c = client(t);
        const buf = Buffer.alloc(size);
        async function* reuse(): AsyncGenerator<Buffer> {
          for (let i = 0; i < 5; i++) yield buf.fill(0x41 + i);
        }
        const want = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(size, 0x41 + i)));
        const headers = framing === 'content-length' ? { 'content-length': String(want.length) } : undefined;
        const res = await c.request(srv.url, { method: 'POST', body: reuse(), ...(headers ? { headers } : {}) });
        assert.equal(await res.text(), 'ok');
        assert.ok(srv.bodies[0]!.equals(want), `got ${srv.bodies[0]!.subarray(0, 40).toString()}…`);
      });
    }
  }

  const sizes = [1, 100, 20 * 1024, 3, 64 * 1024, 5, 16 * 1024 - 1, 16 * 1024, 7];
  for (const framing of ['chunked', 'content-length'] as const) {
    for (const paced of [false, true]) {
      it(`pieces of ${sizes.join('/')} bytes, ${framing}, ${paced ? 'one per turn' : 'all at once'}: exact bytes in order`, T, async (t) => {
        const srv = await echoServer(t);
        const c = client(t);
        const pieces = sizes.map((n, i) => Buffer.alloc(n, 97 + i));
        const want = Buffer.concat(pieces);
        async function* gen(): AsyncGenerator<Buffer> {
          for (const p of pieces) {
            if (paced) await new Promise((r) => setImmediate(r));
            yield p;
          }
        }
        const headers = framing === 'content-length' ? { 'content-length': String(want.length) } : undefined;
        const res = await c.request(srv.url, { method: 'POST', body: paced ? gen() : Readable.from(pieces), ...(headers ? { headers } : {}) });
        assert.equal(await res.text(), 'ok');
        assert.ok(srv.bodies[0]!.equals(want));
        // And the connection serves the next request.
        const again = await c.request(srv.url, { method: 'POST', body: Readable.from([Buffer.from('x'), Buffer.from('y')]) });
        assert.equal(await again.text(), 'ok');
        assert.equal(srv.bodies[1]!.toString(), 'xy');
      });
    }
  }
});
