// The stale-connection retry rule of SPEC §4 (Go's shouldRetryRequest), through the
// public Client/Transport: a reset or EOF on a *reused* idle connection before any
// response byte is retried invisibly when nothing was written, or when the request is
// replayable (GET/HEAD/OPTIONS/TRACE or an Idempotency-Key, with a replayable body);
// a fresh connection is tried at most once; a POST whose bytes reached the server is
// never silently replayed. Scenarios GO-04, GO-07b, GO-22, PF-01..PF-03, UN-11.
import * as assert from 'node:assert/strict';
import type * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { Client, Dialer, HourglassError, ProtocolError, Transport } from '../src/index.js';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from '../src/testing/certs.js';
import { setup, TestServer } from './helpers/raw-server.js';
import { assertQuiet, sleep } from './helpers/setup.js';

const T = { timeout: 30_000 };

/** A Dialer whose sockets drop the first write of request number `failOnRequest` (1-based,
 * per socket) and die at once: the request fails before any byte reached the wire. */
class DropWriteDialer extends Dialer {
  failOnRequest = 0;
  override async dial(req: Parameters<Dialer['dial']>[0]): Promise<net.Socket> {
    const s = await super.dial(req);
    let requests = 0;
    const orig = s.write.bind(s) as (...a: unknown[]) => boolean;
    (s as unknown as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => {
      const c = a[0];
      if (typeof c === 'string' && /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(c)) {
        requests++;
        if (requests === this.failOnRequest) {
          s.destroy();
          return false;
        }
      }
      return orig(...a);
    };
    return s;
  }
}

function isConnClosed(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError && e.reason === 'connection-closed';
}

/** Opens `n` connections at once and leaves them idle in the pool. */
async function warm(client: Client, srv: TestServer, n: number): Promise<void> {
  const rs = await Promise.all(Array.from({ length: n }, () => client.request(srv.url('/warm'))));
  for (const r of rs) await r.text();
}

describe('stale connections: the server closes right after a response (no Connection: close)', () => {
  for (const how of ['end', 'destroy', 'reset'] as const) {
    it(
      `GET sees 0 failures over 200 iterations when the server ${how}s right after each response`,
      T,
      async (t) => {
        const { srv, transport, client } = await setup(t);
        srv.route('/bye', (ex) => {
          ex.respond(200, {}, 'hi');
          setImmediate(() => {
            if (how === 'end') ex.socket.end();
            else if (how === 'destroy') ex.socket.destroy();
            else ex.socket.resetAndDestroy();
          });
        });
        let failures = 0;
        for (let i = 0; i < 200; i++) {
          try {
            const res = await client.request(srv.url(`/bye?i=${i}`));
            assert.equal(await res.text(), 'hi');
          } catch {
            failures++;
          }
        }
        assert.equal(failures, 0);
        // Replays are bounded: each GET reaches the server once, or twice when it was
        // written to a connection the server had already half-closed (`end`: the server
        // still reads it, then the one retry goes to a fresh connection). A destroyed or
        // reset socket reads nothing, so there every GET arrives exactly once.
        const seen = new Map<string, number>();
        for (const r of srv.requests) seen.set(r.query.get('i')!, (seen.get(r.query.get('i')!) ?? 0) + 1);
        const most = how === 'end' ? 2 : 1;
        for (let i = 0; i < 200; i++) {
          const n = seen.get(String(i)) ?? 0;
          assert.ok(n >= 1 && n <= most, `GET #${i} reached the server ${n} times (at most ${most})`);
        }
        t.diagnostic(`${srv.requests.length} requests received for 200 GETs`);
        await assertQuiet(transport);
      },
    );
  }

  it(
    'PF-01b: a GET issued with setImmediate after the previous response races the server close: 0 failures in 300',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/bye', (ex) => {
        ex.respond(200, {}, 'hi');
        ex.socket.end();
      });
      let failures = 0;
      const errors = new Set<string>();
      for (let i = 0; i < 300; i++) {
        await new Promise<void>((r) => setImmediate(r));
        try {
          const res = await client.request(srv.url('/bye'));
          await res.text();
        } catch (e) {
          failures++;
          errors.add(String(e));
        }
      }
      assert.equal(failures, 0, [...errors].join('; '));
      await assertQuiet(transport);
    },
  );

  it(
    'PF-01a: with maxConnsPerHost 1, a queued GET survives the FIN that follows the response it waited for (200 rounds)',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      srv.route('/bye', (ex) => {
        ex.respond(200, {}, 'hi');
        ex.socket.end();
      });
      let failures = 0;
      const errors = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const rs = await Promise.allSettled(
          [0, 1].map(async () => {
            const res = await client.request(srv.url('/bye'));
            return res.text();
          }),
        );
        for (const r of rs) {
          if (r.status === 'rejected') {
            failures++;
            errors.add(String(r.reason));
          }
        }
      }
      assert.equal(failures, 0, [...errors].join('; '));
      assert.ok(transport.stats().totals.idle <= 1);
      await assertQuiet(transport);
    },
  );

  it('UN-11a: res.end() + socket.end() on every response: sequential requests all succeed', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/end', (ex) => {
      ex.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    });
    for (let i = 0; i < 20; i++) {
      const res = await client.request(srv.url('/end'));
      assert.equal(await res.text(), 'hello');
    }
    await assertQuiet(transport);
  });
});

