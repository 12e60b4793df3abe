// Request and response bodies through the public Client/Transport against the
// FaultServer: what is written (string, bytes, Readable, async iterable; chunked when
// no length is known), declared-length mismatches, body stream errors, early responses
// while uploading, Expect: 100-continue, trailers, and the read-side timeouts that
// govern a response body (read-idle with backpressure, min-throughput). Scenarios
// GO-17, GO-19, GO-21, GO-23..GO-26, UN-15, UN-18, PF-06, PF-07, HG-02..HG-05.
import * as assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { HourglassError, TimeoutError } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { assertQuiet, clientClosed, reasonIs, setup, sleep, timeoutIn, waitFor } from './helpers/setup.js';

const T = { timeout: 20_000 };

interface Echo {
  method: string;
  headers: Record<string, string>;
  body: string;
  bodyLength: number;
  trailers: Record<string, string>;
  connectionId: number;
}

/** Reads a body stream, pausing `pauseMs` before each read; returns the bytes and how it ended. */
async function readSlowly(
  body: Readable,
  pauseMs: number,
): Promise<{ bytes: number; error: unknown; lastDataAt: number; endedAt: number }> {
  let bytes = 0;
  let lastDataAt = performance.now();
  try {
    for await (const c of body) {
      bytes += (c as Buffer).length;
      lastDataAt = performance.now();
      await sleep(pauseMs);
    }
    return { bytes, error: undefined, lastDataAt, endedAt: performance.now() };
  } catch (error) {
    return { bytes, error, lastDataAt, endedAt: performance.now() };
  }
}

describe('request bodies: what reaches the server', () => {
  it('a string body gets a Content-Length in bytes and arrives exactly', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/echo'), { method: 'POST', body: 'héllo wörld' });
    const e = (await res.json()) as Echo;
    assert.equal(e.headers['content-length'], String(Buffer.byteLength('héllo wörld')));
    assert.equal(e.headers['transfer-encoding'], undefined);
    assert.equal(e.body, 'héllo wörld');
    await assertQuiet(transport);
  });

  it('a Uint8Array body gets a Content-Length and arrives byte for byte', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    fs.route('/sink', (ex) => ex.respond(200, {}, ex.request.body.equals(bytes) ? 'same' : 'different'));
    const res = await client.request(fs.url('/sink'), { method: 'PUT', body: bytes });
    assert.equal(await res.text(), 'same');
    assert.equal(fs.requests[0]!.headers['content-length'], '70000');
    await assertQuiet(transport);
  });

  it('a Readable without content-length is sent chunked, exact bytes', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const parts = [Buffer.from('one,'), Buffer.alloc(100_000, 'x'), Buffer.from(',three')];
    const res = await client.request(fs.url('/echo'), { method: 'POST', body: Readable.from(parts) });
    const e = (await res.json()) as Echo;
    assert.equal(e.headers['transfer-encoding'], 'chunked');
    assert.equal(e.headers['content-length'], undefined);
    assert.equal(e.body, Buffer.concat(parts).toString());
    await assertQuiet(transport);
  });

  it('a Readable with a caller content-length is sent with that length, not chunked', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/echo'), {
      method: 'POST',
      headers: { 'content-length': '11' },
      body: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    });
    const e = (await res.json()) as Echo;
    assert.equal(e.headers['content-length'], '11');
    assert.equal(e.headers['transfer-encoding'], undefined);
    assert.equal(e.body, 'hello world');
    await assertQuiet(transport);
  });

  it('an async iterable (generator) body is sent chunked, exact bytes', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) {
        await sleep(2);
        yield Buffer.from(`part${i};`);
      }
    }
    const res = await client.request(fs.url('/echo'), { method: 'POST', body: gen() });
    const e = (await res.json()) as Echo;
    assert.equal(e.headers['transfer-encoding'], 'chunked');
    assert.equal(e.body, 'part0;part1;part2;part3;part4;');
    await assertQuiet(transport);
  });

  it('an empty stream body is a chunked empty body', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/echo'), { method: 'POST', body: Readable.from([]) });
    const e = (await res.json()) as Echo;
    assert.equal(e.bodyLength, 0);
    await assertQuiet(transport);
  });

  it('POST without a body sends Content-Length: 0; GET sends none', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    await (await client.request(fs.url('/echo'), { method: 'POST' })).text();
    await (await client.request(fs.url('/echo'))).text();
    assert.equal(fs.requests[0]!.headers['content-length'], '0');
    assert.equal(fs.requests[1]!.headers['content-length'], undefined);
    assert.equal(fs.requests[1]!.headers['transfer-encoding'], undefined);
    await assertQuiet(transport);
  });

  it('header values given as arrays are sent as repeated lines', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/echo'), { headers: { 'x-multi': ['a', 'b'] } });
    const e = (await res.json()) as Echo & { rawHeaders: string[] };
    assert.deepEqual(
      e.rawHeaders.filter((_, i) => i % 2 === 1 && e.rawHeaders[i - 1]!.toLowerCase() === 'x-multi'),
      ['a', 'b'],
    );
    await assertQuiet(transport);
  });

  it('UN-18: GET and HEAD with bodies (string, empty stream, iterator) all succeed', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    async function* one(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('asd');
    }
    for (const method of ['GET', 'HEAD']) {
      for (const make of [() => 'asd', () => Readable.from([]), () => one()]) {
        const res = await client.request(fs.url('/ok'), { method, body: make() });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), method === 'HEAD' ? '' : 'ok');
      }
    }
    await assertQuiet(transport);
  });
});

