// Soak: many requests, 50 in flight, faults injected at random from a seeded PRNG
// (reproducible: SOAK_SEED=n), short phase timeouts so every fault ends quickly. Checks
// that every request settles with success or a HourglassError of a class its fault
// allows (counted by class/phase/reason and printed), that successful bodies are the
// right ones (no response mix-up between pooled connections), and that nothing grows:
// connections the server sees open from the client, the pool's counters, the process's
// ref'd handles and timers, and the heap after GC.
//
// `npm test` runs a short version (1 500 requests, a few seconds); `SOAK=1` runs
// 20 000 and prints requests/s, outcome counts and the before/after figures.
//
// The fault server runs in a worker thread: its request log then lives in another V8
// heap and its sockets in another event loop, so the heap and handle figures of this
// thread are the client's alone. Server-side counters come over a message port.
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Client, HourglassError, type RequestOptions, Transport } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import {
  diffCounts,
  exceeds,
  formatCounts,
  getGc,
  heapAfterGc,
  type ResourceSnapshot,
  snapshot,
  waitForBaseline,
  waitUntil,
} from './helpers/resources.js';

const LONG = process.env.SOAK === '1';
const TOTAL = LONG ? 20_000 : 1_500;
const IN_FLIGHT = 50;
const SEED = Number(process.env.SOAK_SEED ?? 0x5eed);
/** A request still pending after this long counts as hung (its signal is then aborted). */
const HANG_MS = 5_000;
/** Overall budget per request (covers the pool wait behind MAX_CONNS). */
const OVERALL = 2_000;
/** Header and read-idle timeouts: short, yet far above what a success takes on a loaded 2-CPU box. */
const PHASE = 300;
const MAX_CONNS = 40;
const POST_BODY = 'soak body ✓';

// ---------------------------------------------------------------------------------
// Seeded PRNG (mulberry32) and the fault mix.
// ---------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fault {
  name: string;
  path: string;
  weight: number;
  /** Outcome keys allowed when the body is read to the end. */
  allowed: readonly string[];
  /** Status and body of a success (undefined body: not checked). */
  status?: number;
  body?: Buffer;
  options?: RequestOptions;
}

const OK = 'ok';
const T = (phase: string): string => `TimeoutError:${phase}`;
const P = (reason: string): string => `ProtocolError:${reason}`;
const utf8 = (s: string): Buffer => Buffer.from(s);

/** Malformed cases cheap enough to repeat thousands of times (the 1 MiB ones are left to the matrix). */
const SOAK_MALFORMED = Object.entries(FaultServer.malformedCases).filter(([, c]) => c.bytes.length < 4096);

const FAULTS: Fault[] = [
  { name: 'ok', path: '/ok', weight: 30, allowed: [OK], status: 200, body: utf8('ok') },
  {
    name: 'bytes',
    path: '/bytes?n=20000',
    weight: 4,
    allowed: [OK],
    status: 200,
    body: FaultServer.rangeContent(20_000),
  },
  {
    name: 'chunked',
    path: '/chunked?n=300&chunks=4',
    weight: 4,
    allowed: [OK],
    status: 200,
    body: FaultServer.rangeContent(300),
  },
  {
    name: 'gzip',
    path: '/gzip',
    weight: 3,
    allowed: [OK],
    status: 200,
    body: utf8(FaultServer.compressedText),
  },
  {
    name: 'delayed (in time)',
    path: '/delay-headers?ms=20',
    weight: 4,
    allowed: [OK],
    status: 200,
    body: utf8('ok'),
  },
  { name: 'delayed (too late)', path: '/delay-headers?ms=900', weight: 4, allowed: [T('response-headers')] },
  { name: 'never', path: '/never', weight: 2, allowed: [T('response-headers')] },
  { name: 'stall mid-body', path: '/stall-body?after=3&length=10', weight: 4, allowed: [T('read-idle')] },
  {
    name: 'slow drip (in limits)',
    path: '/drip?bytes=4&interval=20',
    weight: 3,
    allowed: [OK],
    status: 200,
    body: FaultServer.rangeContent(4),
  },
  {
    name: 'slow drip (too slow)',
    path: '/drip?bytes=40&interval=60',
    weight: 3,
    allowed: [T('min-throughput')],
    options: { timeouts: { minThroughput: { bytesPerSecond: 100, window: 200 } } },
  },
  {
    name: 'reset after headers',
    path: '/reset-after-headers?wait=20',
    weight: 3,
    allowed: [P('truncated-body')],
  },
  {
    name: 'reset mid-body',
    path: '/reset-mid-body?length=100&send=10&wait=20',
    weight: 3,
    allowed: [P('truncated-body')],
  },
  {
    name: 'reset before headers',
    path: '/reset-before-headers',
    weight: 3,
    allowed: [P('connection-closed')],
  },
  { name: 'FIN before headers', path: '/close-before-headers', weight: 3, allowed: [P('connection-closed')] },
  { name: 'truncated', path: '/truncated?length=100&send=10', weight: 4, allowed: [P('truncated-body')] },
  { name: 'gzip corrupt', path: '/gzip?corrupt=1', weight: 2, allowed: [P('bad-encoding')] },
  { name: 'idle close', path: '/close-idle?ms=20', weight: 4, allowed: [OK], status: 200, body: utf8('ok') },
  {
    name: 'connection-close',
    path: '/connection-close',
    weight: 2,
    allowed: [OK],
    status: 200,
    body: utf8('ok'),
  },
  ...SOAK_MALFORMED.map(([name, c]): Fault => {
    const e = c.expect;
    const weight = 8 / SOAK_MALFORMED.length;
    if (e.kind === 'error')
      return { name: `malformed/${name}`, path: `/malformed/${name}`, weight, allowed: e.reasons.map(P) };
    return {
      name: `malformed/${name}`,
      path: `/malformed/${name}`,
      weight,
      allowed: [OK],
      status: e.status,
      body: utf8(e.body),
      options: { followRedirects: false },
    };
  }),
];

