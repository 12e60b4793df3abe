// String request bodies (issue #18, outside attack of 2026-12-07: a 256 KiB string POST cost
// 2.4 × undici's CPU): a string up to 16 Ki UTF-16 units goes out joined to the head, a longer
// one is encoded once when the request is made. Either way the bytes and the Content-Length on
// the wire are the string's UTF-8, also for characters of 2, 3 and 4 bytes, on a 307 replay
// and after `100 Continue`.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from '../src/index.js';

const T = { timeout: 10_000 };

interface Seen {
  length: string | undefined;
  body: Buffer;
}

describe('string request bodies', () => {
  const seen: Seen[] = [];
  let server: http.Server;
  let origin = '';
  before(async () => {
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seen.push({ length: req.headers['content-length'], body: Buffer.concat(parts) });
        if (req.url === '/redirect') {
          res.writeHead(307, { location: '/done' });
          res.end();
        } else {
          res.end('ok');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  // Sizes around the join limit, in UTF-16 units; the text mixes 1-, 2-, 3- and 4-byte characters.
  const unit = 'aé€😀';
  const sizes = [0, 5, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 300 * 1024];
  for (const units of sizes) {
    it(`${units} UTF-16 units: exact UTF-8 bytes and Content-Length`, T, async () => {
      const text = unit.repeat(Math.ceil(units / unit.length) + 1).slice(0, units);
      // Never cut a surrogate pair: the text must encode to exactly its own UTF-8.
      const body = text.endsWith('\ud83d') ? text.slice(0, -1) + 'b' : text;
      const client = new Client();
      try {
        seen.length = 0;
        const res = await client.request(`${origin}/post`, { method: 'POST', body });
        assert.equal(await res.text(), 'ok');
        const want = Buffer.from(body, 'utf8');
        assert.equal(seen.length, 1);
        assert.equal(seen[0]!.length, String(want.length));
        assert.ok(seen[0]!.body.equals(want), 'the server got the string as UTF-8');
      } finally {
        await client.close();
      }
    });
  }

  it('a long string body is sent again whole on a 307 and after 100 Continue', T, async () => {
    const body = unit.repeat(10_000);
    const want = Buffer.from(body, 'utf8');
    const client = new Client();
    try {
      seen.length = 0;
      const res = await client.request(`${origin}/redirect`, { method: 'POST', body });
      assert.equal(res.status, 200);
      await res.text();
      const res2 = await client.request(`${origin}/continue`, { method: 'POST', body, headers: { expect: '100-continue' } });
      assert.equal(await res2.text(), 'ok');
      assert.equal(seen.length, 3);
      for (const s of seen) {
        assert.equal(s.length, String(want.length));
        assert.ok(s.body.equals(want));
      }
    } finally {
      await client.close();
    }
  });
});
