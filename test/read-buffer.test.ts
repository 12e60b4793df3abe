// Where response bytes land (src/conn/read-buffer.ts) and `res.readInto` (Go's Body.Read).
// Plain sockets read into one shared scratch buffer unless a large body will be kept; the
// risk is aliasing — a chunk handed to a caller and then overwritten by another socket's
// read. So every consumer (text, bytes, res.body, readInto, a body read late) runs at
// once over several connections, each body distinct, and every byte is compared. Then
// readInto's own contract: EOF as 0, reuse, trailers, one read at a time, timeouts that
// count only while a read waits, abort, the size cap, decoded bodies, TLS.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Carry } from '../src/conn/carry.js';
import * as net from 'node:net';
import {
  type Client,
  Dialer,
  HourglassError,
  ProtocolError,
  type Response,
  TimeoutError,
} from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { assertQuiet, clientFor, setup, sleep } from './helpers/setup.js';

const T = { timeout: 30_000 };

/** Deterministic bytes that differ per seed at every offset. */
function seeded(seed: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** `/seeded?seed=S&n=N&chunked=1`: the body in three writes a tick apart (several reads). */
function addSeededRoute(fs: FaultServer): void {
  fs.route('/seeded', async (ex) => {
    const seed = Number(ex.query.get('seed'));
    const n = Number(ex.query.get('n'));
    const chunked = ex.query.get('chunked') === '1';
    const body = seeded(seed, n);
    const cuts = [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n];
    if (!chunked) {
      await ex.writeHead(200, { 'Content-Length': String(n) });
      for (let i = 0; i < 3; i++) {
        if (cuts[i + 1]! > cuts[i]!) await ex.write(body.subarray(cuts[i]!, cuts[i + 1]!));
        await ex.sleep(1);
      }
      return;
    }
    await ex.writeHead(200, { 'Transfer-Encoding': 'chunked' });
    for (let i = 0; i < 3; i++) {
      const part = body.subarray(cuts[i]!, cuts[i + 1]!);
      if (part.length > 0) {
        await ex.write(Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]));
      }
      await ex.sleep(1);
    }
    await ex.write('0\r\n\r\n');
  });
}

