// The HTTP/2 client against the fourth round of outside findings of issue #16 (SPEC §11,
// §13): a connection error read together with a response head, per-stream failures that
// must stay per-stream, big header lists, 1xx floods, over-long bodies and `:status 099`.
// Each test failed before its fix.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rig, settle, ok, protocol } from './spec-helpers.js';

const T = { timeout: 15_000 };
const SLOW = { readIdleTimeout: 5_000, responseHeaderTimeout: 5_000 };

describe('h2 adversarial (round 4): F0 a connection error in the same read as the head', () => {
  for (const tls of [false, true]) {
    for (const name of ['head-then-oversized', 'head-then-bad-padding', 'head-then-data-unknown-stream', 'head-then-ping-3']) {
      it(`${tls ? 'h2' : 'h2c'} ${name}: the body fails h2-protocol-error at once, the session leaves the pool, the next request dials`, T, async () => {
        const r = await rig({ h2: true, tls }, SLOW);
        try {
          const bad = await settle(r.client, r.fs.url(`/h2/malformed/${name}`));
          assert.equal(bad.res?.status, 200, 'the head arrived');
          const e = protocol(bad, 'h2-protocol-error', undefined, 1500);
          assert.equal(e.requestSent, true);
          assert.equal(r.transport.stats().totals.idle, 0, 'the dead session is not idle in the pool');
          ok(await settle(r.client, r.fs.url('/ok')));
          assert.equal(r.fs.connections, 2);
        } finally {
          await r.close();
        }
      });
    }
  }
});

describe('h2 adversarial (round 4): F3 interim heads', () => {
  it('10 interim heads then 200: success, got1xxResponse 10 times', T, async () => {
    const r = await rig({ h2: true });
    try {
      let n = 0;
      const s = await settle(r.client, r.fs.url('/h2/interim?count=10'), { trace: { got1xxResponse: () => void n++ } });
      assert.equal(ok(s), 'ok');
      assert.equal(n, 10);
    } finally {
      await r.close();
    }
  });

  it('11 interim heads: ProtocolError too-many-1xx on that stream; the connection serves the next request', T, async () => {
    const r = await rig({ h2: true });
    try {
      const e = protocol(await settle(r.client, r.fs.url('/h2/interim?count=11')), 'too-many-1xx');
      assert.equal(e.requestSent, true);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial (round 4): F1 many response header fields', () => {
  it('a head of 1 000 small fields succeeds on h2 (node\'s 128-field default no longer applies)', T, async () => {
    const r = await rig({ h2: true });
    try {
      const s = await settle(r.client, r.fs.url('/h2/many-headers?count=1000'));
      assert.equal(ok(s), 'ok');
      assert.equal(s.res?.headers['x-h999'], 'v');
    } finally {
      await r.close();
    }
  });

  it('more fields than fit in maxResponseHeaderBytes: headers-too-large on that stream only, the connection is reused', T, async () => {
    const r = await rig({ h2: true }, { maxResponseHeaderBytes: 1000 });
    try {
      const e = protocol(await settle(r.client, r.fs.url('/h2/many-headers?count=400')), 'headers-too-large');
      assert.equal(e.requestSent, true);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});

describe('h2 adversarial (round 4): F5 :status 099', () => {
  it('`:status 099` fails that stream h2-protocol-error (malformed); the connection serves the next request', T, async () => {
    const r = await rig({ h2: true });
    try {
      const e = protocol(await settle(r.client, r.fs.url('/h2/malformed/status-099')), 'h2-protocol-error');
      assert.equal(e.requestSent, true);
      ok(await settle(r.client, r.fs.url('/ok')));
      assert.equal(r.fs.connections, 1);
    } finally {
      await r.close();
    }
  });
});
