// adv-otel4 F7 (issue #17): HAR 1.2 `request.url` and `redirectURL` hold no fragment
// (never sent, and an implicit-flow token may sit there); the rest of the URL is kept.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Response, toHarEntry } from '../../src/index.js';

describe('otel4 F7: HAR URLs without fragments', () => {
  it('request.url and redirectURL drop the fragment, keep the query (secrets redacted)', { timeout: 5_000 }, () => {
    const res = Response.from({
      status: 302,
      url: 'http://127.0.0.1:9/ok?x=1&sig=S#access_token=FRAGSECRET',
      headers: { location: '/next?y=2#id_token=LOCFRAG' },
    });
    const e = toHarEntry(res);
    assert.equal(e.request.url, 'http://127.0.0.1:9/ok?x=1&sig=REDACTED');
    assert.equal(e.response.redirectURL, 'http://127.0.0.1:9/next?y=2');
    assert.deepEqual(
      e.request.queryString.map((q) => q.name),
      ['x', 'sig'],
    );
  });
});
