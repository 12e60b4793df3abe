// A request made from the body handler of a request on a reused connection belongs to the
// trace of the request it was made from (adv-otel4 F9, issue #17). Connection opened under
// trace A, reused by a request under trace B; a follow-up made in B's 'end' handler (as
// pagination code does) must carry B's trace id in its `traceparent` and its CLIENT span
// must be in trace B — before the fix it joined trace A. The same over a connection B got
// from the wait queue after A released it.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { Client, Transport } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';
import { makeSdk, type Sdk } from './sdk.js';

const T = { timeout: 10_000 };

/** Answers each request with a body in two writes 20 ms apart; records each head's path and traceparent. */
async function recorder(): Promise<{ url: string; seen: [string, string | undefined][]; close(): Promise<void> }> {
  const seen: [string, string | undefined][] = [];
  const srv = net.createServer((sock) => {
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = /^GET (\S+)/.exec(head)?.[1] ?? '?';
        const tp = /\r\ntraceparent: ([^\r]+)/i.exec(head)?.[1];
        seen.push([path, tp]);
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab');
        setTimeout(() => sock.write('cd'), 20);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('otel context on reused connections', () => {
  let sdk: Sdk;
  let inst: { disable(): void };
  before(() => {
    sdk = makeSdk();
    inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  });
  after(async () => {
    inst.disable();
    await sdk.shutdown();
  });

  for (const queued of [false, true]) {
    it(`a follow-up made in the 'end' handler of a request on a ${queued ? 'queued-for' : 'reused'} connection carries that request's trace`, T, async () => {
      const srv = await recorder();
      const client = new Client({ transport: new Transport({ maxConnsPerHost: 1 }) });
      const tracer = sdk.tracerProvider.getTracer('test');
      try {
        const traceA = await tracer.startActiveSpan('A', async (span) => {
          const r = await client.request(`${srv.url}/a`);
          // Queued: B asks while A still holds the only connection.
          if (!queued) await r.text();
          span.end();
          return { id: span.spanContext().traceId, body: queued ? r : undefined };
        });
        const traceB = await tracer.startActiveSpan('B', async (span) => {
          const pending = client.request(`${srv.url}/b`);
          if (traceA.body !== undefined) await traceA.body.text();
          const res = await pending;
          assert.equal(res.reused, true);
          await new Promise<void>((resolve, reject) => {
            res.body.on('data', () => {});
            res.body.on('error', reject);
            res.body.on('end', () => {
              client.request(`${srv.url}/b-followup`).then((f) => f.text()).then(() => resolve(), reject);
            });
          });
          span.end();
          return span.spanContext().traceId;
        });
        assert.notEqual(traceA.id, traceB);
        const tp = new Map(srv.seen);
        assert.equal(tp.get('/a')?.split('-')[1], traceA.id);
        assert.equal(tp.get('/b')?.split('-')[1], traceB);
        assert.equal(tp.get('/b-followup')?.split('-')[1], traceB, 'the follow-up is sent with B\'s trace');
        const follow = sdk.spans().find((s) => s.attributes['url.full'] === `${srv.url}/b-followup`);
        assert.equal(follow?.spanContext().traceId, traceB, 'its CLIENT span is in trace B');
        assert.equal(trace.getActiveSpan(), undefined);
      } finally {
        await client.close();
        await srv.close();
      }
    });
  }
});