describe('request bodies: local failures', () => {
  it(
    'UN-15b: a stream shorter than its content-length fails locally and the socket is not reused',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      await (await client.request(fs.url('/ok'))).text();
      const err = await client
        .request(fs.url('/echo'), {
          method: 'PUT',
          headers: { 'content-length': '10' },
          body: Readable.from([Buffer.from('asd')]),
        })
        .then(
          () => assert.fail('expected an error'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof HourglassError, String(err));
      assert.match(err.message, /content-length/i);
      const next = await client.request(fs.url('/ok'));
      assert.equal(await next.text(), 'ok');
      assert.equal(next.reused, false, 'the half-sent socket was not pooled');
      await assertQuiet(transport);
    },
  );

  it(
    'UN-15b / GO-23c: a stream longer than its content-length fails locally; nothing extra reaches the server',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      await assert.rejects(
        client.request(fs.url('/echo'), {
          method: 'PUT',
          headers: { 'content-length': '3' },
          body: Readable.from([Buffer.from('asd'), Buffer.from('fg')]),
        }),
        (e: unknown) => e instanceof HourglassError && /content-length/i.test(e.message),
      );
      const next = await client.request(fs.url('/ok'));
      assert.equal(await next.text(), 'ok');
      assert.equal(next.reused, false);
      assert.equal(fs.requests.filter((r) => r.method === 'FG' || r.target.startsWith('fg')).length, 0);
      await assertQuiet(transport);
    },
  );

  for (const [declared, body] of [
    ['10', 'asd'],
    ['3', 'asdfg'],
  ] as const) {
    it(
      `UN-15b: a string body of ${body.length} bytes with content-length ${declared} fails locally, before sending`,
      T,
      async (t) => {
        const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 2000 });
        await assert.rejects(
          client.request(fs.url('/echo'), { method: 'PUT', headers: { 'content-length': declared }, body }),
          (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
        );
        assert.equal(fs.requests.length, 0, 'nothing was sent');
        await assertQuiet(transport);
      },
    );
  }

  it(
    'UN-15b: surplus bytes of a string body beyond its content-length never reach the server as a next request',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      await client
        .request(fs.url('/echo'), {
          method: 'PUT',
          headers: { 'content-length': '3' },
          body: 'asdGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
        })
        .then(
          (r) => r.text(),
          () => undefined,
        );
      await (await client.request(fs.url('/ok'))).text();
      await sleep(50);
      assert.deepEqual(
        fs.requests.map((r) => r.path).filter((p) => p === '/smuggled'),
        [],
        'no smuggled request',
      );
      await assertQuiet(transport);
    },
  );

  it('a string body with a caller Transfer-Encoding: chunked is chunk-framed or refused, never sent unframed', T, async (t) => {
    const { fs, transport, client } = await setup(t, { responseHeaderTimeout: 2000 });
    try {
      const res = await client.request(fs.url('/echo'), {
        method: 'POST',
        headers: { 'Transfer-Encoding': 'chunked' },
        body: 'hello',
      });
      assert.equal(((await res.json()) as Echo).body, 'hello');
    } catch (e) {
      assert.ok(e instanceof HourglassError && e.code === 'HG_INVALID_ARG', String(e));
      assert.equal(fs.requests.length, 0);
    }
    await assertQuiet(transport);
  });

  it(
    'GO-23a: a body stream error surfaces as the cause, with method and url; no retry on the warm socket',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      await (await client.request(fs.url('/ok'))).text();
      const boom = new Error('disk on fire');
      let reads = 0;
      const body = new Readable({
        read() {
          reads++;
          this.destroy(boom);
        },
      });
      const err = await client.request(fs.url('/echo'), { method: 'POST', body }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HourglassError, String(err));
      let c: unknown = err;
      while (c !== undefined && c !== boom) c = (c as { cause?: unknown }).cause;
      assert.equal(c, boom, 'the stream error is in the cause chain');
      assert.equal(reads, 1, 'the body was read once');
      assert.equal(err.method, 'POST');
      assert.equal(err.url, fs.url('/echo'));
      assert.ok(fs.requests.filter((r) => r.path === '/echo').length <= 1, 'not retried');
      const next = await client.request(fs.url('/ok'));
      assert.equal(await next.text(), 'ok');
      await assertQuiet(transport);
    },
  );

  it('an async iterable that throws surfaces its error as the cause', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const boom = new Error('generator failed');
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first');
      throw boom;
    }
    const err = await client.request(fs.url('/echo'), { method: 'POST', body: gen() }).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    let c: unknown = err;
    while (c !== undefined && c !== boom) c = (c as { cause?: unknown }).cause;
    assert.equal(c, boom, String(err));
    await assertQuiet(transport);
  });

  it('GO-26c: invalid header names and values fail locally without dialing', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const bad: Record<string, string>[] = [
      { 'x-foo': 'foo\x00bar' },
      { 'x-foo': 'two\nlines' },
      { 'x-foo': 'cr\rhere' },
      { 'bogus\nkey': 'v' },
      { 'A space': 'v' },
      { имя: 'v' },
      { '': 'v' },
    ];
    for (const headers of bad) {
      await assert.rejects(
        client.request(fs.url('/ok'), { headers }),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
        JSON.stringify(headers),
      );
    }
    assert.equal(fs.connections, 0);
    const ok = await client.request(fs.url('/echo'), { headers: { 'x-empty': '', 'x-latin': 'café' } });
    const e = (await ok.json()) as Echo;
    assert.equal(e.headers['x-empty'], '');
    await assertQuiet(transport);
  });
});

