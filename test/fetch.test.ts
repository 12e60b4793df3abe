/**
 * fetch.test — the WHATWG `fetch()` facade (SPEC §7) against real loopback servers:
 * request bodies of every Fetch body type and their default Content-Type, streaming
 * response bodies with backpressure and cancellation, fetch's redirect rules and
 * modes, aborts (before, while waiting, mid-body) rejecting with `signal.reason`,
 * timeouts and network failures as `TypeError('fetch failed')` with the hourglass
 * error as `cause`, null-body statuses, `Request` input, and repeated headers.
 *
 * Every test runs its own `node:http` server on 127.0.0.1:0 and closes it; one
 * `Client` serves the file and is closed at the end, so nothing outlives the run.
 */

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { Client } from '../src/client.js';
import { ConnectError, HourglassError, isTimeout, RedirectError, TimeoutError } from '../src/errors.js';
import { fetch } from '../src/fetch.js';

const client = new Client();
after(() => client.close());

/** A loopback server; `connections` counts accepted sockets, `closed` resolves per closed socket. */
interface TestServer {
  url(path: string): string;
  connections: number;
  socketClosed: Promise<void>;
  close(): Promise<void>;
}

async function serve(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  let onClosed: () => void = () => {};
  const state: TestServer = {
    url: (path) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    connections: 0,
    socketClosed: new Promise<void>((resolve) => {
      onClosed = resolve;
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket) => {
    state.connections++;
    socket.on('close', () => onClosed());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return state;
}

/** Reads a request body fully. */
async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What the echo handler reports about the request it got. */
interface Echo {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Echoes method, path, headers and the body (latin1, so bytes survive) as JSON. */
const echo: http.RequestListener = async (req, res) => {
  const body = await readBody(req);
  const out: Echo = {
    method: req.method!,
    url: req.url!,
    headers: req.headers,
    body: body.toString('latin1'),
  };
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(out));
};

async function echoOf(res: globalThis.Response): Promise<Echo> {
  return (await res.json()) as Echo;
}

/** Never answers; `close()` destroys the socket. */
const stall: http.RequestListener = () => {};

/** Asserts a rejection is `TypeError('fetch failed')` and returns its cause. */
async function fetchFailed(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TypeError, `expected TypeError, got ${String(err)}`);
    assert.equal(err.message, 'fetch failed');
    return err.cause;
  }
  assert.fail('expected a rejection');
}

describe('fetch: basics', () => {
  it('GET returns a global Response with status, headers, url and text', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('hello');
    });
    try {
      const res = await fetch(s.url('/x'), { client });
      assert.ok(res instanceof globalThis.Response);
      assert.equal(res.status, 200);
      assert.equal(res.statusText, 'OK');
      assert.equal(res.ok, true);
      assert.equal(res.headers.get('content-type'), 'text/plain');
      assert.equal(res.url, s.url('/x'));
      assert.equal(res.redirected, false);
      assert.equal(await res.text(), 'hello');
    } finally {
      await s.close();
    }
  });

  it('GET json, URL input, method names normalised as fetch does', async () => {
    const s = await serve(echo);
    try {
      const res = await fetch(new URL(s.url('/j?q=1')), { client, method: 'delete' });
      const e = await echoOf(res);
      assert.equal(e.method, 'DELETE');
      assert.equal(e.url, '/j?q=1');
      assert.equal(e.headers.accept, '*/*');
    } finally {
      await s.close();
    }
  });

  it('only the six standard methods are upper-cased: `patch` is sent as `patch`', async () => {
    // node:http refuses lower-case methods, so a raw server reads the request line.
    let requestLine = '';
    const server = net.createServer((socket) => {
      socket.once('data', (d: Buffer) => {
        requestLine = d.toString('latin1').split('\r\n')[0]!;
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/p`, { client, method: 'patch', body: 'x' });
      assert.equal(res.status, 200);
      assert.equal(requestLine, 'patch /p HTTP/1.1');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('invalid input rejects with TypeError before anything is sent', async () => {
    await assert.rejects(fetch('not a url', { client }), TypeError);
    await assert.rejects(fetch('ftp://127.0.0.1/', { client }), TypeError);
    await assert.rejects(fetch('http://127.0.0.1:1/', { client, method: 'CONNECT' }), TypeError);
    await assert.rejects(fetch('http://127.0.0.1:1/', { client, body: 'x' }), /GET\/HEAD/);
    await assert.rejects(fetch('http://127.0.0.1:1/', { client, method: 'HEAD', body: 'x' }), /GET\/HEAD/);
  });

  it('repeated response headers: set-cookie stays separate, others join with ", "', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2']);
      res.setHeader('x-multi', ['one', 'two']);
      res.end();
    });
    try {
      const res = await fetch(s.url('/'), { client });
      assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2']);
      assert.equal(res.headers.get('x-multi'), 'one, two');
      await res.arrayBuffer();
    } finally {
      await s.close();
    }
  });

  it('request headers from a Headers object, a record and pairs; repeated values sent', async () => {
    const s = await serve(echo);
    try {
      const h = new Headers({ 'x-a': '1' });
      h.append('x-a', '2');
      let e = await echoOf(await fetch(s.url('/'), { client, headers: h }));
      assert.equal(e.headers['x-a'], '1, 2');
      e = await echoOf(await fetch(s.url('/'), { client, headers: { 'x-b': 'b', accept: 'text/html' } }));
      assert.equal(e.headers['x-b'], 'b');
      assert.equal(e.headers.accept, 'text/html', 'a given Accept is kept');
      e = await echoOf(
        await fetch(s.url('/'), {
          client,
          headers: [
            ['x-c', '1'],
            ['x-c', '2'],
          ],
        }),
      );
      assert.equal(e.headers['x-c'], '1, 2');
    } finally {
      await s.close();
    }
  });

  it('uses defaultClient() when no client is given', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('default');
    });
    try {
      const res = await fetch(s.url('/'));
      assert.equal(await res.text(), 'default');
    } finally {
      await s.close();
    }
  });
});

describe('fetch: request bodies', () => {
  const cases: { name: string; body: () => FetchBody; bytes: Buffer; type: string | undefined }[] = [
    { name: 'string', body: () => 'héllo', bytes: Buffer.from('héllo'), type: 'text/plain;charset=UTF-8' },
    {
      name: 'Uint8Array',
      body: () => new Uint8Array([0, 1, 255]),
      bytes: Buffer.from([0, 1, 255]),
      type: undefined,
    },
    {
      name: 'ArrayBuffer',
      body: () => new Uint8Array([7, 8, 9]).buffer,
      bytes: Buffer.from([7, 8, 9]),
      type: undefined,
    },
    {
      name: 'DataView (a window into a larger buffer)',
      body: () => new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3),
      bytes: Buffer.from([2, 3, 4]),
      type: undefined,
    },
    {
      name: 'Blob with a type',
      body: () => new Blob(['<a/>'], { type: 'application/xml' }),
      bytes: Buffer.from('<a/>'),
      type: 'application/xml',
    },
    {
      name: 'Blob without a type',
      body: () => new Blob(['raw']),
      bytes: Buffer.from('raw'),
      type: undefined,
    },
    {
      name: 'URLSearchParams',
      body: () => new URLSearchParams({ a: '1', b: 'x y' }),
      bytes: Buffer.from('a=1&b=x+y'),
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
    },
  ];
  for (const c of cases) {
    it(`POST ${c.name}: exact bytes, Content-Length and default Content-Type`, async () => {
      const s = await serve(echo);
      try {
        const e = await echoOf(await fetch(s.url('/'), { client, method: 'POST', body: c.body() }));
        assert.equal(e.method, 'POST');
        assert.deepEqual(Buffer.from(e.body, 'latin1'), c.bytes);
        assert.equal(e.headers['content-length'], String(c.bytes.length));
        assert.equal(e.headers['content-type'], c.type);
      } finally {
        await s.close();
      }
    });
  }

  it('POST FormData: multipart body with the boundary named in Content-Type', async () => {
    const s = await serve(echo);
    try {
      const fd = new FormData();
      fd.append('name', 'value');
      fd.append('file', new Blob(['file-bytes'], { type: 'text/plain' }), 'f.txt');
      const e = await echoOf(await fetch(s.url('/'), { client, method: 'POST', body: fd }));
      const m = /^multipart\/form-data; boundary=(.+)$/.exec(e.headers['content-type'] ?? '');
      assert.ok(m, `content-type ${e.headers['content-type']}`);
      assert.ok(e.body.includes(`--${m[1]}\r\n`));
      assert.ok(e.body.includes('name="name"\r\n\r\nvalue\r\n'));
      assert.ok(e.body.includes('filename="f.txt"'));
      assert.ok(e.body.includes('file-bytes'));
      assert.ok(e.body.endsWith(`--${m[1]}--\r\n`));
      // The server can parse it back.
      const parsed = await new globalThis.Response(Buffer.from(e.body, 'latin1'), {
        headers: { 'content-type': e.headers['content-type']! },
      }).formData();
      assert.equal(parsed.get('name'), 'value');
    } finally {
      await s.close();
    }
  });

  it('POST ReadableStream: sent chunked, no Content-Type added', async () => {
    const s = await serve(echo);
    try {
      const parts = ['ab', 'cd', 'ef'];
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const p = parts.shift();
          if (p === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(p));
        },
      });
      const e = await echoOf(await fetch(s.url('/'), { client, method: 'POST', body, duplex: 'half' }));
      assert.equal(e.body, 'abcdef');
      assert.equal(e.headers['transfer-encoding'], 'chunked');
      assert.equal(e.headers['content-type'], undefined);
    } finally {
      await s.close();
    }
  });

  it('a user Content-Type is never replaced', async () => {
    const s = await serve(echo);
    try {
      const e = await echoOf(
        await fetch(s.url('/'), {
          client,
          method: 'PUT',
          body: new URLSearchParams({ a: '1' }),
          headers: { 'Content-Type': 'text/x-custom' },
        }),
      );
      assert.equal(e.headers['content-type'], 'text/x-custom');
      assert.equal(e.body, 'a=1');
    } finally {
      await s.close();
    }
  });
});

describe('fetch: response bodies', () => {
  it('streams: the first chunk is readable before the server sends the rest', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await serve(async (_req, res) => {
      res.write('first;');
      await released;
      res.end('second');
    });
    try {
      const res = await fetch(s.url('/'), { client });
      const reader = res.body!.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), 'first;');
      release();
      let rest = '';
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        assert.ok(r.value instanceof Uint8Array);
        rest += new TextDecoder().decode(r.value);
      }
      assert.equal(rest, 'second');
    } finally {
      release();
      await s.close();
    }
  });

  it('cancelling the body closes the connection', { timeout: 5000 }, async () => {
    const chunk = Buffer.alloc(16 * 1024, 120);
    const s = await serve((_req, res) => {
      // An endless body, written only as fast as the client reads.
      const write = (): void => {
        while (res.write(chunk)) {
          /* fill the socket */
        }
      };
      res.on('drain', write);
      write();
    });
    try {
      const res = await fetch(s.url('/'), { client });
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
      // Bounded here, not by the runner: the server must see the close within 2 s.
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        s.socketClosed.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), 2000);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(closed, true, 'the server saw no close within 2 s of cancel()');
      assert.equal(s.connections, 1);
    } finally {
      await s.close();
    }
  });

  it('a fully read body releases the connection for reuse', async () => {
    const s = await serve((_req, res) => res.end('x'));
    try {
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(s.url('/'), { client })).text(), 'x');
      assert.equal(s.connections, 1);
    } finally {
      await s.close();
    }
  });

  for (const status of [204, 205, 304]) {
    it(`${status} has a null body and frees the connection`, async () => {
      const s = await serve((req, res) => {
        res.statusCode = req.url === '/null' ? status : 200;
        res.end(req.url === '/null' ? undefined : 'after');
      });
      try {
        const res = await fetch(s.url('/null'), { client });
        assert.equal(res.status, status);
        assert.equal(res.body, null);
        assert.equal(await res.text(), '');
        assert.equal(await (await fetch(s.url('/'), { client })).text(), 'after');
        assert.equal(s.connections, 1, 'the connection was reused');
      } finally {
        await s.close();
      }
    });
  }

  it('HEAD has a null body even with a Content-Length', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('content-length', '5');
      res.end();
    });
    try {
      const res = await fetch(s.url('/'), { client, method: 'head' });
      assert.equal(res.body, null);
      assert.equal(res.headers.get('content-length'), '5');
    } finally {
      await s.close();
    }
  });

  it('error statuses resolve (ok false) with their body', async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('missing');
    });
    try {
      const res = await fetch(s.url('/'), { client });
      assert.equal(res.status, 404);
      assert.equal(res.statusText, 'Not Found');
      assert.equal(res.ok, false);
      assert.equal(await res.text(), 'missing');
    } finally {
      await s.close();
    }
  });
});

describe('fetch: redirects', () => {
  /** `/r/<status>` redirects to `/end`; `/end` echoes. */
  const redirector: http.RequestListener = (req, res) => {
    const m = /^\/r\/(\d+)$/.exec(req.url ?? '');
    if (m) {
      req.resume();
      res.statusCode = Number(m[1]);
      res.setHeader('location', '/end');
      res.end('moved');
      return;
    }
    void echo(req, res);
  };

  it("'follow' (default) follows and reports url and redirected", async () => {
    const s = await serve(redirector);
    try {
      const res = await fetch(`${s.url('/r/302')}#frag`, { client });
      assert.equal(res.status, 200);
      assert.equal(res.redirected, true);
      assert.equal(res.url, s.url('/end'), 'url excludes the fragment');
      assert.equal((await echoOf(res)).method, 'GET');
    } finally {
      await s.close();
    }
  });

  it("'manual' returns the 3xx itself", async () => {
    const s = await serve(redirector);
    try {
      const res = await fetch(s.url('/r/301'), { client, redirect: 'manual' });
      assert.equal(res.status, 301);
      assert.equal(res.redirected, false);
      assert.equal(res.headers.get('location'), '/end');
      assert.equal(await res.text(), 'moved');
    } finally {
      await s.close();
    }
  });

  it("'error' rejects with TypeError whose cause is HG_BAD_REDIRECT (not a too-many-redirects RedirectError)", async () => {
    const s = await serve(redirector);
    try {
      const cause = await fetchFailed(fetch(s.url('/r/307'), { client, redirect: 'error' }));
      assert.ok(cause instanceof HourglassError, String(cause));
      assert.ok(!(cause instanceof RedirectError), 'a redirect refused by mode "error" is not "too many redirects"');
      assert.equal(cause.code, 'HG_BAD_REDIRECT');
      assert.match(cause.message, /307 redirect to .*\/end with redirect mode "error"/);
      // A non-redirect response is returned as usual in 'error' mode.
      assert.equal((await fetch(s.url('/end'), { client, redirect: 'error' })).status, 200);
    } finally {
      await s.close();
    }
  });

  for (const status of [301, 302]) {
    it(`${status}: POST becomes GET and loses its body and body headers; PUT is kept`, async () => {
      const s = await serve(redirector);
      try {
        const post = await echoOf(
          await fetch(s.url(`/r/${status}`), { client, method: 'POST', body: 'data' }),
        );
        assert.equal(post.method, 'GET');
        assert.equal(post.body, '');
        assert.equal(post.headers['content-type'], undefined);
        assert.equal(post.headers['content-length'], undefined);
        const put = await echoOf(await fetch(s.url(`/r/${status}`), { client, method: 'PUT', body: 'data' }));
        assert.equal(put.method, 'PUT', 'fetch only rewrites POST on 301/302');
        assert.equal(put.body, 'data');
      } finally {
        await s.close();
      }
    });
  }

  it('303: every method but HEAD becomes GET', async () => {
    const s = await serve(redirector);
    try {
      const put = await echoOf(await fetch(s.url('/r/303'), { client, method: 'PUT', body: 'data' }));
      assert.equal(put.method, 'GET');
      assert.equal(put.body, '');
      const head = await fetch(s.url('/r/303'), { client, method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.redirected, true);
    } finally {
      await s.close();
    }
  });

  for (const status of [307, 308]) {
    it(`${status}: POST keeps its method and body`, async () => {
      const s = await serve(redirector);
      try {
        const e = await echoOf(
          await fetch(s.url(`/r/${status}`), { client, method: 'POST', body: new Uint8Array([1, 2, 3]) }),
        );
        assert.equal(e.method, 'POST');
        assert.deepEqual(Buffer.from(e.body, 'latin1'), Buffer.from([1, 2, 3]));
      } finally {
        await s.close();
      }
    });
  }

  it('307 with a streamed body cannot be followed: fetch failed', async () => {
    const s = await serve(redirector);
    try {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array([1]));
          c.close();
        },
      });
      const cause = await fetchFailed(
        fetch(s.url('/r/307'), { client, method: 'POST', body, duplex: 'half' }),
      );
      assert.ok(cause instanceof Error);
      assert.equal((cause as { code?: string }).code, 'HG_BAD_REDIRECT');
    } finally {
      await s.close();
    }
  });
});

