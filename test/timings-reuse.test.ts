// Timings on a reused connection and the connection diagnostics payload (SPEC §5, §11;
// issue 14 item 15): every mark is a number — on reuse `lookup`, `connect` (and over TLS
// `secureConnect`) equal `socket`, as in got — and `hourglass:connection:open/close` carry
// the connection's addresses and ports, `close` included (captured at connect).
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { test } from 'node:test';
import type { ConnectionInfo } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';
import { clientFor, waitFor } from './helpers/setup.js';

const T = { timeout: 5_000 };

for (const tls of [false, true]) {
  const scheme = tls ? 'https' : 'http';
  test(`${scheme}: marks on a reused connection are numbers equal to socket; phases dns/tcp/tls are 0`, T, async (t) => {
    const fs = await FaultServer.start({ tls });
    const { client } = clientFor(t, tls ? { tls: { ca: fs.ca } } : {}, fs);
    const first = await client.request(fs.url('/ok'));
    await first.text();
    assert.equal(first.reused, false);
    assert.equal(typeof first.timings.connect, 'number');
    assert.equal(typeof first.timings.secureConnect, tls ? 'number' : 'undefined');

    const res = await client.request(fs.url('/ok'));
    await res.text();
    assert.equal(res.reused, true, 'second request reuses the connection');
    const tm = res.timings;
    for (const mark of ['start', 'socket', 'lookup', 'connect', 'upload', 'response', 'end'] as const) {
      assert.equal(typeof tm[mark], 'number', `${mark} is a number`);
    }
    assert.equal(tm.lookup, tm.socket);
    assert.equal(tm.connect, tm.socket);
    if (tls) assert.equal(tm.secureConnect, tm.socket);
    else assert.equal(tm.secureConnect, undefined, 'no secureConnect on plain http');
    const { dns, tcp, tls: tlsPhase } = tm.phases;
    assert.deepEqual({ dns, tcp, tls: tlsPhase }, { dns: 0, tcp: 0, tls: 0 });
    // The JSON form (CLI --json, logs) carries them as numbers too.
    const json = tm.toJSON();
    assert.equal(json.lookup, tm.socket);
    assert.equal(json.connect, tm.socket);
  });
}

test('connection:open and connection:close carry local and remote addresses and ports, close included', T, async (t) => {
  const fs = await FaultServer.start();
  const { client, transport } = clientFor(t, {}, fs);
  const opened: ConnectionInfo[] = [];
  const closed: ConnectionInfo[] = [];
  const onOpen = (m: unknown): void => void opened.push((m as { connection: ConnectionInfo }).connection);
  const onClose = (m: unknown): void => void closed.push((m as { connection: ConnectionInfo }).connection);
  diagnostics.subscribe('hourglass:connection:open', onOpen);
  diagnostics.subscribe('hourglass:connection:close', onClose);
  t.after(() => {
    diagnostics.unsubscribe('hourglass:connection:open', onOpen);
    diagnostics.unsubscribe('hourglass:connection:close', onClose);
  });
  const res = await client.request(fs.url('/ok'));
  await res.text();
  transport.closeIdleConnections();
  assert.ok(await waitFor(() => closed.length === 1, 2_000), 'connection:close published');
  assert.equal(opened.length, 1);
  const { port } = new URL(fs.url('/'));
  for (const [name, c] of [['open', opened[0]!], ['close', closed[0]!]] as const) {
    assert.equal(c.remoteAddress, '127.0.0.1', `${name}: remoteAddress`);
    assert.equal(c.remotePort, Number(port), `${name}: remotePort`);
    assert.equal(c.localAddress, '127.0.0.1', `${name}: localAddress`);
    assert.equal(typeof c.localPort, 'number', `${name}: localPort`);
    assert.ok(c.localPort! > 0);
    assert.equal(c.family, 4, `${name}: family`);
    assert.equal(typeof c.key, 'string');
    assert.equal('request' in c, false);
  }
  // The close message describes the same connection as the open one.
  assert.deepEqual(closed[0], opened[0]);
  // The server saw the same client port.
  assert.equal(fs.connectionLog[0]?.remotePort ?? closed[0]!.localPort, closed[0]!.localPort);
});
