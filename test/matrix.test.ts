// The fault matrix: every FaultServer behaviour × {fresh, reused connection} × {GET,
// POST with a string body} × {without, with an overall client timeout}. Each case
// checks that the request ends within its bound with the outcome SPEC §4/§6/§11 names
// (class + phase/reason, written down in FAULTS below), that the retry rules of §4 held
// (requests the server saw), that the pool is quiet afterwards (stats: nothing active,
// dialing or waiting), that it is still usable (a following `/ok` succeeds, reusing the
// connection exactly when the fault left it reusable), that every error carries the
// request's method and url, and that after `client.close()` the client has closed
// every connection the server accepted. The well-formed-but-unusual `/edge/*`
// responses run through the same matrix. Then: releasing a body that already failed
// (`body.destroy()`, `dump()`), coverage of the server's fault routes, a FaultServer
// check (no half-open socket left by a stalled exchange), and no leaked handle/timer.
//
// Every case has its own FaultServer and Client, so server-side counters belong to it
// alone; cases run CONCURRENCY at a time (node:test `concurrency`).
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  Client,
  HourglassError,
  isTimeout,
  ProtocolError,
  type ProtocolReason,
  RedirectError,
  type RequestOptions,
  type Response,
  TimeoutError,
  type TimeoutPhase,
  Transport,
} from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import {
  diffCounts,
  exceeds,
  formatCounts,
  type ResourceSnapshot,
  snapshot,
  waitForBaseline,
  waitUntil,
} from './helpers/resources.js';

// ---------------------------------------------------------------------------------
// Configuration: phase timeouts short enough that every case ends fast.
// ---------------------------------------------------------------------------------

const HEADER_TIMEOUT = 250;
const READ_IDLE = 350;
const OVERALL = 1500;
/** Lateness allowed on top of a due time (cases run concurrently on a possibly busy box). */
const LATE = 350;
/** Bound for a case that involves no timer at all. */
const INSTANT = 1200;
const CONCURRENCY = 8;
const BODY = 'matrix body: ünïcode ✓';

type ConnMode = 'fresh' | 'reused';
type Method = 'GET' | 'POST';
interface Variant {
  conn: ConnMode;
  method: Method;
  timeout: number | undefined;
}

/** What the measured request must end with. */
type Outcome =
  | {
      kind: 'ok';
      status: number;
      /** Expected body (string compared as UTF-8); undefined = not checked. */
      body?: string | Buffer;
      /** Whether the connection may carry the next request. */
      reusable: boolean | 'any';
    }
  | { kind: 'timeout'; phase: TimeoutPhase; timeout: number; at: 'head' | 'body' }
  | {
      kind: 'protocol';
      reasons: readonly ProtocolReason[];
      at: 'head' | 'body' | 'any';
      /** `cause.code` required (e.g. ECONNRESET); undefined = not checked. */
      causeCode?: string;
      /** Default false: a failed connection is never reused. */
      reusable?: boolean | 'any';
    }
  | { kind: 'redirect'; redirects: number };

interface IdleFault {
  /** ms to wait after the faulting response before the measured request. */
  wait: number;
  /** Extra checks right after the faulting response (before the wait). */
  before?: (c: CaseContext) => void;
  /** Extra checks after the wait. */
  after?: (c: CaseContext) => void;
}

interface FaultRow {
  fault: string;
  /** Path (and query) on the fault server. */
  path: string;
  expect: Outcome | ((v: Variant) => Outcome);
  /** Requests the server must see for `path` (default 1: no retry). */
  hits?: (v: Variant) => number;
  /** Whether the response (when there is one) came over a reused connection (default: v.conn === 'reused'). */
  resReused?: (v: Variant) => boolean;
  /** Extra request options. */
  options?: (v: Variant) => RequestOptions;
  /** Scripted routes for this case. */
  setup?: (fs: FaultServer) => void;
  /**
   * Idle faults: `path` answers fine and then spoils its idle connection; the
   * measured request is `/ok` afterwards, which must succeed on a new connection.
   */
  idle?: IdleFault;
  /** Bound (ms) for the measured request to settle; default from the outcome. */
  bound?: number;
  /** The route answers without reading the request body (default: it reads it). */
  serverReadsBody?: boolean;
}