describe('request bodies: streaming and flushing (GO-26)', () => {
  it(
    'GO-26a: headers are flushed before the body produces data, and each chunk is flushed as written',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      let headSeen!: () => void;
      const head = new Promise<void>((r) => {
        headSeen = r;
      });
      const acks: (() => void)[] = [];
      const acked = [0, 1, 2].map((i) => new Promise<void>((r) => (acks[i] = r)));
      const received: string[] = [];
      fs.route(
        '/flush',
        async (ex) => {
          headSeen();
          for (let i = 0; i < 3; i++) {
            received.push((await ex.readBody(5)).toString());
            acks[i]!();
          }
          await ex.readBody();
          await ex.respond(200, {}, received.join('|'));
        },
        { readBody: false },
      );
      async function* gen(): AsyncGenerator<Uint8Array> {
        await head; // nothing produced until the server has the head
        for (let i = 0; i < 3; i++) {
          yield Buffer.from(`num${i}\n`);
          await acked[i]; // the next chunk waits until the server has this one
        }
      }
      const res = await client.request(fs.url('/flush'), { method: 'POST', body: gen(), timeout: 5000 });
      assert.equal(await res.text(), 'num0\n|num1\n|num2\n');
      assert.equal(fs.requests[0]!.headers['transfer-encoding'], 'chunked');
      await assertQuiet(transport);
    },
  );

  it('GO-26b: a GET whose body stream yields late is still sent', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    async function* late(): AsyncGenerator<Uint8Array> {
      await sleep(100);
      yield Buffer.from('body');
    }
    const res = await client.request(fs.url('/echo'), { body: late() });
    assert.equal(((await res.json()) as Echo).body, 'body');
    await assertQuiet(transport);
  });
});

