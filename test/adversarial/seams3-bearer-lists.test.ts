// Adversarial suite, seams 3 (issue 15, third outside attack): WWW-Authenticate with empty
// list elements (RFC 9110 §5.6.1: `#rule` lists allow them and recipients accept them) —
// `Bearer ,,,realm="r",service="s"` — still yields realm, service and scope, so
// bearerAuth fetches its token and replays.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerAuth, Client } from '../../src/index.js';
import { parseChallenges } from '../../src/interceptors/challenge.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 5000 };

describe('seams3: WWW-Authenticate lists with empty elements', () => {
  const table: Array<[string, Array<[string, Record<string, string>]>]> = [
    ['Bearer ,,,realm="r",service="s"', [['bearer', { realm: 'r', service: 's' }]]],
    ['Bearer ,realm="r"', [['bearer', { realm: 'r' }]]],
    ['Bearer , , realm="r" ,, service="s",,scope="a:b"', [['bearer', { realm: 'r', service: 's', scope: 'a:b' }]]],
    ['Bearer\t,\t,realm=r', [['bearer', { realm: 'r' }]]],
    [',, Bearer ,,realm="r",, , Basic ,realm="b"', [['bearer', { realm: 'r' }], ['basic', { realm: 'b' }]]],
    ['Basic realm="b",, ,Bearer ,,,realm="r",service="s",', [['basic', { realm: 'b' }], ['bearer', { realm: 'r', service: 's' }]]],
    ['Bearer ,,', [['bearer', {}]]],
    ['Bearer, Basic realm="b"', [['bearer', {}], ['basic', { realm: 'b' }]]],
    ['Bearer realm="r"', [['bearer', { realm: 'r' }]]],
  ];
  for (const [value, want] of table) {
    it(JSON.stringify(value), T, () => {
      const got = parseChallenges(value).map((c) => [c.scheme, { ...c.params }] as const);
      assert.deepEqual(got, want);
    });
  }

  it('bearerAuth reads realm and service from such a challenge and replays with the token', T, async () => {
    const mock = new MockTransport();
    const url = 'http://reg.test/v2/x';
    mock.on('GET', url).reply(401, 'no', { 'www-authenticate': 'Bearer ,,,realm="https://auth.test/t",service="reg",,scope="x:pull"' });
    mock.on('GET', url).reply((req) => ({ status: 200, body: req.headers['authorization'] ?? 'none' }));
    const seen: unknown[] = [];
    const c = new Client({
      transport: mock,
      interceptors: [
        bearerAuth({
          token: (ch) => {
            seen.push([ch.realm, ch.service, ch.scope]);
            return 'tok';
          },
        }),
      ],
    });
    const res = await c.request(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'Bearer tok');
    assert.deepEqual(seen, [['https://auth.test/t', 'reg', 'x:pull']]);
  });
});
