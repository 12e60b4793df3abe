// Proxies through the public Client/Transport (SPEC §6 `proxy`, §11 "Transport"): plain
// http through a forward proxy in absolute-form with Proxy-Authorization from the proxy
// URL; https through CONNECT to the TLS FaultServer; refused CONNECTs (403/407) as a
// ConnectError carrying the status with the origin never contacted; a proxy that never
// answers CONNECT bounded by a named timeout, its socket closed afterwards; `'env'`
// (HTTP_PROXY/HTTPS_PROXY/NO_PROXY, never loopback) and the NO_PROXY table of Go's
// httpproxy. The proxy here is a small node:http forward + CONNECT proxy on loopback
// that counts requests and records headers. Scenarios GO-36..GO-39, UN-21, PF-11.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import {
  AbortError,
  Client,
  ConnectError,
  HourglassError,
  TimeoutError,
  Transport,
  type TransportOptions,
} from '../src/index.js';
import { noProxyMatches, proxyFromEnv } from '../src/proxy.js';
import { FaultServer, type FaultServerOptions, CA_CERT as fsCa } from '../src/testing/index.js';
import { assertQuiet, clientFor, gatedLookup, waitFor } from './helpers/setup.js';

const T = { timeout: 20_000 };

type ConnectMode = 'tunnel' | 'deny403' | 'deny407' | 'raw400' | 'silent';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A loopback forward (absolute-form) + CONNECT proxy. Every host is mapped to 127.0.0.1. */
class TestProxy {
  readonly server: http.Server;
  port = 0;
  connections = 0;
  requests: Seen[] = [];
  connects: Seen[] = [];
  connectMode: ConnectMode = 'tunnel';
  /** CONNECT sockets the client closed (FIN or close), in order. */
  connectClosed = 0;
  private sockets = new Set<net.Socket>();

  private constructor() {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('connection', (s: net.Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.connect(req, socket, head),
    );
  }

  static async start(): Promise<TestProxy> {
    const p = new TestProxy();
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  url(userinfo = ''): string {
    return `http://${userinfo === '' ? '' : `${userinfo}@`}127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form required');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request(
      {
        host: '127.0.0.1',
        port: Number(target.port || 80),
        method: req.method,
        path: target.pathname + target.search,
        headers,
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  private connect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    this.connects.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    let counted = false;
    const closed = (): void => {
      if (counted) return;
      counted = true;
      this.connectClosed++;
    };
    socket.on('end', () => {
      closed();
      socket.destroy();
    });
    socket.on('close', closed);
    socket.on('error', () => {});
    switch (this.connectMode) {
      case 'deny403':
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      case 'deny407':
        socket.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n\r\n',
        );
        return;
      case 'raw400':
        socket.end(
          'HTTP/1.1 400\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 10\r\n\r\nAloha Olaa',
        );
        return;
      case 'silent':
        return;
      default: {
        const port = Number((req.url ?? '').split(':').pop());
        const up = net.connect(port, '127.0.0.1', () => {
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) up.write(head);
          socket.pipe(up);
          up.pipe(socket);
        });
        up.on('error', () => socket.destroy());
        up.on('close', () => socket.destroy());
        socket.on('close', () => up.destroy());
        this.sockets.add(up);
      }
    }
  }
}

async function withProxy(
  t: TestContext,
  opts: (p: TestProxy) => TransportOptions,
  fsOpts: FaultServerOptions = {},
): Promise<{ fs: FaultServer; proxy: TestProxy; transport: Transport; client: Client }> {
  const fs = await FaultServer.start(fsOpts);
  const proxy = await TestProxy.start();
  const { transport, client } = clientFor(t, opts(proxy), proxy, fs);
  return { fs, proxy, transport, client };
}

function basic(header: string | string[] | undefined): string {
  assert.equal(typeof header, 'string', 'Proxy-Authorization present');
  const m = /^Basic (.+)$/.exec(header as string);
  assert.ok(m, String(header));
  return Buffer.from(m[1]!, 'base64').toString();
}

describe('proxy: plain http through a forward proxy (absolute-form)', () => {
  it(
    'GO-36: a HEAD to an http origin reaches the proxy as absolute-form with the origin Host',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await withProxy(t, (p) => ({ proxy: p.url() }));
      const res = await client.request(fs.url('/ok'), { method: 'HEAD' });
      assert.equal(res.status, 200);
      await res.dump();
      assert.equal(proxy.requests.length, 1);
      assert.equal(proxy.requests[0]!.method, 'HEAD');
      assert.equal(proxy.requests[0]!.url, `http://127.0.0.1:${fs.port}/ok`);
      assert.equal(proxy.requests[0]!.headers.host, `127.0.0.1:${fs.port}`);
      assert.equal(proxy.connects.length, 0);
      assert.equal(fs.requests[0]!.method, 'HEAD');
      await assertQuiet(transport);
    },
  );

  it(
    'GET and POST through the proxy keep the query and body, and reuse the proxy connection',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await setup2(t);
      const a = await client.request(fs.url('/echo?x=1'));
      assert.equal(((await a.json()) as { query: { x: string } }).query.x, '1');
      const b = await client.request(fs.url('/echo'), { method: 'POST', body: 'via proxy' });
      assert.equal(((await b.json()) as { body: string }).body, 'via proxy');
      assert.equal(proxy.requests[0]!.url, `http://127.0.0.1:${fs.port}/echo?x=1`);
      assert.equal(proxy.connections, 1, 'one keep-alive connection to the proxy');
      await assertQuiet(transport);

      async function setup2(tc: TestContext) {
        return withProxy(tc, (p) => ({ proxy: p.url() }));
      }
    },
  );