describe('request bodies: early responses while uploading (GO-24, GO-25)', () => {
  it(
    'GO-24: a 401 sent at once, without reading a never-ending upload, then FIN: the caller gets the 401 with its body',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      let stop = false;
      async function* endless(): AsyncGenerator<Uint8Array> {
        const block = Buffer.alloc(64 * 1024, 'u');
        while (!stop) {
          yield block;
          await sleep(1);
        }
      }
      const res = await client.request(fs.url('/early-response?status=401&close=1&body=denied'), {
        method: 'POST',
        body: endless(),
      });
      assert.equal(res.status, 401);
      assert.equal(await res.text(), 'denied');
      stop = true;
      await assertQuiet(transport);
    },
  );

  it(
    'GO-24: a 400 sent at once for a 2 MiB PUT, then FIN: the caller gets the 400, not EPIPE/ECONNRESET',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      for (let i = 0; i < 5; i++) {
        const res = await client.request(fs.url('/early-response?status=400&close=1&body=too%20big'), {
          method: 'PUT',
          body: Buffer.alloc(2 * 1024 * 1024, 'p'),
        });
        assert.equal(res.status, 400);
        assert.equal(await res.text(), 'too big');
      }
      await assertQuiet(transport);
    },
  );

  it(
    'GO-25: an early 200 while the upload is unfinished: the caller gets it; the next GET uses another socket',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const upload = new PassThrough();
      upload.write(Buffer.alloc(256 * 1024 - 1, 'b')); // the last byte is withheld
      const res = await client.request(fs.url('/early-response?body=foo'), { method: 'POST', body: upload });
      assert.equal(await res.text(), 'foo');
      const next = await client.request(fs.url('/echo'));
      const e = (await next.json()) as Echo;
      assert.notEqual(e.connectionId, fs.requests[0]!.connectionId, 'a half-written socket is never pooled');
      assert.equal(next.reused, false);
      await assertQuiet(transport);
      upload.destroy();
    },
  );

  it(
    'GO-23b: the unsent request body stream is destroyed (closed once) after an early response',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const upload = new PassThrough();
      let closes = 0;
      upload.on('close', () => closes++);
      upload.write(Buffer.alloc(1024, 'b'));
      const res = await client.request(fs.url('/early-response?body=foo'), { method: 'POST', body: upload });
      assert.equal(await res.text(), 'foo');
      assert.ok(await waitFor(() => upload.destroyed, 1000), 'the abandoned request body is destroyed');
      await sleep(20);
      assert.equal(closes, 1);
      await assertQuiet(transport);
    },
  );

  it('GO-23b: a request body stream is closed exactly once after a successful upload', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const body = Readable.from([Buffer.from('abc')]);
    let closes = 0;
    body.on('close', () => closes++);
    const res = await client.request(fs.url('/echo'), { method: 'POST', body });
    await res.text();
    await sleep(20);
    assert.equal(closes, 1);
    await assertQuiet(transport);
  });
});