interface CaseContext {
  fs: FaultServer;
  client: Client;
  transport: Transport;
  v: Variant;
}

// ---------------------------------------------------------------------------------
// The expectation table.
// ---------------------------------------------------------------------------------

const ok = (status: number, body: string | Buffer | undefined, reusable: boolean | 'any'): Outcome => ({
  kind: 'ok',
  status,
  ...(body === undefined ? {} : { body }),
  reusable,
});
const timeout = (phase: TimeoutPhase, ms: number, at: 'head' | 'body'): Outcome => ({
  kind: 'timeout',
  phase,
  timeout: ms,
  at,
});
const protocol = (
  at: 'head' | 'body' | 'any',
  reasons: readonly ProtocolReason[],
  extra: { causeCode?: string; reusable?: boolean | 'any' } = {},
): Outcome => ({ kind: 'protocol', reasons, at, ...extra });

/**
 * SPEC §4: a reset or EOF on a *reused* idle connection before any response byte is
 * retried on a new connection when the request is replayable (GET here; POST is not)
 * — and a fresh connection is tried at most once. So a fault that kills every
 * connection before the head is seen twice by the server for GET on a reused one.
 */
const staleRetry = (v: Variant): number => (v.conn === 'reused' && v.method === 'GET' ? 2 : 1);
/** The retried attempt (if any) went over a new connection: that response is never `reused`. */
const retriedToFresh = (): boolean => false;

const minThroughput = (bytesPerSecond: number, window: number) => (): RequestOptions => ({
  timeouts: { minThroughput: { bytesPerSecond, window } },
});

const text = FaultServer.compressedText;
const TEXT: [string, string] = ['Content-Type', 'text/plain'];