type Consume = 'bytes' | 'stream' | 'dump' | 'destroy';
interface Planned {
  fault: Fault;
  method: 'GET' | 'POST';
  consume: Consume;
}

function makePlan(n: number, seed: number): Planned[] {
  const rnd = mulberry32(seed);
  const total = FAULTS.reduce((s, f) => s + f.weight, 0);
  const plan: Planned[] = [];
  for (let i = 0; i < n; i++) {
    let x = rnd() * total;
    let fault = FAULTS[FAULTS.length - 1]!;
    for (const f of FAULTS) {
      x -= f.weight;
      if (x < 0) {
        fault = f;
        break;
      }
    }
    const m = rnd();
    const c = rnd();
    plan.push({
      fault,
      method: m < 0.8 ? 'GET' : 'POST',
      consume: c < 0.7 ? 'bytes' : c < 0.85 ? 'stream' : c < 0.95 ? 'dump' : 'destroy',
    });
  }
  return plan;
}

/** Outcome keys a planned request may end with. */
function allowedFor(p: Planned): Set<string> {
  const allowed = new Set<string>(p.fault.allowed);
  // dump()/destroy() settle as 'released' whenever the head arrived; head errors stay.
  if (p.consume === 'dump' || p.consume === 'destroy') {
    allowed.add('released');
  }
  // SPEC §4: a POST is not replayable; when the server closes an idle connection just as
  // the POST goes out on it, the caller sees connection-closed (Go does the same).
  if (p.method === 'POST') allowed.add(P('connection-closed'));
  return allowed;
}

// ---------------------------------------------------------------------------------
// The fault server in a worker thread.
// ---------------------------------------------------------------------------------

