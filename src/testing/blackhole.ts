/**
 * blackhole — a loopback address where a TCP `connect()` hangs (for tests).
 *
 * Owns: one listening socket in a `worker_thread` whose event loop is blocked in
 * `Atomics.wait`, so it never accepts; the accept queue (backlog 1) is filled with
 * filler connections from this thread, after which the kernel drops further SYNs and
 * every new `connect()` to the address stays in SYN_SENT until the caller gives up.
 *
 * `release()` lets the worker's loop run again (it then accepts), which turns the address
 * into a slow-but-succeeding one.
 *
 * Invariants: `close()` wakes and terminates the worker and destroys every filler
 * socket; the worker and the fillers are unref'd, so a forgotten blackhole never keeps
 * the process alive. Filling is bounded (at most {@link MAX_FILLERS} sockets).
 */

import * as net from 'node:net';
import { Worker } from 'node:worker_threads';

/** A listening address that never completes a TCP handshake. */
export interface Blackhole {
  host: string;
  port: number;
  /** Stops blocking: the listener accepts from now on. A connect already hanging completes
   * at the kernel's next SYN retransmission (about 1 s after it began), so this makes a
   * "slow but succeeding" address. */
  release(): void;
  close(): Promise<void>;
}

/** Where to listen; both default to 127.0.0.1 and an ephemeral port. */
export interface BlackholeOptions {
  host?: string;
  port?: number;
}

const MAX_FILLERS = 16;
/** Values of the shared flag: 0 blocks the worker. */
const CLOSE = 1;
const RELEASE = 2;
/** A filler that has not connected after this long means the accept queue is full. */
const FILL_PROBE_MS = 150;

// Inline worker: listen, report the port, then block the event loop until woken.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const flag = new Int32Array(workerData.shared);
const CLOSE = 1;
const server = net.createServer((s) => s.destroy());
server.on('error', (err) => parentPort.postMessage({ error: String(err && err.message || err) }));
server.listen({ port: workerData.port, host: workerData.host, backlog: 1 }, () => {
  parentPort.postMessage({ port: server.address().port });
  // Block until close(): the loop never polls the listener, so nothing is accepted.
  // Short slices let worker termination (at process exit) interrupt the loop.
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 20);
  if (Atomics.load(flag, 0) === CLOSE) server.close();
});
`;

/** Opens a connection and reports whether it connected within `ms`. */
function probe(host: string, port: number, ms: number): Promise<{ socket: net.Socket; connected: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.unref();
    socket.on('error', () => {});
    // Decide after a poll phase has run, so that a loaded event loop (timers run before
    // I/O) cannot mistake a connect that already completed for a hanging one.
    const timer = setTimeout(() => {
      setImmediate(() => {
        socket.removeListener('connect', onConnect);
        resolve({ socket, connected: !socket.connecting && !socket.destroyed });
      });
    }, ms);
    const onConnect = (): void => {
      clearTimeout(timer);
      resolve({ socket, connected: true });
    };
    socket.once('connect', onConnect);
  });
}

/** Starts a blackhole (on 127.0.0.1 and an ephemeral port unless told otherwise). */
export async function startBlackhole(options: BlackholeOptions = {}): Promise<Blackhole> {
  const host = options.host ?? '127.0.0.1';
  const shared = new SharedArrayBuffer(4);
  const flag = new Int32Array(shared);
  const worker = new Worker(WORKER_CODE, {
    eval: true,
    // The parent's flags (e.g. --input-type=module) would change how the inline code loads.
    execArgv: [],
    workerData: { shared, host, port: options.port ?? 0 },
  });
  worker.unref();
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port?: number; error?: string }) => {
        if (m.port !== undefined) resolve(m.port);
        else
          reject(
            new Error(`blackhole: listen on ${host}:${options.port ?? 0} failed: ${m.error ?? 'unknown'}`),
          );
      });
      worker.once('error', reject);
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  const fillers: net.Socket[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const s of fillers) s.destroy();
    Atomics.store(flag, 0, CLOSE);
    Atomics.notify(flag, 0);
    await worker.terminate();
  };
  const release = (): void => {
    if (closed) return;
    Atomics.compareExchange(flag, 0, 0, RELEASE);
    Atomics.notify(flag, 0);
  };

  try {
    let full = false;
    for (let i = 0; i < MAX_FILLERS && !full; i++) {
      const { socket, connected } = await probe(host, port, FILL_PROBE_MS);
      // A pending connect keeps the event loop alive even when unref'd: drop the probe
      // that hangs (the queue stays full with the connected fillers).
      if (connected) fillers.push(socket);
      else socket.destroy();
      full = !connected;
    }
    if (!full) throw new Error(`blackhole: accept queue not full after ${MAX_FILLERS} connections`);
  } catch (err) {
    await close();
    throw err;
  }
  return { host, port, release, close };
}
