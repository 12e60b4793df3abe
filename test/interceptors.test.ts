// The shipped interceptors (SPEC §12). bearerAuth against a FaultServer registry realm
// (a 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, a /token endpoint):
// the token is fetched once across many calls, fetched again only on a new 401, never
// sent to another origin, and a non-replayable body is not replayed. The challenge
// parser's quoted-string rules. logger: one line per call with method, URL without
// credentials, status or error, duration and phases, no header values.
//
// The interceptor runs in front of `next` = a real request over loopback (the Client
// with redirects and retries off); the Client-chain tests (networkInterceptors across a
// redirect) need the chain branch (h1-chain) and are skipped before it.
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import {
  bearerAuth,
  Client,
  type ClientOptions,
  type BearerChallenge,
  type Interceptor,
  logger,
  type LogEntry,
  type NextFn,
  outgoingRequest,
  type OutgoingRequestInit,
  HourglassError,
  type Response,
  TimeoutError,
} from '../src/index.js';
import { parseChallenges } from '../src/interceptors/challenge.js';
import { FaultServer, MockTransport } from '../src/testing/index.js';

const T = { timeout: 10_000 };

/** `next` = one request on the wire through `client` (no redirects, no retries). */
function wire(client: Client): NextFn {
  return (req) =>
    client.request(req.url, {
      method: req.method,
      headers: [...req.headers.entries()],
      body: req.body?.open(),
      signal: req.signal,
      followRedirects: false,
      retry: 0,
    });
}

interface Realm {
  fs: FaultServer;
  /** Authorization values the protected route received, in order ('' for none). */
  seen: string[];
  /** Tokens the /token endpoint issued. */
  issued: string[];
  /** Revokes every token issued so far. */
  revokeAll(): void;
}

/** A FaultServer registry: /v2/* needs a Bearer token from /token. */
async function realm(t: TestContext, scope = 'repository:lib:pull'): Promise<Realm> {
  const fs = await FaultServer.start();
  t.after(() => fs.close());
  const valid = new Set<string>();
  const r: Realm = { fs, seen: [], issued: [], revokeAll: () => valid.clear() };
  fs.route('/token', (ex) => {
    const tok = `tok-${fs.port}-${r.issued.length + 1}-${ex.query.get('scope') ?? ''}`;
    r.issued.push(tok);
    valid.add(tok);
    return ex.respond(200, { 'content-type': 'text/plain' }, tok);
  });
  for (const path of ['/v2/lib/manifest', '/v2/lib/blob', '/v2/lib/upload']) {
    fs.route(path, (ex) => {
      const auth = ex.request.headers['authorization'] ?? '';
      r.seen.push(auth);
      if (auth.startsWith('Bearer ') && valid.has(auth.slice(7))) {
        return ex.respond(200, {}, `ok ${ex.request.body.toString()}`);
      }
      return ex.respond(
        401,
        { 'www-authenticate': `Bearer realm="${fs.url('/token')}",service="registry.test",scope="${scope}"` },
        'unauthorized',
      );
    });
  }
  return r;
}

/** bearerAuth whose token() asks the realm's /token endpoint, counting its calls. */
function registryAuth(client: Client): { auth: Interceptor; challenges: BearerChallenge[] } {
  const challenges: BearerChallenge[] = [];
  const auth = bearerAuth({
    token: async (c) => {
      challenges.push(c);
      const u = new URL(c.realm!);
      u.searchParams.set('service', c.service ?? '');
      u.searchParams.set('scope', c.scope ?? '');
      return (await client.request(u)).text();
    },
  });
  return { auth, challenges };
}

async function call(auth: Interceptor, next: NextFn, url: string, init?: OutgoingRequestInit): Promise<[number, string]> {
  const res = await auth(outgoingRequest(url, init), next);
  return [res.status, await res.text()];
}