interface ServerStats {
  openSockets: number;
  connections: number;
  requests: number;
  /** Accepted connections the client has neither closed nor seen closed. */
  clientOpen: number;
  /** Connections the client ended (FIN) that the server keeps half-open. */
  halfOpen: number;
  errors: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { FaultServer } = await import(workerData.module);
  const fs = await FaultServer.start();
  parentPort.on('message', async (m) => {
    if (m.type === 'stats') {
      let clientOpen = 0;
      let halfOpen = 0;
      for (const c of fs.connectionLog) {
        if (c.closedAt !== null) continue;
        if (c.clientEnded === null) clientOpen++;
        else halfOpen++;
      }
      parentPort.postMessage({ id: m.id, stats: {
        openSockets: fs.openSockets, connections: fs.connections, requests: fs.requests.length,
        clientOpen, halfOpen, errors: fs.errors.length,
      } });
    } else if (m.type === 'close') {
      await fs.close();
      parentPort.postMessage({ id: m.id });
    }
  });
  parentPort.postMessage({ type: 'ready', origin: fs.origin });
})().catch((err) => parentPort.postMessage({ type: 'failed', message: String(err && err.stack || err) }));
`;

class ServerThread {
  origin = '';
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();
  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { id?: number; stats?: unknown }) => {
      if (m.id === undefined) return;
      const resolve = this.pending.get(m.id);
      this.pending.delete(m.id);
      resolve?.(m.stats);
    });
  }

  static async start(): Promise<ServerThread> {
    const module = new URL('../src/testing/index.js', import.meta.url).href;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module } });
    const s = new ServerThread(worker);
    s.origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fault server thread did not start')), 10_000);
      const onMessage = (m: { type?: string; origin?: string; message?: string }): void => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve(m.origin!);
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(m.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return s;
  }

  url(path: string): string {
    return this.origin + path;
  }

  private call(type: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`fault server thread: no answer to ${type}`));
      }, 5_000);
      this.pending.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.worker.postMessage({ type, id });
    });
  }

  async stats(): Promise<ServerStats> {
    return (await this.call('stats')) as ServerStats;
  }

  async close(): Promise<void> {
    try {
      await this.call('close');
    } finally {
      await this.worker.terminate();
    }
  }
}

// ---------------------------------------------------------------------------------
// One request.
// ---------------------------------------------------------------------------------

function classify(err: unknown): string {
  if (!(err instanceof HourglassError)) return `foreign:${err instanceof Error ? err.name : typeof err}`;
  const e = err as HourglassError & { phase?: string; reason?: string };
  if (e.name === 'AbortError') return 'HANG';
  if (e.name === 'TimeoutError') return T(e.phase ?? '?');
  if (e.name === 'ProtocolError') return P(e.reason ?? '?');
  return `${e.name}:${e.code}`;
}

async function runOne(client: Client, server: ServerThread, p: Planned): Promise<string> {
  const ac = new AbortController();
  const watchdog = setTimeout(() => ac.abort(new Error('soak watchdog: request still pending')), HANG_MS);
  try {
    const res = await client.request(server.url(p.fault.path), {
      method: p.method,
      ...(p.method === 'POST' ? { body: POST_BODY } : {}),
      signal: ac.signal,
      ...p.fault.options,
    });
    if (p.consume === 'dump') {
      await res.dump();
      return 'released';
    }
    if (p.consume === 'destroy') {
      // SPEC §2: body.destroy() releases (closes) the connection. An 'error' event
      // nobody listens to would crash the process; it is caught here and counted instead.
      const body = res.body;
      let unhandled: unknown;
      const emit = body.emit.bind(body);
      body.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
        if (event === 'error' && body.listenerCount('error') === 0) {
          unhandled = args[0];
          return false;
        }
        return emit(event, ...args);
      }) as typeof body.emit;
      body.destroy();
      await new Promise<void>((resolve) => setImmediate(resolve));
      return unhandled === undefined ? 'released' : `unhandled-error-after-destroy(${classify(unhandled)})`;
    }
    let body: Buffer;
    if (p.consume === 'bytes') {
      body = await res.bytes();
    } else {
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      body = Buffer.concat(chunks);
    }
    if (p.fault.status !== undefined && res.status !== p.fault.status) return `wrong-status:${res.status}`;
    if (p.fault.body !== undefined && !body.equals(p.fault.body)) return 'wrong-body';
    return OK;
  } catch (err) {
    return classify(err);
  } finally {
    clearTimeout(watchdog);
  }
}

interface RunResult {
  outcomes: Map<string, number>;
  byFault: Map<string, Map<string, number>>;
  unexpected: string[];
  ms: number;
  maxClientConns: number;
  maxServerClientOpen: number;
  maxWaiting: number;
}

async function runPlan(client: Client, server: ServerThread, plan: Planned[]): Promise<RunResult> {
  const r: RunResult = {
    outcomes: new Map(),
    byFault: new Map(),
    unexpected: [],
    ms: 0,
    maxClientConns: 0,
    maxServerClientOpen: 0,
    maxWaiting: 0,
  };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const t = client.transport.stats().totals;
      r.maxClientConns = Math.max(r.maxClientConns, t.active + t.idle + t.dialing);
      r.maxWaiting = Math.max(r.maxWaiting, t.waiting);
      const s = await server.stats();
      r.maxServerClientOpen = Math.max(r.maxServerClientOpen, s.clientOpen);
      await new Promise<void>((resolve) => setTimeout(resolve, 100));
    }
  })();
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < plan.length) {
      const p = plan[next++]!;
      const key = await runOne(client, server, p);
      r.outcomes.set(key, (r.outcomes.get(key) ?? 0) + 1);
      let f = r.byFault.get(p.fault.name);
      if (f === undefined) r.byFault.set(p.fault.name, (f = new Map()));
      f.set(key, (f.get(key) ?? 0) + 1);
      if (!allowedFor(p).has(key) && r.unexpected.length < 50) {
        r.unexpected.push(`${p.method} ${p.fault.path} (${p.consume}) → ${key}`);
      } else if (!allowedFor(p).has(key)) {
        r.unexpected.push('…');
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  r.ms = performance.now() - t0;
  sampling = false;
  await sampler;
  return r;
}

function table(m: Map<string, number>): string {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 1048576).toFixed(2)} MiB`;
}

