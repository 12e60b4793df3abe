// Side by side (SPEC §14): the same requests made with undici under
// @opentelemetry/instrumentation-undici and with hourglass under hourglass/otel yield the
// same span name, kind, status and convention attributes, and the same
// http.client.request.duration attributes — hourglass's extras (hourglass.*) and
// undici's (url.path, url.query, method_original on known methods, user_agent) aside.
import * as assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { request as undiciRequest } from 'undici';
import { Client } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter } from './sdk.js';

const T = { timeout: 15_000 };

/** The convention's span attributes both must agree on. */
const CONVENTION = [
  'http.request.method',
  'url.full',
  'url.scheme',
  'server.address',
  'server.port',
  'network.peer.address',
  'network.peer.port',
  'network.protocol.version',
  'http.response.status_code',
  'error.type',
];

function view(s: ReadableSpan): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  for (const k of CONVENTION) if (s.attributes[k] !== undefined) attrs[k] = s.attributes[k];
  return { name: s.name, kind: s.kind, status: s.status.code, attrs };
}

describe('side by side: instrumentation-undici and hourglass/otel', () => {
  let fs: FaultServer;
  let sdk: Sdk;
  let undici: UndiciInstrumentation;
  let ours: Instrumentation;
  const client = new Client();

  before(async () => {
    fs = await FaultServer.start();
    sdk = makeSdk();
    undici = new UndiciInstrumentation();
    undici.setTracerProvider(sdk.tracerProvider);
    undici.setMeterProvider(sdk.meterProvider);
    ours = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  });
  beforeEach(() => sdk.exporter.reset());
  after(async () => {
    undici.disable();
    ours.disable();
    await client.close();
    await fs.close();
    await sdk.shutdown();
  });

  /** Runs the same request with both and returns [undici's span, hourglass's span]. */
  async function both(method: string, path: string, body?: string): Promise<[ReadableSpan, ReadableSpan]> {
    const url = fs.url(path);
    const u = await undiciRequest(url, { method: method as 'GET', body });
    await u.body.dump();
    const ourRes = await client.request(url, { method, body });
    await ourRes.dump();
    const spans = await spansAfter(sdk, 2);
    assert.equal(spans.length, 2);
    const byScope = (name: string): ReadableSpan => spans.find((s) => s.instrumentationScope.name === name)!;
    return [byScope('@opentelemetry/instrumentation-undici'), byScope('hourglass')];
  }

  for (const [method, path, body] of [
    ['GET', '/ok?x=1&y=%20'],
    ['POST', '/echo', 'hello'],
    ['GET', '/status/404'],
    ['GET', '/status/503'],
    ['DELETE', '/status/204'],
  ] as const) {
    it(`${method} ${path}: same span name, kind, status and convention attributes`, T, async () => {
      const [u, h] = await both(method, path, body);
      assert.deepEqual(view(h), view(u));
      assert.ok(Object.keys((view(h).attrs as object)).length >= 8);
    });
  }

  it('connection refused: same error.type and status', T, async () => {
    const probe = await FaultServer.start();
    const url = probe.url('/ok');
    await probe.close();
    await assert.rejects(undiciRequest(url));
    await assert.rejects(client.request(url));
    const spans = await spansAfter(sdk, 2);
    const [u, h] = ['@opentelemetry/instrumentation-undici', 'hourglass'].map(
      (n) => spans.find((s) => s.instrumentationScope.name === n)!,
    );
    assert.equal(h.attributes['error.type'], u.attributes['error.type']);
    assert.equal(h.status.code, u.status.code);
    assert.equal(h.name, u.name);
  });

  it('http.client.request.duration: the same attribute sets', T, async () => {
    await both('GET', '/status/404');
    sdk.exporter.reset();
    await both('GET', '/ok');
    const m = await sdk.byScope('http.client.request.duration');
    const sets = (scope: string): string[] =>
      m
        .get(scope)!
        .dataPoints.map((p) => JSON.stringify(Object.fromEntries(Object.entries(p.attributes).sort())))
        .sort();
    assert.deepEqual(sets('hourglass'), sets('@opentelemetry/instrumentation-undici'));
    assert.equal(m.get('hourglass')!.descriptor.unit, m.get('@opentelemetry/instrumentation-undici')!.descriptor.unit);
  });
});