describe('bearerAuth', () => {
  it('fetches the token once across many calls (sequential and concurrent)', T, async (t) => {
    const r = await realm(t);
    const client = new Client();
    t.after(() => client.close());
    const { auth, challenges } = registryAuth(client);
    const next = wire(client);
    const url = r.fs.url('/v2/lib/manifest');
    const first = await Promise.all(Array.from({ length: 4 }, () => call(auth, next, url)));
    for (const [status] of first) assert.equal(status, 200);
    for (let i = 0; i < 6; i++) assert.deepEqual(await call(auth, next, r.fs.url('/v2/lib/blob')), [200, 'ok ']);
    assert.equal(challenges.length, 1, 'token() called once');
    assert.equal(r.issued.length, 1);
    const c = challenges[0]!;
    assert.equal(c.realm, r.fs.url('/token'));
    assert.equal(c.service, 'registry.test');
    assert.equal(c.scope, 'repository:lib:pull');
    assert.equal(c.origin, new URL(url).origin);
    // The six later calls carried the token up front: no 401 among them.
    assert.deepEqual(r.seen.slice(-6), Array(6).fill(`Bearer ${r.issued[0]}`));
  });

  it('asks for a new token when the server refuses the cached one with a new 401', T, async (t) => {
    const r = await realm(t);
    const client = new Client();
    t.after(() => client.close());
    const { auth, challenges } = registryAuth(client);
    const next = wire(client);
    const url = r.fs.url('/v2/lib/manifest');
    assert.equal((await call(auth, next, url))[0], 200);
    assert.equal((await call(auth, next, url))[0], 200);
    r.revokeAll();
    assert.equal((await call(auth, next, url))[0], 200);
    assert.equal((await call(auth, next, url))[0], 200);
    assert.equal(challenges.length, 2);
    assert.equal(r.issued.length, 2);
    assert.equal(r.seen.at(-1), `Bearer ${r.issued[1]}`);
  });

  it('never sends a token to another origin (another port of the same host)', T, async (t) => {
    const a = await realm(t);
    const b = await realm(t, 'repository:other:pull');
    const client = new Client();
    t.after(() => client.close());
    const { auth, challenges } = registryAuth(client);
    const next = wire(client);
    assert.equal((await call(auth, next, a.fs.url('/v2/lib/manifest')))[0], 200);
    const aToken = `Bearer ${a.issued[0]}`;
    const bSeenBefore = b.seen.length;
    assert.equal((await call(auth, next, b.fs.url('/v2/lib/manifest')))[0], 200);
    assert.equal(b.seen[bSeenBefore], '', "B's first request carries no token (not A's)");
    assert.ok(!b.seen.includes(aToken), "A's token never reached B");
    assert.equal(challenges.length, 2, 'B earned its own token');
    assert.equal(challenges[1]!.origin, new URL(b.fs.origin).origin);
    assert.ok(!a.seen.includes(`Bearer ${b.issued[0]}`), "B's token never reached A");
  });

  it('a non-replayable body is not replayed: the 401 comes back', T, async (t) => {
    const r = await realm(t);
    const client = new Client();
    t.after(() => client.close());
    const { auth, challenges } = registryAuth(client);
    const next = wire(client);
    const url = r.fs.url('/v2/lib/upload');
    const body = Readable.from([Buffer.from('stream')]);
    const [status] = await call(auth, next, url, { method: 'PUT', body });
    assert.equal(status, 401);
    assert.equal(r.seen.length, 1, 'sent once');
    assert.equal(challenges.length, 0);
    // A replayable body is replayed with the token.
    assert.deepEqual(await call(auth, next, url, { method: 'PUT', body: 'bytes' }), [200, 'ok bytes']);
  });

  it("a caller's own Authorization passes untouched; a non-Bearer 401 is returned", T, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://x.test/own').reply((req) => ({ status: 200, body: req.headers['authorization'] }));
    mock.on('GET', 'http://x.test/basic').reply(401, '', { 'www-authenticate': 'Basic realm="x"' });
    let calls = 0;
    const auth = bearerAuth({ token: () => `t${++calls}` });
    const next: NextFn = (req) => mock.roundTrip(req);
    assert.deepEqual(await call(auth, next, 'http://x.test/own', { headers: { authorization: 'Basic abc' } }), [200, 'Basic abc']);
    assert.equal((await call(auth, next, 'http://x.test/basic'))[0], 401);
    assert.equal(calls, 0);
  });
});

describe('WWW-Authenticate parsing', () => {
  it('reads quoted-strings with commas and escaped quotes, several challenges, token68', T, () => {
    const cs = parseChallenges(
      'Basic realm="a, b", BEARER Realm="https://auth.test/token?x=1,2",service="reg \\"q\\"",scope="repository:a/b:pull,push" , Negotiate abc==',
    );
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ['basic', 'bearer', 'negotiate'],
    );
    assert.equal(cs[0]!.params['realm'], 'a, b');
    assert.equal(cs[1]!.params['realm'], 'https://auth.test/token?x=1,2');
    assert.equal(cs[1]!.params['service'], 'reg "q"');
    assert.equal(cs[1]!.params['scope'], 'repository:a/b:pull,push');
    assert.equal(cs[2]!.token68, 'abc==');
    assert.equal(Object.getPrototypeOf(cs[1]!.params), null);
    assert.deepEqual(parseChallenges('Bearer'), [{ scheme: 'bearer', params: Object.create(null), token68: undefined }]);
    assert.equal(parseChallenges('Bearer realm=tok, error=invalid_token')[0]!.params['error'], 'invalid_token');
    assert.equal(parseChallenges('Bearer realm="unterminated')[0]!.params['realm'], undefined);
  });
});