describe('stale connections: the server closes idle sockets K ms after the last response (PF-02)', () => {
  /** A TestServer that closes a socket idle `K` ms after a response, and ten clients (a Transport each). */
  async function tenClients(t: TestContext, K: number): Promise<{ srv: TestServer; clients: Client[] }> {
    const srv = await TestServer.start();
    srv.closeIdleAfter = K;
    const clients = Array.from({ length: 10 }, () => new Client({ transport: new Transport() }));
    t.after(async () => {
      for (const c of clients) await c.close();
      await srv.close();
    });
    return { srv, clients };
  }

  it(
    'PF-02: GETs sent at K-δ .. K+δ after the previous response never fail (10 loops x 30 requests)',
    T,
    async (t) => {
      const K = 100;
      const { srv, clients } = await tenClients(t, K);
      const deltas = [-20, -10, -5, -2, -1, 0, 1, 2, 5, 10];
      const errors: string[] = [];
      await Promise.all(
        clients.map(async (client, n) => {
          const first = await client.request(srv.url('/ok'));
          await first.text();
          for (let rep = 0; rep < 3; rep++) {
            for (const d of deltas) {
              await sleep(K + d + (n % 3));
              try {
                const res = await client.request(srv.url('/ok'));
                assert.equal(await res.text(), 'ok');
              } catch (e) {
                errors.push(String(e));
              }
            }
          }
        }),
      );
      assert.deepEqual(errors, []);
      for (const c of clients) await assertQuiet(c.transport);
    },
  );

  it(
    'PF-02: POSTs at K-δ .. K+δ either succeed (server answered) or fail as connection-closed, never replayed',
    T,
    async (t) => {
      const K = 100;
      const { srv, clients } = await tenClients(t, K);
      const deltas = [-10, -5, -2, -1, 0, 1, 2, 5];
      const unexpected: string[] = [];
      let id = 0;
      const outcomes = new Map<string, 'ok' | 'failed'>();
      await Promise.all(
        clients.map(async (client) => {
          const first = await client.request(srv.url('/ok'));
          await first.text();
          for (let rep = 0; rep < 3; rep++) {
            for (const d of deltas) {
              await sleep(K + d);
              const rid = String(++id);
              try {
                const res = await client.request(srv.url('/ok'), {
                  method: 'POST',
                  body: 'x',
                  headers: { 'x-rid': rid },
                });
                assert.equal(await res.text(), 'ok');
                outcomes.set(rid, 'ok');
              } catch (e) {
                outcomes.set(rid, 'failed');
                if (!isConnClosed(e)) unexpected.push(String(e));
              }
            }
          }
        }),
      );
      assert.deepEqual(unexpected, []);
      // No POST reached the server twice; a failed POST was not answered.
      const seen = new Map<string, number>();
      for (const r of srv.requests) {
        const rid = r.headers['x-rid'];
        if (rid !== undefined) seen.set(rid, (seen.get(rid) ?? 0) + 1);
      }
      for (const [rid, n] of seen) assert.equal(n, 1, `POST ${rid} was sent ${n} times`);
      for (const [rid, o] of outcomes) if (o === 'ok') assert.equal(seen.get(rid), 1);
      for (const c of clients) await assertQuiet(c.transport);
    },
  );
});

