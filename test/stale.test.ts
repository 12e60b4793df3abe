// The stale-connection retry rule of SPEC §4 (Go's shouldRetryRequest), through the
// public Client/Transport: a reset or EOF on a *reused* idle connection before any
// response byte is retried invisibly when nothing was written, or when the request is
// replayable (GET/HEAD/OPTIONS/TRACE or an Idempotency-Key, with a replayable body);
// a fresh connection is tried at most once; a POST whose bytes reached the server is
// never silently replayed. Scenarios GO-04, GO-07b, GO-22, PF-01..PF-03, UN-11.
import * as assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import * as tls from 'node:tls';
import {
  Client,
  Dialer,
  HourglassError,
  ProtocolError,
  Transport,
  type TransportOptions,
} from '../src/index.js';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from '../src/testing/certs.js';

// ---------------------------------------------------------------------------------
// Loopback test server: raw node:net, byte-exact scripted responses, server-side
// connection accounting (accepts, currently open, max open, close observation).
// ---------------------------------------------------------------------------------

interface Head {
  method: string;
  target: string;
  version: string;
  headers: Record<string, string>;
  rawHeaders: string[];
}

class Reader {
  buf: Buffer = Buffer.alloc(0);
  ended = false;
  private wake: (() => void) | undefined;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => {});
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  /** Waits until `find()` returns >= 0 (its value) or input ends (-1). */
  async until(find: () => number): Promise<number> {
    for (;;) {
      const i = find();
      if (i >= 0) return i;
      if (this.ended) return -1;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async line(): Promise<string | null> {
    const i = await this.until(() => this.buf.indexOf('\r\n'));
    if (i < 0) return null;
    const l = this.take(i).toString('latin1');
    this.take(2);
    return l;
  }
  async exactly(n: number): Promise<Buffer | null> {
    const ok = await this.until(() => (this.buf.length >= n ? 0 : -1));
    return ok < 0 ? null : this.take(n);
  }
  async head(): Promise<Head | null> {
    const i = await this.until(() => this.buf.indexOf('\r\n\r\n'));
    if (i < 0) return null;
    const lines = this.take(i + 4)
      .toString('latin1')
      .split('\r\n')
      .slice(0, -2);
    const [method = '', target = '', proto = ''] = lines[0]!.split(' ');
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const name = l.slice(0, c);
      const value = l.slice(c + 1).trim();
      rawHeaders.push(name, value);
      const n = name.toLowerCase();
      headers[n] = headers[n] === undefined ? value : `${headers[n]}, ${value}`;
    }
    return { method, target, version: proto.replace('HTTP/', ''), headers, rawHeaders };
  }
  async body(h: Head): Promise<Buffer> {
    if (/chunked/i.test(h.headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const size = await this.line();
        if (size === null) throw new Error('eof in chunk size');
        const n = Number.parseInt(size.split(';')[0]!, 16);
        if (n === 0) {
          for (;;) {
            const t = await this.line();
            if (t === null || t === '') return Buffer.concat(parts);
          }
        }
        const d = await this.exactly(n + 2);
        if (d === null) throw new Error('eof in chunk');
        parts.push(d.subarray(0, n));
      }
    }
    const cl = h.headers['content-length'];
    if (cl === undefined) return Buffer.alloc(0);
    const d = await this.exactly(Number(cl));
    if (d === null) throw new Error('eof in body');
    return d;
  }
}

interface ConnInfo {
  id: number;
  socket: net.Socket;
  /** Client port, captured at accept (a destroyed socket forgets it). */
  remotePort: number | undefined;
  reader: Reader;
  closed: Promise<void>;
  isClosed: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Exchange extends Head {
  path: string;
  query: URLSearchParams;
  conn: ConnInfo;
  /** 0-based index of this request on its connection. */
  index: number;
  socket: net.Socket;
  body(): Promise<Buffer>;
  write(data: string | Buffer): void;
  respond(status: number, headers?: Record<string, string | number>, body?: string | Buffer): void;
  /** Resolves when the client closes the connection. */
  stall(): Promise<void>;
}

type Handler = (ex: Exchange) => void | Promise<void>;

class TestServer {
  readonly server: net.Server;
  port = 0;
  connections = 0;
  open = 0;
  maxOpen = 0;
  closedCount = 0;
  conns: ConnInfo[] = [];
  requests: Exchange[] = [];
  /** When > 0, the server closes a connection that stays idle this long after a response. */
  closeIdleAfter = 0;
  private routes = new Map<string, Handler>();

  private constructor(tlsOptions: tls.TlsOptions | undefined) {
    this.server =
      tlsOptions !== undefined
        ? tls.createServer(tlsOptions, (s) => this.accept(s))
        : net.createServer((s) => this.accept(s));
  }

  static async start(tlsOptions?: tls.TlsOptions): Promise<TestServer> {
    const s = new TestServer(tlsOptions);
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `${(this.server as unknown) instanceof tls.Server ? 'https' : 'http'}://${host}:${this.port}${path}`;
  }

