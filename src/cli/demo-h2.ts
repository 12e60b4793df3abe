/**
 * cli/demo-h2 — the HTTP/2 waits `hourglass demo` shows (SPEC §13): a peer that never
 * sends its SETTINGS (`h2.settingsTimeout`, phase h2-settings), a peer that never ACKs a
 * PING (`h2.pingInterval` + `h2.pingTimeout`, phase h2-ping), and a GOAWAY below streams
 * in flight whose unprocessed streams are replayed on a new connection.
 *
 * Owns: those three scenarios, each with its own h2 fault server (TLS + ALPN h2) and
 * client, both closed afterwards. Never prints; `demo.ts` draws the rows.
 */

import { performance } from 'node:perf_hooks';
import { Client } from '../client.js';
import { FaultServer, type H2FaultOptions, H2Code } from '../testing/index.js';
import { Transport, type TransportOptions } from '../transport.js';
import { expectTimeout, type Observation, type Scenario } from './demo-scenarios.js';

const T = 300;

/** The HTTP/2 timeouts, as rows of the timeout table. */
export const H2_TIMEOUT_SCENARIOS: Scenario[] = [
  {
    name: 'h2-settings',
    run: () =>
      withH2({ settingsDelay: 'never' }, { h2: { settingsTimeout: T } }, (c, fs) =>
        expectTimeout('h2-settings', 'h2.settingsTimeout', T, () => c.request(fs.url('/ok'))),
      ),
  },
  {
    name: 'h2-ping',
    run: () =>
      withH2({ pingAck: false }, { h2: { pingInterval: T / 2, pingTimeout: T / 2 } }, (c, fs) =>
        expectTimeout('h2-ping', 'h2.pingInterval+Timeout', T, () => c.request(fs.url('/never'))),
      ),
  },
];

/** The GOAWAY replay, as a row of the connections table. */
export const H2_CONNECTION_SCENARIOS: Scenario[] = [
  {
    name: 'h2 GOAWAY replay',
    run: () =>
      withH2({}, {}, async (c, fs): Promise<Observation> => {
        // Connection 1 takes four streams, then says GOAWAY(last=3): streams 5 and 7
        // were never processed and must come back, once, on a new connection.
        fs.h2Route('/burst', async (s) => {
          if (s.conn.id === 1) {
            await s.conn.waitForStreams(4);
            if (s.id === 7) await s.conn.goaway(3, H2Code.NO_ERROR);
            await s.sleep(50);
          }
          await s.respond(200, {}, `connection ${s.conn.id}`);
        });
        const t0 = performance.now();
        let bodies: string[] = [];
        try {
          bodies = await Promise.all(Array.from({ length: 4 }, async () => (await c.request(fs.url('/burst'))).text()));
        } catch (err) {
          bodies = [`error: ${(err as Error).message}`];
        }
        const streams = fs.h2Connections.map((x) => x.streams);
        const ok = bodies.join() === 'connection 1,connection 1,connection 2,connection 2' && streams.join() === '4,2';
        return {
          name: 'h2 GOAWAY replay',
          option: 'GOAWAY last=3',
          observed: performance.now() - t0,
          outcome: ok ? '4 streams, 2 above last-stream-id replayed once on a new connection' : `bodies ${bodies.join(' | ')}; streams ${streams.join(',')}`,
          ok,
        };
      }),
  },
];

async function withH2<R>(server: H2FaultOptions, transport: TransportOptions, fn: (c: Client, fs: FaultServer) => Promise<R>): Promise<R> {
  const fs = await FaultServer.start({ h2: server });
  const client = new Client({ transport: new Transport({ tls: { ca: fs.ca }, ...transport }) });
  try {
    return await fn(client, fs);
  } finally {
    await client.close();
    await fs.close();
  }
}