// One fault per line: the table reads as a table.
const FAULTS: FaultRow[] = [
  // Well-behaved baselines.
  { fault: 'ok', path: '/ok', expect: ok(200, 'ok', true) },
  { fault: 'chunked slowly', path: '/chunked?n=26&chunks=3&interval=40', expect: ok(200, FaultServer.rangeContent(26), true), bound: 120 + INSTANT },
  { fault: 'trailers', path: '/trailers', expect: ok(200, 'hello world', true) },
  // Time faults.
  { fault: 'delayed headers beyond the header timeout', path: '/delay-headers?ms=900', expect: timeout('response-headers', HEADER_TIMEOUT, 'head') },
  { fault: 'never answers', path: '/never', expect: timeout('response-headers', HEADER_TIMEOUT, 'head') },
  { fault: 'head dripped past the header timeout', path: '/drip-headers?interval=40', expect: timeout('response-headers', HEADER_TIMEOUT, 'head') },
  { fault: '1xx then silence (1xx do not stop the header clock)', path: '/1xx?codes=103&delay=900', expect: timeout('response-headers', HEADER_TIMEOUT, 'head') },
  { fault: 'slow drip within limits', path: '/drip?bytes=6&interval=40', expect: ok(200, FaultServer.rangeContent(6), true), options: minThroughput(5, 200), bound: 240 + INSTANT },
  { fault: 'slow drip below minThroughput', path: '/drip?bytes=40&interval=100', expect: timeout('min-throughput', 300, 'body'), options: minThroughput(50, 300) },
  { fault: 'stall mid-body', path: '/stall-body?after=3&length=10', expect: timeout('read-idle', READ_IDLE, 'body') },
  {
    fault: 'never answers, phase clocks off',
    path: '/never',
    options: (v) => (v.timeout === undefined ? {} : { timeouts: { responseHeaderTimeout: 0, readIdleTimeout: 0 } }),
    expect: (v) => (v.timeout === undefined ? timeout('response-headers', HEADER_TIMEOUT, 'head') : timeout('request', OVERALL, 'head')),
  },
  {
    fault: 'stall mid-body, read-idle off',
    path: '/stall-body?after=3&length=10',
    options: (v) => (v.timeout === undefined ? {} : { timeouts: { readIdleTimeout: 0 } }),
    expect: (v) => (v.timeout === undefined ? timeout('read-idle', READ_IDLE, 'body') : timeout('request', OVERALL, 'body')),
  },
  // Socket faults. A reset follows its data by 100 ms: when the data and the RST reach a
  // busy client in one loop turn, libuv reports the RST as a plain EOF (POLLHUP after a
  // partial read), and the cause (ECONNRESET) is lost below the library.
  { fault: 'reset after headers', path: '/reset-after-headers?wait=100', expect: protocol('body', ['truncated-body'], { causeCode: 'ECONNRESET' }) },
  { fault: 'reset mid-body', path: '/reset-mid-body?length=100&send=10&wait=100', expect: protocol('body', ['truncated-body'], { causeCode: 'ECONNRESET' }) },
  { fault: 'reset before headers', path: '/reset-before-headers', expect: protocol('head', ['connection-closed'], { causeCode: 'ECONNRESET' }), hits: staleRetry },
  { fault: 'FIN before headers', path: '/close-before-headers', expect: protocol('head', ['connection-closed']), hits: staleRetry },
  {
    fault: 'reset before headers, once',
    path: '/reset-once',
    setup: (fs) => {
      let n = 0;
      fs.route('/reset-once', (ex) => (++n === 1 ? ex.reset() : ex.respond(200, [TEXT], 'ok')));
    },
    expect: (v) => (staleRetry(v) === 2 ? ok(200, 'ok', true) : protocol('head', ['connection-closed'], { causeCode: 'ECONNRESET' })),
    hits: staleRetry,
    resReused: retriedToFresh,
  },
  {
    fault: 'FIN before headers, once',
    path: '/fin-once',
    setup: (fs) => {
      let n = 0;
      fs.route('/fin-once', (ex) => (++n === 1 ? ex.end() : ex.respond(200, [TEXT], 'ok')));
    },
    expect: (v) => (staleRetry(v) === 2 ? ok(200, 'ok', true) : protocol('head', ['connection-closed'])),
    hits: staleRetry,
    resReused: retriedToFresh,
  },
  {
    fault: 'reset before headers, once, with Idempotency-Key',
    path: '/reset-once-key',
    setup: (fs) => {
      let n = 0;
      fs.route('/reset-once-key', (ex) => (++n === 1 ? ex.reset() : ex.respond(200, [TEXT], 'ok')));
    },
    options: () => ({ headers: { 'Idempotency-Key': 'matrix-1' } }),
    // §4: any method carrying the key with a replayable body is retried like a GET.
    expect: (v) => (v.conn === 'reused' ? ok(200, 'ok', true) : protocol('head', ['connection-closed'], { causeCode: 'ECONNRESET' })),
    hits: (v) => (v.conn === 'reused' ? 2 : 1),
    resReused: retriedToFresh,
  },
  { fault: 'early final response, then FIN', path: '/early-response?status=413&close=1', expect: ok(413, 'early', false), serverReadsBody: false },
  { fault: 'truncated body (FIN)', path: '/truncated?length=100&send=10', expect: protocol('body', ['truncated-body']) },
  { fault: 'connection-close', path: '/connection-close', expect: ok(200, 'ok', false) },
  // Idle faults: the connection is spoiled while idle; the next request must not use it.
  {
    fault: 'close of idle connection before reuse',
    path: '/close-idle?ms=40',
    expect: ok(200, 'ok', true),
    idle: { wait: 200 },
  },
  {
    fault: 'unsolicited response on the idle connection',
    path: '/poison?ms=30',
    expect: ok(200, 'ok', true),
    idle: { wait: 200 },
  },
  {
    fault: '408 and FIN on the idle connection',
    path: '/idle-408?ms=30',
    expect: ok(200, 'ok', true),
    idle: { wait: 200 },
  },
  {
    fault: 'keep-alive hint (timeout=1)',
    path: '/keepalive?timeout=1',
    expect: ok(200, 'ok', true),
    idle: {
      wait: 950,
      before: ({ transport }) => assert.equal(transport.stats().totals.idle, 1, 'idle right after the response'),
      after: ({ fs }) => {
        const last = fs.connectionLog.at(-1)!;
        assert.equal(last.clientEnded, 'fin', 'the client closed the hinted connection before the server would');
      },
    },
  },
  // Content codings.
  { fault: 'gzip', path: '/gzip', expect: ok(200, text, true) },
  { fault: 'gzip chunked', path: '/gzip?chunked=1', expect: ok(200, text, true) },
  { fault: 'gzip corrupt', path: '/gzip?corrupt=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'gzip truncated (no trailer)', path: '/gzip?truncate=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'gzip cut by FIN', path: '/gzip?cut=200', expect: protocol('body', ['truncated-body']) },
  { fault: 'deflate corrupt', path: '/deflate?corrupt=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'deflate truncated', path: '/deflate?truncate=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'raw deflate corrupt', path: '/deflate-raw?corrupt=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'br corrupt', path: '/br?corrupt=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  { fault: 'br truncated', path: '/br?truncate=1', expect: protocol('body', ['bad-encoding'], { reusable: 'any' }) },
  // Interim responses.
  { fault: '1xx then final', path: '/1xx?codes=100,103,123', expect: ok(200, 'ok', true) },
  { fault: 'too many 1xx', path: `/1xx?codes=${Array(11).fill('103').join(',')}`, expect: protocol('head', ['too-many-1xx']) },
  // Redirects.
  { fault: 'redirect loop', path: '/redirect-loop?status=302', expect: { kind: 'redirect', redirects: 3 }, options: () => ({ maxRedirects: 3 }), hits: () => 4 },
  // Every malformed response of the server's list, then the valid-but-unusual ones.
  ...Object.entries(FaultServer.malformedCases).map(([name, c]): FaultRow => ({
    fault: `malformed/${name}`,
    path: `/malformed/${name}`,
    options: () => ({ followRedirects: false }),
    expect:
      c.expect.kind === 'error'
        ? protocol('any', c.expect.reasons)
        : ok(c.expect.status, c.expect.body, c.expect.reusable),
    // Nothing of a response arrived before the EOF: the stale-connection retry applies.
    ...(c.bytes.length === 0 ? { hits: staleRetry } : {}),
  })),
  ...Object.entries(FaultServer.edgeCases).map(([name, c]): FaultRow => ({
    fault: `edge/${name}`,
    path: `/edge/${name}`,
    options: () => ({ followRedirects: false }),
    expect: c.expect.kind === 'error' ? protocol('any', c.expect.reasons) : ok(c.expect.status, c.expect.body, c.expect.reusable),
  })),
];

// ---------------------------------------------------------------------------------
// Running one case.
// ---------------------------------------------------------------------------------

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const x = e as Error & { code?: string; phase?: string; reason?: string; cause?: unknown };
  const cause = x.cause as { code?: string; message?: string } | undefined;
  return (
    `${x.name} code=${x.code} phase=${x.phase} reason=${x.reason}: ${x.message}` +
    (cause ? ` [cause ${cause.code ?? ''} ${cause.message ?? String(cause)}]` : '')
  );
}

function targetOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

function assertPoolQuiet(transport: Transport, when: string): void {
  const { totals } = transport.stats();
  assert.equal(totals.active, 0, `${when}: stats().totals.active ${JSON.stringify(totals)}`);
  assert.equal(totals.dialing, 0, `${when}: stats().totals.dialing ${JSON.stringify(totals)}`);
  assert.equal(totals.waiting, 0, `${when}: stats().totals.waiting ${JSON.stringify(totals)}`);
}

function boundOf(row: FaultRow, o: Outcome): number {
  if (row.bound !== undefined) return row.bound;
  if (o.kind === 'timeout') return o.timeout + LATE + 200;
  return INSTANT;
}

/** Whether the follow-up `/ok` must reuse the connection the measured request used. */
function followReuse(o: Outcome): boolean | 'any' {
  if (o.kind === 'ok') return o.reusable;
  if (o.kind === 'protocol') return o.reusable ?? false;
  if (o.kind === 'redirect') return 'any';
  return false;
}

async function sleep(ms: number): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}

async function runCase(row: FaultRow, v: Variant): Promise<void> {
  const fs = await FaultServer.start();
  row.setup?.(fs);
  const transport = new Transport({ responseHeaderTimeout: HEADER_TIMEOUT, readIdleTimeout: READ_IDLE });
  const client = new Client({ transport, ...(v.timeout === undefined ? {} : { timeout: v.timeout }) });
  const ctx: CaseContext = { fs, client, transport, v };
  try {
    await exercise(row, ctx);
  } catch (err) {
    await client.close();
    await fs.close();
    throw err;
  }
  await client.close();
  // Every connection the server accepted was closed by the client (or is closed).
  // (Not `fs.openSockets === 0`: the server keeps a stalled exchange's socket
  // half-open after the client's FIN — see the FaultServer test at the end.)
  const clientOpen = (): number =>
    fs.connectionLog.filter((c) => c.closedAt === null && c.clientEnded === null).length;
  const drained = await waitUntil(() => clientOpen() === 0, 1500);
  const left = clientOpen();
  const serverErrors = fs.errors.map((e) => e.message);
  await fs.close();
  assert.ok(drained, `${left} connection(s) still open from the client side 1.5 s after client.close()`);
  const t = transport.stats().totals;
  assert.deepEqual(t, { active: 0, idle: 0, dialing: 0, waiting: 0 }, 'stats after close()');
  assert.deepEqual(serverErrors, [], 'fault server script errors');
}

