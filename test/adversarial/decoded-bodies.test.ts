// Adversarial: compressed bodies (SPEC §2, §6, §11), from an outside tester's attacks.
//   - readInto() on a gzip body: a server fault, an abort or the overall timeout between
//     reads rejects the read with the named error; nothing is emitted unhandled.
//   - Bytes after the end of a deflate or brotli stream (trailing CRLF, garbage, a second
//     stream) are a corrupt body (`bad-encoding`, as for gzip), and the read settles.
//   - A body tiny on the wire that arrived whole still decodes under the overall timeout and
//     the signal ("keep covering the body until it ends").
//   - A large body whose Response was dropped after res.body was touched or one readInto
//     done is destroyed when collected (SPEC §11), so its connection is not held forever.
//   - A decoded body is read one way: a second way throws HG_BODY_USED, as for plain bodies.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { Client, HourglassError, ProtocolError, Transport } from '../../src/index.js';
import { runChild } from './child.js';

const T = { timeout: 10_000 };

type Handler = (sock: net.Socket, path: string) => void;

async function rawServer(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        handler(sock, head.split(' ')[1] ?? '/');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function head(len: number, coding: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${len}\r\n\r\n`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Random (incompressible) bytes, deterministic. */
function noise(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Reads with readInto (small reads, a pause between them) until it ends or rejects. */
async function readSlowly(res: { readInto(b: Uint8Array): Promise<number> }, pauseMs: number): Promise<unknown> {
  const buf = new Uint8Array(8192);
  const until = performance.now() + 5000;
  try {
    while (performance.now() < until) {
      if ((await res.readInto(buf)) === 0) return 'ended';
      await sleep(pauseMs);
    }
    return 'still reading';
  } catch (err) {
    return err;
  }
}

describe('readInto on a gzip body: faults reject the read, never an unhandled error (SPEC §2)', () => {
  const gz = zlib.gzipSync(noise(1 << 20));
  let srv: Awaited<ReturnType<typeof rawServer>>;
  const uncaught: Error[] = [];
  const onUncaught = (e: Error): void => {
    uncaught.push(e);
  };
  before(async () => {
    process.on('uncaughtException', onUncaught);
    srv = await rawServer((sock, path) => {
      sock.write(head(gz.length, 'gzip'));
      if (path === '/whole') {
        sock.write(gz);
        return;
      }
      sock.write(gz.subarray(0, 200_000));
      setTimeout(() => {
        if (path === '/reset') sock.resetAndDestroy();
        else if (path === '/close') sock.end();
        else if (path === '/corrupt') {
          const bad = Buffer.from(gz.subarray(200_000));
          bad.fill(0x55, 0, 5000);
          sock.write(bad);
        }
      }, 200);
    });
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    await srv.close();
  });

  const cases: Array<[string, (e: unknown) => boolean]> = [
    ['/reset', (e) => e instanceof ProtocolError && e.reason === 'truncated-body'],
    ['/close', (e) => e instanceof ProtocolError && e.reason === 'truncated-body'],
    ['/corrupt', (e) => e instanceof ProtocolError && e.reason === 'bad-encoding'],
  ];
  for (const [path, ok] of cases) {
    it(`server fault ${path} mid-body rejects readInto with the named error`, T, async () => {
      const client = new Client({ transport: new Transport() });
      try {
        const res = await client.request(`${srv.url}${path}`);
        const out = await readSlowly(res, 20);
        assert.ok(ok(out), `readInto ended with ${String(out)}`);
        await sleep(50);
        assert.deepEqual(uncaught, [], 'an error was emitted with no listener');
      } finally {
        await client.close();
      }
    });
  }

  it('a server that stalls mid-body: readIdleTimeout rejects readInto', T, async () => {
    const client = new Client({ transport: new Transport({ readIdleTimeout: 300 }) });
    try {
      const res = await client.request(`${srv.url}/stall`);
      const out = await readSlowly(res, 20);
      assert.ok(out instanceof HourglassError && out.code === 'ETIMEDOUT', `readInto ended with ${String(out)}`);
      await sleep(50);
      assert.deepEqual(uncaught, []);
    } finally {
      await client.close();
    }
  });

  it('an abort between reads rejects a later readInto with AbortError', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const ac = new AbortController();
      const res = await client.request(`${srv.url}/whole`, { signal: ac.signal });
      const buf = new Uint8Array(1000);
      assert.ok((await res.readInto(buf)) > 0);
      ac.abort();
      const out = await readSlowly(res, 0);
      assert.ok(out instanceof Error && out.name === 'AbortError', `readInto ended with ${String(out)}`);
      await sleep(50);
      assert.deepEqual(uncaught, []);
    } finally {
      await client.close();
    }
  });

  it('the overall timeout between reads rejects a later readInto with TimeoutError', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const res = await client.request(`${srv.url}/whole`, { timeout: 200 });
      const buf = new Uint8Array(1000);
      assert.ok((await res.readInto(buf)) > 0);
      await sleep(400);
      const out = await readSlowly(res, 0);
      assert.ok(out instanceof HourglassError && out.code === 'ETIMEDOUT', `readInto ended with ${String(out)}`);
      await sleep(50);
      assert.deepEqual(uncaught, []);
    } finally {
      await client.close();
    }
  });
});

describe('bytes after the end of a compressed stream are bad-encoding, and the read settles (SPEC §11)', () => {
  const text = Buffer.from('hello '.repeat(2000));
  const bodies: Record<string, [string, Buffer]> = {
    'deflate + CRLF': ['deflate', Buffer.concat([zlib.deflateSync(text), Buffer.from('\r\n')])],
    'deflate + deflate': ['deflate', Buffer.concat([zlib.deflateSync('ab'), zlib.deflateSync('cd')])],
    'raw deflate + 1 byte': ['deflate', Buffer.concat([zlib.deflateRawSync(text), Buffer.from([0x0a])])],
    'large deflate + CRLF': ['deflate', Buffer.concat([zlib.deflateSync(noise(300_000)), Buffer.from('\r\n')])],
    'br + garbage': ['br', Buffer.concat([zlib.brotliCompressSync(text), Buffer.from('GARBAGE!')])],
    'gzip + garbage': ['gzip', Buffer.concat([zlib.gzipSync(text), Buffer.from('GARBAGE!')])],
  };
  let srv: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    srv = await rawServer((sock, path) => {
      const [coding, body] = bodies[decodeURIComponent(path.slice(1))]!;
      sock.write(head(body.length, coding));
      sock.write(body);
    });
  });
  after(() => srv.close());

  for (const name of Object.keys(bodies)) {
    it(`${name}: text() rejects with bad-encoding`, T, async () => {
      const client = new Client({ transport: new Transport(), timeout: 3000 });
      try {
        const res = await client.request(`${srv.url}/${encodeURIComponent(name)}`);
        const t0 = performance.now();
        const out = await res.text().then(
          () => 'resolved',
          (e: unknown) => e,
        );
        assert.ok(out instanceof ProtocolError && out.reason === 'bad-encoding', `text() ended with ${String(out)}`);
        assert.ok(performance.now() - t0 < 2000);
      } finally {
        await client.close();
      }
    });
  }

  it('a well-formed deflate body still decodes', T, async () => {
    const client = new Client({ transport: new Transport(), timeout: 3000 });
    const ok = await rawServer((sock) => {
      const b = zlib.deflateSync(text);
      sock.write(head(b.length, 'deflate'));
      sock.write(b);
    });
    try {
      assert.equal(await (await client.request(ok.url)).text(), text.toString());
    } finally {
      await client.close();
      await ok.close();
    }
  });
});

describe('a body tiny on the wire keeps the overall timeout and the signal while it decodes (SPEC §2)', () => {
  const bomb = zlib.brotliCompressSync(Buffer.alloc(64 << 20), {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 },
  });
  let srv: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    srv = await rawServer((sock) => {
      sock.write(head(bomb.length, 'br') + bomb.toString('latin1'), 'latin1');
    });
  });
  after(() => srv.close());

  it('the overall timeout ends a slow read of the decoded body', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const res = await client.request(srv.url, { timeout: 300 });
      const t0 = performance.now();
      const out = await readSlowly(res, 5);
      assert.ok(out instanceof HourglassError && out.code === 'ETIMEDOUT', `read ended with ${String(out)}`);
      assert.ok(performance.now() - t0 < 2000);
    } finally {
      await client.close();
    }
  });

  it('the signal ends a slow read of the decoded body through res.body', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const ac = new AbortController();
      const res = await client.request(srv.url, { signal: ac.signal });
      setTimeout(() => ac.abort(), 200);
      const out = await (async () => {
        try {
          for await (const _ of res.body) await sleep(5);
          return 'ended';
        } catch (e) {
          return e;
        }
      })();
      assert.ok(out instanceof Error && out.name === 'AbortError', `read ended with ${String(out)}`);
    } finally {
      await client.close();
    }
  });

  it('a small compressed body read at once still decodes and finishes its budget', T, async () => {
    const client = new Client({ transport: new Transport() });
    const small = await rawServer((sock) => {
      const b = zlib.gzipSync('hi there');
      sock.write(head(b.length, 'gzip'));
      sock.write(b);
    });
    try {
      const res = await client.request(small.url, { timeout: 60_000 });
      assert.equal(await res.text(), 'hi there');
      assert.ok(res.timings.end !== undefined);
    } finally {
      await client.close();
      await small.close();
    }
  });
});

describe('a decoded body is read one way (SPEC §2: reading twice throws)', () => {
  const gz = zlib.gzipSync(noise(200_000));
  let srv: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    srv = await rawServer((sock) => {
      sock.write(head(gz.length, 'gzip'));
      sock.write(gz);
    });
  });
  after(() => srv.close());

  const used = (fn: () => unknown): void =>
    assert.throws(fn, (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_USED');

  it('readInto then res.body throws HG_BODY_USED', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const res = await client.request(srv.url);
      assert.ok((await res.readInto(new Uint8Array(100))) > 0);
      used(() => res.body);
      assert.ok((await res.readInto(new Uint8Array(100))) > 0, 'readInto again is the same reader');
    } finally {
      await client.close();
    }
  });

  it('bytes() then res.body throws HG_BODY_USED; res.body twice is the same stream', T, async () => {
    const client = new Client({ transport: new Transport() });
    try {
      const res = await client.request(srv.url);
      assert.equal((await res.bytes()).length, 200_000);
      used(() => res.body);
      const other = await client.request(srv.url);
      assert.equal(other.body, other.body);
      await assert.rejects(other.bytes(), (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_USED');
      other.body.destroy();
    } finally {
      await client.close();
    }
  });
});

describe('a dropped Response frees its connection even after its body was claimed (SPEC §11)', () => {
  let srv: Awaited<ReturnType<typeof rawServer>>;
  const gz = zlib.gzipSync(noise(1 << 20));
  before(async () => {
    srv = await rawServer((sock, path) => {
      if (path === '/gz') {
        sock.write(head(gz.length, 'gzip'));
        sock.write(gz);
        return;
      }
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${1 << 20}\r\n\r\n`);
      sock.write(Buffer.alloc(1 << 20, 0x61));
    });
  });
  after(() => srv.close());

  it('untouched, res.body touched, one readInto (plain and gzip): the next request gets the connection', { timeout: 20_000 }, async () => {
    const out = await runChild(
      `const { Client, Transport } = await import(process.env.HG);
const U = process.env.HG_URL;
const variants = {
  untouched: async (c) => { await c.request(U + '/plain'); },
  body: async (c) => { const r = await c.request(U + '/plain'); void r.body; },
  readInto: async (c) => { const r = await c.request(U + '/plain'); await r.readInto(new Uint8Array(16)); },
  gzReadInto: async (c) => { const r = await c.request(U + '/gz'); await r.readInto(new Uint8Array(16)); },
};
const result = {};
for (const [name, fn] of Object.entries(variants)) {
  const t = new Transport({ maxConnsPerHost: 1, poolTimeout: 1500 });
  const c = new Client({ transport: t });
  await fn(c);
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 8; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
  try { await (await c.request(U + '/plain')).dump(); result[name] = 'freed'; }
  catch (e) { result[name] = e.name + ' ' + e.phase; }
  await c.close();
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(0);
`,
      { HG_URL: srv.url },
      18_000,
      ['--expose-gc'],
    );
    assert.deepEqual(out.result, { untouched: 'freed', body: 'freed', readInto: 'freed', gzReadInto: 'freed' }, out.stderr);
  });
});

describe('an unread body is released exactly when it arrived whole and is at most 64 KiB (SPEC §11)', () => {
  let srv: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    srv = await rawServer((sock, path) => {
      const [, kind, n] = path.split('/');
      const body = Buffer.alloc(Number(n), 0x61);
      if (kind === 'cl') {
        sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.write(body);
      } else {
        sock.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`);
        sock.write(body);
        setTimeout(() => sock.write('\r\n0\r\n\r\n'), 100);
      }
    });
  });
  after(() => srv.close());

  const cases: Array<[string, boolean]> = [
    ['/cl/65536', true],
    ['/cl/65537', false],
    ['/cl/128000', false],
    ['/late/65535', true],
    ['/late/65536', true],
    ['/late/65537', false],
  ];
  for (const [path, released] of cases) {
    it(`${path}: ${released ? 'released' : 'held until read'}`, T, async () => {
      const transport = new Transport();
      const client = new Client({ transport, timeout: 3000 });
      try {
        const res = await client.request(`${srv.url}${path}`);
        await sleep(250);
        assert.equal(transport.stats().totals.active === 0, released);
        assert.equal((await res.bytes()).length, Number(path.split('/')[2]));
      } finally {
        await client.close();
      }
    });
  }
});