/** Reads the whole body with readInto through a buffer of `size` bytes. */
async function readAll(res: Response, size: number): Promise<Buffer> {
  const buf = new Uint8Array(size);
  const parts: Buffer[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    const n = await res.readInto(buf);
    if (n === 0) return Buffer.concat(parts);
    assert.ok(n <= size, `read ${n} > buffer ${size}`);
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  throw new Error('body never ended');
}

type Consumer = (res: Response) => Promise<Buffer>;
const CONSUMERS: Record<string, Consumer> = {
  bytes: (res) => res.bytes(),
  text: async (res) => Buffer.from(await res.text(), 'latin1'),
  stream: async (res) => {
    const parts: Buffer[] = [];
    for await (const c of res.body) parts.push(c as Buffer);
    return Buffer.concat(parts);
  },
  'stream, read late': async (res) => {
    await sleep(30); // chunks wait in the channel (buffered mode) first
    const parts: Buffer[] = [];
    for await (const c of res.body) parts.push(c as Buffer);
    return Buffer.concat(parts);
  },
  'readInto 7 B': (res) => readAll(res, 7),
  'readInto 64 KiB': (res) => readAll(res, 64 * 1024),
  'readInto, read late': async (res) => {
    await sleep(30);
    return readAll(res, 10_000);
  },
};

describe('read buffers: no chunk is overwritten while someone holds it', () => {
  it('every consumer, distinct bodies, 8 connections at once, length and chunked framing', T, async (t) => {
    const { fs, transport, client } = await setup(t, { maxConnsPerHost: 8 });
    addSeededRoute(fs);
    const sizes = [0, 13, 5_000, 70_000, 300_000];
    const jobs: Promise<void>[] = [];
    let seed = 1;
    for (const [name, consume] of Object.entries(CONSUMERS)) {
      for (const n of sizes) {
        for (const chunked of [false, true]) {
          const s = seed++;
          jobs.push(
            (async () => {
              const res = await client.request(fs.url(`/seeded?seed=${s}&n=${n}&chunked=${chunked ? 1 : 0}`));
              const got = name === 'text' ? await res.bytes() : await consume(res);
              assert.equal(got.length, n, `${name} n=${n} chunked=${chunked}: length`);
              assert.equal(sha(got), sha(seeded(s, n)), `${name} n=${n} chunked=${chunked}: content`);
            })(),
          );
        }
      }
    }
    await Promise.all(jobs);
    await assertQuiet(transport);
    assert.ok(fs.connections <= 8 + 2, `connections ${fs.connections}`);
  });

  it('a kept chunk of a large body stays intact while other connections read', T, async (t) => {
    const { fs, client } = await setup(t, { maxConnsPerHost: 4 });
    addSeededRoute(fs);
    // Keep every chunk of one large body, and only compare after other bodies streamed.
    const res = await client.request(fs.url('/seeded?seed=99&n=600000'));
    const kept: Buffer[] = [];
    for await (const c of res.body) kept.push(c as Buffer);
    await Promise.all(
      [1, 2, 3].map(async (k) => (await client.request(fs.url(`/seeded?seed=${k}&n=200000`))).bytes()),
    );
    assert.equal(sha(Buffer.concat(kept)), sha(seeded(99, 600_000)));
  });

  it('TLS connections (no onread) deliver the same bytes to readInto and streams', T, async (t) => {
    const fs = await FaultServer.start({ tls: true });
    addSeededRoute(fs);
    const { Client, Transport } = await import('../src/index.js');
    const transport = new Transport({ tls: { ca: fs.ca } });
    const client: Client = new Client({ transport });
    t.after(async () => {
      await client.close();
      await fs.close();
    });
    const a = await readAll(await client.request(fs.url('/seeded?seed=5&n=100000')), 4096);
    assert.equal(sha(a), sha(seeded(5, 100_000)));
    const b = await CONSUMERS.stream!(await client.request(fs.url('/seeded?seed=6&n=100000&chunked=1')));
    assert.equal(sha(b), sha(seeded(6, 100_000)));
  });
});

describe('read buffers: what a connection holds', () => {
  it('a custom Dialer that ignores onread still works (bytes come as data events)', T, async (t) => {
    class OwnSocketDialer extends Dialer {
      override dial(req: Parameters<Dialer['dial']>[0]): Promise<net.Socket> {
        return super.dial({ ...req, onread: undefined });
      }
    }
    const fs = await FaultServer.start();
    addSeededRoute(fs);
    const { client } = clientFor(t, { dialer: new OwnSocketDialer(), responseHeaderTimeout: 5_000 }, fs);
    assert.equal(await (await client.request(fs.url('/ok'))).text(), 'ok');
    const big = await (await client.request(fs.url('/seeded?seed=3&n=200000'))).bytes();
    assert.equal(sha(big), sha(seeded(3, 200_000)));
    assert.equal((await readAll(await client.request(fs.url('/bytes?n=5000')), 999)).length, 5000);
  });

  it('idle event streams (chunked, small events) hold no private read buffer', T, async (t) => {
    const { fs, client } = await setup(t, { maxConnsPerHost: 64 });
    fs.route('/events', async (ex) => {
      await ex.writeHead(200, { 'Transfer-Encoding': 'chunked', 'Content-Type': 'text/event-stream' });
      await ex.write('d\r\ndata: hello\n\n\r\n');
      await ex.stall();
    });
    const before = process.memoryUsage().arrayBuffers;
    const streams = await Promise.all(Array.from({ length: 40 }, () => client.request(fs.url('/events'))));
    const firsts = await Promise.all(
      streams.map(async (res) => {
        const it = res.body[Symbol.asyncIterator]();
        return ((await it.next()).value as Buffer).toString();
      }),
    );
    assert.ok(firsts.every((f) => f === 'data: hello\n\n'));
    const grown = process.memoryUsage().arrayBuffers - before;
    // 40 streams with a private 64 KiB buffer each would be 2.5 MiB.
    assert.ok(grown < 1.5 * 1024 * 1024, `array buffers grew ${(grown / 1048576).toFixed(2)} MiB`);
    for (const res of streams) res.body.destroy();
  });

  it('a kept chunk never holds much more memory than its bytes', T, async (t) => {
    const { fs, client } = await setup(t);
    const piece = 40 * 1024; // reads of ~40 KiB into 64 KiB buffers
    const count = 60;
    fs.route('/pieces', async (ex) => {
      await ex.writeHead(200, { 'Content-Length': String(piece * count) });
      for (let i = 0; i < count; i++) {
        await ex.write(Buffer.alloc(piece, i));
        await ex.sleep(2);
      }
    });
    const res = await client.request(fs.url('/pieces'));
    const kept: Buffer[] = [];
    for await (const c of res.body) kept.push(c as Buffer);
    const bytes = kept.reduce((a, c) => a + c.length, 0);
    const backing = new Set(kept.map((c) => c.buffer));
    let held = 0;
    for (const ab of backing) held += ab.byteLength;
    assert.equal(bytes, piece * count);
    assert.ok(held <= 2 * bytes + 64 * 1024, `${held} bytes held behind ${bytes}`);
  });
});

describe('res.readInto', () => {
  it('resolves 0 at the end, every time after, and the connection is reused', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/bytes?n=1000'));
    const buf = new Uint8Array(600);
    assert.equal(await res.readInto(buf), 600);
    assert.equal(await res.readInto(buf), 400);
    assert.equal(await res.readInto(buf), 0);
    assert.equal(await res.readInto(buf), 0);
    assert.equal(await res.readInto(new Uint8Array(0)), 0);
    const again = await client.request(fs.url('/ok'));
    assert.equal(again.reused, true);
    assert.equal(await again.text(), 'ok');
    await assertQuiet(transport);
  });

  it('a caller that reads exactly Content-Length bytes and stops still frees the connection', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/bytes?n=1000'), { timeout: 60_000 });
    const buf = new Uint8Array(1000);
    let got = 0;
    while (got < 1000) got += await res.readInto(buf.subarray(got));
    await assertQuiet(transport); // released without a read that returns 0
    assert.equal((await client.request(fs.url('/ok'))).reused, true);
  });

  it('dump() during a pending read fails the read and closes the body', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/stall-body?after=3&length=10'));
    const buf = new Uint8Array(10);
    assert.equal(await res.readInto(buf), 3);
    const pending = res.readInto(buf);
    await res.dump();
    await assert.rejects(pending, (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_USED');
    await assertQuiet(transport);
  });

  it('a decoded body allows one read at a time too', T, async (t) => {
    const { fs, client } = await setup(t);
    const res = await client.request(fs.url('/gzip'));
    const a = res.readInto(new Uint8Array(8));
    await assert.rejects(res.readInto(new Uint8Array(8)), (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_USED');
    assert.ok((await a) > 0);
    await res.dump();
  });

  it('a chunked body with trailers: bytes, then trailers once 0 was returned', T, async (t) => {
    const { fs, client } = await setup(t);
    const res = await client.request(fs.url('/trailers'));
    assert.equal((await readAll(res, 3)).toString(), 'hello world');
    assert.equal(res.trailers['x-checksum'], 'abc123');
  });

  it('a bodiless response (HEAD, 204) reads 0 at once', T, async (t) => {
    const { fs, client } = await setup(t);
    const head = await client.request(fs.url('/bytes?n=50'), { method: 'HEAD' });
    assert.equal(await head.readInto(new Uint8Array(10)), 0);
    const none = await client.request(fs.url('/status/204'));
    assert.equal(await none.readInto(new Uint8Array(10)), 0);
  });

  it('claims the body: other consumers and a second concurrent read fail with HG_BODY_USED', T, async (t) => {
    const { fs, client } = await setup(t);
    const used = (e: unknown): boolean => e instanceof HourglassError && e.code === 'HG_BODY_USED';
    const a = await client.request(fs.url('/stall-body?after=3&length=10'));
    assert.equal(await a.readInto(new Uint8Array(10)), 3);
    const pending = a.readInto(new Uint8Array(10));
    await assert.rejects(a.readInto(new Uint8Array(10)), used);
    await assert.rejects(a.text(), used);
    assert.throws(() => a.body, used);
    assert.equal(a.bodyUsed, true);
    void pending.catch(() => {});
    await a.dump(0, 0).catch(() => {});
    const b = await client.request(fs.url('/ok'));
    assert.equal(await b.text(), 'ok');
    await assert.rejects(b.readInto(new Uint8Array(4)), used);
    await assert.rejects(b.readInto('nope' as unknown as Uint8Array), TypeError);
  });

  it('read-idle counts only while a read waits: a slow reader is not timed out, a stall is', T, async (t) => {
    const { fs, transport, client } = await setup(t, { readIdleTimeout: 150 });
    const res = await client.request(fs.url('/bytes?n=300000'));
    const buf = new Uint8Array(64 * 1024);
    let total = 0;
    for (let n; (n = await res.readInto(buf)) > 0; ) {
      total += n;
      await sleep(200); // longer than readIdleTimeout, between reads: the caller's delay
    }
    assert.equal(total, 300_000);

    const stalled = await client.request(fs.url('/stall-body?after=3&length=10'));
    assert.equal(await stalled.readInto(buf), 3);
    const t0 = performance.now();
    await assert.rejects(stalled.readInto(buf), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.equal(e.phase, 'read-idle');
      assert.equal(e.requestSent, true);
      return true;
    });
    assert.ok(performance.now() - t0 < 2_000);
    await assertQuiet(transport);
  });

  it('an abort while a read waits rejects it with the signal’s reason', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const ac = new AbortController();
    const res = await client.request(fs.url('/stall-body?after=3&length=10'), { signal: ac.signal });
    const buf = new Uint8Array(16);
    assert.equal(await res.readInto(buf), 3);
    const reason = new Error('caller gave up');
    setTimeout(() => ac.abort(reason), 30);
    await assert.rejects(res.readInto(buf), (e: unknown) => e === reason || (e as Error).cause === reason);
    await assertQuiet(transport);
  });

  it('the overall timeout covers a body read with readInto', T, async (t) => {
    const { fs, client } = await setup(t);
    const res = await client.request(fs.url('/drip?bytes=100&interval=50&chunk=1'), { timeout: 300 });
    const t0 = performance.now();
    await assert.rejects(readAll(res, 8), (e: unknown) => e instanceof TimeoutError && e.phase === 'request');
    assert.ok(performance.now() - t0 < 2_000);
  });

  it('maxResponseBytes applies to bytes read with readInto', T, async (t) => {
    const { fs, client } = await setup(t, { maxResponseBytes: 1000 });
    const res = await client.request(fs.url('/chunked?n=5000&chunks=5'));
    await assert.rejects(readAll(res, 512), (e: unknown) => e instanceof ProtocolError && e.reason === 'body-too-large');
  });

  it('a truncated body reads what arrived, then fails', T, async (t) => {
    const { fs, client } = await setup(t);
    const res = await client.request(fs.url('/truncated?length=100&send=10'));
    const buf = new Uint8Array(100);
    let got = 0;
    await assert.rejects(
      (async () => {
        for (let n; (n = await res.readInto(buf)) > 0; ) got += n;
      })(),
      (e: unknown) => e instanceof ProtocolError && e.reason === 'truncated-body',
    );
    assert.equal(got, 10);
  });

  it('reads the decoded bytes of a gzip body', T, async (t) => {
    const { fs, client } = await setup(t);
    const res = await client.request(fs.url('/gzip'));
    const text = (await readAll(res, 100)).toString('utf8');
    assert.equal(text, FaultServer.compressedText);
    const again = await client.request(fs.url('/gzip?chunked=1'));
    assert.equal((await readAll(again, 1 << 16)).toString('utf8'), FaultServer.compressedText);
  });
});

