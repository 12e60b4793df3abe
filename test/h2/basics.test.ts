// HTTP/2 basics over real loopback sockets: ALPN negotiation (and its fallback), h2c,
// bodies both ways, trailers, decompression, multiplexing on one connection, stats.
import * as assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { Client } from '../../src/client.js';
import { h2Server, h2Transport } from './helpers.js';

describe('HTTP/2 basics', { timeout: 20_000 }, () => {
  it('H2-01 negotiates h2 by ALPN; GET and POST; httpVersion 2; empty statusText', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-method': String(h[':method']), 'x-alpn': stream.session?.alpnProtocol ?? '' });
        stream.end(`got ${Buffer.concat(chunks).toString()}`);
      });
    }, { allowHTTP1: true });
    const alpn: (string | null | false)[] = [];
    const tr = h2Transport();
    const c = new Client({ transport: tr });
    try {
      const r1 = await c.request(srv.url('/a'), { trace: { tlsHandshakeDone: (i) => alpn.push(i.alpnProtocol) } });
      assert.equal(r1.httpVersion, '2');
      assert.equal(r1.status, 200);
      assert.equal(r1.statusText, '');
      assert.equal(r1.headers['x-alpn'], 'h2');
      assert.equal(await r1.text(), 'got ');
      const r2 = await c.request(srv.url('/b'), { method: 'POST', body: 'hello' });
      assert.equal(await r2.text(), 'got hello');
      assert.equal(r2.headers['x-method'], 'POST');
      assert.equal(r2.reused, true);
      assert.deepEqual(alpn, ['h2']);
      assert.equal(srv.sessions, 1);
      assert.equal(Object.getPrototypeOf(r2.headers), null);
      assert.equal(':status' in r2.headers, false);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-01 allowH2: false offers only http/1.1', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('h2');
    }, { allowHTTP1: true });
    srv.server.on('request', (req: { httpVersion: string }, res: { end(s: string): void }) => {
      if (req.httpVersion === '1.1') res.end('h1');
    });
    const c = new Client({ transport: h2Transport({ allowH2: false }) });
    try {
      const r = await c.request(srv.url('/'));
      assert.equal(r.httpVersion, '1.1');
      assert.equal(await r.text(), 'h1');
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-01 h2c prior knowledge on http', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream) => {
      stream.respond({ ':status': 201 });
      stream.end('plain');
    }, { h2c: true });
    const c = new Client({ transport: h2Transport({ h2c: true }) });
    try {
      const r = await c.request(srv.url('/x'));
      assert.equal(r.httpVersion, '2');
      assert.equal(r.status, 201);
      assert.equal(await r.text(), 'plain');
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-36/37 trailers and gzip over h2', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream, h) => {
      if (h[':path'] === '/gz') {
        stream.respond({ ':status': 200, 'content-encoding': 'gzip' });
        stream.end(gzipSync('ABCABCABC'));
        return;
      }
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'hello' }));
      stream.end('hello h2!');
    });
    const c = new Client({ transport: h2Transport() });
    try {
      const r = await c.request(srv.url('/t'), { method: 'PUT', body: 'hello' });
      assert.equal(await r.text(), 'hello h2!');
      assert.deepEqual({ ...r.trailers }, { 'x-trailer': 'hello' });
      const g = await c.request(srv.url('/gz'));
      assert.equal(g.headers['content-encoding'], undefined);
      assert.equal(await g.text(), 'ABCABCABC');
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-02/06 ten concurrent requests to a cold origin share one dial and one connection', { timeout: 10_000 }, async () => {
    const srv = await h2Server((stream) => {
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }, 200);
    });
    const tr = h2Transport();
    const c = new Client({ transport: tr });
    let dials = 0;
    const reused: boolean[] = [];
    try {
      const t0 = Date.now();
      const all = await Promise.all(
        Array.from({ length: 10 }, () =>
          c.request(srv.url('/'), { trace: { connectStart: () => dials++, gotConn: (i) => reused.push(i.reused) } }).then((r) => r.text()),
        ),
      );
      assert.deepEqual(all, Array(10).fill('ok'));
      assert.equal(dials, 1);
      assert.equal(srv.sessions, 1);
      assert.equal(srv.maxOpen, 10);
      assert.ok(Date.now() - t0 < 1500);
      assert.equal(reused.filter((r) => !r).length, 1);
      const st = tr.stats();
      assert.equal(st.totals.active, 0);
      assert.equal(st.totals.idle, 1);
      assert.equal(st.totals.streams, 0);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it('H2-03 a peer limit of 2 streams: the third request opens a second connection', { timeout: 10_000 }, async () => {
    const held: (() => void)[] = [];
    const srv = await h2Server((stream) => {
      held.push(() => {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      });
    }, { settings: { maxConcurrentStreams: 2 } });
    const tr = h2Transport();
    const c = new Client({ transport: tr });
    try {
      // warm-up: SETTINGS known
      const w = c.request(srv.url('/w'));
      while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
      held.shift()!();
      await (await w).text();
      const ps = [1, 2, 3].map(() => c.request(srv.url('/')).then((r) => r.text()));
      while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
      assert.equal(srv.sessions, 2);
      assert.equal(tr.stats().totals.streams, 3);
      for (const h of held.splice(0)) h();
      assert.deepEqual(await Promise.all(ps), ['ok', 'ok', 'ok']);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe('HTTP/2 through a CONNECT proxy', { timeout: 20_000 }, () => {
  it('H2-07 ALPN inside the tunnel: h2 to the origin, the second request reuses the tunnel', { timeout: 10_000 }, async () => {
    const net = await import('node:net');
    const srv = await h2Server((stream, h) => {
      stream.respond({ ':status': 200, 'x-authority': String(h[':authority']), 'x-scheme': String(h[':scheme']) });
      stream.end('via proxy');
    });
    const origin = new URL(srv.url('/'));
    const connects: string[] = [];
    const proxy = net.createServer((client) => {
      client.once('data', (d: Buffer) => {
        const line = d.toString('latin1').split('\r\n')[0]!;
        connects.push(line);
        const up = net.connect(Number(origin.port), '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          client.pipe(up);
          up.pipe(client);
        });
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as import('node:net').AddressInfo).port;
    const c = new Client({ transport: h2Transport({ proxy: `http://127.0.0.1:${port}` }) });
    try {
      const r1 = await c.request(srv.url('/foo'));
      assert.equal(r1.httpVersion, '2');
      assert.equal(r1.headers['x-authority'], origin.host);
      assert.equal(r1.headers['x-scheme'], 'https');
      assert.equal(await r1.text(), 'via proxy');
      let reused: boolean | undefined;
      const r2 = await c.request(srv.url('/foo'), { trace: { gotConn: (i) => (reused = i.reused) } });
      await r2.text();
      assert.equal(reused, true);
      assert.equal(r2.timings.phases.tls, 0);
      assert.deepEqual(connects, [`CONNECT ${origin.host} HTTP/1.1`]);
    } finally {
      await c.close();
      proxy.close();
      await srv.close();
    }
  });
});
