// Keep-alive and the idle pool, through the public Client/Transport (SPEC §2, §6, §11
// "Bodies and connections"). Scenarios GO-01..GO-06, GO-43a, UN-07..UN-10, MF-19/20/24
// of SCENARIOS.md. Connection reuse is always counted on the server side (accepted
// sockets), never trusted from the client.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../src/index.js';
import { setup, TestServer } from './helpers/raw-server.js';
import { assertQuiet, gatedLookup, sleep, waitFor } from './helpers/setup.js';

const T = { timeout: 20_000 };

describe('keep-alive: reuse', () => {
  it('GO-01a: 100 sequential GETs use one connection and send no Connection: close', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    for (let i = 0; i < 100; i++) {
      const res = await client.request(srv.url(`/ok?i=${i}`));
      assert.equal(await res.text(), 'ok');
      assert.equal(res.reused, i > 0);
    }
    assert.equal(srv.connections, 1);
    assert.equal(srv.requests.length, 100);
    assert.ok(srv.requests.every((r) => r.headers.connection === undefined));
    await assertQuiet(transport);
    assert.equal(transport.stats().totals.idle, 1);
  });

  it(
    'GO-01b / UN-07g: disableKeepAlives sends Connection: close once per request and never reuses',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { disableKeepAlives: true });
      for (let i = 0; i < 3; i++) {
        const res = await client.request(srv.url('/ok'));
        assert.equal(await res.text(), 'ok');
        assert.equal(res.reused, false);
      }
      assert.equal(srv.connections, 3);
      for (const r of srv.requests) {
        const conn = r.rawHeaders.filter(
          (_, i) => i % 2 === 0 && r.rawHeaders[i]!.toLowerCase() === 'connection',
        );
        assert.equal(conn.length, 1, 'exactly one Connection header');
        assert.equal(r.headers.connection, 'close');
      }
      // Distinct client ports: a new socket for each request.
      assert.equal(new Set(srv.conns.map((c) => c.remotePort)).size, 3);
      assert.ok(await waitFor(() => srv.closedCount === 3), 'every socket closed by the client');
      await assertQuiet(transport);
      assert.equal(transport.stats().totals.idle, 0);
    },
  );

  it('GO-01c: a per-request Connection: close is sent once and the socket is not reused', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    for (let i = 0; i < 2; i++) {
      const res = await client.request(srv.url('/ok'), { headers: { Connection: 'close' } });
      assert.equal(await res.text(), 'ok');
    }
    assert.equal(srv.connections, 2);
    for (const r of srv.requests) assert.equal(r.headers.connection, 'close');
    await assertQuiet(transport);
    assert.equal(transport.stats().totals.idle, 0);
  });

  it(
    'GO-01d / UN-07f: a response with Connection: close is not reused and the client closes the socket',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/close', (ex) => ex.respond(200, { Connection: 'close' }, 'bye'));
      for (let i = 0; i < 2; i++) {
        const res = await client.request(srv.url('/close'));
        assert.equal(await res.text(), 'bye');
      }
      assert.equal(srv.connections, 2);
      // The client disconnects after the body even though the server keeps its side open.
      assert.ok(await waitFor(() => srv.closedCount === 2), 'server sees EOF on both sockets');
      await assertQuiet(transport);
    },
  );

  it('GO-01d: closeIdleConnections() closes every idle socket (server sees EOF)', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    const rs = await Promise.all([1, 2, 3].map(() => client.request(srv.url('/ok'))));
    for (const r of rs) await r.text();
    assert.equal(srv.connections, 3);
    assert.equal(transport.stats().totals.idle, 3);
    transport.closeIdleConnections();
    assert.ok(await waitFor(() => srv.closedCount === 3), 'server sees every socket closed');
    assert.equal(transport.stats().totals.idle, 0);
    const res = await client.request(srv.url('/ok'));
    assert.equal(await res.text(), 'ok');
    assert.equal(res.reused, false);
    assert.equal(srv.connections, 4);
    await assertQuiet(transport);
  });

  it('GO-02a/b: reading a body exactly to EOF (length or chunked) returns the socket, x3', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/cl', (ex) => ex.respond(200, {}, 'foobar'));
    srv.route('/chunked', (ex) =>
      ex.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfoo\r\n3\r\nbar\r\n0\r\n\r\n'),
    );
    for (const p of ['/cl', '/chunked']) {
      for (let i = 0; i < 3; i++) {
        const res = await client.request(srv.url(p));
        const chunks: Buffer[] = [];
        for await (const c of res.body) chunks.push(c as Buffer);
        assert.equal(Buffer.concat(chunks).toString(), 'foobar');
      }
    }
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('GO-02c: 100 GETs of an empty 200 share one connection', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/empty', (ex) => ex.respond(200, { 'Content-Length': 0 }));
    for (let i = 0; i < 100; i++) {
      const res = await client.request(srv.url('/empty'));
      assert.equal(res.status, 200);
      // Never touching the empty body still releases the connection.
    }
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('GO-02d: json() of a chunked body returns the socket', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/json', (ex) =>
      ex.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n'),
    );
    for (let i = 0; i < 3; i++) {
      const res = await client.request(srv.url('/json'));
      assert.deepEqual(await res.json(), { a: 1 });
    }
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('GO-03: maxIdleConnsPerHost = 2 keeps idle counts 1, 2, 2 and closes the third socket', T, async (t) => {
    const { srv, transport, client } = await setup(t, { maxIdleConnsPerHost: 2 });
    const gates: (() => void)[] = [];
    srv.route('/hold', async (ex) => {
      await new Promise<void>((r) => gates.push(r));
      ex.respond(200, {}, 'x');
    });
    const ps = [1, 2, 3].map(() => client.request(srv.url('/hold')).then((r) => r.text()));
    assert.ok(await waitFor(() => gates.length === 3));
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) {
      gates[i]!();
      await ps[i];
      await waitFor(() => transport.stats().totals.active === 2 - i);
      idle.push(transport.stats().totals.idle);
    }
    assert.deepEqual(idle, [1, 2, 2]);
    assert.ok(await waitFor(() => srv.closedCount === 1), 'the surplus socket is closed');
    await assertQuiet(transport);
  });

  it('idle connections are handed out most-recently-used first', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    const gates = new Map<string, () => void>();
    srv.route('/hold', async (ex) => {
      await new Promise<void>((r) => gates.set(ex.query.get('n')!, r));
      ex.respond(200, {}, ex.query.get('n')!);
    });
    const a = client.request(srv.url('/hold?n=a')).then((r) => r.text());
    const b = client.request(srv.url('/hold?n=b')).then((r) => r.text());
    assert.ok(await waitFor(() => gates.size === 2));
    gates.get('a')!();
    await a;
    gates.get('b')!();
    await b;
    const connOf = (n: string): number => srv.requests.find((r) => r.query.get('n') === n)!.conn.id;
    const res = await client.request(srv.url('/ok'));
    await res.text();
    assert.equal(srv.requests.at(-1)!.conn.id, connOf('b'), 'the socket released last is reused first');
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });

  it('beyond maxIdleConns (all hosts) the least recently used idle connection is closed', T, async (t) => {
    const { srv, transport, client } = await setup(t, { maxIdleConns: 2 });
    const other = await TestServer.start();
    t.after(() => other.close());
    const gates: (() => void)[] = [];
    srv.route('/hold', async (ex) => {
      await new Promise<void>((r) => gates.push(r));
      ex.respond(200, {}, 'x');
    });
    const ps = [1, 2].map(() => client.request(srv.url('/hold')).then((r) => r.text()));
    assert.ok(await waitFor(() => gates.length === 2));
    gates[0]!();
    await ps[0];
    gates[1]!();
    await ps[1];
    assert.equal(transport.stats().totals.idle, 2);
    const first = srv.requests[0]!.conn;
    await (await client.request(other.url('/ok'))).text();
    assert.equal(transport.stats().totals.idle, 2);
    await first.closed; // the least recently used one
    assert.equal(srv.requests[1]!.conn.isClosed, false);
    await assertQuiet(transport);
  });

  it('UN-10: 6 sequential requests on one pooled connection reuse it without stalling', T, async (t) => {
    const { srv, transport, client } = await setup(t, { maxConnsPerHost: 1 });
    const first = await client.request(srv.url('/ok'));
    await first.text();
    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      const res = await client.request(srv.url('/ok'));
      assert.equal(await res.text(), 'ok');
      assert.equal(res.reused, true);
    }
    assert.ok(performance.now() - started < 500, 'five reuses finish well under 1 s');
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });
});