describe('Expect: 100-continue (GO-17)', () => {
  const five = 'abcde';
  const expect = { Expect: '100-continue' };

  for (const [name, path, status, sent] of [
    ['100 Continue then the body', '/expect-continue?mode=continue', 200, 5],
    ['a final 200 without 100', '/expect-continue?mode=final&status=200', 200, 0],
    ['a final 500 without 100', '/expect-continue?mode=final&status=500', 500, 0],
    ['a final 417', '/expect-continue?mode=final&status=417', 417, 0],
  ] as const) {
    it(`GO-17: ${name}: status ${status}, ${sent} body bytes sent`, T, async (t) => {
      const { fs, transport, client } = await setup(t, { expectContinueTimeout: 2000 });
      const res = await client.request(fs.url(path), { method: 'PUT', headers: expect, body: five });
      assert.equal(res.status, status);
      await res.text();
      const next = await client.request(fs.url('/ok'));
      await next.text();
      // The body is recorded when the connection ends; let it.
      await waitFor(() => fs.connectionLog[0]!.closedAt !== null || next.reused, 1000);
      assert.equal(fs.requests[0]!.body.length, sent);
      if (sent === 0)
        assert.equal(next.reused, false, 'a socket whose declared body was not sent is not reused');
      else assert.equal(next.reused, true);
      await assertQuiet(transport);
    });
  }

  it(
    'GO-17: raw "500, Content-Length: 0" before the body: 500, 0 bytes sent, socket not reused',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { expectContinueTimeout: 2000 });
      fs.route(
        '/keepalive500',
        (ex) => ex.write('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'),
        {
          readBody: false,
        },
      );
      const res = await client.request(fs.url('/keepalive500'), {
        method: 'PUT',
        headers: expect,
        body: five,
      });
      assert.equal(res.status, 500);
      await res.text();
      const next = await client.request(fs.url('/ok'));
      await next.text();
      assert.equal(next.reused, false);
      assert.equal(fs.requests[0]!.body.length, 0);
      await assertQuiet(transport);
    },
  );

  it(
    'GO-17: a server that silently reads the body gets it after expectContinueTimeout, without error',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { expectContinueTimeout: 300 });
      const started = performance.now();
      const res = await client.request(fs.url('/expect-continue?mode=silent'), {
        method: 'PUT',
        headers: expect,
        body: five,
      });
      assert.equal(await res.text(), 'received 5 bytes');
      const took = performance.now() - started;
      assert.ok(took >= 280 && took < 1000, `body sent after ${took.toFixed(0)} ms`);
      await assertQuiet(transport);
    },
  );

  it('GO-17: expectContinueTimeout 0 sends the body at once', T, async (t) => {
    const { fs, transport, client } = await setup(t, { expectContinueTimeout: 0 });
    const started = performance.now();
    const res = await client.request(fs.url('/expect-continue?mode=silent'), {
      method: 'PUT',
      headers: expect,
      body: five,
    });
    assert.equal(await res.text(), 'received 5 bytes');
    assert.ok(performance.now() - started < 250);
    await assertQuiet(transport);
  });

  it('GO-17: expectContinueTimeout Infinity waits for the 100 and then sends', T, async (t) => {
    const { fs, transport, client } = await setup(t, { expectContinueTimeout: Number.POSITIVE_INFINITY });
    fs.route(
      '/late100',
      async (ex) => {
        await ex.sleep(400);
        const body = await ex.readBody();
        await ex.respond(200, {}, `got ${body.length}`);
      },
      { readBody: false },
    );
    const res = await client.request(fs.url('/late100'), { method: 'PUT', headers: expect, body: five });
    assert.equal(await res.text(), 'got 5');
    await assertQuiet(transport);
  });

  it('GO-17: a stream body is held until 100 Continue', T, async (t) => {
    const { fs, transport, client } = await setup(t, { expectContinueTimeout: 5000 });
    const res = await client.request(fs.url('/expect-continue?mode=continue'), {
      method: 'PUT',
      headers: expect,
      body: Readable.from([Buffer.from('ab'), Buffer.from('cde')]),
    });
    assert.equal(await res.text(), 'received 5 bytes');
    await assertQuiet(transport);
  });

  it(
    'GO-17f: 5 sequential POSTs answered with 100 then 200 carry their own ids on one socket',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { expectContinueTimeout: 2000 });
      fs.route(
        '/ids',
        async (ex) => {
          const body = await ex.readBody(); // writes the 100 Continue first
          await ex.write(
            `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nEcho-Request-Id: ${ex.request.headers['request-id']}\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          await ex.write(body);
        },
        { readBody: false },
      );
      for (let i = 0; i < 5; i++) {
        const res = await client.request(fs.url('/ids'), {
          method: 'POST',
          headers: { ...expect, 'Request-Id': `id-${i}` },
          body: `body-${i}`,
        });
        assert.equal(res.headers['echo-request-id'], `id-${i}`);
        assert.equal(await res.text(), `body-${i}`);
      }
      assert.equal(fs.connections, 1);
      await assertQuiet(transport);
    },
  );

  it('GO-17: a trace sees wait100Continue and got100Continue', T, async (t) => {
    const { fs, transport, client } = await setup(t, { expectContinueTimeout: 2000 });
    const events: string[] = [];
    const res = await client.request(fs.url('/expect-continue?mode=continue'), {
      method: 'PUT',
      headers: expect,
      body: five,
      trace: {
        wait100Continue: () => events.push('wait100Continue'),
        got100Continue: () => events.push('got100Continue'),
        wroteRequest: () => events.push('wroteRequest'),
      },
    });
    await res.text();
    assert.deepEqual(events, ['wait100Continue', 'got100Continue', 'wroteRequest']);
    await assertQuiet(transport);
  });
});

describe('response bodies: trailers and streaming', () => {
  it(
    'GO-21 / UN-18: declared trailer names are visible up front; sent trailers after EOF; missing ones absent',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      fs.route('/late-trailers', async (ex) => {
        await ex.write(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Server-Trailer-A, Server-Trailer-B\r\n\r\n5\r\nhello\r\n',
        );
        await ex.sleep(100);
        await ex.write('6\r\n world\r\n0\r\nServer-Trailer-A: valuea\r\nServer-Trailer-C: valuec\r\n\r\n');
      });
      const res = await client.request(fs.url('/late-trailers'));
      assert.equal(res.headers.trailer, 'Server-Trailer-A, Server-Trailer-B');
      assert.deepEqual({ ...res.trailers }, {}, 'no values before the body ends');
      assert.equal(await res.text(), 'hello world');
      assert.deepEqual({ ...res.trailers }, { 'server-trailer-a': 'valuea', 'server-trailer-c': 'valuec' });
      await assertQuiet(transport);
      assert.equal(
        transport.stats().totals.idle,
        1,
        'a chunked body with trailers leaves the socket reusable',
      );
    },
  );

  it(
    'UN-18: the built-in /trailers: X-Checksum and X-Extra are exposed, the declared X-Missing is absent',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      const res = await client.request(fs.url('/trailers'));
      assert.equal(await res.text(), 'hello world');
      assert.deepEqual({ ...res.trailers }, { 'x-checksum': 'abc123', 'x-extra': '1' });
      await assertQuiet(transport);
    },
  );

  it('GO-19b: streamed chunks reach the caller as they are sent, not at EOF', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/chunked?n=40&chunks=4&interval=150'));
    const at: number[] = [];
    for await (const _ of res.body) at.push(performance.now());
    assert.ok(at.length >= 4, `${at.length} reads`);
    assert.ok(at[at.length - 1]! - at[0]! > 300, 'chunks arrived spread over time');
    await assertQuiet(transport);
  });

  it(
    'GO-19a: destroying an endless body returns promptly; the server sees the socket close; reading after fails',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t);
      fs.route('/young', async (ex) => {
        await ex.writeHead(200, { 'Transfer-Encoding': 'chunked' });
        while (!ex.closed) {
          await ex.write('6\r\nyoung\n\r\n');
          await ex.sleep(5);
        }
      });
      const res = await client.request(fs.url('/young'));
      const it = res.body[Symbol.asyncIterator]();
      for (let i = 0; i < 3; i++) assert.equal((await it.next()).done, false);
      const started = performance.now();
      res.body.destroy();
      assert.ok(performance.now() - started < 50);
      assert.ok(await clientClosed(fs, 1), 'the server sees the socket close');
      await assert.rejects(async () => {
        const r = await it.next();
        if (r.done) throw new Error('no more data');
      });
      await assertQuiet(transport);
    },
  );

  it('UN-15a / PF-07: Content-Length 10, 3 bytes, FIN: truncated-body, never a clean end', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/truncated?length=10&send=3'));
    await assert.rejects(res.text(), reasonIs('truncated-body'));
    await assertQuiet(transport);
  });

  it('a body read twice fails with HG_BODY_USED', T, async (t) => {
    const { fs, transport, client } = await setup(t);
    const res = await client.request(fs.url('/ok'));
    assert.equal(await res.text(), 'ok');
    await assert.rejects(
      res.text(),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_BODY_USED',
    );
    await assertQuiet(transport);
  });

  // SPEC §4: every error names its request (adv-otel5: HG_BODY_USED had no method or url).
  const misuses: [string, (r: Awaited<ReturnType<import('../src/index.js').Client['request']>>) => Promise<unknown>][] = [
    ['text twice', async (r) => { await r.text(); return r.text(); }],
    ['body then text', async (r) => { r.body.on('data', () => {}); return r.text(); }],
    ['dump then text', async (r) => { await r.dump(); return r.text(); }],
    ['text then readInto', async (r) => { await r.text(); return r.readInto(new Uint8Array(8)); }],
    ['readInto then body', async (r) => { await r.readInto(new Uint8Array(8)); return r.body; }],
  ];
  for (const [name, misuse] of misuses) {
    it(`HG_BODY_USED (${name}) carries the request's method and url`, T, async (t) => {
      const { fs, client } = await setup(t);
      const res = await client.request(fs.url('/ok?x=1'), { method: 'POST', body: 'a' });
      await assert.rejects(misuse(res), (e: unknown) => {
        assert.ok(e instanceof HourglassError && e.code === 'HG_BODY_USED', String(e));
        assert.equal(e.method, 'POST');
        assert.equal(e.url, fs.url('/ok?x=1'));
        return true;
      });
    });
  }
});

