/**
 * cli/demo-scenarios — the observations `hourglass demo` makes against a loopback
 * {@link FaultServer}: each timeout of SPEC §3 provoked on purpose, then connection
 * reuse, the invisible retry of a stale idle connection, and a download that resumes
 * after injected resets.
 *
 * Owns: one small, isolated Client/Transport per scenario (closed afterwards), the
 * fault that provokes it, and the verdict. Never prints; `demo.ts` draws the table.
 * No scenario touches the network: names resolve through a custom `lookup`, every
 * address is loopback.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../client.js';
import { download } from '../download.js';
import { TimeoutError } from '../errors.js';
import { FaultServer } from '../testing/index.js';
import { Transport, type TransportOptions } from '../transport.js';

/** What the demo saw for one scenario. */
export interface Observation {
  /** Short name: the phase for timeouts. */
  name: string;
  /** The option that was configured (`responseHeaderTimeout`, ...). */
  option: string;
  /** Configured timeout (ms), for timeout rows. */
  configured?: number;
  /** Observed wall time (ms) from the request to the outcome. */
  observed?: number;
  /** What happened: `TimeoutError response-headers`, or a description. */
  outcome: string;
  ok: boolean;
}

/** One scenario of the demo. */
export interface Scenario {
  name: string;
  run(fs: FaultServer): Promise<Observation>;
}

/** How late a timeout may fire and still count as on time (loaded CI machines). */
const LATE_MS = 400;
/** The timeout each timeout scenario configures. */
const T = 300;

/** The timeouts of SPEC §3, in the order a request meets them. */
export const TIMEOUT_SCENARIOS: Scenario[] = [
  {
    name: 'dns',
    run: () =>
      expectTimeout('dns', 'dialer.timeout', T, async () => {
        // A resolver that never answers: only the dial budget can end the wait.
        const client = new Client({ transport: new Transport({ dialer: { timeout: T, lookup: () => {} } }) });
        return using(client, () => client.request('http://resolver-never-answers.test/'));
      }),
  },
  {
    name: 'connect',
    run: async (fs) => {
      const hole = await fs.blackhole();
      return expectTimeout('connect', 'dialTimeout', T, () =>
        withClient({ dialTimeout: T }, (c) => c.request(`http://${hole.host}:${hole.port}/`)),
      );
    },
  },
  {
    name: 'tls',
    run: async (fs) => {
      const hang = await fs.tlsHang();
      return expectTimeout('tls', 'tlsHandshakeTimeout', T, () =>
        withClient({ tlsHandshakeTimeout: T, tls: { ca: fs.ca } }, (c) =>
          c.request(`https://localhost:${hang.port}/`),
        ),
      );
    },
  },
  {
    name: 'pool',
    run: async (fs) => {
      // One connection per host, held by a request whose answer never comes.
      const client = new Client({ transport: new Transport({ maxConnsPerHost: 1, poolTimeout: T }) });
      const holder = new AbortController();
      let gotConn!: () => void;
      const connected = new Promise<void>((resolve) => (gotConn = resolve));
      const held = client.request(fs.url('/never'), {
        signal: holder.signal,
        trace: { gotConn: () => gotConn() },
      });
      held.catch(() => undefined);
      await Promise.race([connected, held, sleep(2_000)]);
      try {
        return await expectTimeout('pool', 'poolTimeout', T, () => client.request(fs.url('/ok')));
      } finally {
        holder.abort();
        await client.close();
      }
    },
  },
  {
    name: 'write',
    run: (fs) => {
      // The route never reads: once the socket buffers are full the upload cannot progress.
      fs.route('/demo/upload-never-read', (ex) => ex.stall(), { readBody: false });
      return expectTimeout('write', 'writeTimeout', T, () =>
        withClient({ writeTimeout: T }, (c) =>
          c.request(fs.url('/demo/upload-never-read'), { method: 'PUT', body: endlessBody() }),
        ),
      );
    },
  },
  {
    name: 'write-idle',
    run: (fs) => {
      // The same peer, with only the write-idle clock: no byte can be flushed for T.
      fs.route('/demo/upload-stalls', (ex) => ex.stall(), { readBody: false });
      return expectTimeout('write-idle', 'writeIdleTimeout', T, () =>
        withClient({ writeIdleTimeout: T }, (c) =>
          c.request(fs.url('/demo/upload-stalls'), { method: 'PUT', body: endlessBody() }),
        ),
      );
    },
  },
  {
    name: 'response-headers',
    run: (fs) =>
      expectTimeout('response-headers', 'responseHeaderTimeout', T, () =>
        withClient({ responseHeaderTimeout: T }, (c) => c.request(fs.url('/delay-headers?ms=5000'))),
      ),
  },
  {
    name: 'read-idle',
    run: (fs) =>
      expectTimeout('read-idle', 'readIdleTimeout', T, () =>
        withClient({ readIdleTimeout: T }, async (c) => {
          const res = await c.request(fs.url('/stall-body?after=1024&length=65536'));
          return res.bytes();
        }),
      ),
  },
  {
    name: 'min-throughput',
    run: (fs) =>
      expectTimeout('min-throughput', 'minThroughput.window', T, () =>
        // 10 bytes every 50 ms is 200 B/s, far below the 64 KiB/s required.
        withClient({ minThroughput: { bytesPerSecond: 65_536, window: T } }, async (c) => {
          const res = await c.request(fs.url('/drip?bytes=100000&interval=50&chunk=10'));
          return res.bytes();
        }),
      ),
  },
  {
    name: 'request',
    run: (fs) => {
      const overall = 500;
      const target = `/redirect?to=${encodeURIComponent('/delay-headers?ms=5000')}&status=302`;
      return expectTimeout('request', 'Client timeout', overall, async () => {
        const client = new Client({ timeout: overall });
        return using(client, () => client.request(fs.url(target)));
      });
    },
  },
];

