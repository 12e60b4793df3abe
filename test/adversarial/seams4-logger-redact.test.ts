// Adversarial suite, seams 4 (issue 15, third outside attack F5): logger() redacts the
// URL as telemetry's url.full does (src/redact.ts): no userinfo, and the values of secret
// query parameters (access_token, X-Amz-Signature, sig, ...) are REDACTED, in the line and
// in entry.url; other parameters stay byte for byte.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, logger, type LogEntry } from '../../src/index.js';
import { fullUrl } from '../../src/otel/attributes.js';
import { MockTransport } from '../../src/testing/index.js';

describe('seams4: logger() and query secrets', () => {
  it('secret query values are REDACTED as on url.full', { timeout: 5_000 }, async () => {
    const mock = new MockTransport();
    mock.on('GET', /./).reply(200, 'ok').persist();
    const lines: string[] = [];
    const entries: LogEntry[] = [];
    const c = new Client({
      transport: mock,
      timeout: 2000,
      interceptors: [
        logger((line, e) => {
          lines.push(line);
          entries.push(e);
        }),
      ],
    });
    const url = 'http://api.test/a?access_token=QSECRET&page=2&X-Amz-Signature=ASIG&sig=S3&api_key=K';
    await (await c.request(url)).text();
    assert.equal(entries[0]!.url, 'http://api.test/a?access_token=REDACTED&page=2&X-Amz-Signature=REDACTED&sig=REDACTED&api_key=REDACTED');
    assert.equal(entries[0]!.url, fullUrl(new URL(url)));
    assert.ok(!/QSECRET|ASIG|S3|=K/.test(lines[0]!), lines[0]);
    assert.match(lines[0]!, /page=2/);
  });
});