describe('keep-alive: idle expiry and server hints', () => {
  it(
    'GO-04a: the pool notices a server FIN on an idle socket by itself; a POST then uses a fresh socket',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      const r1 = await client.request(srv.url('/ok'), { method: 'POST', body: 'one' });
      assert.equal(await r1.text(), 'ok');
      assert.equal(transport.stats().totals.idle, 1);
      srv.conns[0]!.socket.end();
      assert.ok(
        await waitFor(() => transport.stats().totals.idle === 0),
        'idle count drops with no new request',
      );
      const r2 = await client.request(srv.url('/ok'), { method: 'POST', body: 'two' });
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, false);
      assert.equal(srv.connections, 2);
      assert.equal(srv.requests.length, 2);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-05: idleConnTimeout keeps a socket across GETs spaced T/2 and closes it (server sees FIN) after T',
    T,
    async (t) => {
      const idleT = 300;
      const { srv, transport, client } = await setup(t, { idleConnTimeout: idleT });
      srv.route('/empty', (ex) => ex.respond(200, { 'Content-Length': 0 }));
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(idleT / 2);
        const res = await client.request(srv.url('/empty'));
        await res.text();
      }
      const idleFrom = performance.now();
      assert.equal(srv.connections, 1);
      await srv.conns[0]!.closed;
      const after = performance.now() - idleFrom;
      assert.ok(after >= idleT - 20 && after < idleT + 250, `closed ${after.toFixed(0)} ms after going idle`);
      assert.equal(transport.stats().totals.idle, 0);
      await assertQuiet(transport);
    },
  );

  it(
    'HG-01: an idle pooled socket is governed by idleConnTimeout, never by readIdleTimeout',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { readIdleTimeout: 50, idleConnTimeout: 5000 });
      const r1 = await client.request(srv.url('/ok'));
      await r1.text();
      await sleep(250); // five read-idle periods with nothing expected
      assert.equal(srv.conns[0]!.isClosed, false);
      const r2 = await client.request(srv.url('/ok'));
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, true);
      assert.equal(srv.connections, 1);
      await assertQuiet(transport);
    },
  );

  it(
    'UN-07: Keep-Alive: timeout=1 closes the idle socket at ~0.75 s, before the hint expires',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { idleConnTimeout: 10_000 });
      srv.route('/ka', (ex) => ex.respond(200, { 'Keep-Alive': 'timeout=1' }, 'ka'));
      const res = await client.request(srv.url('/ka'));
      await res.text();
      const idleFrom = performance.now();
      await srv.conns[0]!.closed;
      const after = performance.now() - idleFrom;
      assert.ok(
        after > 500 && after < 1000,
        `client closed ${after.toFixed(0)} ms after idle (hint 1000 ms)`,
      );
      await assertQuiet(transport);
    },
  );

  it(
    'UN-07: with Keep-Alive: timeout=1 and a server closing at 1 s, a request at 0.9 s uses a new socket without error',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { idleConnTimeout: 10_000 });
      srv.closeIdleAfter = 1000;
      srv.route('/ka', async (ex) => {
        await ex.body();
        ex.respond(200, { 'Keep-Alive': 'timeout=1' }, 'ka');
      });
      const r1 = await client.request(srv.url('/ka'));
      await r1.text();
      await sleep(400);
      const r2 = await client.request(srv.url('/ka'), { method: 'POST', body: 'x' });
      assert.equal(await r2.text(), 'ka');
      assert.equal(r2.reused, true, 'reused well within the hint');
      await sleep(900);
      const r3 = await client.request(srv.url('/ka'), { method: 'POST', body: 'y' });
      assert.equal(await r3.text(), 'ka');
      assert.equal(r3.reused, false, 'not reused 0.9 s into a 1 s hint');
      assert.equal(srv.connections, 2);
      assert.equal(srv.requests.length, 3);
      await assertQuiet(transport);
    },
  );

  for (const [hint, lo, hi] of [
    ['timeout=2', 1200, 2000],
    ['timeout=2s', 1200, 2000],
    ['timeoutasdasd=1s', 250, 600],
    ['timeout=30', 250, 600],
  ] as const) {
    it(
      `UN-07: Keep-Alive: ${hint} gives an idle lifetime in ${lo}..${hi} ms (idleConnTimeout 400 is the cap)`,
      T,
      async (t) => {
        const { srv, transport, client } = await setup(t, {
          idleConnTimeout: hint.includes('2') ? 10_000 : 400,
        });
        srv.route('/ka', (ex) => ex.respond(200, { 'Keep-Alive': hint }, 'ka'));
        const res = await client.request(srv.url('/ka'));
        await res.text();
        const idleFrom = performance.now();
        await srv.conns[0]!.closed;
        const after = performance.now() - idleFrom;
        assert.ok(after > lo && after < hi, `closed after ${after.toFixed(0)} ms`);
        await assertQuiet(transport);
      },
    );
  }

  it('GO-43a: a 408 + FIN written on an idle socket drops it silently; the next GET works', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/ok2', async (ex) => {
      ex.respond(200, {}, 'ok');
      await sleep(30);
      ex.socket.end('HTTP/1.1 408 bye\r\n');
    });
    const r1 = await client.request(srv.url('/ok2'));
    assert.equal(await r1.text(), 'ok');
    await srv.conns[0]!.closed;
    assert.ok(await waitFor(() => transport.stats().totals.idle === 0));
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(r2.reused, false);
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });
});