describe('response bodies: read-idle and throughput (HG-02..HG-05, PF-06, PF-07)', () => {
  it('HG-02: a drip of one byte every T/2 never trips readIdleTimeout T', T, async (t) => {
    const { fs, transport, client } = await setup(t, { readIdleTimeout: 150 });
    const res = await client.request(fs.url('/drip?bytes=10&interval=75'));
    assert.deepEqual(await res.bytes(), FaultServer.rangeContent(10));
    await assertQuiet(transport);
  });

  it('HG-03a: a server silent before the status line: read-idle at T, requestSent true', T, async (t) => {
    const { fs, transport, client } = await setup(t, { readIdleTimeout: 200, responseHeaderTimeout: 0 });
    const started = performance.now();
    const err = await client.request(fs.url('/never')).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    assert.ok(timeoutIn('read-idle')(err));
    assert.equal((err as TimeoutError).requestSent, true);
    assert.ok(took >= 190 && took < 450, `fired after ${took.toFixed(0)} ms`);
    assert.ok(await clientClosed(fs, 1), 'the socket is destroyed');
    await assertQuiet(transport);
  });

  it(
    'HG-03b: head + 3 bytes then silence: 3 bytes delivered, then read-idle; socket destroyed; a POST is not retried',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { readIdleTimeout: 200 });
      const res = await client.request(fs.url('/stall-body?after=3&length=10'), {
        method: 'POST',
        body: 'x',
      });
      const r = await readSlowly(res.body, 0);
      assert.equal(r.bytes, 3);
      assert.ok(timeoutIn('read-idle')(r.error));
      assert.equal((r.error as TimeoutError).requestSent, true);
      assert.ok(await clientClosed(fs, 1));
      assert.equal(fs.requests.length, 1);
      await assertQuiet(transport);
      assert.equal(transport.stats().totals.idle, 0);
    },
  );

  it(
    'PF-07: Content-Length 1000 with 10 bytes and an open socket ends by read-idle, not a hang',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { readIdleTimeout: 200 });
      const res = await client.request(fs.url('/stall-body?after=10&length=1000'));
      await assert.rejects(res.bytes(), timeoutIn('read-idle'));
      await assertQuiet(transport);
    },
  );

  it('HG-04: a 100 B/s drip fails min-throughput {1000 B/s, 500 ms} after about one window', T, async (t) => {
    const { fs, transport, client } = await setup(t, {
      minThroughput: { bytesPerSecond: 1000, window: 500 },
    });
    const res = await client.request(fs.url('/drip?bytes=300&interval=100&chunk=10'));
    const started = performance.now();
    const err = await res.bytes().then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    assert.ok(timeoutIn('min-throughput')(err));
    assert.equal((err as TimeoutError).timeout, 500);
    assert.ok(took >= 450 && took < 1200, `fired after ${took.toFixed(0)} ms`);
    await assertQuiet(transport);
  });

  it('HG-04: a 2 KB/s drip passes min-throughput {1000 B/s, 500 ms}', T, async (t) => {
    const { fs, transport, client } = await setup(t, {
      minThroughput: { bytesPerSecond: 1000, window: 500 },
    });
    const res = await client.request(fs.url('/drip?bytes=3000&interval=50&chunk=100'));
    assert.equal((await res.bytes()).length, 3000);
    await assertQuiet(transport);
  });

  it(
    'HG-05a: 1 MiB sent at once and read slowly (pauses of 2T) never trips readIdleTimeout T',
    T,
    async (t) => {
      const { fs, transport, client } = await setup(t, { readIdleTimeout: 100 });
      const res = await client.request(fs.url(`/bytes?n=${1024 * 1024}`));
      const r = await readSlowly(res.body, 200);
      assert.equal(r.error, undefined, String(r.error));
      assert.equal(r.bytes, 1024 * 1024);
      await assertQuiet(transport);
    },
  );

  it(
    'HG-05b / PF-06: a stall before the last 1 KiB fires only after the consumer drained everything buffered',
    T,
    async (t) => {
      const idleT = 100;
      const { fs, transport, client } = await setup(t, { readIdleTimeout: idleT });
      const total = 512 * 1024;
      fs.route('/stall-end', async (ex) => {
        await ex.writeHead(200, { 'Content-Length': total });
        await ex.write(Buffer.alloc(total - 1024, 's'));
        await ex.stall();
      });
      const res = await client.request(fs.url('/stall-end'));
      const r = await readSlowly(res.body, 2 * idleT);
      assert.ok(timeoutIn('read-idle')(r.error));
      assert.equal(r.bytes, total - 1024, 'every byte sent was delivered before the timeout');
      await assertQuiet(transport);
    },
  );

  it('HG-05b / PF-06: body bytes received but not yet read are delivered before a read-idle timeout (unread buffer < 64 KiB)', T, async (t) => {
    const idleT = 100;
    const { fs, transport, client } = await setup(t, { readIdleTimeout: idleT });
    fs.route('/pieces', async (ex) => {
      await ex.writeHead(200, { 'Content-Length': 40 * 1024 });
      for (let i = 0; i < 3; i++) {
        await ex.write(Buffer.alloc(10 * 1024, 'p'));
        await ex.sleep(20);
      }
      await ex.stall(); // the last 10 KiB never come
    });
    const res = await client.request(fs.url('/pieces'));
    const body = res.body; // stream mode from the start
    body.on('error', () => {}); // a failure is observed through the reads below
    await sleep(3 * idleT); // the caller is busy: 30 KiB wait unread, below the high-water mark
    const started = performance.now();
    const r = await readSlowly(body, 0);
    assert.equal(r.bytes, 30 * 1024, 'what arrived is delivered before the timeout');
    assert.ok(timeoutIn('read-idle')(r.error));
    const after = r.endedAt - started;
    assert.ok(after >= idleT - 10, `timed out ${after.toFixed(0)} ms after the caller started reading`);
    await assertQuiet(transport);
  });

  it('HG-05b: the read-idle clock pauses while nobody consumes the body (backpressure)', T, async (t) => {
    const { fs, transport, client } = await setup(t, { readIdleTimeout: 100 });
    fs.route('/pause', async (ex) => {
      await ex.writeHead(200, { 'Content-Length': 300 * 1024 });
      await ex.write(Buffer.alloc(300 * 1024, 'p'));
    });
    const res = await client.request(fs.url('/pause'));
    await sleep(400); // nobody reads for four read-idle periods
    assert.equal((await res.bytes()).length, 300 * 1024);
    await assertQuiet(transport);
  });
});