  for (const [userinfo, want] of [
    ['u', 'u:'],
    ['user:secret', 'user:secret'],
    ['user:%40%2F%3F%21', 'user:@/?!'],
  ] as const) {
    it(
      `GO-37a: proxy userinfo ${userinfo} becomes Proxy-Authorization: Basic ${want} (http)`,
      T,
      async (t) => {
        const { fs, proxy, transport, client } = await withProxy(t, (p) => ({ proxy: p.url(userinfo) }));
        await (await client.request(fs.url('/ok'))).text();
        assert.equal(basic(proxy.requests[0]!.headers['proxy-authorization']), want);
        await assertQuiet(transport);
      },
    );
  }

  it('the proxy may be a URL object or a function of the request URL (null: direct)', T, async (t) => {
    const fs = await FaultServer.start();
    const proxy = await TestProxy.start();
    const viaUrl = new Client({ transport: new Transport({ proxy: new URL(proxy.url()) }) });
    const chooser = new Client({
      transport: new Transport({ proxy: (u) => (u.pathname.startsWith('/echo') ? proxy.url() : null) }),
    });
    t.after(async () => {
      await viaUrl.close();
      await chooser.close();
      await proxy.close();
      await fs.close();
    });
    await (await viaUrl.request(fs.url('/ok'))).text();
    assert.equal(proxy.requests.length, 1);
    await (await chooser.request(fs.url('/ok'))).text();
    assert.equal(proxy.requests.length, 1, 'direct');
    await (await chooser.request(fs.url('/echo'))).text();
    assert.equal(proxy.requests.length, 2, 'proxied');
    await assertQuiet(viaUrl.transport);
    await assertQuiet(chooser.transport);
  });