async function exercise(row: FaultRow, ctx: CaseContext): Promise<void> {
  const { fs, client, transport, v } = ctx;
  const expect = typeof row.expect === 'function' ? row.expect(v) : row.expect;
  const opts: RequestOptions = {
    method: v.method,
    ...(v.method === 'POST' ? { body: BODY } : {}),
    ...(row.options?.(v) ?? {}),
  };

  let warmConn = 0;
  if (v.conn === 'reused') {
    const warm = await client.request(fs.url('/ok?warm=1'));
    assert.equal(await warm.text(), 'ok');
    warmConn = fs.requests.at(-1)!.connectionId;
    assert.equal(transport.stats().totals.idle, 1, 'warm-up connection parked idle');
  }

  const url = fs.url(row.path);
  const target = targetOf(url);
  if (row.idle !== undefined) {
    // The faulting exchange itself succeeds...
    const first = await client.request(url, opts);
    assert.equal(first.status, 200);
    assert.equal(first.reused, v.conn === 'reused', 'faulting response came over the expected connection');
    assert.equal(await first.text(), 'ok');
    row.idle.before?.(ctx);
    await sleep(row.idle.wait);
    assert.equal(transport.stats().totals.idle, 0, 'the spoiled idle connection left the pool');
    row.idle.after?.(ctx);
  }

  // The measured request.
  const measuredUrl = row.idle !== undefined ? fs.url('/ok?measured=1') : url;
  const t0 = performance.now();
  let res: Response | undefined;
  let body: Buffer | undefined;
  let error: unknown;
  try {
    res = await client.request(measuredUrl, opts);
    body = await res.bytes();
  } catch (err) {
    error = err;
  }
  const took = performance.now() - t0;
  const bound = boundOf(row, expect);
  const what = `${row.fault}: ${error === undefined ? `status ${res?.status}` : describeError(error)}`;
  assert.ok(took <= bound, `settled after ${Math.round(took)} ms, bound ${bound} ms (${what})`);
  assertPoolQuiet(transport, 'after the measured request');

  // Outcome.
  switch (expect.kind) {
    case 'ok': {
      if (error !== undefined) assert.fail(`expected ${expect.status}, got ${describeError(error)}`);
      assert.equal(res!.status, expect.status);
      if (expect.body !== undefined) {
        const want = typeof expect.body === 'string' ? Buffer.from(expect.body) : expect.body;
        assert.ok(body!.equals(want), `body ${JSON.stringify(body!.toString('latin1').slice(0, 80))}`);
      }
      break;
    }
    case 'timeout': {
      assert.ok(
        error instanceof TimeoutError,
        `expected TimeoutError ${expect.phase}, got ${describeError(error)}`,
      );
      assert.equal(error.code, 'ETIMEDOUT');
      assert.equal(error.phase, expect.phase, describeError(error));
      assert.equal(error.timeout, expect.timeout);
      assert.equal(error.requestSent, true, 'requestSent');
      assert.ok(error.elapsed >= expect.timeout - 2, `elapsed ${error.elapsed} >= ${expect.timeout}`);
      assert.ok(
        error.elapsed <= expect.timeout + LATE,
        `elapsed ${error.elapsed} <= ${expect.timeout} + ${LATE}`,
      );
      assert.ok(took >= expect.timeout - 2, `settled after ${took} ms, before the timeout`);
      assert.ok(isTimeout(error));
      assert.equal(
        res === undefined,
        expect.at === 'head',
        `failed in the ${res === undefined ? 'head' : 'body'}`,
      );
      break;
    }
    case 'protocol': {
      assert.ok(
        error instanceof ProtocolError,
        `expected ProtocolError ${expect.reasons.join('|')}, got ${describeError(error)}`,
      );
      assert.equal(error.code, 'HG_PROTOCOL');
      assert.ok(
        expect.reasons.includes(error.reason),
        `reason ${error.reason}, expected ${expect.reasons.join('|')}`,
      );
      if (expect.causeCode !== undefined) {
        assert.equal(
          (error.cause as { code?: string } | undefined)?.code,
          expect.causeCode,
          describeError(error),
        );
      }
      if (expect.at !== 'any') {
        assert.equal(
          res === undefined,
          expect.at === 'head',
          `failed in the ${res === undefined ? 'head' : 'body'}`,
        );
      }
      break;
    }
    case 'redirect': {
      assert.ok(error instanceof RedirectError, `expected RedirectError, got ${describeError(error)}`);
      assert.equal(error.code, 'HG_TOO_MANY_REDIRECTS');
      assert.equal(error.redirects.length, expect.redirects);
      break;
    }
  }
  if (error !== undefined) {
    assert.ok(error instanceof HourglassError, 'every error is a HourglassError');
    assert.equal(error.name, error.constructor.name);
  }
  if (res !== undefined) {
    const want = row.resReused?.(v) ?? v.conn === 'reused';
    assert.equal(res.reused, row.idle !== undefined ? false : want, 'res.reused');
  }

  // What the server saw: retries (§4), which connection carried the first attempt, the body.
  const seen = fs.requests.filter((r) => r.target === targetOf(measuredUrl));
  assert.equal(seen.length, row.hits?.(v) ?? 1, `requests the server saw for ${targetOf(measuredUrl)}`);
  if (row.idle === undefined) {
    const firstConn = seen[0]!.connectionId;
    assert.equal(firstConn, v.conn === 'reused' ? warmConn : 1, 'connection of the first attempt');
  } else {
    const faultConn = fs.requests.find((r) => r.target === target)!.connectionId;
    assert.notEqual(seen[0]!.connectionId, faultConn, 'the measured request avoided the spoiled connection');
  }
  if (v.method === 'POST' && row.serverReadsBody !== false) {
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.body.toString('utf8'), BODY, 'request body as received');
  }

  // The pool is usable afterwards.
  const measuredConns = new Set(seen.map((r) => r.connectionId));
  const lastConn = seen.at(-1)!.connectionId;
  const follow = await client.request(fs.url('/ok?follow=1'));
  assert.equal(follow.status, 200);
  assert.equal(await follow.text(), 'ok');
  const followConn = fs.requests.at(-1)!.connectionId;
  const reuse = row.idle !== undefined ? true : followReuse(expect);
  if (reuse !== 'any') {
    assert.equal(follow.reused, reuse, 'follow-up reused the connection');
    if (reuse) assert.equal(followConn, lastConn, 'follow-up went over the measured request connection');
    else assert.ok(!measuredConns.has(followConn), 'follow-up avoided the measured request connection');
  }
  assertPoolQuiet(transport, 'after the follow-up');

  // SPEC §4: every error carries the request's method and url (checked last, so a
  // missing field does not hide the checks above).
  if (error instanceof HourglassError) {
    assert.equal(error.url?.split('?')[0], measuredUrl.split('?')[0], `error.url of ${describeError(error)}`);
    if (expect.kind !== 'redirect')
      assert.equal(error.method, v.method, `error.method of ${describeError(error)}`);
  }
}

