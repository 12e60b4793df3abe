// Adversarial suite, seams (issue 15, outside attack): bearerAuth's token never goes out to
// an origin other than the one whose challenge earned it (SPEC §12), even when an
// interceptor after it copies the headers (README's signing pattern: clone(), or a new
// HeaderList rebuilt entry by entry) before a same-host other-port redirect, or rewrites
// req.url to another origin (a mirror interceptor). The binding is enforced where the
// request goes out, the last stage before the transport.
import * as assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { bearerAuth, Client, HeaderList, type Interceptor } from '../../src/index.js';

const T = { timeout: 10_000 };

async function serve(t: TestContext, h: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const srv: Server = createServer(h);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

/** Origin A answers 401 without its token; B (same host, other port) records what it got. */
async function twoOrigins(t: TestContext): Promise<{ a: string; b: string; atB: string[] }> {
  const atB: string[] = [];
  const b = await serve(t, (req, res) => {
    atB.push(req.headers.authorization ?? '-');
    res.end('b');
  });
  const a = await serve(t, (req, res) => {
    if (req.url === '/mine') {
      res.writeHead(302, { location: `${b}/b` }); // the caller's own header, no challenge
      return res.end();
    }
    if (req.headers.authorization !== 'Bearer SECRET-A') {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.example/t",scope="s"' });
      return res.end();
    }
    if (req.url === '/go') {
      res.writeHead(302, { location: `${b}/b` });
      return res.end();
    }
    res.end('a');
  });
  return { a, b, atB };
}

const sign: Interceptor = (req, next) => next({ ...req, headers: req.headers.clone().set('x-signature', 'abc') });
const rebuild: Interceptor = (req, next) => {
  const h = new HeaderList();
  for (const [k, v] of req.headers) h.append(k, v);
  return next({ ...req, headers: h });
};

describe('seams: bearerAuth token bound to its origin where the request goes out', () => {
  for (const [label, after] of [
    ['clone()', sign],
    ['a rebuilt HeaderList', rebuild],
  ] as const) {
    it(`an interceptor after bearerAuth copies the headers with ${label}: a same-host other-port redirect gets no token`, T, async (t) => {
      const { a, atB } = await twoOrigins(t);
      const c = new Client({ interceptors: [bearerAuth({ token: () => 'SECRET-A' }), after] });
      assert.equal(await (await c.request(`${a}/x`)).text(), 'a');
      assert.equal(await (await c.request(`${a}/go`)).text(), 'b');
      assert.deepEqual(atB, ['-']);
      await c.close();
    });
  }

  for (const where of ['interceptors', 'networkInterceptors'] as const) {
    it(`an interceptor after bearerAuth (${where}) rewrites req.url to another origin: no token there`, T, async (t) => {
      const { a, b, atB } = await twoOrigins(t);
      const mirror: Interceptor = (req, next) =>
        req.url.pathname.startsWith('/mirror') ? next({ ...req, url: new URL(`${b}${req.url.pathname}`) }) : next(req);
      const c = new Client({ [where]: [bearerAuth({ token: () => 'SECRET-A' }), mirror] });
      assert.equal(await (await c.request(`${a}/x`)).text(), 'a');
      assert.equal(await (await c.request(`${a}/mirror/y`)).text(), 'b');
      assert.deepEqual(atB, ['-']);
      await c.close();
    });
  }

  it("the caller's own Authorization is not bound: a same-host other-port redirect keeps it (SPEC §7)", T, async (t) => {
    const { a, atB } = await twoOrigins(t);
    const c = new Client({ interceptors: [bearerAuth({ token: () => 'unused' }), sign] });
    const res = await c.request(`${a}/mine`, { headers: { authorization: 'Bearer MINE' } });
    assert.equal(await res.text(), 'b');
    assert.deepEqual(atB, ['Bearer MINE']);
    await c.close();
  });
});