describe('stale connections: reset of a reused socket after the request head (PF-03, GO-22)', () => {
  /** The server answers a connection's first request; any later request on it is reset on arrival. */
  function rstOnReuse(srv: TestServer): void {
    srv.route('/warm', (ex) => ex.respond(200, {}, 'warm'));
    srv.route('/x', async (ex) => {
      if (ex.index > 0) {
        ex.socket.resetAndDestroy();
        return;
      }
      const body = await ex.body();
      ex.respond(200, {}, `got:${body.toString()}`);
    });
  }

  it(
    'PF-03: a plain POST whose bytes were sent is not retried: connection-closed, requestSent true, one copy at the server',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      rstOnReuse(srv);
      await warm(client, srv, 1);
      const err = await client.request(srv.url('/x'), { method: 'POST', body: 'payload' }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(isConnClosed(err), String(err));
      assert.equal(
        (err as { requestSent?: boolean }).requestSent,
        true,
        'the error says the request was sent',
      );
      assert.equal((err.cause as { code?: string } | undefined)?.code, 'ECONNRESET');
      assert.equal(srv.requests.filter((r) => r.path === '/x').length, 1, 'never replayed');
      assert.equal(srv.connections, 1);
      await assertQuiet(transport);
    },
  );

  for (const hdr of ['Idempotency-Key', 'X-Idempotency-Key']) {
    it(`PF-03: a POST with ${hdr} and a string body is retried on a new connection`, T, async (t) => {
      const { srv, transport, client } = await setup(t);
      rstOnReuse(srv);
      await warm(client, srv, 1);
      const res = await client.request(srv.url('/x'), {
        method: 'POST',
        body: 'payload',
        headers: { [hdr]: 'k1' },
      });
      assert.equal(await res.text(), 'got:payload');
      assert.equal(res.reused, false);
      assert.equal(srv.requests.filter((r) => r.path === '/x').length, 2);
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    });
  }

  it('PF-03: a POST with Idempotency-Key but a stream body (not replayable) is not retried', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    rstOnReuse(srv);
    await warm(client, srv, 1);
    const err = await client
      .request(srv.url('/x'), {
        method: 'POST',
        body: Readable.from([Buffer.from('pay'), Buffer.from('load')]),
        headers: { 'Idempotency-Key': 'k' },
      })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
    assert.ok(isConnClosed(err), String(err));
    assert.equal(srv.requests.filter((r) => r.path === '/x').length, 1);
    await assertQuiet(transport);
  });

  for (const [method, body] of [
    ['GET', undefined],
    ['GET', 'a get body'],
    ['HEAD', undefined],
    ['OPTIONS', undefined],
    ['TRACE', undefined],
  ] as const) {
    it(
      `GO-22: ${method}${body ? ' with a string body' : ''} on a reused socket reset after the head is retried once, invisibly`,
      T,
      async (t) => {
        const { srv, transport, client } = await setup(t);
        rstOnReuse(srv);
        await warm(client, srv, 1);
        const res = await client.request(srv.url('/x'), { method, body });
        assert.equal(res.status, 200);
        if (method !== 'HEAD') assert.equal(await res.text(), `got:${body ?? ''}`);
        else await res.dump();
        assert.equal(res.reused, false);
        assert.equal(srv.requests.filter((r) => r.path === '/x').length, 2);
        assert.equal(srv.connections, 2);
        await assertQuiet(transport);
      },
    );
  }

  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    it(
      `SPEC §4: ${method} whose bytes were written on a reused socket is not retried (no idempotency key)`,
      T,
      async (t) => {
        const { srv, transport, client } = await setup(t);
        rstOnReuse(srv);
        await warm(client, srv, 1);
        await assert.rejects(client.request(srv.url('/x'), { method, body: 'b' }), isConnClosed);
        assert.equal(srv.requests.filter((r) => r.path === '/x').length, 1);
        await assertQuiet(transport);
      },
    );
  }

  it('GO-22f: a GET reset on a fresh socket is not retried', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/rst', (ex) => {
      ex.socket.resetAndDestroy();
    });
    const err = await client.request(srv.url('/rst')).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(isConnClosed(err), String(err));
    assert.equal((err.cause as { code?: string } | undefined)?.code, 'ECONNRESET');
    assert.equal(srv.requests.length, 1);
    assert.equal(srv.connections, 1);
    await assertQuiet(transport);
  });

  it('SPEC §4: retries continue across stale reused sockets, then a fresh one succeeds', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    rstOnReuse(srv);
    await warm(client, srv, 3);
    assert.equal(transport.stats().totals.idle, 3);
    const res = await client.request(srv.url('/x'));
    assert.equal(await res.text(), 'got:');
    assert.equal(
      srv.requests.filter((r) => r.path === '/x').length,
      4,
      'three stale sockets, then a fresh one',
    );
    assert.equal(srv.connections, 4);
    await assertQuiet(transport);
  });

  it(
    'SPEC §4: a fresh connection is tried at most once: when it fails too, the error surfaces',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/warm', (ex) => ex.respond(200, {}, 'warm'));
      let warmed = false;
      srv.route('/x', (ex) => {
        if (warmed) ex.socket.resetAndDestroy();
        else ex.respond(200, {}, 'x');
      });
      await warm(client, srv, 2);
      warmed = true;
      await assert.rejects(client.request(srv.url('/x')), isConnClosed);
      assert.equal(
        srv.requests.filter((r) => r.path === '/x').length,
        3,
        'two stale sockets and exactly one fresh',
      );
      assert.equal(srv.connections, 3);
      await assertQuiet(transport);
    },
  );
});