describe('logger', () => {
  it('one line per call: method, URL without credentials, status, duration, phases', T, async () => {
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/users?page=2').delay(20).reply(200, 'x');
    const lines: Array<[string, LogEntry]> = [];
    const log = logger((line, entry) => lines.push([line, entry]));
    const req = outgoingRequest('http://alice:s3cret@api.test/users?page=2', {
      headers: { authorization: 'Bearer top-secret' },
    });
    // The mock matches on the URL without userinfo, as the client sends it.
    const next: NextFn = (r) => mock.roundTrip({ ...r, url: new URL('http://api.test/users?page=2') });
    const res = await log(req, next);
    assert.equal(res.status, 200);
    assert.equal(lines.length, 1);
    const [line, entry] = lines[0]!;
    assert.match(line, /^GET http:\/\/api\.test\/users\?page=2 -> 200 in \d+ ms \(dns \d+, tcp \d+, tls \d+, firstByte \d+\)$/);
    assert.doesNotMatch(line, /alice|s3cret|top-secret/);
    assert.equal(entry.status, 200);
    assert.ok(entry.durationMs >= 15, `duration ${entry.durationMs}`);
    assert.equal(entry.url, 'http://api.test/users?page=2');
  });

  it('a failed call logs the error name, code and phase, once, and still throws', T, async () => {
    const mock = new MockTransport({ responseHeaderTimeout: 30 });
    mock.on('POST', 'http://api.test/slow').stall();
    const lines: string[] = [];
    const log = logger((line) => {
      lines.push(line);
      throw new Error('a broken sink does not fail the request');
    });
    await assert.rejects(
      log(outgoingRequest('http://api.test/slow', { method: 'POST' }), (r) => mock.roundTrip(r)),
      (e) => e instanceof TimeoutError,
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^POST http:\/\/api\.test\/slow -> TimeoutError ETIMEDOUT response-headers in \d+ ms$/);
  });
});

/** Whether this branch's Client takes `networkInterceptors` (the chain branch's does). */
async function clientRunsNetworkInterceptors(): Promise<boolean> {
  let ran = false;
  const probe: Interceptor = (req, next) => {
    ran = true;
    return next(req);
  };
  const mock = new MockTransport();
  mock.on('*', () => true).reply(200);
  try {
    const c = new Client({ transport: mock, networkInterceptors: [probe] } as unknown as ClientOptions);
    await c.request('http://probe.test/').then((r) => r.dump(), () => undefined);
    await c.close();
  } catch {
    return false;
  }
  return ran;
}

const C = { ...T, skip: (await clientRunsNetworkInterceptors()) ? false : 'needs the chain branch (h1-chain): networkInterceptors' };

describe('bearerAuth in the Client chain', () => {
  it('as a network interceptor, a redirect to another origin carries no token', C, async (t) => {
    const a = await realm(t);
    const b = await realm(t);
    a.fs.route('/v2/lib/moved', (ex) => ex.respond(302, { location: b.fs.url('/v2/lib/manifest') }));
    const plain = new Client();
    t.after(() => plain.close());
    const { auth, challenges } = registryAuth(plain);
    const client = new Client({ networkInterceptors: [auth] } as unknown as ClientOptions);
    t.after(() => client.close());
    assert.equal((await client.request(a.fs.url('/v2/lib/manifest'))).status, 200);
    const aToken = `Bearer ${a.issued[0]}`;
    const res = await client.request(a.fs.url('/v2/lib/moved'));
    assert.equal(res.status, 200);
    await res.dump();
    assert.ok(!b.seen.includes(aToken), "A's token never reached B");
    assert.equal(b.seen[0], '', "B's first hop had no token");
    assert.equal(challenges.length, 2);
  });

  it('as an outer interceptor, a redirect to another port of the same host carries no token', C, async (t) => {
    // SPEC §7 keeps a caller's Authorization on a same-host redirect to another port; a
    // bearerAuth token is bound to its origin and is dropped there (found by an outside attack).
    const a = await realm(t);
    const b = await realm(t);
    assert.equal(new URL(a.fs.url('/')).hostname, new URL(b.fs.url('/')).hostname);
    a.fs.route('/v2/lib/moved', (ex) => ex.respond(302, { location: b.fs.url('/v2/lib/manifest') }));
    const plain = new Client();
    t.after(() => plain.close());
    const { auth } = registryAuth(plain);
    const client = new Client({ interceptors: [auth] });
    t.after(() => client.close());
    assert.equal((await client.request(a.fs.url('/v2/lib/manifest'))).status, 200);
    const aToken = `Bearer ${a.issued[0]}`;
    const res = await client.request(a.fs.url('/v2/lib/moved'));
    await res.dump();
    assert.ok(!b.seen.includes(aToken), "A's token never reached B");
  });

  it('HG_BAD_RESPONSE names the method and the URL', T, async () => {
    const client = new Client({ interceptors: [async () => null as unknown as Response] });
    try {
      await assert.rejects(client.request('http://127.0.0.1:9/x', { method: 'PUT', body: 'b' }), (err: unknown) => {
        assert.ok(err instanceof HourglassError);
        assert.equal(err.code, 'HG_BAD_RESPONSE');
        assert.equal(err.method, 'PUT');
        assert.ok(String(err.url).startsWith('http://127.0.0.1:9/x'), String(err.url));
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