  it(
    'proxied and direct requests to one origin never share a connection (pool key includes the proxy)',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await withProxy(t, (p) => ({
        proxy: (u) => (u.searchParams.has('p') ? p.url() : null),
      }));
      await (await client.request(fs.url('/ok?p=1'))).text();
      await (await client.request(fs.url('/ok'))).text();
      await (await client.request(fs.url('/ok?p=1'))).text();
      assert.equal(proxy.requests.length, 2);
      assert.equal(Object.keys(transport.stats().hosts).length, 2);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-37d: an unreachable proxy is a ConnectError naming the proxy address, with the socket error as cause',
    T,
    async (t) => {
      const fs = await FaultServer.start();
      const closed = await TestProxy.start();
      const port = closed.port;
      await closed.close();
      const { client } = clientFor(t, { proxy: `http://127.0.0.1:${port}` }, fs);
      const err = await client.request(fs.url('/ok')).then(
        () => assert.fail('expected a connect error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.port, port, 'the failing step is the proxy dial');
      assert.equal(fs.connections, 0);
      await assertQuiet(client.transport);
    },
  );
});

describe('proxy: https through CONNECT', () => {
  /** `withProxy` in front of the TLS FaultServer: https through CONNECT, trusting its CA. */
  function viaConnect(t: TestContext, opts: TransportOptions = {}): ReturnType<typeof withProxy> {
    return withProxy(t, (p) => ({ proxy: p.url(), tls: { ca: fsCa }, ...opts }), { tls: true });
  }

  it(
    'GO-36: https goes through CONNECT host:port, then HEAD / inside the tunnel at the TLS origin',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await viaConnect(t);
      const res = await client.request(`https://localhost:${fs.port}/ok`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      await res.dump();
      assert.equal(proxy.connects.length, 1);
      assert.equal(proxy.connects[0]!.url, `localhost:${fs.port}`);
      assert.equal(proxy.requests.length, 0, 'no plain request to the proxy');
      assert.equal(fs.requests[0]!.method, 'HEAD');
      assert.equal(fs.requests[0]!.target, '/ok', 'origin-form inside the tunnel');
      assert.equal(fs.requests[0]!.headers.host, `localhost:${fs.port}`);
      const again = await client.request(`https://localhost:${fs.port}/echo`);
      await again.text();
      assert.equal(again.reused, true);
      assert.equal(proxy.connects.length, 1, 'the tunnel is pooled');
      await assertQuiet(transport);
    },
  );

  it(
    'GO-37a: proxy credentials go on the CONNECT only, never through the tunnel to the origin',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await withProxy(
        t,
        (p) => ({ proxy: p.url('user:%40%2F%3F%21'), tls: { ca: fsCa } }),
        { tls: true },
      );
      await (await client.request(`https://localhost:${fs.port}/ok`)).text();
      assert.equal(basic(proxy.connects[0]!.headers['proxy-authorization']), 'user:@/?!');
      assert.equal(fs.requests[0]!.headers['proxy-authorization'], undefined);
      await assertQuiet(transport);
    },
  );

  it(
    'UN-21: a caller-supplied Proxy-Authorization is never forwarded to the origin through a tunnel',
    T,
    async (t) => {
      const { fs, transport, client } = await viaConnect(t);
      try {
        const res = await client.request(`https://localhost:${fs.port}/ok`, {
          headers: { 'Proxy-Authorization': 'Basic c2VjcmV0OnNlY3JldA==' },
        });
        await res.text();
      } catch (e) {
        assert.ok(e instanceof HourglassError && e.code === 'HG_INVALID_ARG', String(e));
      }
      for (const r of fs.requests)
        assert.equal(r.headers['proxy-authorization'], undefined, 'leaked to the origin');
      await assertQuiet(transport);
    },
  );

  for (const [mode, status] of [
    ['deny403', 403],
    ['deny407', 407],
    ['raw400', 400],
  ] as const) {
    it(
      `GO-37c: a CONNECT answered ${status} is a ConnectError carrying status ${status}; the origin is never contacted`,
      T,
      async (t) => {
        const { fs, proxy, transport, client } = await viaConnect(t);
        proxy.connectMode = mode;
        const err = await client.request(`https://localhost:${fs.port}/ok`).then(
          () => assert.fail('expected a ConnectError'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ConnectError, String(err));
        assert.equal(err.status, status);
        assert.match(err.message, new RegExp(String(status)));
        assert.equal(fs.connections, 0, 'origin never contacted');
        assert.ok(await waitFor(() => proxy.connectClosed === 1), 'the proxy socket is closed');
        await assertQuiet(transport);
      },
    );
  }

  it(
    'PF-11: a proxy that never answers CONNECT is bounded by the dial timeout (phase connect); the proxy sees the socket closed',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await viaConnect(t, { dialTimeout: 300 });
      proxy.connectMode = 'silent';
      const started = performance.now();
      const err = await client.request(`https://localhost:${fs.port}/ok`, { timeout: 2000 }).then(
        () => assert.fail('expected a timeout'),
        (e: unknown) => e,
      );
      const took = performance.now() - started;
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, 'connect', String(err));
      assert.equal(err.timeout, 300);
      assert.ok(took >= 280 && took < 800, `fired after ${took.toFixed(0)} ms`);
      // The dial's elapsed time, in the message every timer that fails a phase writes.
      assert.ok(err.elapsed >= 280 && err.elapsed < 800, `elapsed ${err.elapsed}`);
      assert.match(
        err.message,
        /^connect timeout \(dialTimeout\): \d+ ms elapsed, limit 300 ms, proxy did not answer CONNECT localhost:\d+ \(request not sent\) for GET https:\/\/localhost:\d+\/ok$/,
      );
      assert.ok(await waitFor(() => proxy.connectClosed === 1, 1000), 'the proxy sees the socket closed');
      assert.equal(fs.connections, 0);
      await assertQuiet(transport);
    },
  );

