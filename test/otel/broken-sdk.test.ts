// A broken SDK cannot break a request or the process (adv-otel4 F5, issue #17): span
// methods that return rejected promises leave no unhandled rejection (under Node's default
// they end the process), and a span method that throws does not keep the others from
// being called — the span still ends, exactly once per request on the wire.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { metrics, type TracerProvider } from '@opentelemetry/api';
import { Client } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';

const T = { timeout: 10_000 };
const METHODS = ['setAttribute', 'setAttributes', 'addEvent', 'setStatus', 'recordException', 'end'] as const;

/** A provider whose spans count calls per method and answer each with `answer()`. */
function provider(answer: () => unknown): { tp: TracerProvider; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const span: Record<string, unknown> = {
    spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }),
    isRecording: () => true,
    updateName: () => span,
  };
  for (const m of METHODS) {
    span[m] = () => {
      calls.set(m, (calls.get(m) ?? 0) + 1);
      return answer();
    };
  }
  const tp = { getTracer: () => ({ startSpan: () => span, startActiveSpan: () => undefined }) } as unknown as TracerProvider;
  return { tp, calls };
}

describe('otel with a broken SDK', () => {
  let server: http.Server;
  let base = '';
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = http.createServer((req, res) => res.end(req.url === '/boom' ? undefined : 'ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await new Promise<void>((r) => server.close(() => r()));
  });

  const variants: [string, () => unknown][] = [
    ['return rejected promises', () => Promise.reject(new Error('async boom'))],
    ['throw', () => {
      throw new Error('sync boom');
    }],
    ['return a thenable whose then throws', () => ({ then() {
      throw new Error('then boom');
    } })],
  ];
  for (const [name, answer] of variants) {
    it(`span methods that ${name}: requests succeed and fail as usual, each span ends once, nothing unhandled`, T, async () => {
      unhandled.length = 0;
      const { tp, calls } = provider(answer);
      const inst = instrument({ tracerProvider: tp, meterProvider: metrics.getMeterProvider() });
      const client = new Client();
      try {
        const res = await client.request(`${base}/x`);
        assert.equal(await res.text(), 'ok');
        await assert.rejects(client.request('http://127.0.0.1:1/'), { name: 'ConnectError' });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(calls.get('end'), 2, 'one end per request on the wire');
        assert.equal(calls.get('setStatus'), 1, 'the failed one is marked an error');
        assert.ok((calls.get('setAttribute') ?? 0) > 1, 'later attributes were still set');
        assert.deepEqual(unhandled, []);
      } finally {
        inst.disable();
        await client.close();
      }
    });
  }
});