describe('stale connections: nothing written (write hook)', () => {
  /** `setup` with a DropWriteDialer. */
  async function hooked(
    t: TestContext,
  ): Promise<{ srv: TestServer; client: Client; transport: Transport; dialer: DropWriteDialer }> {
    const dialer = new DropWriteDialer();
    return { ...(await setup(t, { dialer })), dialer };
  }

  for (const [method, body] of [
    ['POST', 'replayable'],
    ['DELETE', undefined],
    ['POST', undefined],
    ['GET', undefined],
  ] as const) {
    it(
      `GO-22c/d: ${method}${body ? ' with a string body' : ''} that wrote nothing on a reused socket is retried`,
      T,
      async (t) => {
        const { srv, client, transport, dialer } = await hooked(t);
        srv.route('/x', async (ex) => ex.respond(200, {}, `got:${(await ex.body()).toString()}`));
        await (await client.request(srv.url('/warm'))).text();
        dialer.failOnRequest = 2;
        const res = await client.request(srv.url('/x'), { method, body });
        assert.equal(await res.text(), `got:${body ?? ''}`);
        assert.equal(res.reused, false);
        assert.equal(
          srv.requests.filter((r) => r.path === '/x').length,
          1,
          'the server saw the request once',
        );
        assert.equal(srv.connections, 2);
        await assertQuiet(transport);
      },
    );
  }

  it(
    'nothing written with a stream body: retried with the complete body, or the original connection-closed error',
    T,
    async (t) => {
      const { srv, client, transport, dialer } = await hooked(t);
      srv.route('/x', async (ex) => ex.respond(200, {}, `got:${(await ex.body()).toString()}`));
      await (await client.request(srv.url('/warm'))).text();
      dialer.failOnRequest = 2;
      const body = Readable.from([Buffer.from('part1-'), Buffer.from('part2-'), Buffer.from('part3')]);
      try {
        const res = await client.request(srv.url('/x'), { method: 'POST', body });
        assert.equal(await res.text(), 'got:part1-part2-part3');
      } catch (e) {
        // Not retried (Go: a nothing-written retry needs a rewindable body): the caller must see
        // why the attempt failed, not an error about its own stream, which hourglass destroyed.
        assert.ok(isConnClosed(e), `expected connection-closed, got ${String(e)}`);
      }
      for (const r of srv.requests.filter((x) => x.path === '/x')) {
        assert.equal(
          (await r.body()).toString(),
          'part1-part2-part3',
          'the server never receives a partial body',
        );
      }
      await assertQuiet(transport);
    },
  );
});

