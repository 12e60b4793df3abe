// hourglass/otel at the edges of an exchange: download()'s retries, resumes and mirrors
// are resends of one logical request (`http.request.resend_count` keeps counting across
// them); `http.client.open_connections` stays right for a connection opened before
// instrument(); a response the transport refuses after its head (more content codings
// than it decodes) ends its request on the wire exactly once, over HTTP/1.1 and HTTP/2.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, download, Transport } from '../../src/index.js';
import { instrument, type Instrumentation } from '../../src/otel/index.js';
import { CA_CERT, FaultServer } from '../../src/testing/index.js';
import { makeSdk, type Sdk, spansAfter, startInstrumented, stopInstrumented } from './sdk.js';

const T = { timeout: 15_000 };

describe('hourglass/otel edges', () => {
  let fs: FaultServer;
  let sdk: Sdk;
  let inst: Instrumentation;

  before(async () => {
    ({ fs, sdk, inst } = await startInstrumented());
  });
  after(() => stopInstrumented({ fs, sdk, inst }));

  it('download(): every request after the first — retry, resume, next mirror — is a resend', T, async () => {
    sdk.exporter.reset();
    const dir = await mkdtemp(join(tmpdir(), 'hg-otel-dl-'));
    const client = new Client({ transport: new Transport() });
    try {
      // Mirror 1 answers 503 twice (two requests: limit 1); mirror 2 resets at byte 300,
      // then serves the rest to a Range request.
      const res = await download([fs.url('/status/503'), fs.url('/range?size=1000&resetAt=300')], join(dir, 'f'), {
        client,
        retry: { limit: 1, backoff: () => 0 },
      });
      assert.equal(res.bytes, 1000);
      const spans = await spansAfter(sdk, 4);
      const seen = spans.map((s) => [new URL(s.attributes['url.full'] as string).pathname, s.attributes['http.request.resend_count'] ?? 0]);
      assert.deepEqual(seen, [
        ['/status/503', 0],
        ['/status/503', 1],
        ['/range', 2],
        ['/range', 3],
      ]);
      assert.equal(spans[3]!.attributes['http.response.status_code'], 206);
    } finally {
      await client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('open connections: a keep-alive connection opened before instrument() is counted from its reuse, back to 0 on close', T, async () => {
    const local = makeSdk();
    const c = new Client({ transport: new Transport() });
    await (await c.request(fs.url('/ok'))).text(); // opened (and idle) while only the suite's instrumentation listens
    const late = instrument({ tracerProvider: local.tracerProvider, meterProvider: local.meterProvider });
    const values = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const p of await local.points('http.client.open_connections')) out[p.attributes['http.connection.state'] as string] = p.value as number;
      return out;
    };
    try {
      // A body still arriving keeps the exchange active (a whole small one is released at once).
      const res = await c.request(fs.url('/drip?bytes=3&interval=40'));
      assert.equal(res.reused, true);
      assert.deepEqual(await values(), { active: 1 });
      await res.text();
      assert.deepEqual(await values(), { active: 0, idle: 1 });
      await c.close();
      await new Promise((r) => setTimeout(r, 30));
      const end = await values();
      assert.deepEqual(end, { active: 0, idle: 0 });
    } finally {
      late.disable();
      await local.shutdown();
    }
  });

  for (const h2 of [false, true]) {
    it(`a response refused after its head (too many codings): one terminal message, wire:end, one span (${h2 ? 'HTTP/2' : 'HTTP/1.1'})`, T, async () => {
      const server = h2 ? await FaultServer.start({ h2: true }) : fs;
      // Six codings: beyond the five the client decodes, refused once the head is in.
      const ce = 'gzip, gzip, gzip, gzip, gzip, gzip';
      if (h2) server.h2Route('/codings', (s) => s.respond(200, { 'content-encoding': ce }, 'not gzip'));
      else server.route('/codings', (ex) => ex.respond(200, { 'content-encoding': ce }, 'not gzip'));
      const log: string[] = [];
      const subs = ['start', 'headers', 'end', 'error'].map((n) => {
        const fn = (): void => void log.push(n);
        diagnostics.subscribe(`hourglass:wire:${n}`, fn);
        return [`hourglass:wire:${n}`, fn] as const;
      });
      sdk.exporter.reset();
      const c = new Client({ transport: new Transport(h2 ? { tls: { ca: CA_CERT }, allowH2: true } : {}) });
      try {
        await assert.rejects(c.request(server.url('/codings')), { code: 'HG_PROTOCOL', reason: 'bad-encoding' });
        await new Promise((r) => setTimeout(r, 30));
        // The exchange on the wire completed: the refusal is the client's, above the wire
        // (as a body that fails to decode later), so its span ends as the exchange did.
        assert.deepEqual(log, ['start', 'headers', 'end']);
        const [span] = await spansAfter(sdk, 1);
        assert.equal(sdk.spans().length, 1);
        assert.equal(span!.attributes['network.protocol.version'], h2 ? '2' : '1.1');
        assert.equal(span!.attributes['http.response.status_code'], 200);
        assert.equal(span!.attributes['error.type'], undefined);
      } finally {
        for (const [n, fn] of subs) diagnostics.unsubscribe(n, fn);
        await c.close();
        if (h2) await server.close();
      }
    });
  }
});
