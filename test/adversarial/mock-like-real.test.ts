// Adversarial suite, MockTransport stalls look like the real thing (SPEC §12 "stalls: the
// deadline, signal and responseHeaderTimeout still fire, with the same TimeoutError
// fields"; issue 15). Each case runs the same stall twice — against a FaultServer through
// a Transport, and against a MockTransport with the same options — and compares the
// errors field by field: class, code, phase, activePhase, timeout, requestSent, method,
// the message (URL and elapsed ms masked), the abort's cause; `elapsed` is checked for
// both against the configured limit. A stalled head is FaultServer `/never` vs
// `.stall()`; a stalled body is `/stall-body` (head, 3 bytes, silence) vs a reply whose
// stream body gives 3 bytes and then nothing.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { AbortError, Client, HourglassError, type RoundTripper, TimeoutError, Transport } from '../../src/index.js';
import { FaultServer, MockTransport } from '../../src/testing/index.js';

const T = { timeout: 10_000 };
const LIMIT = 150;
/** How late a limit may fire on a loaded 2-core machine. */
const LATE = 600;

interface Case {
  /** What stalls: the head, the body after its first 3 bytes, or the request's own body. */
  stall: 'head' | 'body' | 'upload';
  transport?: { responseHeaderTimeout?: number; readIdleTimeout?: number; writeTimeout?: number };
  request?: { timeouts?: { responseHeaderTimeout?: number; readIdleTimeout?: number; writeTimeout?: number } };
  /** Client `timeout` (the overall deadline). */
  deadline?: number;
  /** Abort the request's signal after this many ms. */
  abortAfter?: number;
  /** Expected on both sides. */
  want: { kind: 'timeout'; phase: string; activePhase?: string; timeout: number } | { kind: 'abort' };
}

/** The error of one stalled request, with the time it took. */
async function stalled(t: TestContext, side: 'real' | 'mock', c: Case): Promise<{ err: unknown; ms: number; url: string; upload?: Readable }> {
  let rt: RoundTripper;
  let url: string;
  if (side === 'real') {
    const fs = await FaultServer.start();
    t.after(() => fs.close());
    rt = new Transport({ ...c.transport });
    url = fs.url(c.stall === 'body' ? '/stall-body?after=3&length=10' : '/never');
  } else {
    const mock = new MockTransport({ ...c.transport });
    url = 'http://api.test/stalled';
    if (c.stall === 'head') mock.on('GET', url).stall();
    else if (c.stall === 'upload') mock.on('POST', url).reply(200, 'never reached');
    else {
      const body = new Readable({ read() {} });
      body.push('abc'); // then silence, never ended
      mock.on('GET', url).reply(200, body, { 'Content-Type': 'application/octet-stream', 'Content-Length': '10' });
    }
    rt = mock;
  }
  const client = new Client({ transport: rt, timeout: c.deadline });
  t.after(() => client.close());
  const reason = new Error('caller gave up');
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (c.abortAfter !== undefined) timer = setTimeout(() => ac.abort(reason), c.abortAfter);
  t.after(() => clearTimeout(timer));
  const t0 = performance.now();
  // An upload that gives its first bytes, then nothing (never ends).
  const upload = c.stall === 'upload' ? { method: 'POST', body: new Readable({ read() {} }).on('error', () => {}) } : {};
  if (upload.body !== undefined) upload.body.push('first bytes');
  try {
    const res = await client.request(url, { signal: ac.signal, ...upload, ...c.request });
    assert.equal(c.stall, 'body', `${side}: the head of a stalled head arrived`);
    assert.equal(res.status, 200);
    await res.text();
  } catch (err) {
    if (err instanceof AbortError) assert.equal(err.cause, reason, `${side}: the abort's cause is the signal's reason`);
    return { err, ms: performance.now() - t0, url, upload: upload.body };
  }
  assert.fail(`${side}: the stall was not cut`);
}

/** The fields a caller reads, with what differs by nature (URL, elapsed ms) masked. */
function fields(err: unknown, url: string): Record<string, unknown> {
  assert.ok(err instanceof HourglassError, `expected an HourglassError, got ${String(err)}`);
  const out: Record<string, unknown> = {
    class: err.constructor.name,
    name: err.name,
    code: err.code,
    method: err.method,
    message: err.message.replaceAll(url, '<url>').replace(/\d+ ms elapsed/, '<n> ms elapsed'),
  };
  if (err instanceof TimeoutError) {
    Object.assign(out, { phase: err.phase, activePhase: err.activePhase, timeout: err.timeout, requestSent: err.requestSent });
  }
  return out;
}