describe('stale connections: servers that close (GO-04, GO-07b, UN-11)', () => {
  it(
    'GO-04c: "Content-Length: 3 foo" + FIN, then GET x20: every response intact, every follow-up succeeds',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/foo', (ex) => {
        ex.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfoo');
      });
      for (let i = 0; i < 20; i++) {
        const res = await client.request(srv.url('/foo'));
        assert.equal(await res.text(), 'foo');
      }
      await assertQuiet(transport);
    },
  );

  it('GO-04c over TLS: "Content-Length: 3 foo" + FIN, then GET x20', T, async (t) => {
    const { srv, transport, client } = await setup(
      t,
      { tls: { ca: CA_CERT } },
      { cert: SERVER_CERT, key: SERVER_KEY },
    );
    srv.route('/foo', (ex) => {
      ex.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfoo');
    });
    for (let i = 0; i < 20; i++) {
      const res = await client.request(srv.url('/foo', 'localhost'));
      assert.equal(await res.text(), 'foo');
    }
    assert.equal(srv.connections, 20);
    await assertQuiet(transport);
  });

  it('GO-04d: "Foo: Bar, Content-Length: 0" + FIN, then GET x20: headers intact', T, async (t) => {
    const { srv, transport, client } = await setup(t);
    srv.route('/foo', (ex) => {
      ex.socket.end('HTTP/1.1 200 OK\r\nFoo: Bar\r\nContent-Length: 0\r\n\r\n');
    });
    for (let i = 0; i < 20; i++) {
      const res = await client.request(srv.url('/foo'));
      assert.equal(res.headers.foo, 'Bar');
      assert.equal(await res.text(), '');
    }
    await assertQuiet(transport);
  });

  it(
    'GO-04b: the server abruptly closes kept-alive sockets between requests: GET x20 never fails',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      for (let i = 0; i < 20; i++) {
        const res = await client.request(srv.url('/ok'));
        assert.equal(await res.text(), 'ok');
        for (const c of srv.conns) c.socket.destroy();
      }
      await assertQuiet(transport);
    },
  );

  it(
    'GO-07b: a server that closes every socket without answering: every POST errors, no dead socket is kept',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t);
      srv.route('/drop', (ex) => {
        ex.socket.destroy();
      });
      for (let i = 0; i < 10; i++) {
        await assert.rejects(client.request(srv.url('/drop'), { method: 'POST', body: 'x' }), isConnClosed);
      }
      assert.equal(srv.requests.length, 10);
      await assertQuiet(transport);
      assert.equal(transport.stats().totals.idle, 0);
    },
  );

  it(
    'UN-11b: the first (POST) request fails when its socket is destroyed; the queued GET succeeds on a reconnect',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      let first = true;
      srv.route('/x', async (ex) => {
        if (first) {
          first = false;
          ex.socket.destroy();
          return;
        }
        await ex.body();
        ex.respond(200, {}, 'second');
      });
      const p1 = client.request(srv.url('/x'), { method: 'POST', body: 'one' });
      const p2 = client.request(srv.url('/x'));
      await assert.rejects(p1, isConnClosed);
      assert.equal(await (await p2).text(), 'second');
      assert.equal(srv.connections, 2);
      await assertQuiet(transport);
    },
  );

  it(
    'UN-11c: a socket destroyed while a POST body streams fails only that POST; queued GETs succeed',
    T,
    async (t) => {
      const { srv, transport, client } = await setup(t, { maxConnsPerHost: 1 });
      srv.route('/upload', async (ex) => {
        await ex.conn.reader.until(() => (ex.conn.reader.buf.length > 10 ? 0 : -1));
        ex.socket.destroy();
      });
      async function* slowBody(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 100; i++) {
          yield Buffer.from('chunk-of-body-');
          await sleep(5);
        }
      }
      const post = client.request(srv.url('/upload'), { method: 'POST', body: slowBody() });
      const gets = [1, 2, 3].map(() => client.request(srv.url('/ok')).then((r) => r.text()));
      await assert.rejects(post, (e: unknown) => e instanceof HourglassError);
      assert.deepEqual(await Promise.all(gets), ['ok', 'ok', 'ok']);
      await assertQuiet(transport);
    },
  );
});
