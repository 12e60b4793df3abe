/**
 * dial.test — the Dialer against real loopback listeners: success, refusals, DNS
 * failures and hangs, blackholed addresses, the RFC 8305 race (GO-44, UN-05, UN-06,
 * PF-04), the shared dial budget, the overall request budget (abort and timeout),
 * `maxConcurrentDials`, and that nothing (timer, socket) outlives a dial.
 *
 * Addresses: all of 127/8 is loopback on Linux, so a "host" with several addresses is a
 * scripted lookup returning 127.0.0.x addresses that share one port.
 */

import * as assert from 'node:assert/strict';
import type * as dns from 'node:dns';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { Budget, now } from '../src/deadline.js';
import { Dialer, interleave } from '../src/dial/index.js';
import { AbortError, ConnectError, isTimeout, TimeoutError } from '../src/errors.js';
import { type Blackhole, startBlackhole } from '../src/testing/blackhole.js';
import type { TraceHooks } from '../src/trace.js';
import { rejectedWith } from './helpers/setup.js';

type Addr = { address: string; family: number };

/** A lookup answering `addrs` (or `err`) after `delay` ms; `never` never answers. */
function scripted(addrs: Addr[] | 'never', opts: { delay?: number; err?: string } = {}): net.LookupFunction {
  return (_host, _options, cb) => {
    if (addrs === 'never') return;
    const answer = (): void => {
      if (opts.err !== undefined) {
        const e: NodeJS.ErrnoException = new Error(`getaddrinfo ${opts.err} x`);
        e.code = opts.err;
        cb(e, []);
      } else cb(null, addrs as dns.LookupAddress[]);
    };
    setTimeout(answer, opts.delay ?? 0);
  };
}

const v4 = (address: string): Addr => ({ address, family: 4 });

/** A server that accepts (and holds) connections on host:port. */
async function listen(
  host: string,
  port = 0,
): Promise<{ port: number; accepted: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, accepted: 0, close: async () => {} };
  const server = net.createServer((s) => {
    state.accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, resolve);
  });
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const l = await listen('127.0.0.1');
  await l.close();
  return l.port;
}

async function ipv6Works(): Promise<boolean> {
  try {
    const l = await listen('::1');
    await l.close();
    return true;
  } catch {
    return false;
  }
}

/** Records trace events in order. */
function recorder(): { events: string[]; trace: TraceHooks } {
  const events: string[] = [];
  const trace: TraceHooks = {
    dnsStart: ({ host }) => events.push(`dnsStart ${host}`),
    dnsDone: ({ addresses, error }) => events.push(`dnsDone ${addresses.length} ${error ? 'err' : 'ok'}`),
    connectStart: ({ address }) => events.push(`connectStart ${address}`),
    connectDone: ({ address, error }) =>
      events.push(`connectDone ${address} ${(error as NodeJS.ErrnoException | undefined)?.code ?? 'ok'}`),
  };
  return { events, trace };
}

function within(ms: number, lo: number, hi: number, what: string): void {
  assert.ok(ms >= lo && ms <= hi, `${what}: ${Math.round(ms)} ms not in [${lo}, ${hi}]`);
}

function countResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Dialer', () => {
  const holes: Blackhole[] = [];
  after(async () => {
    for (const h of holes) await h.close();
  });
  async function hole(host = '127.0.0.1', port?: number): Promise<Blackhole> {
    const h = await startBlackhole(port === undefined ? { host } : { host, port });
    holes.push(h);
    return h;
  }

  it('connects to an IP literal without DNS and returns a connected socket', async () => {
    const srv = await listen('127.0.0.1');
    const { events, trace } = recorder();
    const socket = await new Dialer().dial({ host: '127.0.0.1', port: srv.port, trace });
    assert.equal(socket.remotePort, srv.port);
    assert.equal(socket.pending, false);
    assert.deepEqual(events, ['connectStart 127.0.0.1', 'connectDone 127.0.0.1 ok']);
    socket.destroy();
    await srv.close();
  });

  it('resolves a name with the default lookup (localhost) and records marks', async () => {
    const srv = await listen('127.0.0.1');
    const { events, trace } = recorder();
    const timings = { lookup: undefined as number | undefined, connect: undefined as number | undefined };
    const socket = await new Dialer().dial({ host: 'localhost', port: srv.port, trace, timings });
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(events[0], 'dnsStart localhost');
    assert.match(events[1]!, /^dnsDone \d+ ok$/);
    assert.ok(
      timings.lookup !== undefined && timings.connect !== undefined && timings.connect >= timings.lookup,
    );
    socket.destroy();
    await srv.close();
  });

  it('dials a bracketed IPv6 literal', async (t) => {
    if (!(await ipv6Works())) return t.skip('no IPv6 loopback');
    const srv = await listen('::1');
    const socket = await new Dialer().dial({ host: '[::1]', port: srv.port });
    assert.equal(socket.remoteAddress, '::1');
    socket.destroy();
    await srv.close();
  });

  it('refused: ConnectError ECONNREFUSED with address, port and attempts', async () => {
    const port = await closedPort();
    const err = await rejectedWith(
      new Dialer().dial({ host: '127.0.0.1', port, method: 'GET', url: 'http://u:p@x/' }),
    );
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.address, '127.0.0.1');
    assert.equal(err.port, port);
    assert.equal(err.attempts.length, 1);
    assert.equal((err.attempts[0]!.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    assert.equal(err.url, 'http://x/');
    assert.doesNotMatch(err.message, /u:p/);
  });

  it('all addresses refused: fails at once (not after fallbackDelay), attempts in order', async () => {
    const port = await closedPort();
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3'), v4('127.0.0.4')]);
    const t0 = now();
    const err = await rejectedWith(
      new Dialer({ lookup, fallbackDelay: 1_000 }).dial({ host: 'multi.test', port }),
    );
    within(now() - t0, 0, 300, 'all refused');
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.deepEqual(
      err.attempts.map((a) => a.address),
      ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
    );
    assert.match(err.message, /multi\.test/);
  });

  it('DNS failure: ConnectError with the resolver code, naming the host (UN-05b)', async () => {
    const { events, trace } = recorder();
    const dialer = new Dialer({ lookup: scripted([], { err: 'ENOTFOUND' }), timeout: 1_000 });
    const err = await rejectedWith(dialer.dial({ host: 'nope.invalid', port: 80, trace }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ENOTFOUND');
    assert.match(err.message, /nope\.invalid/);
    assert.deepEqual(events, ['dnsStart nope.invalid', 'dnsDone 0 err']);
  });

  it('a lookup returning no address is ENOTFOUND', async () => {
    const err = await rejectedWith(new Dialer({ lookup: scripted([]) }).dial({ host: 'empty.test', port: 80 }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ENOTFOUND');
  });

  it('a lookup that never answers ends with TimeoutError phase dns at the timeout', async () => {
    const { events, trace } = recorder();
    const t0 = now();
    const err = await rejectedWith(
      new Dialer({ lookup: scripted('never'), timeout: 200 }).dial({ host: 'x.test', port: 1, trace }),
    );
    assert.deepEqual(events, ['dnsStart x.test', 'dnsDone 0 err']);
    within(now() - t0, 180, 400, 'dns timeout');
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'dns');
    assert.equal(err.timeout, 200);
    within(err.elapsed, 190, 400, 'elapsed');
    assert.equal(err.requestSent, false);
    assert.match(err.message, /x\.test/);
  });

  it('blackhole: TimeoutError phase connect naming the address, cause holds the attempts (UN-05a)', async () => {
    const bh = await hole();
    const { events, trace } = recorder();
    const t0 = now();
    const err = await rejectedWith(new Dialer({ timeout: 250 }).dial({ host: bh.host, port: bh.port, trace }));
    within(now() - t0, 230, 450, 'connect timeout');
    assert.ok(err instanceof TimeoutError && isTimeout(err));
    assert.equal(err.phase, 'connect');
    assert.equal(err.code, 'ETIMEDOUT');
    assert.equal(err.timeout, 250);
    within(err.elapsed, 240, 450, 'elapsed');
    assert.equal(err.requestSent, false);
    assert.ok(err.message.includes(`127.0.0.1:${bh.port}`), err.message);
    const cause = err.cause as ConnectError;
    assert.ok(cause instanceof ConnectError);
    assert.equal(cause.attempts.length, 1);
    assert.equal((cause.attempts[0]!.error as NodeJS.ErrnoException).code, 'ETIMEDOUT');
    assert.deepEqual(events, ['connectStart 127.0.0.1', 'connectDone 127.0.0.1 ETIMEDOUT']);
  });

  it('happy eyeballs: [blackholed, good] connects via the second at ≈ fallbackDelay (GO-44)', async () => {
    const bh = await hole('127.0.0.2');
    const good = await listen('127.0.0.3', bh.port);
    const { events, trace } = recorder();
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3')]);
    const t0 = now();
    const socket = await new Dialer({ lookup, fallbackDelay: 200 }).dial({
      host: 'he.test',
      port: bh.port,
      trace,
    });
    within(now() - t0, 190, 400, 'fallback connect');
    assert.equal(socket.remoteAddress, '127.0.0.3');
    assert.deepEqual(events.slice(2), [
      'connectStart 127.0.0.2',
      'connectStart 127.0.0.3',
      'connectDone 127.0.0.3 ok',
      'connectDone 127.0.0.2 ECANCELED',
    ]);
    socket.destroy();
    await good.close();
  });

  it('happy eyeballs: [refused, good] connects at once', async () => {
    const good = await listen('127.0.0.3');
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3')]);
    const t0 = now();
    const socket = await new Dialer({ lookup, fallbackDelay: 1_000 }).dial({
      host: 'he.test',
      port: good.port,
    });
    within(now() - t0, 0, 150, 'refused then good');
    assert.equal(socket.remoteAddress, '127.0.0.3');
    socket.destroy();
    await good.close();
  });

  it('UN-06: [::1, 127.0.0.1] with only IPv4 listening connects; [::1] alone is refused', async (t) => {
    if (!(await ipv6Works())) return t.skip('no IPv6 loopback');
    const srv = await listen('127.0.0.1');
    const both = scripted([{ address: '::1', family: 6 }, v4('127.0.0.1')]);
    const socket = await new Dialer({ lookup: both }).dial({ host: 'example.org', port: srv.port });
    assert.equal(socket.remoteAddress, '127.0.0.1');
    socket.destroy();
    const only6 = scripted([{ address: '::1', family: 6 }]);
    const err = await rejectedWith(new Dialer({ lookup: only6 }).dial({ host: 'example.org', port: srv.port }));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, 'ECONNREFUSED');
    await srv.close();
  });

  it('1000 copies of a good address connect at once with one attempt; 200 refused copies fail fast', async () => {
    const srv = await listen('127.0.0.1');
    const { events, trace } = recorder();
    const many = scripted(Array.from({ length: 1000 }, () => v4('127.0.0.1')));
    const t0 = now();
    const socket = await new Dialer({ lookup: many }).dial({ host: 'many.test', port: srv.port, trace });
    within(now() - t0, 0, 150, '1000 copies');
    assert.equal(events.filter((e) => e.startsWith('connectStart')).length, 1);
    socket.destroy();
    const port = await closedPort();
    const refused = scripted(Array.from({ length: 200 }, () => v4('127.0.0.1')));
    const t1 = now();
    const err = await rejectedWith(new Dialer({ lookup: refused }).dial({ host: 'many.test', port }));
    within(now() - t1, 0, 1_000, '200 refused copies');
    assert.equal((err as ConnectError).attempts.length, 200);
    await srv.close();
  });

  it('PF-04: a slow first address is raced, never aborted, and wins; the loser is destroyed', async () => {
    const slow = await hole('127.0.0.2');
    await hole('127.0.0.3', slow.port);
    setTimeout(() => slow.release(), 150).unref();
    const { events, trace } = recorder();
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3')]);
    const t0 = now();
    const dialer = new Dialer({ lookup, fallbackDelay: 250, timeout: 5_000 });
    const socket = await dialer.dial({ host: 'slow.test', port: slow.port, trace });
    socket.on('error', () => {});
    // The kernel retransmits the dropped SYN after ~1 s; the listener accepts by then.
    within(now() - t0, 700, 2_500, 'slow first address');
    assert.equal(socket.remoteAddress, '127.0.0.2');
    assert.deepEqual(events.slice(2), [
      'connectStart 127.0.0.2',
      'connectStart 127.0.0.3',
      'connectDone 127.0.0.2 ok',
      'connectDone 127.0.0.3 ECANCELED',
    ]);
    socket.destroy();
  });

  it('PF-04 counter-test: the dial budget alone ends the race, listing both attempts', async () => {
    const a = await hole('127.0.0.2');
    await hole('127.0.0.3', a.port);
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3')]);
    const err = await rejectedWith(
      new Dialer({ lookup, fallbackDelay: 100, timeout: 300 }).dial({ host: 'h', port: a.port }),
    );
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'connect');
    assert.match(err.message, /127\.0\.0\.2:\d+, 127\.0\.0\.3:\d+/);
    assert.equal((err.cause as ConnectError).attempts.length, 2);
  });

  it('one budget for all attempts: 3 blackholed addresses, timeout 300 → fails at ≈ 300 ms', async () => {
    const a = await hole('127.0.0.2');
    await hole('127.0.0.3', a.port);
    await hole('127.0.0.4', a.port);
    const lookup = scripted([v4('127.0.0.2'), v4('127.0.0.3'), v4('127.0.0.4')], { delay: 20 });
    const t0 = now();
    const err = await rejectedWith(
      new Dialer({ lookup, fallbackDelay: 100, timeout: 300 }).dial({ host: 'h', port: a.port }),
    );
    within(now() - t0, 280, 500, 'shared budget');
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'connect');
    within(err.elapsed, 290, 500, 'elapsed counts DNS too');
    assert.equal((err.cause as ConnectError).attempts.length, 3);
  });

  it('abort during DNS: AbortError with cause = reason, at once', async () => {
    const ac = new AbortController();
    const budget = new Budget(undefined, ac.signal, 'GET', 'http://h/');
    const p = new Dialer({ lookup: scripted('never') }).dial({ host: 'h', port: 1, budget });
    await tick(50);
    assert.equal(budget.activePhase, 'dns');
    const reason = new Error('stop');
    const t0 = now();
    ac.abort(reason);
    const err = await rejectedWith(p);
    within(now() - t0, 0, 100, 'abort latency');
    assert.ok(err instanceof AbortError);
    assert.equal(err.cause, reason);
    budget.finish();
  });

  it('abort during connect: AbortError, attempts destroyed', async () => {
    const bh = await hole();
    const ac = new AbortController();
    const budget = new Budget(undefined, ac.signal, 'GET', 'http://h/');
    const { events, trace } = recorder();
    const p = new Dialer().dial({ host: bh.host, port: bh.port, budget, trace });
    await tick(50);
    assert.equal(budget.activePhase, 'connect');
    ac.abort('why');
    const err = await rejectedWith(p);
    assert.ok(err instanceof AbortError);
    assert.equal(err.cause, 'why');
    assert.deepEqual(events, ['connectStart 127.0.0.1', 'connectDone 127.0.0.1 ABORT_ERR']);
    budget.finish();
  });

  it('an already aborted budget never dials', async () => {
    const ac = new AbortController();
    ac.abort('early');
    const budget = new Budget(undefined, ac.signal, 'GET', 'http://h/');
    let looked = false;
    const lookup: net.LookupFunction = () => {
      looked = true;
    };
    const err = await rejectedWith(new Dialer({ lookup }).dial({ host: 'h', port: 1, budget }));
    assert.ok(err instanceof AbortError);
    assert.equal(looked, false);
  });

  it('the overall budget ends a dial before the dial timeout with phase request', async () => {
    const bh = await hole();
    const budget = new Budget(200, undefined, 'GET', 'http://h/');
    const t0 = now();
    const err = await rejectedWith(
      new Dialer({ timeout: 5_000 }).dial({ host: bh.host, port: bh.port, budget }),
    );
    within(now() - t0, 180, 400, 'overall timeout');
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.phase, 'request');
    assert.equal(err.activePhase, 'connect');
    budget.finish();
  });

  it('maxConcurrentDials queues FIFO inside the dial budget', async () => {
    const bh = await hole();
    const srv = await listen('127.0.0.1');
    const dialer = new Dialer({ maxConcurrentDials: 1, timeout: 300 });
    const t0 = now();
    const first = rejectedWith(dialer.dial({ host: bh.host, port: bh.port }));
    const second = dialer.dial({ host: '127.0.0.1', port: srv.port, timeout: 1_000 });
    const third = rejectedWith(dialer.dial({ host: '127.0.0.1', port: srv.port, timeout: 100 }));
    await tick(20);
    assert.deepEqual(dialer.stats(), { running: 1, waiting: 2 });
    const e3 = await third;
    assert.ok(e3 instanceof TimeoutError && e3.phase === 'connect');
    assert.match(e3.message, /dial slot/);
    assert.ok((await first) instanceof TimeoutError);
    const socket = await second;
    within(now() - t0, 280, 500, 'queued dial');
    assert.equal(srv.accepted, 1);
    socket.destroy();
    assert.deepEqual(dialer.stats(), { running: 0, waiting: 0 });
    await srv.close();
  });

  it('localAddress keeps only addresses of its family', async (t) => {
    if (!(await ipv6Works())) return t.skip('no IPv6 loopback');
    const srv = await listen('127.0.0.1');
    const { events, trace } = recorder();
    const lookup = scripted([{ address: '::1', family: 6 }, v4('127.0.0.1')]);
    const dialer = new Dialer({ lookup, localAddress: '127.0.0.1' });
    const socket = await dialer.dial({ host: 'h', port: srv.port, trace });
    assert.deepEqual(events.slice(2), ['connectStart 127.0.0.1', 'connectDone 127.0.0.1 ok']);
    socket.destroy();
    await srv.close();
  });

  it('leaves no timer or socket behind, whatever the outcome', async () => {
    const bh = await hole();
    const srv = await listen('127.0.0.1');
    const port = await closedPort();
    await tick(50);
    const before = countResources();
    const dialer = new Dialer({ timeout: 150 });
    const lookup = scripted('never');
    await rejectedWith(dialer.dial({ host: bh.host, port: bh.port }));
    await rejectedWith(dialer.dial({ host: '127.0.0.1', port }));
    await rejectedWith(new Dialer({ lookup, timeout: 100 }).dial({ host: 'h', port }));
    const s = await dialer.dial({ host: '127.0.0.1', port: srv.port });
    s.destroy();
    await tick(50);
    assert.deepEqual(countResources(), before);
    await srv.close();
  });

  it('rejects invalid options with HG_INVALID_ARG', () => {
    assert.throws(() => new Dialer({ timeout: -1 }), { code: 'HG_INVALID_ARG' });
    assert.throws(() => new Dialer({ localAddress: 'not-an-ip' }), { code: 'HG_INVALID_ARG' });
    assert.deepEqual(
      { ...new Dialer().options, lookup: undefined },
      {
        timeout: 30_000,
        keepAlive: 15_000,
        fallbackDelay: 300,
        lookup: undefined,
        localAddress: undefined,
        maxConcurrentDials: 0,
      },
    );
  });

  it('interleave alternates families starting with the first address family', () => {
    const list = [v4('a'), v4('b'), { address: 'x', family: 6 }, { address: 'y', family: 6 }, v4('c')];
    assert.deepEqual(
      interleave(list).map((t) => t.address),
      ['a', 'x', 'b', 'y', 'c'],
    );
  });
});
