// hourglass/otel span events lie within their span (issue #17, adv-otel4 F4): the timings
// marks are whole epoch ms (Date.now()) while the SDK's span clock is performance's,
// sub-ms; taken as they were, a first-byte event could fall after the span's end (and a
// connect event of a dial before its start). Each event is kept within [start, now].
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { hrTimeToMicroseconds } from '@opentelemetry/core';
import { Client, Transport } from '../../src/index.js';
import { instrument } from '../../src/otel/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { makeSdk } from './sdk.js';

test('every span event (connect, first byte) lies within its span, over 40 requests on fresh connections', { timeout: 15_000 }, async (t) => {
  const fs = await FaultServer.start();
  const sdk = makeSdk();
  const inst = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  const c = new Client({ transport: new Transport({ disableKeepAlives: true }) });
  t.after(async () => {
    inst.disable();
    await c.close();
    await fs.close();
    await sdk.shutdown();
  });
  for (let i = 0; i < 40; i++) await (await c.request(fs.url('/ok'))).text();
  const spans = sdk.spans();
  assert.equal(spans.length, 40);
  let events = 0;
  const outside: string[] = [];
  for (const s of spans) {
    const start = hrTimeToMicroseconds(s.startTime);
    const end = hrTimeToMicroseconds(s.endTime);
    for (const e of s.events) {
      events++;
      const at = hrTimeToMicroseconds(e.time);
      if (at < start || at > end) outside.push(`${e.name} at ${(at - start) / 1000} ms of a ${(end - start) / 1000} ms span`);
    }
  }
  assert.ok(events >= 80, `connect and first-byte events were recorded (${events})`);
  assert.deepEqual(outside, []);
});