describe('fetch: aborts, timeouts, network errors', () => {
  it('an already aborted signal rejects with its reason, sending nothing', async () => {
    const s = await serve(echo);
    try {
      const reason = new Error('mine');
      await assert.rejects(
        fetch(s.url('/'), { client, signal: AbortSignal.abort(reason) }),
        (e) => e === reason,
      );
      const err = await fetch(s.url('/'), { client, signal: AbortSignal.abort() }).catch((e: unknown) => e);
      assert.ok(err instanceof DOMException);
      assert.equal(err.name, 'AbortError');
      assert.equal(s.connections, 0);
    } finally {
      await s.close();
    }
  });

  it('abort while waiting for headers rejects with signal.reason', async () => {
    const s = await serve(stall);
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const started = performance.now();
      const err = await fetch(s.url('/'), { client, signal: ac.signal }).catch((e: unknown) => e);
      assert.equal(err, ac.signal.reason);
      assert.ok(err instanceof DOMException && err.name === 'AbortError');
      assert.ok(performance.now() - started < 1_000);
    } finally {
      await s.close();
    }
  });

  it('abort while the body is read errors the body stream with signal.reason', async () => {
    const s = await serve((_req, res) => {
      res.write('part');
      // ...and never finishes.
    });
    try {
      const ac = new AbortController();
      const res = await fetch(s.url('/'), { client, signal: ac.signal });
      const reader = res.body!.getReader();
      assert.equal(new TextDecoder().decode((await reader.read()).value), 'part');
      const reason = new Error('stop reading');
      setTimeout(() => ac.abort(reason), 20);
      await assert.rejects(reader.read(), (e) => e === reason);
      await s.socketClosed;
    } finally {
      await s.close();
    }
  });

  it('abort before the body is touched makes text() reject with signal.reason', async () => {
    const s = await serve((_req, res) => {
      res.write('part');
    });
    try {
      const ac = new AbortController();
      const res = await fetch(s.url('/'), { client, signal: ac.signal });
      ac.abort();
      await assert.rejects(res.text(), (e) => e === ac.signal.reason);
    } finally {
      await s.close();
    }
  });

  it('init.timeout: TypeError("fetch failed") whose cause is a TimeoutError (phase request)', async () => {
    const s = await serve(stall);
    try {
      const started = performance.now();
      const cause = await fetchFailed(fetch(s.url('/'), { client, timeout: 100 }));
      const elapsed = performance.now() - started;
      assert.ok(isTimeout(cause));
      assert.ok(cause instanceof TimeoutError);
      assert.equal(cause.phase, 'request');
      assert.equal(cause.code, 'ETIMEDOUT');
      assert.ok(elapsed >= 95 && elapsed < 1_000, `elapsed ${elapsed}`);
    } finally {
      await s.close();
    }
  });

  it('init.timeouts: a phase timeout names its phase', async () => {
    const s = await serve(stall);
    try {
      const cause = await fetchFailed(fetch(s.url('/'), { client, timeouts: { responseHeaderTimeout: 80 } }));
      assert.ok(cause instanceof TimeoutError);
      assert.equal(cause.phase, 'response-headers');
    } finally {
      await s.close();
    }
  });

  it('a timeout while the body is read errors the body with TypeError, cause TimeoutError', async () => {
    const s = await serve((_req, res) => {
      res.write('part');
    });
    try {
      const res = await fetch(s.url('/'), { client, timeout: 150 });
      const cause = await fetchFailed(res.text());
      assert.ok(isTimeout(cause));
    } finally {
      await s.close();
    }
  });

  it('connection refused: TypeError("fetch failed") whose cause is ConnectError ECONNREFUSED', async () => {
    const s = await serve(echo);
    const url = s.url('/');
    await s.close();
    const cause = await fetchFailed(fetch(url, { client }));
    assert.ok(cause instanceof ConnectError);
    assert.equal(cause.code, 'ECONNREFUSED');
  });
});