// ---------------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------------

const VARIANTS: Variant[] = [];
for (const conn of ['fresh', 'reused'] as const) {
  for (const method of ['GET', 'POST'] as const) {
    for (const t of [undefined, OVERALL]) VARIANTS.push({ conn, method, timeout: t });
  }
}

function caseName(row: FaultRow, v: Variant): string {
  return `${row.fault} × ${v.conn} × ${v.method} × ${v.timeout === undefined ? 'no timeout' : `timeout ${v.timeout}`}`;
}

let baseline: ResourceSnapshot;
before(async () => {
  baseline = await snapshot();
});

describe('fault matrix', { concurrency: CONCURRENCY }, () => {
  for (const row of FAULTS) {
    for (const v of VARIANTS) {
      it(caseName(row, v), () => runCase(row, v));
    }
  }
});

// SPEC §2: `body.destroy()` closes a partly read connection. Destroying a body whose
// connection already failed (the fault arrived with the head, or while nobody was
// reading) must not raise an 'error' nobody listens to: that would crash the process.
describe('releasing a body that already failed', { concurrency: CONCURRENCY }, () => {
  for (const path of [
    '/malformed/bad-chunk-size',
    '/truncated?length=100&send=10',
    '/reset-after-headers?wait=20',
  ]) {
    for (const how of ['body.destroy()', 'dump()'] as const) {
      it(`${path} × ${how} after the failure`, async () => {
        const fs = await FaultServer.start();
        const transport = new Transport({
          responseHeaderTimeout: HEADER_TIMEOUT,
          readIdleTimeout: READ_IDLE,
        });
        const client = new Client({ transport });
        try {
          const res = await client.request(fs.url(path));
          assert.equal(res.status, 200);
          await sleep(150); // the body fails while nobody reads it
          if (how === 'dump()') await res.dump();
          else res.body.destroy();
          await sleep(50); // an unhandled 'error' would surface here as an uncaught exception
          assertPoolQuiet(transport, `after ${how}`);
          const follow = await client.request(fs.url('/ok'));
          assert.equal(await follow.text(), 'ok');
        } finally {
          await client.close();
          await fs.close();
        }
      });
    }
  }
});