describe('Carry (the bytes readInto had no room for)', () => {
  it('is a FIFO of bytes under any interleaving of appends and takes', () => {
    const op = fc.oneof(
      // Lengths drawn directly (fast-check's arrays stay small by default); distinct bytes per op.
      fc.record({ append: fc.integer({ min: 0, max: 50_000 }).chain((n) => fc.nat().map((seed) => seeded(seed, n))), from: fc.nat(100) }),
      fc.record({ take: fc.integer({ min: 1, max: 40_000 }), at: fc.nat(10) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const carry = new Carry();
        let model: number[] = [];
        for (const o of ops) {
          if ('append' in o) {
            const chunk = Buffer.from(o.append);
            const from = Math.min(o.from, chunk.length);
            carry.append(chunk, from);
            chunk.fill(0); // the caller's chunk is reused: the carry must have copied
            model = model.concat(Array.from(o.append.subarray(from)));
          } else {
            const into = new Uint8Array(o.take);
            const at = Math.min(o.at, into.length);
            const n = carry.takeInto(into, at);
            assert.equal(n, Math.min(model.length, into.length - at));
            assert.deepEqual(Array.from(into.subarray(at, at + n)), model.slice(0, n));
            model = model.slice(n);
          }
          assert.equal(carry.length, model.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