  route(path: string, h: Handler): void {
    this.routes.set(path, h);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(socket: net.Socket): void {
    const id = ++this.connections;
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    const info: ConnInfo = {
      id,
      socket,
      remotePort: socket.remotePort,
      reader: new Reader(socket),
      closed: new Promise<void>((r) => socket.once('close', () => r())),
      isClosed: false,
      idleTimer: undefined,
    };
    socket.once('close', () => {
      info.isClosed = true;
      this.open--;
      this.closedCount++;
      if (info.idleTimer !== undefined) clearTimeout(info.idleTimer);
    });
    socket.on('data', () => {
      if (info.idleTimer !== undefined) clearTimeout(info.idleTimer);
      info.idleTimer = undefined;
    });
    this.conns.push(info);
    void this.serve(info);
  }

  private async serve(info: ConnInfo): Promise<void> {
    const { socket, reader } = info;
    for (let index = 0; ; index++) {
      const head = await reader.head();
      if (head === null) return;
      const u = new URL(head.target, 'http://x');
      let bodyP: Promise<Buffer> | undefined;
      const ex: Exchange = {
        ...head,
        path: u.pathname,
        query: u.searchParams,
        conn: info,
        index,
        socket,
        body: () => {
          bodyP ??= reader.body(head);
          return bodyP;
        },
        write: (d) => {
          if (!socket.destroyed) socket.write(d);
        },
        respond: (status, headers = {}, body = '') => {
          const b = Buffer.from(body);
          let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Whatever'}\r\n`;
          const names = Object.keys(headers).map((k) => k.toLowerCase());
          if (!names.includes('content-length') && !names.includes('transfer-encoding')) {
            h += `Content-Length: ${b.length}\r\n`;
          }
          for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
          if (!socket.destroyed) socket.write(Buffer.concat([Buffer.from(`${h}\r\n`, 'latin1'), b]));
        },
        stall: () => info.closed,
      };
      this.requests.push(ex);
      const h = this.routes.get(u.pathname) ?? defaultRoute;
      try {
        await h(ex);
        if (bodyP !== undefined) await bodyP;
      } catch {
        socket.destroy();
        return;
      }
      if (socket.destroyed || socket.writableEnded) return;
      const framed =
        head.headers['content-length'] !== undefined || head.headers['transfer-encoding'] !== undefined;
      if (bodyP === undefined && framed && head.headers['content-length'] !== '0') return; // cannot resync
      if (this.closeIdleAfter > 0) {
        info.idleTimer = setTimeout(() => socket.destroy(), this.closeIdleAfter);
      }
    }
  }
}

async function defaultRoute(ex: Exchange): Promise<void> {
  await ex.body();
  ex.respond(200, {}, 'ok');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 5 ms for at most `ms`; returns its last value. */
async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

async function setup(
  t: TestContext,
  opts: TransportOptions = {},
  tlsOptions?: tls.TlsOptions,
): Promise<{ srv: TestServer; transport: Transport; client: Client }> {
  const srv = await TestServer.start(tlsOptions);
  const transport = new Transport(opts);
  const client = new Client({ transport });
  t.after(async () => {
    await client.close();
    await srv.close();
  });
  return { srv, transport, client };
}

/** Every request settled: nothing active, dialing or waiting (SPEC §11 stats()). */
async function assertQuiet(transport: Transport): Promise<void> {
  await waitFor(() => {
    const s = transport.stats().totals;
    return s.active === 0 && s.dialing === 0 && s.waiting === 0;
  }, 2000);
  const { active, dialing, waiting } = transport.stats().totals;
  assert.deepEqual({ active, dialing, waiting }, { active: 0, dialing: 0, waiting: 0 });
}

// ---------------------------------------------------------------------------------

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
            const res = await client.request(srv.url('/bye'));
            assert.equal(await res.text(), 'hi');
          } catch {
            failures++;
          }
        }
        assert.equal(failures, 0);
        assert.equal(srv.requests.length - 200 >= 0, true);
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
  it(
    'PF-02: GETs sent at K-δ .. K+δ after the previous response never fail (10 loops x 30 requests)',
    T,
    async (t) => {
      const K = 100;
      const srv = await TestServer.start();
      srv.closeIdleAfter = K;
      const clients = Array.from({ length: 10 }, () => new Client({ transport: new Transport() }));
      t.after(async () => {
        for (const c of clients) await c.close();
        await srv.close();
      });
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
      const srv = await TestServer.start();
      srv.closeIdleAfter = K;
      const clients = Array.from({ length: 10 }, () => new Client({ transport: new Transport() }));
      t.after(async () => {
        for (const c of clients) await c.close();
        await srv.close();
      });
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
  function hooked(
    t: TestContext,
    srv: TestServer,
  ): { client: Client; transport: Transport; dialer: DropWriteDialer } {
    const dialer = new DropWriteDialer();
    const transport = new Transport({ dialer });
    const client = new Client({ transport });
    t.after(async () => {
      await client.close();
      await srv.close();
    });
    return { client, transport, dialer };
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
        const srv = await TestServer.start();
        const { client, transport, dialer } = hooked(t, srv);
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
      const srv = await TestServer.start();
      const { client, transport, dialer } = hooked(t, srv);
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