describe('keep-alive: late binding (GO-06)', () => {
  it(
    'GO-06: a request waiting on a slow dial takes a socket freed meanwhile; the late dial is parked idle',
    T,
    async (t) => {
      const { lookup, gates } = gatedLookup(1);
      const { srv, transport, client } = await setup(t, { dialer: { lookup } });
      let releaseFoo!: () => void;
      srv.route('/foo', async (ex) => {
        ex.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n');
        await new Promise<void>((r) => {
          releaseFoo = r;
        });
        ex.write('foo');
      });
      srv.route('/bar', (ex) => ex.respond(200, {}, 'bar'));
      const url = (p: string): string => `http://late.test:${srv.port}${p}`;
      const foo = await client.request(url('/foo'));
      const barP = client.request(url('/bar'));
      assert.ok(await waitFor(() => gates.length === 1), 'the second dial is stalled in DNS');
      assert.equal(transport.stats().totals.dialing, 1);
      releaseFoo();
      assert.equal(await foo.text(), 'foo');
      const bar = await barP;
      assert.equal(await bar.text(), 'bar');
      assert.equal(srv.requests[1]!.conn.id, 1, "/bar ran on /foo's socket");
      assert.equal(bar.reused, true);
      gates[0]!();
      assert.ok(await waitFor(() => transport.stats().totals.idle === 2), 'the late dial is parked idle');
      assert.equal(transport.stats().totals.dialing, 0);
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    },
  );
});