describe('after the matrix', () => {
  it('every fault behaviour of the server is in the table', () => {
    const covered = new Set(FAULTS.map((r) => new URL(r.path, 'http://x').pathname));
    const faultRoutes = [
      '/delay-headers',
      '/never',
      '/drip',
      '/drip-headers',
      '/stall-body',
      '/reset-after-headers',
      '/reset-mid-body',
      '/reset-before-headers',
      '/close-before-headers',
      '/truncated',
      '/close-idle',
      '/keepalive',
      '/connection-close',
      '/poison',
      '/idle-408',
      '/1xx',
      '/gzip',
      '/deflate',
      '/deflate-raw',
      '/br',
      '/redirect-loop',
    ];
    const listed = new Set(FaultServer.routes.map((r) => r.path));
    for (const p of faultRoutes) {
      assert.ok(listed.has(p), `${p} is a route of FaultServer.routes`);
      assert.ok(covered.has(p), `${p} is in the matrix`);
    }
    for (const name of Object.keys(FaultServer.malformedCases)) assert.ok(covered.has(`/malformed/${name}`));
  });

  it('FaultServer: a stalled exchange ends when the client closes (no half-open socket left)', async () => {
    const fs = await FaultServer.start();
    const client = new Client({ transport: new Transport({ responseHeaderTimeout: 100 }) });
    try {
      await assert.rejects(client.request(fs.url('/never')), TimeoutError);
      await client.close();
      const closed = await waitUntil(() => fs.openSockets === 0, 1000);
      assert.ok(
        closed,
        `fs.openSockets = ${fs.openSockets} 1 s after the client closed: ${JSON.stringify(fs.connectionLog)}`,
      );
    } finally {
      await client.close();
      await fs.close();
    }
  });

  it('left no handle, socket or timer behind', async (t) => {
    const now = await waitForBaseline(baseline, 1, 2000);
    t.diagnostic(`resources before: ${formatCounts(baseline.counts)}`);
    t.diagnostic(`resources after:  ${formatCounts(now.counts)}`);
    assert.ok(!exceeds(baseline, now, 1), `grew: ${formatCounts(diffCounts(baseline.counts, now.counts))}`);
  });
});
