// Scenario corpus §7.1 (SE-01, SE-02): the RoundTripper seam (SPEC §12). A Client over
// a user-written RoundTripper: what the transport is handed (OutgoingRequest's fields),
// and what the client does with what it gets back (a mock 303 goes through the redirect
// policy, a bodiless Response.from reads as '', `undefined` is a typed error, `close()`
// is optional, a non-RoundTripper is refused at construction). A real loopback listener
// counts connections to prove that no socket is opened.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  Client,
  HourglassError,
  type OutgoingRequest,
  type RedirectRequest,
  type RedirectVia,
  Response,
  type RoundTripper,
} from '../../src/index.js';
import { countingListener } from './helpers.js';

const T = { timeout: 10_000 };

interface Seen {
  method: string;
  url: URL;
  headers: [string, string][];
  headersMutable: boolean;
  replayable: boolean | undefined;
  attempt: number;
  signal: AbortSignal | undefined;
  expiresAt: number | undefined;
  remaining: number;
  at: number;
}

/** Go's recordingTransport: records each request and answers 204 without any I/O. */
class Recorder implements RoundTripper {
  readonly seen: Seen[] = [];
  async roundTrip(req: OutgoingRequest): Promise<Response> {
    let headersMutable = true;
    try {
      req.headers.set('x-recorder', '1');
      headersMutable = req.headers.get('X-Recorder') === '1';
    } catch {
      headersMutable = false;
    }
    this.seen.push({
      method: req.method,
      url: req.url,
      headers: [...req.headers.entries()],
      headersMutable,
      replayable: req.body?.replayable,
      attempt: req.attempt,
      signal: req.signal,
      expiresAt: req.deadline.expiresAt,
      remaining: req.deadline.remaining(),
      at: Date.now(),
    });
    // A stream body is drained as a real transport would send it.
    const body = req.body?.open();
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      for await (const chunk of body) void chunk;
    }
    return Response.from({ status: 204, url: req.url.href });
  }
}

describe('SE-01: a recording RoundTripper sees the request as SPEC §12 describes it', () => {
  it('SE-01: GET, POST string, POST stream: no socket, method/URL/headers/body/attempt/signal/deadline as documented, the caller gets the 204', T, async (t) => {
    const real = await countingListener(t);
    const recorder = new Recorder();
    const client = new Client({ transport: recorder });
    t.after(() => client.close());
    const ac = new AbortController();

    const r1 = await client.request(`${real.url}/get`, { headers: { 'X-Mixed-Case': 'v' }, signal: ac.signal });
    assert.equal(r1.status, 204);
    assert.equal(await r1.text(), '');
    const r2 = await client.request(`${real.url}/post`, { method: 'POST', body: 'hello' });
    assert.equal(r2.status, 204);
    const r3 = await client.request(`${real.url}/stream`, { method: 'POST', body: Readable.from([Buffer.from('abc')]) });
    assert.equal(r3.status, 204);

    assert.equal(recorder.seen.length, 3);
    const [get, post, stream] = recorder.seen as [Seen, Seen, Seen];
    assert.equal(get.method, 'GET');
    assert.equal(post.method, 'POST');
    assert.equal(stream.method, 'POST');
    for (const s of recorder.seen) {
      assert.ok(s.url instanceof URL, 'url is a URL');
      assert.equal(s.attempt, 0);
      assert.ok(s.headersMutable, 'headers are mutable (set/get)');
      for (const [name] of s.headers) assert.equal(name, name.toLowerCase(), `header name ${name} is lower-cased`);
      assert.equal(s.expiresAt, undefined, 'no timeout: expiresAt undefined');
      assert.equal(s.remaining, Infinity, 'no timeout: remaining() is Infinity');
    }
    assert.equal(get.url.href, `${real.url}/get`);
    assert.ok(get.headers.some(([n, v]) => n === 'x-mixed-case' && v === 'v'), JSON.stringify(get.headers));
    assert.ok(get.signal instanceof AbortSignal, 'the request carries a signal');
    assert.equal(get.replayable, undefined, 'GET without body: no body');
    assert.equal(post.replayable, true, 'a string body is replayable');
    assert.equal(stream.replayable, false, 'a stream body is not replayable');
    assert.equal(real.accepts(), 0, 'no socket was opened');
  });

  it('SE-01b: with timeout = T the recorder sees expiresAt ≈ now + T and remaining() ≤ T', T, async (t) => {
    const recorder = new Recorder();
    const client = new Client({ transport: recorder, timeout: 250 });
    t.after(() => client.close());
    const before = Date.now();
    const res = await client.request('http://origin.invalid/x');
    assert.equal(res.status, 204);
    const s = recorder.seen[0]!;
    assert.ok(s.expiresAt !== undefined, 'expiresAt is set');
    assert.ok(s.expiresAt >= before + 250 - 5 && s.expiresAt <= s.at + 250 + 5, `expiresAt ${s.expiresAt - before} ms after the call`);
    assert.ok(s.remaining > 0 && s.remaining <= 250, `remaining ${s.remaining}`);
  });
});