describe('keep-alive: responses that forbid reuse', () => {
  const cases: [string, string, boolean][] = [
    [
      'MF-20: HTTP/1.0 + Connection: keep-alive + length is reusable',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
      true,
    ],
    [
      'MF-20: HTTP/1.0 without keep-alive is not reused',
      'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
      false,
    ],
    [
      'MF-20: Connection: keep-alive, close is not reused (close wins)',
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok',
      false,
    ],
    [
      'MF-20: Connection: keep-alive + Connection: close lines are not reused',
      'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
      false,
    ],
    [
      'MF-20: HTTP/1.0 keep-alive with an empty Pragma and a Location stays reusable',
      'HTTP/1.0 200 OK\r\nPragma: \r\nLocation: http://example.invalid/\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
      true,
    ],
    ['HTTP/1.1 with a length is reusable by default', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', true],
  ];
  for (const [name, raw, reusable] of cases) {
    it(name, T, async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/raw', (ex) => ex.write(raw));
      for (let i = 0; i < 2; i++) {
        const res = await client.request(srv.url('/raw'));
        assert.equal(await res.text(), 'ok');
      }
      assert.equal(srv.connections, reusable ? 1 : 2);
      if (!reusable)
        assert.ok(await waitFor(() => srv.closedCount >= 1), 'the client closed the first socket');
      await assertQuiet(transport);
    });
  }

  it('MF-20: the empty Pragma is its own header, not merged into Location', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/raw', (ex) =>
      ex.write(
        'HTTP/1.0 301 Moved Permanently\r\nPragma: \r\nLocation: http://www.bonjourmadame.fr/\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
      ),
    );
    const res = await client.request(srv.url('/raw'), { followRedirects: false });
    assert.equal(res.status, 301);
    assert.equal(res.headers.pragma, '');
    assert.equal(res.headers.location, 'http://www.bonjourmadame.fr/');
    await res.text();
    await assertQuiet(transport);
  });

  it(
    'UN-08: a Connection: keep-alive value split across TCP segments is joined (HTTP/1.0 HEAD reused)',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/frag', async (ex) => {
        ex.write('HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-');
        await sleep(30);
        ex.write('alive\r\n\r\n');
        if (ex.index === 1) ex.socket.end();
      });
      for (let i = 0; i < 2; i++) {
        const res = await client.request(srv.url('/frag'), { method: 'HEAD' });
        assert.equal(res.status, 200);
        assert.equal(res.headers.connection, 'keep-alive');
        assert.equal((await res.bytes()).length, 0);
      }
      assert.equal(srv.connections, 1);
      assert.equal(srv.requests.length, 2);
      await assertQuiet(transport);
    },
  );

  it('MF-19: read-to-close responses complete at FIN and their socket is never reused', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    const bodies = [
      ['/a', 'HTTP/1.0 200 OK\r\n\r\nBody here\n', 'Body here\n'],
      ['/b', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world', 'hello world'],
      [
        '/c',
        'HTTP/1.1 206 Partial Content\r\nConnection: close\r\nContent-Type: multipart/byteranges; boundary=18a75608c8f47cef\r\n\r\nsome body',
        'some body',
      ],
    ] as const;
    for (const [p, raw] of bodies)
      srv.route(p, (ex) => {
        ex.socket.end(raw);
      });
    for (const [p, , want] of bodies) {
      const res = await client.request(srv.url(p));
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(await res.text(), want);
    }
    assert.equal(srv.connections, 3);
    await assertQuiet(transport);
    assert.equal(transport.stats().totals.idle, 0);
  });

  it(
    'a read-to-close body is not reused even when the server keeps its side open after the FIN-less body',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { readIdleTimeout: 300 });
      srv.route('/rtc', async (ex) => {
        ex.write('HTTP/1.1 200 OK\r\n\r\npartial');
        await sleep(50);
        ex.socket.end();
      });
      const res = await client.request(srv.url('/rtc'));
      assert.equal(await res.text(), 'partial');
      const r2 = await client.request(srv.url('/ok'));
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, false);
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    },
  );
});