  it(
    'PF-11: a silent CONNECT is also bounded by the client timeout (phase request); the proxy socket is closed',
    T,
    async (t) => {
      const { fs, proxy, transport, client } = await viaConnect(t);
      proxy.connectMode = 'silent';
      await assert.rejects(
        client.request(`https://localhost:${fs.port}/ok`, { timeout: 300 }),
        (e: unknown) => {
          assert.ok(e instanceof TimeoutError, String(e));
          assert.equal(e.phase, 'request');
          return true;
        },
      );
      assert.ok(await waitFor(() => proxy.connectClosed === 1, 1000));
      await assertQuiet(transport);
    },
  );

  it('GO-38: aborting a request stuck in CONNECT closes the proxy socket', T, async (t) => {
    const { fs, proxy, transport, client } = await viaConnect(t);
    proxy.connectMode = 'silent';
    const ac = new AbortController();
    const p = client.request(`https://localhost:${fs.port}/ok`, { signal: ac.signal });
    assert.ok(await waitFor(() => proxy.connects.length === 1));
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof AbortError);
    assert.ok(await waitFor(() => proxy.connectClosed === 1, 1000), 'the proxy observes EOF');
    await assertQuiet(transport);
  });

  it('an https:// proxy URL is spoken to over TLS or refused up front, never in plaintext', T, async (t) => {
    const firstBytes: Buffer[] = [];
    const sink = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        firstBytes.push(d);
        s.destroy();
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as net.AddressInfo).port;
    t.after(() => new Promise<void>((r) => sink.close(() => r())));
    const refusedUpFront = (e: unknown): boolean => e instanceof HourglassError && e.code === 'HG_INVALID_ARG';
    let client: Client | undefined;
    // Each request either is refused up front (HG_INVALID_ARG) or reaches the proxy.
    let reachedProxy = 0;
    try {
      client = new Client({
        transport: new Transport({ proxy: `https://user:pw@127.0.0.1:${port}`, dialTimeout: 1000 }),
      });
      for (const url of ['http://origin.invalid/', 'https://origin.invalid/']) {
        // The sink drops the connection after its first bytes: the request must fail.
        const err = await client.request(url, { timeout: 1000 }).then(
          () => assert.fail(`${url} succeeded through a sink`),
          (e: unknown) => e,
        );
        if (!refusedUpFront(err)) reachedProxy++;
      }
    } catch (e) {
      assert.ok(refusedUpFront(e), String(e));
    } finally {
      await client?.close();
    }
    await waitFor(() => firstBytes.length === reachedProxy, 1000);
    assert.equal(firstBytes.length, reachedProxy, 'every request not refused up front spoke to the proxy');
    for (const b of firstBytes)
      assert.equal(
        b[0],
        0x16,
        `plaintext sent to an https proxy: ${JSON.stringify(b.subarray(0, 40).toString('latin1'))}`,
      );
  });
});

