// Eleventh outside attack (issue #16 and the body-source changes): findings of a tester who
// saw only the spec and the packed build, turned into tests.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

const T = { timeout: 20_000 };

async function* slowSource(pieces: number, gapMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < pieces; i++) {
    yield Buffer.alloc(1000, 65 + i);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

describe('adv11', () => {
  // F5: on a reused plain-TCP connection (out of the kernel's quick-ACK start), the peer's
  // delayed ACK held a piece's bytes in the kernel's send queue when the write-idle clock
  // looked, and the clock counted from its previous look (made while the source was slow,
  // nothing waiting) — write-idle at ~430 ms for a source pausing 400 ms, limit 200.
  it('F5 HTTP/1.1, reused connection: a source pausing longer than writeIdleTimeout is not a write stall', T, async () => {
    const fs = await FaultServer.start();
    const client = new Client({ transport: new Transport({ writeIdleTimeout: 200 }) });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.request(fs.url('/echo'), { method: 'POST', body: slowSource(3, 400) });
        const echo = JSON.parse(await res.text()) as { bodyLength: number };
        assert.equal(echo.bodyLength, 3000);
        assert.equal(res.reused, i > 0);
      }
    } finally {
      await client.close();
      await fs.close();
    }
  });
});