// ---------------------------------------------------------------------------------
// The soak.
// ---------------------------------------------------------------------------------

describe(`soak: ${TOTAL} requests, ${IN_FLIGHT} in flight, seed ${SEED}`, () => {
  let server: ServerThread;
  let start: ResourceSnapshot;

  before(async () => {
    server = await ServerThread.start();
    start = await snapshot();
  });
  after(async () => {
    await server?.close();
  });

  it('every request settles with an allowed outcome; sockets, handles, timers and heap do not grow', async (t) => {
    const plan = makePlan(TOTAL, SEED);
    const warmN = Math.max(200, Math.floor(TOTAL / 10));
    const transport = new Transport({
      responseHeaderTimeout: PHASE,
      readIdleTimeout: PHASE,
      maxConnsPerHost: MAX_CONNS,
    });
    const client = new Client({ timeout: OVERALL, transport });
    const gcAvailable = getGc() !== undefined;

    // Warm-up (JIT, lazy allocations, pool at full size), then the baseline.
    const warm = await runPlan(client, server, plan.slice(0, warmN));
    client.transport.closeIdleConnections();
    assert.ok(
      await waitUntil(() => transport.stats().totals.idle === 0, 2000),
      'idle connections closed after warm-up',
    );
    const heapBefore = await heapAfterGc();
    const base = await snapshot();
    const serverBase = await server.stats();

    // The main run, with a heap sample half-way through in the long version.
    const mainPlan = plan.slice(warmN);
    const half = LONG ? Math.floor(mainPlan.length / 2) : mainPlan.length;
    const run1 = await runPlan(client, server, mainPlan.slice(0, half));
    let heapMid: number | undefined;
    let run2: RunResult | undefined;
    if (half < mainPlan.length) {
      heapMid = await heapAfterGc();
      run2 = await runPlan(client, server, mainPlan.slice(half));
    }

    // Pool state right after the last request settled.
    const totals = transport.stats().totals;
    const main = mergeRuns(run1, run2);
    client.transport.closeIdleConnections();
    const poolDrained = await waitUntil(() => transport.stats().totals.idle === 0, 2000);
    let serverEnd = await server.stats();
    for (let i = 0; i < 100 && serverEnd.clientOpen > 0; i++) {
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      serverEnd = await server.stats();
    }
    const heapAfter = await heapAfterGc();
    // Server side, every socket closes once the delayed scripts are over and the
    // server's FIN linger (1 s) has passed: nothing may stay open for good.
    let serverSockets = await server.stats();
    for (let i = 0; i < 60 && serverSockets.openSockets > 0; i++) {
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
      serverSockets = await server.stats();
    }
    const end = await waitForBaseline(base, 2, 2000);

    // Figures.
    const all = mergeRuns(warm, main);
    const rps = Math.round((plan.length - warmN) / (main.ms / 1000));
    t.diagnostic(`seed ${SEED}; ${TOTAL} requests (${warmN} warm-up) at ${IN_FLIGHT} in flight`);
    t.diagnostic(
      `main run: ${plan.length - warmN} requests in ${Math.round(main.ms)} ms = ${rps} requests/s`,
    );
    t.diagnostic(`outcomes: ${table(all.outcomes)}`);
    if (LONG) {
      for (const [name, m] of [...all.byFault.entries()].sort()) t.diagnostic(`  ${name}: ${table(m)}`);
    }
    t.diagnostic(
      `max client conns ${all.maxClientConns} (limit ${MAX_CONNS}), max waiting ${all.maxWaiting}, ` +
        `max server-side conns open by the client ${all.maxServerClientOpen}`,
    );
    t.diagnostic(
      `server: ${serverEnd.connections} connections accepted, ${serverEnd.requests} requests, ` +
        `open by the client before/after ${serverBase.clientOpen}/${serverEnd.clientOpen}, ` +
        `fs.openSockets before/after ${serverBase.openSockets}/${serverEnd.openSockets} ` +
        `(half-open after the client's FIN: ${serverEnd.halfOpen}), script errors ${serverEnd.errors}`,
    );
    t.diagnostic(
      `fs.openSockets 3 s after the client closed its idle connections: ${serverSockets.openSockets} ` +
        `(half-open: ${serverSockets.halfOpen})`,
    );
    t.diagnostic(`handles at start:  ${formatCounts(start.counts)}`);
    t.diagnostic(`handles before:    ${formatCounts(base.counts)}`);
    t.diagnostic(`handles after:     ${formatCounts(end.counts)}`);
    t.diagnostic(
      `heap after GC: before ${mb(heapBefore)}, ` +
        `${heapMid !== undefined ? `half-way ${mb(heapMid)}, ` : ''}after ${mb(heapAfter)}` +
        (gcAvailable ? '' : ' (no GC available: heap not checked)'),
    );

    // Every request settled with an allowed outcome.
    let settled = 0;
    for (const v of all.outcomes.values()) settled += v;
    assert.equal(settled, TOTAL, 'every request settled');
    assert.equal(all.outcomes.get('HANG') ?? 0, 0, 'no request outlived the watchdog');
    assert.deepEqual(all.unexpected, [], 'outcomes outside what each fault allows');
    assert.ok((all.outcomes.get(OK) ?? 0) > TOTAL / 3, 'a good share of successes');

    // Nothing in flight, nothing grew.
    assert.equal(totals.active, 0, `stats after the run: ${JSON.stringify(totals)}`);
    assert.equal(totals.dialing, 0, `stats after the run: ${JSON.stringify(totals)}`);
    assert.equal(totals.waiting, 0, `stats after the run: ${JSON.stringify(totals)}`);
    assert.ok(totals.idle <= MAX_CONNS, `idle ${totals.idle} <= ${MAX_CONNS}`);
    assert.ok(all.maxClientConns <= MAX_CONNS, `client connections ${all.maxClientConns} <= ${MAX_CONNS}`);
    assert.ok(poolDrained, 'closeIdleConnections() emptied the pool');
    assert.equal(serverEnd.clientOpen, 0, 'server-side connections still open from the client');
    assert.ok(
      all.maxServerClientOpen <= MAX_CONNS + 2,
      `server-side connections open by the client peaked at ${all.maxServerClientOpen}`,
    );
    assert.ok(
      !exceeds(base, end, 2),
      `ref'd handles/timers grew: ${formatCounts(diffCounts(base.counts, end.counts))}`,
    );
    assert.ok(end.sockets <= base.sockets, `sockets ${base.sockets} → ${end.sockets}`);
    assert.ok(end.timers <= base.timers + 1, `timers ${base.timers} → ${end.timers}`);
    if (heapBefore !== undefined && heapAfter !== undefined) {
      // A leak of a few hundred bytes per request shows over the long run; the short run
      // only guards against gross leaks (a response or connection kept per request).
      const n = plan.length - warmN;
      const allowed = 4 * 1048576 + 200 * n;
      assert.ok(
        heapAfter - heapBefore < allowed,
        `heap grew ${mb(heapAfter - heapBefore)} over ${n} requests (allowed ${mb(allowed)})`,
      );
      if (heapMid !== undefined) {
        const second = heapAfter - heapMid;
        assert.ok(second < 4 * 1048576, `heap grew ${mb(second)} over the second half`);
      }
    }
    await client.close();
    // Last, so that the client-side checks above run first: the server must not keep
    // sockets open for good (it does when it holds a stalled exchange half-open after
    // the client's FIN).
    assert.equal(
      serverSockets.openSockets,
      0,
      `fault server sockets still open 3 s after the run: ${serverSockets.openSockets} ` +
        `(${serverSockets.halfOpen} half-open after the client's FIN)`,
    );
  });
});

function mergeRuns(a: RunResult, b: RunResult | undefined): RunResult {
  if (b === undefined) return a;
  const outcomes = new Map(a.outcomes);
  for (const [k, v] of b.outcomes) outcomes.set(k, (outcomes.get(k) ?? 0) + v);
  const byFault = new Map<string, Map<string, number>>();
  for (const src of [a.byFault, b.byFault]) {
    for (const [name, m] of src) {
      let f = byFault.get(name);
      if (f === undefined) byFault.set(name, (f = new Map()));
      for (const [k, v] of m) f.set(k, (f.get(k) ?? 0) + v);
    }
  }
  return {
    outcomes,
    byFault,
    unexpected: [...a.unexpected, ...b.unexpected].slice(0, 60),
    ms: a.ms + b.ms,
    maxClientConns: Math.max(a.maxClientConns, b.maxClientConns),
    maxServerClientOpen: Math.max(a.maxServerClientOpen, b.maxServerClientOpen),
    maxWaiting: Math.max(a.maxWaiting, b.maxWaiting),
  };
}