const CASES: Array<[string, Case]> = [
  ['stalled head, responseHeaderTimeout', { stall: 'head', transport: { responseHeaderTimeout: LIMIT }, want: { kind: 'timeout', phase: 'response-headers', timeout: LIMIT } }],
  ['stalled head, readIdleTimeout (silence before the head is read-idle too)', { stall: 'head', transport: { readIdleTimeout: LIMIT }, want: { kind: 'timeout', phase: 'read-idle', timeout: LIMIT } }],
  ['stalled head, the request\'s own timeouts', { stall: 'head', request: { timeouts: { responseHeaderTimeout: LIMIT } }, want: { kind: 'timeout', phase: 'response-headers', timeout: LIMIT } }],
  ['stalled head, overall deadline', { stall: 'head', deadline: LIMIT, want: { kind: 'timeout', phase: 'request', activePhase: 'response-headers', timeout: LIMIT } }],
  ['stalled head, signal', { stall: 'head', abortAfter: LIMIT, want: { kind: 'abort' } }],
  ['stalled upload, overall deadline (the request is being sent: activePhase write)', { stall: 'upload', deadline: LIMIT, want: { kind: 'timeout', phase: 'request', activePhase: 'write', timeout: LIMIT } }],
  ['stalled upload, the request\'s writeTimeout (the mock reads every body: its write clock runs as the real writer\'s)', { stall: 'upload', request: { timeouts: { writeTimeout: LIMIT } }, want: { kind: 'timeout', phase: 'write', timeout: LIMIT } }],
  ['stalled upload, the transport\'s writeTimeout', { stall: 'upload', transport: { writeTimeout: LIMIT }, want: { kind: 'timeout', phase: 'write', timeout: LIMIT } }],
  ['stalled body, readIdleTimeout', { stall: 'body', transport: { readIdleTimeout: LIMIT }, want: { kind: 'timeout', phase: 'read-idle', timeout: LIMIT } }],
  ['stalled body, the request\'s readIdleTimeout', { stall: 'body', request: { timeouts: { readIdleTimeout: LIMIT } }, want: { kind: 'timeout', phase: 'read-idle', timeout: LIMIT } }],
  ['stalled body, overall deadline', { stall: 'body', deadline: LIMIT * 2, want: { kind: 'timeout', phase: 'request', activePhase: 'body', timeout: LIMIT * 2 } }],
  ['stalled body, signal', { stall: 'body', abortAfter: LIMIT, want: { kind: 'abort' } }],
];

describe('adversarial: a MockTransport stall fails as the same stall on the wire', () => {
  for (const [name, c] of CASES) {
    it(name, T, async (t) => {
      const real = await stalled(t, 'real', c);
      const mock = await stalled(t, 'mock', c);
      const r = fields(real.err, real.url);
      const m = fields(mock.err, mock.url);
      assert.deepEqual(m, r, 'the mock error reads as the real one');
      const w = c.want;
      if (w.kind === 'abort') {
        assert.equal(r.class, 'AbortError');
      } else {
        assert.equal(r.phase, w.phase, String(r.message));
        assert.equal(r.activePhase, w.activePhase, String(r.message));
        assert.equal(r.timeout, w.timeout);
        assert.equal(r.requestSent, true, 'the request had been sent (received, for the mock)');
        for (const [side, x] of [['real', real], ['mock', mock]] as const) {
          const e = x.err as TimeoutError;
          assert.ok(e.elapsed >= w.timeout - 5 && e.elapsed <= w.timeout + LATE, `${side}: elapsed ${e.elapsed}`);
        }
      }
      for (const [side, x] of [['real', real], ['mock', mock]] as const) {
        // A stalled upload's stream is given up on: destroyed, by the mock as by the writer.
        if (c.stall === 'upload') assert.equal(x.upload?.destroyed, true, `${side}: the upload stream was left open`);
        const limit = c.deadline ?? c.abortAfter ?? LIMIT;
        assert.ok(x.ms >= limit - 5 && x.ms <= limit + LATE, `${side}: settled after ${Math.round(x.ms)} ms`);
      }
    });
  }
});

describe('adversarial: a mock stream body\'s read-idle clock runs only while the caller waits, as a wire body\'s', () => {
  /** A stream that gives `n` chunks `every` ms apart, then ends. */
  function dripping(n: number, every: number): Readable {
    let sent = 0;
    return new Readable({
      read() {
        if (sent === n) return void this.push(null);
        setTimeout(() => this.push(`chunk${sent++};`), every);
      },
    });
  }

  it('chunks closer than the limit keep the body alive (the clock restarts on every chunk)', T, async (t) => {
    const mock = new MockTransport({ readIdleTimeout: 120 });
    mock.on('GET', 'http://api.test/drip').reply(200, dripping(6, 50));
    const client = new Client({ transport: mock });
    t.after(() => client.close());
    const res = await client.request('http://api.test/drip');
    assert.equal(await res.text(), 'chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;');
  });

  it('a caller that pauses longer than the limit is not blamed on the server (the clock waits for demand)', T, async (t) => {
    const mock = new MockTransport({ readIdleTimeout: 100 });
    mock.on('GET', 'http://api.test/slow-reader').reply(200, dripping(3, 10));
    const client = new Client({ transport: mock });
    t.after(() => client.close());
    const res = await client.request('http://api.test/slow-reader');
    const buf = new Uint8Array(64);
    let text = '';
    for (let n; (n = await res.readInto(buf)) > 0; ) {
      text += Buffer.from(buf.subarray(0, n)).toString();
      await new Promise((r) => setTimeout(r, 250)); // the caller is busy, not the server
    }
    assert.equal(text, 'chunk0;chunk1;chunk2;');
  });

  it('a body that stalls fails read-idle and leaves no timer behind', T, async (t) => {
    const mock = new MockTransport({ readIdleTimeout: 100 });
    const body = new Readable({ read() {} });
    body.push('abc');
    mock.on('GET', 'http://api.test/stall').reply(200, body);
    const client = new Client({ transport: mock });
    t.after(() => client.close());
    const res = await client.request('http://api.test/stall');
    await assert.rejects(res.text(), (e: unknown) => e instanceof TimeoutError && e.phase === 'read-idle');
    assert.ok(body.destroyed, 'the source stream was stopped');
    await new Promise((r) => setImmediate(r));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.equal(after, 0, 'no timer keeps the process alive');
  });
});