describe('keep-alive: unsolicited bytes (UN-09, MF-24)', () => {
  it(
    'UN-09: an unsolicited response on an idle socket drops it; request 2 gets its own response',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/request1', async (ex) => {
        ex.respond(200, {}, 'one');
        await sleep(30);
        ex.write(
          'HTTP/1.1 200 OK\r\nPoison-Free-Socket: true\r\nConnection: keep-alive\r\nKeep-Alive: timeout=300\r\nContent-Length: 0\r\n\r\n',
        );
      });
      srv.route('/request2', (ex) => ex.respond(200, {}, 'two'));
      const r1 = await client.request(srv.url('/request1'));
      assert.equal(await r1.text(), 'one');
      await srv.conns[0]!.closed; // the client disconnects the poisoned socket
      assert.equal(transport.stats().totals.idle, 0);
      const r2 = await client.request(srv.url('/request2'));
      assert.equal(await r2.text(), 'two');
      assert.equal(r2.headers['poison-free-socket'], undefined);
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    },
  );

  it(
    'MF-24: surplus bytes after a complete response: the response succeeds, the next request never sees X-Injected',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/surplus', (ex) =>
        ex.write(
          'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n',
        ),
      );
      const r1 = await client.request(srv.url('/surplus'));
      assert.equal(await r1.text(), 'abc');
      const r2 = await client.request(srv.url('/ok'));
      assert.equal(r2.headers['x-injected'], undefined);
      assert.equal(await r2.text(), 'ok');
      assert.equal(r2.reused, false);
      assert.equal(srv.connections, 2);
      assert.ok(await waitFor(() => srv.conns[0]!.isClosed), 'the poisoned socket is closed');
      await assertQuiet(transport);
    },
  );

  it('MF-24: surplus bytes arriving just after the body was read also condemn the socket', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/surplus', async (ex) => {
      ex.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
      await sleep(20);
      ex.write('HTTP/1.1 200 OK\r\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n');
    });
    const r1 = await client.request(srv.url('/surplus'));
    assert.equal(await r1.text(), 'abc');
    await sleep(60);
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(r2.headers['x-injected'], undefined);
    assert.equal(await r2.text(), 'ok');
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });

  it(
    'MF-22: bytes after a 204 are unsolicited: the 204 is empty and the next request gets its own response',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/204', (ex) => ex.write('HTTP/1.1 204 No Content\r\n\r\nBody should not be read!\n'));
      const r1 = await client.request(srv.url('/204'));
      assert.equal(r1.status, 204);
      assert.equal(await r1.text(), '');
      const r2 = await client.request(srv.url('/ok'));
      assert.equal(await r2.text(), 'ok');
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    },
  );
});

