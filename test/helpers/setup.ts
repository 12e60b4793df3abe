// Shared setup and assertion helpers for the suites that drive the public Client/Transport:
// `setup(t, opts, fsOpts)` (a started FaultServer plus a Transport and Client, all closed
// after the test), `clientFor(t, opts, ...servers)` (the same for servers a test starts
// itself), `assertQuiet(transport)`, the polling helpers `sleep`/`waitFor`,
// `clientClosed(fs, id)`, `gatedLookup(free)` (a DNS stand-in that can hold answers), and
// the `assert.rejects` predicates `reasonIs` (ProtocolError reason) and `timeoutIn`
// (TimeoutError phase), `newClient(t, opts)`, and `rejection(p)` / `rejectedWith(p)` (a
// promise that must reject: its error, with or without the time it took). The raw-socket
// counterpart of `setup` is in ./raw-server.ts.
import * as assert from 'node:assert/strict';
import type * as net from 'node:net';
import type { TestContext } from 'node:test';
import {
  Client,
  type ClientOptions,
  ProtocolError,
  TimeoutError,
  Transport,
  type TransportOptions,
} from '../../src/index.js';
import { FaultServer, type FaultServerOptions } from '../../src/testing/index.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 5 ms for at most `ms`; returns whether it became true. */
export async function waitFor(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

/** A Transport over `opts` and a Client on it; after the test the client closes, then each of `servers` in order. */
export function clientFor(
  t: TestContext,
  opts: TransportOptions,
  ...servers: { close(): Promise<void> }[]
): { transport: Transport; client: Client } {
  const transport = new Transport(opts);
  const client = new Client({ transport });
  t.after(async () => {
    await client.close();
    for (const s of servers) await s.close();
  });
  return { transport, client };
}

/** A started FaultServer with a Transport and Client; all closed after the test. */
export async function setup(
  t: TestContext,
  opts: TransportOptions = {},
  fsOpts: FaultServerOptions = {},
): Promise<{ fs: FaultServer; transport: Transport; client: Client }> {
  const fs = await FaultServer.start(fsOpts);
  return { fs, ...clientFor(t, opts, fs) };
}

/** Every request settled: nothing active, dialing or waiting (SPEC §11 stats()). */
export async function assertQuiet(transport: Transport): Promise<void> {
  await waitFor(() => {
    const s = transport.stats().totals;
    return s.active === 0 && s.dialing === 0 && s.waiting === 0;
  }, 2000);
  const { active, dialing, waiting } = transport.stats().totals;
  assert.deepEqual({ active, dialing, waiting }, { active: 0, dialing: 0, waiting: 0 });
}

/** An `assert.rejects` predicate: a ProtocolError with this `reason`. */
export function reasonIs(reason: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError ${reason}, got ${String(e)}`);
    assert.equal(e.reason, reason, String(e));
    return true;
  };
}

/** An `assert.rejects` predicate: a TimeoutError in this `phase`. */
export function timeoutIn(phase: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof TimeoutError, `expected TimeoutError ${phase}, got ${String(e)}`);
    assert.equal(e.phase, phase, String(e));
    return true;
  };
}

/** A `lookup` that answers 127.0.0.1 for any name, holding every answer after the first `free` ones. */
export function gatedLookup(free: number): {
  lookup: net.LookupFunction;
  gates: (() => void)[];
  calls: () => number;
} {
  const gates: (() => void)[] = [];
  let calls = 0;
  const lookup = ((
    _h: string,
    _o: unknown,
    cb: (e: Error | null, a: { address: string; family: number }[]) => void,
  ) => {
    const go = (): void => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    if (calls++ < free) go();
    else gates.push(go);
  }) as unknown as net.LookupFunction;
  return { lookup, gates, calls: () => calls };
}

/** Whether the client ended connection `id` (FIN or RST seen by the server) within `ms`. */
export function clientClosed(fs: FaultServer, id: number, ms = 3000): Promise<boolean> {
  return waitFor(() => {
    const c = fs.connectionLog[id - 1];
    return c !== undefined && (c.clientEnded !== null || (c.closedAt !== null && c.serverEnded === null));
  }, ms);
}

/** A Client closed when the test ends. */
export function newClient(t: TestContext, opts: ClientOptions = {}): Client {
  const c = new Client(opts);
  t.after(() => c.close());
  return c;
}

/** Awaits a promise that must reject; returns the rejection and the time it took (ms). */
export async function rejection(
  p: Promise<unknown>,
  start = performance.now(),
): Promise<{ err: unknown; ms: number }> {
  try {
    await p;
  } catch (err) {
    return { err, ms: performance.now() - start };
  }
  assert.fail('expected a rejection');
}

/** Awaits a promise that must reject and returns its error (a socket it resolved with is destroyed). */
export async function rejectedWith(p: Promise<unknown>): Promise<Error> {
  try {
    const value = await p;
    (value as { destroy?: () => void } | null)?.destroy?.();
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}