describe('fetch: Request input', () => {
  it('takes method, headers, body, redirect and signal from a Request', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/moved') {
        res.statusCode = 302;
        res.setHeader('location', '/end');
        res.end();
        return;
      }
      void echo(req, res);
    });
    try {
      const req = new Request(s.url('/'), {
        method: 'PUT',
        headers: { 'x-from': 'request' },
        body: new URLSearchParams({ k: 'v' }),
      });
      const e = await echoOf(await fetch(req, { client }));
      assert.equal(e.method, 'PUT');
      assert.equal(e.headers['x-from'], 'request');
      assert.equal(e.headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8');
      assert.equal(e.body, 'k=v');

      const manual = await fetch(new Request(s.url('/moved'), { redirect: 'manual' }), { client });
      assert.equal(manual.status, 302);
      const followed = await fetch(new Request(s.url('/moved'), { redirect: 'manual' }), {
        client,
        redirect: 'follow',
      });
      assert.equal(followed.status, 200, 'init overrides the Request');
      await followed.text();

      const aborted = new Request(s.url('/'), { signal: AbortSignal.abort(new Error('req')) });
      await assert.rejects(fetch(aborted, { client }), /req/);
    } finally {
      await s.close();
    }
  });

  it('init.body and init.method override the Request', async () => {
    const s = await serve(echo);
    try {
      const req = new Request(s.url('/'), { method: 'POST', body: 'from request' });
      const e = await echoOf(await fetch(req, { client, method: 'PATCH', body: 'from init' }));
      assert.equal(e.method, 'PATCH');
      assert.equal(e.body, 'from init');
    } finally {
      await s.close();
    }
  });
});

type FetchBody = NonNullable<RequestInit['body']>;
