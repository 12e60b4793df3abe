// Adversarial suite: SPEC §11 "No message, error field or diagnostic ever contains URL
// userinfo, including from URLs that fail to parse and from `Location` values."
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { download, fetch, request } from '../../src/index.js';
import { redactUrl } from '../../src/errors.js';

const SECRET = 'hunter2-S3cr3t';

/** Every string field of an error (and of its cause) must be free of the secret. */
function assertNoSecret(e: unknown, what: string): void {
  for (let err = e as Record<string, unknown> | undefined, depth = 0; err != null && depth < 3; depth++) {
    for (const k of ['message', 'url', 'stack']) {
      const v = err[k];
      if (typeof v === 'string') assert.ok(!v.includes(SECRET), `${what}: ${k} carries the password: ${v}`);
    }
    err = err.cause as Record<string, unknown> | undefined;
  }
}

describe('adversarial: credentials in URLs typed without a scheme', () => {
  const inputs = [`admin:${SECRET}@127.0.0.1:5984/db`, `admin:${SECRET}@db.internal/`, `admin:${SECRET}@db.internal`];
  it('redactUrl drops what stands before the @ of a scheme-less URL', { timeout: 2_000 }, () => {
    assert.equal(redactUrl(`admin:${SECRET}@db.internal/x`), 'db.internal/x');
    assert.equal(redactUrl(`admin:${SECRET}@db.internal`), 'db.internal');
    assert.equal(redactUrl('urn:isbn:0451450523'), 'urn:isbn:0451450523');
    assert.equal(redactUrl('foo:bar/x@y'), 'foo:bar/x@y', "an '@' after the first '/' is path");
    assert.equal(redactUrl(`http://admin:${SECRET}@h.test/`), 'http://h.test/');
  });
  for (const input of inputs) {
    it(`request, fetch and download refuse ${JSON.stringify(input.replace(SECRET, '…'))} without echoing the password`, { timeout: 5_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'hg-creds-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      for (const [api, call] of [
        ['request', () => request(input)],
        ['fetch', () => fetch(input)],
        ['download', () => download(input, join(dir, 'never'))],
      ] as const) {
        let caught: unknown;
        try {
          await call();
        } catch (err) {
          caught = err;
        }
        assert.ok(caught instanceof Error, `${api} must reject`);
        assertNoSecret(caught, api);
      }
    });
  }
});
