// Adversarial suite, seams 3 (issue 15, third outside attack): over a Unix socket a TLS
// failure names the socket (`unix:/path`), as the connect errors do.
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client, HourglassError, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

describe('seams3: TLS errors over a Unix socket name it', () => {
  it('an untrusted certificate on a Unix socket: the message says unix:/path', { timeout: 10_000 }, async (t) => {
    const path = join(mkdtempSync(join(tmpdir(), 'hg-s3-')), 's.sock');
    const server = await FaultServer.start({ socketPath: path, tls: true });
    t.after(() => server.close());
    const transport = new Transport({ socketPath: path });
    t.after(() => transport.close());
    const c = new Client({ transport, timeout: 5000 });
    const err = await c.request('https://svc.test/').then(
      () => assert.fail('expected a TLS failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HourglassError, String(err));
    assert.ok(err.message.includes(`unix:${path}`), err.message);
    assert.match(err.message, /^TLS handshake/);
  });
});