describe("proxy: 'env'", () => {
  const KEYS = [
    'HTTP_PROXY',
    'http_proxy',
    'HTTPS_PROXY',
    'https_proxy',
    'NO_PROXY',
    'no_proxy',
    'REQUEST_METHOD',
  ];
  function withEnv(t: TestContext, env: Record<string, string>): void {
    const saved = new Map(KEYS.map((k) => [k, process.env[k]]));
    for (const k of KEYS) delete process.env[k];
    Object.assign(process.env, env);
    t.after(() => {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
  }

  /** `withProxy` with `proxy: 'env'`: HTTP_PROXY (plus `env`) names the TestProxy, and every
   * host name resolves to 127.0.0.1 so that a non-loopback name reaches the FaultServer. */
  function withEnvProxy(
    t: TestContext,
    env: Record<string, string> = {},
  ): ReturnType<typeof withProxy> {
    const { lookup } = gatedLookup(Infinity);
    return withProxy(t, (proxy) => {
      withEnv(t, { HTTP_PROXY: proxy.url(), ...env });
      return { proxy: 'env', dialer: { lookup } };
    });
  }

  it("'env' proxies a non-loopback name through HTTP_PROXY and never proxies loopback", T, async (t) => {
    const { fs, proxy, transport, client } = await withEnvProxy(t);
    await (await client.request(`http://origin.test:${fs.port}/ok`)).text();
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0]!.url, `http://origin.test:${fs.port}/ok`);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      if (host === '[::1]') continue; // the fault server listens on IPv4 only
      await (await client.request(`http://${host}:${fs.port}/ok`)).text();
    }
    assert.equal(proxy.requests.length, 1, 'loopback is never proxied by env');
    await assertQuiet(transport);
  });

  it("'env' honours NO_PROXY for a matching name", T, async (t) => {
    const { fs, proxy, transport, client } = await withEnvProxy(t, { NO_PROXY: 'example.test' });
    await (await client.request(`http://api.example.test:${fs.port}/ok`)).text();
    assert.equal(proxy.requests.length, 0, 'NO_PROXY=example.test covers api.example.test');
    await (await client.request(`http://other.test:${fs.port}/ok`)).text();
    assert.equal(proxy.requests.length, 1);
    await assertQuiet(transport);
  });

  it('an explicit proxy URL does proxy loopback (the loopback exception is only for env)', T, async (t) => {
    const { fs, proxy, transport, client } = await withProxy(t, (p) => ({ proxy: p.url() }));
    await (await client.request(`http://localhost:${fs.port}/ok`)).text();
    assert.equal(proxy.requests.length, 1);
    await assertQuiet(transport);
  });
});