/** Connection management and download observations. */
export const CONNECTION_SCENARIOS: Scenario[] = [
  {
    name: 'keep-alive',
    run: async (fs) => {
      const n = 20;
      const before = fs.connections;
      const t0 = performance.now();
      await withClient({}, async (c) => {
        for (let i = 0; i < n; i++) await (await c.request(fs.url('/ok'))).dump();
      });
      const conns = fs.connections - before;
      return {
        name: 'keep-alive',
        option: 'idle pool',
        observed: performance.now() - t0,
        outcome: `${n} requests over ${conns} connection${conns === 1 ? '' : 's'}`,
        ok: conns === 1,
      };
    },
  },
  {
    name: 'stale idle connection',
    run: async (fs) => {
      const before = fs.connections;
      const t0 = performance.now();
      // How the second request got its connection: handed a reused one that failed and
      // was retried, or never handed the dead one at all (the pool saw the FIN).
      const conns: boolean[] = [];
      const trace = { gotConn: (i: { reused: boolean }) => void conns.push(i.reused) };
      const statuses = await withClient({}, async (c) => {
        const first = await c.request(fs.url('/close-idle?ms=50'));
        await first.dump();
        await sleep(100); // the server has closed the idle connection by now
        const second = await c.request(fs.url('/close-idle?ms=50'), { trace });
        await second.dump();
        return [first.status, second.status];
      });
      const opened = fs.connections - before;
      const how =
        conns.length > 1 ? 'retried on a new connection' : 'the pool dropped it, a new connection was dialed';
      return {
        name: 'stale idle connection',
        option: 'idle pool',
        observed: performance.now() - t0,
        outcome: `server closed it after 50 ms; next request ${statuses[1]}: ${how} (${opened} connections)`,
        ok: statuses[0] === 200 && statuses[1] === 200 && opened === 2,
      };
    },
  },
  {
    name: 'closed on reuse',
    run: async (fs) => {
      // The server takes the request on a reused connection, then closes it unanswered:
      // undetectable beforehand, so the transport must retry (SPEC §4), invisibly.
      fs.route('/demo/close-on-reuse', (ex) =>
        (fs.connectionLog[ex.request.connectionId - 1]?.requests ?? 0) > 1
          ? ex.end()
          : ex.respond(200, { 'Content-Type': 'text/plain' }, 'ok'),
      );
      const before = fs.connections;
      const t0 = performance.now();
      const reused: boolean[] = [];
      const trace = { gotConn: (i: { reused: boolean }) => void reused.push(i.reused) };
      const status = await withClient({}, async (c) => {
        await (await c.request(fs.url('/demo/close-on-reuse'))).dump();
        const res = await c.request(fs.url('/demo/close-on-reuse'), { trace });
        await res.dump();
        return res.status;
      });
      const opened = fs.connections - before;
      return {
        name: 'closed on reuse',
        option: 'stale-connection retry',
        observed: performance.now() - t0,
        outcome: `reused connection closed unanswered; GET retried on a new one: ${status} (${opened} connections)`,
        ok: status === 200 && opened === 2 && reused.join() === 'true,false',
      };
    },
  },
  {
    name: 'resumable download',
    run: async (fs) => {
      const size = 1 << 20;
      const resets = [262_144, 655_360];
      const url = fs.url(`/range?size=${size}&resetAt=${resets.join(',')}`);
      const want = createHash('sha256').update(FaultServer.rangeContent(size)).digest('hex');
      const dir = await mkdtemp(join(tmpdir(), 'hourglass-demo-'));
      const t0 = performance.now();
      try {
        const r = await withClient({}, (client) =>
          download(url, join(dir, 'file.bin'), {
            client,
            sha256: want,
            retry: { limit: 5, backoff: () => 20 },
          }),
        );
        return {
          name: 'resumable download',
          option: 'download()',
          observed: performance.now() - t0,
          outcome: `1 MiB, resets injected, ${r.attempts} attempts, resumed=${r.resumed}, sha256 verified`,
          ok: r.bytes === size && r.sha256 === want && r.resumed && r.attempts >= 2,
        };
      } catch (err) {
        return { name: 'resumable download', option: 'download()', outcome: describe(err), ok: false };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
];

// Private implementation past this point.

/** Runs `action`, expecting a `TimeoutError` of `phase` close to `configured` ms (also used by demo-h2.ts). */
export async function expectTimeout(
  phase: string,
  option: string,
  configured: number,
  action: () => Promise<unknown>,
): Promise<Observation> {
  const t0 = performance.now();
  let outcome: string;
  let ok = false;
  try {
    await action();
    outcome = 'no error: the request succeeded';
  } catch (err) {
    outcome = describe(err);
    const observed = performance.now() - t0;
    ok =
      err instanceof TimeoutError &&
      err.phase === phase &&
      observed >= configured - 5 &&
      observed <= configured + LATE_MS;
  }
  return { name: phase, option, configured, observed: performance.now() - t0, outcome, ok };
}

/** A fresh client over a Transport with `opts`, closed after `fn`. */
async function withClient<R>(opts: TransportOptions, fn: (c: Client) => Promise<R>): Promise<R> {
  const client = new Client({ transport: new Transport(opts) });
  return using(client, () => fn(client));
}

async function using<R>(client: Client, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } finally {
    await client.close();
  }
}

/** `TimeoutError write`, or the class and message of anything else. */
function describe(err: unknown): string {
  if (err instanceof TimeoutError) {
    const during = err.phase === 'request' && err.activePhase ? ` (during ${err.activePhase})` : '';
    return `TimeoutError ${err.phase}${during}`;
  }
  const e = err as { name?: string; code?: string; message?: string };
  return `${e?.name ?? 'Error'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? String(err)}`;
}

/** An upload that would go on for a long time (64 MiB), produced lazily. */
function endlessBody(): Readable {
  const chunk = Buffer.alloc(65_536, 0x61);
  let left = 1024;
  return new Readable({
    read() {
      this.push(left-- > 0 ? chunk : null);
    },
  });
}
