// Twelfth outside attack (issue #16): findings of a tester who saw only the spec and the
// packed build, turned into tests.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { partialServer, settleWithin } from '../helpers/partial-server.js';

const T = { timeout: 20_000 };

/** Yields 'abc', then after `ms` does `then` (throw, or yield something bad). */
async function* lateFault(ms: number, then: () => unknown): AsyncGenerator<unknown> {
  yield Buffer.from('abc');
  await new Promise((r) => setTimeout(r, ms));
  yield then();
}

describe('adv12', () => {
  // F1: an iterable body (a generator) failing after the final response head — it threw, a
  // chunk was no bytes, the bytes broke its content-length — made HTTP/2 reset the stream
  // and then say the server had ("the server reset the stream with error code 8"), and
  // HTTP/1.1 deliver the response as if nothing happened. SPEC error table: the body read
  // fails with HG_REQUEST_BODY / HG_INVALID_ARG.
  const cases = [
    { name: 'the source throws', headers: {}, then: (): never => { throw new Error('boom-gen'); }, code: 'HG_REQUEST_BODY', cause: 'boom-gen' },
    { name: 'a chunk is no bytes', headers: {}, then: (): number => 42, code: 'HG_INVALID_ARG', cause: undefined },
    { name: 'more bytes than the content-length', headers: { 'content-length': '5' }, then: (): Buffer => Buffer.from('defgh'), code: 'HG_INVALID_ARG', cause: undefined },
  ];
  for (const proto of ['h1', 'h2'] as const) {
    for (const c of cases) {
      it(`F1 ${proto}: after the response head, ${c.name}: the body read fails ${c.code} at once`, T, async () => {
        const fs = await partialServer(proto);
        const client = new Client({ transport: new Transport({ readIdleTimeout: 5000, ...(proto === 'h2' ? { h2c: true } : {}) }) });
        try {
          const res = await client.request(fs.url('/partial'), {
            method: 'POST',
            body: lateFault(200, c.then) as AsyncIterable<Buffer>,
            headers: { 'content-type': 'text/plain', ...c.headers },
          });
          assert.equal(res.status, 200);
          const g = await settleWithin(res.text());
          assert.ok(g.err instanceof HourglassError && g.err.code === c.code, `${proto}: ${String(g.err)}`);
          if (c.cause !== undefined) assert.equal((g.err.cause as Error | undefined)?.message, c.cause);
          assert.ok(g.ms < 1500, `settled after ${Math.round(g.ms)} ms (the fault came at 200 ms; readIdleTimeout is 5 s)`);
          if (proto === 'h2') {
            const again = await client.request(fs.url('/ok'));
            assert.equal(again.status, 200);
            await again.text();
            assert.equal(fs.connections, 1, 'the connection stays in use');
          }
        } finally {
          await client.close();
          await fs.close();
        }
      });
    }
  }

  // F5: a request header block over node's default 64 KiB send limit was refused by the
  // codec itself, reported as "the server refused the stream (REFUSED_STREAM)" with
  // requestSent true, replayed, and it retired the healthy connection (2 more connections
  // per request). Now it goes out as HTTP/1.1 sends it; past 16 MiB it fails HG_INVALID_ARG
  // before a stream opens.
  it('F5 h2: a 200 KB request header goes out on the connection in use; a 17 MB one fails HG_INVALID_ARG, requestSent false, nothing dialed', T, async () => {
    const fs = await FaultServer.start({ h2: true });
    const client = new Client({ transport: new Transport({ tls: { ca: fs.ca } }) });
    try {
      await (await client.request(fs.url('/ok'))).text();
      const res = await client.request(fs.url('/echo'), { headers: { 'x-huge': 'a'.repeat(200_000) } });
      assert.equal(res.status, 200);
      const echoed = (await res.json()) as { headers: Record<string, string> };
      assert.equal(echoed.headers['x-huge']?.length, 200_000);
      const g = await settleWithin(client.request(fs.url('/ok'), { headers: { 'x-huge': 'a'.repeat(17_000_000) } }));
      assert.ok(g.err instanceof HourglassError && g.err.code === 'HG_INVALID_ARG', String(g.err));
      assert.equal((g.err as HourglassError & { requestSent?: boolean }).requestSent ?? false, false);
      const next = await client.request(fs.url('/ok'));
      assert.equal(next.reused, true);
      await next.text();
      assert.equal(fs.connections, 1);
    } finally {
      await client.close();
      await fs.close();
    }
  });

  // F6: HTTP/2 rawHeaders came from node's header object: repeated fields joined, the
  // second content-type dropped, cookies joined with '; '. F7: a field repeated N times was
  // counted once against maxResponseHeaderBytes (2.5 x the limit got through). Both now read
  // the block as node received it, as HTTP/1.1 reads its head.
  it('F6 h2: rawHeaders are the pairs as received and repeated fields join as over HTTP/1.1', T, async () => {
    const fs = await FaultServer.start({ h2: true, tls: false });
    const sent: [string, string][] = [['x-m', '1'], ['x-m', '2'], ['content-type', 'text/plain'], ['content-type', 'text/html'], ['cookie', 'c=1'], ['cookie', 'd=2'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']];
    fs.h2Route('/dups', async (s) => {
      await s.headers([[':status', '200'], ...sent]);
      await s.data('ok', { end: true });
    });
    const client = new Client({ transport: new Transport({ h2c: true }) });
    try {
      const res = await client.request(fs.url('/dups'));
      await res.text();
      assert.equal(res.httpVersion, '2');
      assert.deepEqual(res.rawHeaders, sent.flat());
      assert.equal(res.headers['x-m'], '1, 2');
      assert.equal(res.headers['content-type'], 'text/plain, text/html');
      assert.equal(res.headers.cookie, 'c=1, d=2');
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    } finally {
      await client.close();
      await fs.close();
    }
  });

  it('F7 h2: a field repeated 200 times counts 200 times against maxResponseHeaderBytes', T, async () => {
    const fs = await FaultServer.start({ h2: true, tls: false });
    const head = (n: number): [string, string][] => [[':status', '200'], ...Array.from({ length: n }, (): [string, string] => ['x-m', 'v'])];
    fs.h2Route('/rep', async (s) => {
      await s.headers(head(Number(s.query.get('n'))));
      await s.data('ok', { end: true });
    });
    const client = new Client({ transport: new Transport({ h2c: true, maxResponseHeaderBytes: 1000 }) });
    try {
      // 'x-m: v' and CRLF: 8 bytes each as HTTP/1.1 text; ':status: 200' and CRLF: 15.
      const small = await client.request(fs.url('/rep?n=100'));
      assert.equal(await small.text(), 'ok');
      const g = await settleWithin(client.request(fs.url('/rep?n=200')));
      assert.ok(g.err instanceof Error && (g.err as { reason?: string }).reason === 'headers-too-large', String(g.err));
    } finally {
      await client.close();
      await fs.close();
    }
  });
});