describe('proxy: proxyFromEnv / noProxyMatches (GO-39)', () => {
  const u = (s: string): URL => new URL(s);
  const href = (p: URL | undefined): string | undefined => p?.href;

  it('a bare host:port means http://', () => {
    assert.equal(
      href(proxyFromEnv(u('http://example.com/'), { HTTP_PROXY: 'cache.corp:8080' })),
      'http://cache.corp:8080/',
    );
    assert.equal(
      href(proxyFromEnv(u('http://example.com/'), { HTTP_PROXY: 'cache.corp.example.com' })),
      'http://cache.corp.example.com/',
    );
  });

  it('a full URL is kept (http and https schemes)', () => {
    assert.equal(
      href(proxyFromEnv(u('http://example.com/'), { HTTP_PROXY: 'http://127.0.0.1:8080' })),
      'http://127.0.0.1:8080/',
    );
    assert.equal(
      href(proxyFromEnv(u('http://example.com/'), { HTTP_PROXY: 'https://cache.corp.example.com' })),
      'https://cache.corp.example.com/',
    );
  });

  it('https requests use HTTPS_PROXY, never HTTP_PROXY', () => {
    const env = { HTTP_PROXY: 'http.proxy.tld', HTTPS_PROXY: 'secure.proxy.tld' };
    assert.equal(href(proxyFromEnv(u('https://secure.tld/'), env)), 'http://secure.proxy.tld/');
    assert.equal(href(proxyFromEnv(u('http://insecure.tld/'), env)), 'http://http.proxy.tld/');
    assert.equal(proxyFromEnv(u('https://secure.tld/'), { HTTP_PROXY: 'http.proxy.tld' }), undefined);
  });

  it('upper case wins over lower case; lower case is used alone', () => {
    assert.equal(
      href(proxyFromEnv(u('http://a.tld/'), { HTTP_PROXY: 'upper', http_proxy: 'lower' })),
      'http://upper/',
    );
    assert.equal(href(proxyFromEnv(u('http://a.tld/'), { http_proxy: 'lower' })), 'http://lower/');
    assert.equal(href(proxyFromEnv(u('https://a.tld/'), { https_proxy: 'lower' })), 'http://lower/');
  });

  it('a CGI environment (REQUEST_METHOD set) refuses HTTP_PROXY (httpoxy) but keeps HTTPS_PROXY', () => {
    assert.equal(
      proxyFromEnv(u('http://example.com/'), { HTTP_PROXY: 'http://10.1.2.3:8080', REQUEST_METHOD: 'POST' }),
      undefined,
    );
    assert.equal(
      proxyFromEnv(u('http://example.com/'), { http_proxy: 'http://10.1.2.3:8080', REQUEST_METHOD: 'GET' }),
      undefined,
    );
    assert.equal(
      href(proxyFromEnv(u('https://example.com/'), { HTTPS_PROXY: 'secure.proxy', REQUEST_METHOD: 'GET' })),
      'http://secure.proxy/',
    );
  });

  it('loopback is never proxied', () => {
    const env = { HTTP_PROXY: 'proxy', HTTPS_PROXY: 'proxy' };
    for (const s of [
      'http://localhost/',
      'http://127.0.0.1:8080/',
      'http://127.1.2.3/',
      'http://[::1]/',
      'https://foo.localhost/',
    ]) {
      assert.equal(proxyFromEnv(u(s), env), undefined, s);
    }
    assert.equal(href(proxyFromEnv(u('http://localhost.example.com/'), env)), 'http://proxy/');
  });

  const table: [string, string, boolean][] = [
    // [NO_PROXY, request URL, proxied?]
    ['example.com', 'http://example.com/', false],
    ['example.com', 'http://foo.example.com/', false],
    ['example.com', 'http://notexample.com/', true],
    ['.example.com', 'http://example.com/', true],
    ['.example.com', 'http://foo.example.com/', false],
    ['ample.com', 'http://example.com/', true],
    ['.foo.com', 'http://example.com/', true],
    ['*', 'http://anything.tld/', false],
    ['*.example.com', 'http://a.example.com/', false],
    ['example.com:8080', 'http://example.com:8080/', false],
    ['example.com:8080', 'http://example.com/', true],
    [' a.com , example.com ', 'http://example.com/', false],
    ['10.0.0.1', 'http://10.0.0.1/', false],
    ['10.0.0.1', 'http://10.0.0.2/', true],
    ['EXAMPLE.com', 'http://Example.COM/', false],
    ['', 'http://example.com/', true],
  ];
  for (const [noProxy, url, proxied] of table) {
    it(`NO_PROXY=${JSON.stringify(noProxy)} ${proxied ? 'does not match' : 'matches'} ${url}`, () => {
      const got = proxyFromEnv(u(url), { HTTP_PROXY: 'proxy:3128', NO_PROXY: noProxy });
      assert.equal(got !== undefined, proxied);
      const lower = proxyFromEnv(u(url), { HTTP_PROXY: 'proxy:3128', no_proxy: noProxy });
      assert.equal(lower !== undefined, proxied, 'no_proxy (lower case) too');
    });
  }

  const direct: [string, string, string, boolean][] = [
    // [NO_PROXY, host, port, matches?]
    ['example.com', 'foo.example.com', '80', true],
    ['.example.com', 'example.com', '80', false],
    ['ample.com', 'example.com', '80', false],
    ['example.com:443', 'example.com', '443', true],
    ['example.com:443', 'example.com', '80', false],
    ['2001:db8::1', '2001:db8::1', '80', true],
    ['[2001:db8::1]', '2001:db8::1', '80', true],
    ['[2001:db8::1]:80', '2001:db8::1', '80', true],
    ['[2001:db8::1]:80', '2001:db8::1', '443', false],
  ];
  for (const [noProxy, host, port, want] of direct) {
    it(`noProxyMatches(${JSON.stringify(noProxy)}, ${host}, ${port}) is ${want}`, () => {
      assert.equal(noProxyMatches(noProxy, host, port), want);
    });
  }
});
