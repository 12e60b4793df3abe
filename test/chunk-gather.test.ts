// Small body pieces of one socket read are handed to the body together (issue #18, outside
// attack of 2026-12-07: a chunked body of 64-byte chunks cost 1.3–1.5 × undici's CPU when every
// chunk went through the stream on its own). The bytes, their order, the limits and the
// errors are what they were piece by piece, for every way of reading a body.
import * as assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { Client, ProtocolError, Transport } from '../src/index.js';
import { startRawServer } from './helpers/raw-server.js';

const T = { timeout: 10_000 };

/** `sizes` as chunks of a chunked body, the byte at offset i being i mod 251. */
function chunkedBody(sizes: readonly number[]): { wire: Buffer; body: Buffer } {
  const parts: Buffer[] = [];
  const body: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = (at + i) % 251;
    at += n;
    body.push(data);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return { wire: Buffer.concat(parts), body: Buffer.concat(body) };
}

/** A server answering every request with `wire` after a chunked head, written in pieces of `split` bytes. */
async function chunkedServer(t: TestContext, wire: Buffer, split = wire.length + 100): Promise<string> {
  const head = Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
  const srv = await startRawServer(t, (s: Socket) => {
    s.on('data', () => {
      const all = Buffer.concat([head, wire]);
      for (let i = 0; i < all.length; i += split) s.write(all.subarray(i, i + split));
    });
  });
  return srv.url('/');
}

function client(t: TestContext, maxResponseBytes?: number): Client {
  const c = new Client({ transport: new Transport(maxResponseBytes === undefined ? {} : { maxResponseBytes }) });
  t.after(() => c.close());
  return c;
}

const SHAPES: Record<string, number[]> = {
  'a thousand 64-byte chunks': Array.from({ length: 1000 }, () => 64),
  'tiny chunks around a large one': [1, 2, 3, ...Array.from({ length: 50 }, () => 100), 70_000, 5, 6, 4095, 4096, 4097, 7],
  'one small chunk': [10],
};

describe('chunked bodies of small chunks', () => {
  for (const [name, sizes] of Object.entries(SHAPES)) {
    for (const split of [1_000_000, 777, 3]) {
      it(`${name}, written ${split >= 1_000_000 ? 'at once' : `in ${split}-byte pieces`}: res.body, text(), arrayBuffer(), readInto() get every byte in order`, T, async (t) => {
        const { wire, body } = chunkedBody(sizes);
        const url = await chunkedServer(t, wire, split);
        const c = client(t);
        const chunks: Buffer[] = [];
        for await (const ch of (await c.request(url)).body) chunks.push(ch as Buffer);
        assert.ok(Buffer.concat(chunks).equals(body), 'res.body');
        assert.equal((await (await c.request(url)).text()).length, body.toString().length);
        assert.ok(Buffer.from(await (await c.request(url)).arrayBuffer()).equals(body), 'arrayBuffer()');
        const res = await c.request(url);
        const into = new Uint8Array(1000);
        const got: Buffer[] = [];
        for (let n, k = 0; k < 10_000 && (n = await res.readInto(into)) > 0; k++) got.push(Buffer.from(into.subarray(0, n)));
        assert.ok(Buffer.concat(got).equals(body), 'readInto()');
        if (split >= 1_000_000 && sizes.length >= 1000) {
          // Written at once, a thousand chunks arrive in a few reads: far fewer 'data' events.
          const flowing = (await c.request(url)).body;
          let events = 0;
          let bytes = 0;
          flowing.on('data', (ch: Buffer) => {
            events++;
            bytes += ch.length;
          });
          await new Promise((r) => flowing.once('end', r));
          assert.equal(bytes, body.length);
          assert.ok(events < 100, `${events} 'data' events for ${sizes.length} wire chunks`);
        }
      });
    }
  }

  it('maxResponseBytes still counts each piece: the body fails once past it, with what came before delivered', T, async (t) => {
    const { wire } = chunkedBody(Array.from({ length: 200 }, () => 64));
    const url = await chunkedServer(t, wire);
    const c = client(t, 64 * 100);
    const res = await c.request(url);
    await assert.rejects(res.text(), (e: unknown) => e instanceof ProtocolError && e.reason === 'body-too-large');
  });

  it('a malformed chunk after small ones fails the body (bad-chunk), the small ones before it readable', T, async (t) => {
    const { wire } = chunkedBody(Array.from({ length: 20 }, () => 64));
    const bad = Buffer.concat([wire.subarray(0, wire.length - 5), Buffer.from('zz\r\n')]);
    const url = await chunkedServer(t, bad);
    const c = client(t);
    const res = await c.request(url);
    let n = 0;
    await assert.rejects(
      (async () => {
        for await (const ch of res.body) n += (ch as Buffer).length;
      })(),
      (e: unknown) => e instanceof ProtocolError,
    );
    assert.ok(n <= 20 * 64);
  });
});