describe('keep-alive: partly read bodies, dump()', () => {
  it('body.destroy() on a partly read body closes the socket and never reuses it', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/big', (ex) => ex.respond(200, {}, Buffer.alloc(512 * 1024, 'a')));
    const res = await client.request(srv.url('/big'));
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.ok(!first.done && (first.value as Buffer).length > 0);
    res.body.destroy();
    await srv.conns[0]!.closed;
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(r2.reused, false);
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });

  it('dump() of a small remainder drains it and reuses the socket', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/small', async (ex) => {
      ex.write(`HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${'a'.repeat(1000)}`);
      await sleep(50);
      ex.write('b'.repeat(1000));
    });
    const res = await client.request(srv.url('/small'));
    await res.dump();
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(r2.reused, true);
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('dump() of a small chunked remainder drains it and reuses the socket', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/small', async (ex) => {
      ex.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      await sleep(50);
      ex.write('5\r\nworld\r\n0\r\n\r\n');
    });
    const res = await client.request(srv.url('/small'));
    await res.dump();
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('dump() of a large remainder (> 64 KiB) closes the socket at once', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/large', (ex) => ex.respond(200, {}, Buffer.alloc(1024 * 1024, 'z')));
    const res = await client.request(srv.url('/large'));
    const started = performance.now();
    await res.dump();
    assert.ok(performance.now() - started < 500);
    await srv.conns[0]!.closed;
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });

  it('dump() of a large chunked remainder closes the socket once 64 KiB were discarded', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/large', async (ex) => {
      ex.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = `4000\r\n${'q'.repeat(0x4000)}\r\n`;
      for (let i = 0; i < 64 && !ex.socket.destroyed; i++) {
        ex.write(chunk);
        await sleep(2);
      }
      await ex.stall();
    });
    const res = await client.request(srv.url('/large'));
    await res.dump();
    await srv.conns[0]!.closed;
    const r2 = await client.request(srv.url('/ok'));
    assert.equal(await r2.text(), 'ok');
    assert.equal(srv.connections, 2);
    await assertQuiet(transport);
  });

  it('dump() of a remainder that does not arrive within 1 s closes the socket', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/slow', async (ex) => {
      ex.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345');
      await ex.stall();
    });
    const res = await client.request(srv.url('/slow'));
    const started = performance.now();
    await res.dump();
    const took = performance.now() - started;
    assert.ok(took > 900 && took < 1500, `dump settled after ${took.toFixed(0)} ms`);
    await srv.conns[0]!.closed;
    await assertQuiet(transport);
    assert.equal(transport.stats().totals.idle, 0);
  });

  it('a truncated body (FIN before Content-Length) is truncated-body and never reused', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/short', (ex) => {
      ex.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\nShort body, not 123 bytes.');
    });
    const res = await client.request(srv.url('/short'));
    await assert.rejects(
      res.text(),
      (e: unknown) => e instanceof ProtocolError && e.reason === 'truncated-body',
    );
    await assertQuiet(transport);
    assert.equal(transport.stats().totals.idle, 0);
  });
});