describe('SE-02: what the client does with what a RoundTripper returns', () => {
  it('SE-02a: a mock 303 goes through the redirect policy (redirects lists the new URL, checkRedirect sees via)', T, async (t) => {
    const seen: string[] = [];
    let n = 0;
    const transport: RoundTripper = {
      roundTrip: async (req) => {
        seen.push(`${req.method} ${req.url.href}`);
        if (n++ === 0) return Response.from({ status: 303, headers: { location: 'http://example.com/' }, url: req.url.href });
        return Response.from({ status: 200, body: 'final', url: req.url.href });
      },
    };
    const calls: { next: RedirectRequest; via: RedirectVia[] }[] = [];
    const client = new Client({
      transport,
      checkRedirect: (next, via) => {
        calls.push({ next, via: via.map((v) => ({ ...v })) });
      },
    });
    t.after(() => client.close());
    const res = await client.request('http://origin.test/start', { method: 'POST', body: 'x' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'final');
    assert.deepEqual(res.redirects, ['http://example.com/']);
    assert.equal(res.url, 'http://example.com/');
    assert.deepEqual(seen, ['POST http://origin.test/start', 'GET http://example.com/']);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.next.url, 'http://example.com/');
    assert.equal(calls[0]!.via.length, 1);
    assert.equal(calls[0]!.via[0]!.url, 'http://origin.test/start');
    assert.equal(calls[0]!.via[0]!.status, 303);
  });

  it('SE-02b: Response.from without a body reads as the empty string', T, async (t) => {
    const transport: RoundTripper = { roundTrip: async (req) => Response.from({ status: 200, url: req.url.href }) };
    const client = new Client({ transport });
    t.after(() => client.close());
    const res = await client.request('http://origin.test/');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('SE-02c: a transport resolving undefined rejects with a typed HourglassError naming the transport, not a hang or TypeError', T, async (t) => {
    // SPEC §12 (which the corpus row leaves open, §7.5): HG_BAD_RESPONSE.
    const transport: RoundTripper = { roundTrip: async () => undefined as unknown as Response };
    const client = new Client({ transport, timeout: 2_000 });
    t.after(() => client.close());
    const start = performance.now();
    const err = await client.request('http://origin.test/').then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(performance.now() - start < 1_000, 'settles at once');
    assert.ok(err instanceof HourglassError, String(err));
    assert.ok(!(err instanceof TypeError));
    assert.equal(err.code, 'HG_BAD_RESPONSE');
    assert.match(err.message, /RoundTripper|transport/i);
  });

  it('SE-02d: client.close() calls the transport close() when present, and is fine when absent', T, async () => {
    let closed = 0;
    const closing: RoundTripper = {
      roundTrip: async (req) => Response.from({ status: 200, url: req.url.href }),
      close: () => void closed++,
    };
    const withClose = new Client({ transport: closing });
    await withClose.close();
    assert.equal(closed, 1);
    const plain: RoundTripper = { roundTrip: async (req) => Response.from({ status: 200, url: req.url.href }) };
    const without = new Client({ transport: plain });
    await without.close();
  });

  it('SE-02e: transport: {} is HG_INVALID_ARG at construction', T, () => {
    assert.throws(
      () => new Client({ transport: {} as unknown as RoundTripper }),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
    );
  });
});
