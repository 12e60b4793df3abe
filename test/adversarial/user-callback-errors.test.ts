// Adversarial suite, errors thrown by user callbacks (issue 15 review; README "Errors from
// your own code"): what an interceptor, a network interceptor, a retry `backoff`, a cookie
// jar, a bearerAuth `token()`, a mock's reply function or a download's `onResponse` /
// `onProgress` throws reaches the caller as the same object — not wrapped, not replaced —
// and a response the chain had produced for it is discarded (its connection goes back or
// closes: nothing stays active). The one wrapper is `checkRedirect` (SPEC §7):
// `HG_REDIRECT_REFUSED` with the thrown object as `cause`. A failing request body stream is
// `HG_REQUEST_BODY` with the thrown object as `cause` (the wire writer's error: it may be
// an I/O failure, not user code), on the wire and in the mock alike.
import * as assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  bearerAuth,
  Client,
  type ClientOptions,
  download,
  HourglassError,
  type Interceptor,
  Transport,
} from '../../src/index.js';
import { FaultServer, MockTransport } from '../../src/testing/index.js';
import { waitFor } from '../helpers/setup.js';

const T = { timeout: 10_000 };
/** A body too big to arrive whole: its connection stays active until it is read or discarded. */
const BIG = '/bytes?n=4194304';

async function world(t: TestContext, opts: Omit<ClientOptions, 'transport'> = {}): Promise<{ fs: FaultServer; transport: Transport; client: Client }> {
  const fs = await FaultServer.start();
  const transport = new Transport();
  const client = new Client({ ...opts, transport });
  t.after(async () => {
    await client.close();
    await fs.close();
  });
  return { fs, transport, client };
}

/** The rejection of `p` (fails if it resolves). */
async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p;
    await (v as { dump?: () => Promise<void> } | undefined)?.dump?.();
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

/** Nothing left active on the transport: every response the chain produced was let go. */
async function nothingActive(transport: Transport): Promise<void> {
  const ok = await waitFor(() => transport.stats().totals.active === 0, 3_000);
  assert.ok(ok, `connections still active: ${JSON.stringify(transport.stats().totals)}`);
}

class Mine extends Error {}

describe('adversarial: errors from user callbacks reach the caller as thrown', () => {
  it('an interceptor that throws before next(): the same object', T, async (t) => {
    const boom = new Mine('before');
    const { fs, client } = await world(t, { interceptors: [() => { throw boom; }] });
    assert.equal(await caught(client.request(fs.url('/ok'))), boom);
  });

  it('an interceptor that rejects after next() returned: the same object, the response discarded', T, async (t) => {
    const boom = new Mine('after');
    const { fs, transport, client } = await world(t, {
      interceptors: [
        async (req, next) => {
          await next(req);
          throw boom;
        },
      ],
    });
    assert.equal(await caught(client.request(fs.url(BIG))), boom);
    await nothingActive(transport);
  });

  it('a network interceptor that throws after next() returned: the same object, the response discarded', T, async (t) => {
    const boom = { not: 'even an Error' };
    const { fs, transport, client } = await world(t, {
      networkInterceptors: [
        async (req, next) => {
          await next(req);
          throw boom;
        },
      ],
    });
    assert.equal(await caught(client.request(fs.url(BIG))), boom);
    await nothingActive(transport);
  });

  it('an interceptor that calls next() twice returns the second response; the first is discarded', T, async (t) => {
    const replay: Interceptor = async (req, next) => {
      await next(req); // looked at, then replaced (e.g. a refused token)
      return next(req);
    };
    const { fs, transport, client } = await world(t, { interceptors: [replay] });
    const res = await client.request(fs.url(BIG));
    assert.equal((await res.bytes()).length, 4194304);
    await nothingActive(transport);
  });

  it('an interceptor that reads the body itself and returns another response keeps working (a cache)', T, async (t) => {
    const cache: Interceptor = async (req, next) => {
      const res = await next(req);
      const body = await res.text();
      const { Response } = await import('../../src/index.js');
      return Response.from({ status: res.status, headers: res.headers, body: body.toUpperCase(), url: req.url });
    };
    const { fs, client } = await world(t, { interceptors: [cache] });
    assert.equal(await (await client.request(fs.url('/ok'))).text(), 'OK');
  });

  it('a retry backoff that throws: the same object, the retried response discarded', T, async (t) => {
    const boom = new Mine('backoff');
    const { fs, transport, client } = await world(t, {
      retry: {
        limit: 2,
        statusCodes: [200],
        backoff: () => {
          throw boom;
        },
      },
    });
    assert.equal(await caught(client.request(fs.url(BIG))), boom);
    await nothingActive(transport);
  });

  it('a cookie jar that throws: the same object', T, async (t) => {
    const boom = new Mine('jar');
    const jar = {
      getCookieString: (): string => {
        throw boom;
      },
      setCookie: (): void => {},
    };
    const { fs, client } = await world(t, { jar });
    assert.equal(await caught(client.request(fs.url('/ok'))), boom);
  });

  it('a bearerAuth token() that throws on a 401: the same object, the 401 discarded', T, async (t) => {
    const boom = new Mine('no token');
    const fs = await FaultServer.start();
    fs.route('/guarded', (ex) =>
      ex.respond(401, [['WWW-Authenticate', 'Bearer realm="r"'], ['Content-Type', 'text/plain']], 'x'.repeat(4_194_304)),
    );
    const transport = new Transport();
    const client = new Client({ transport, interceptors: [bearerAuth({ token: () => Promise.reject(boom) })] });
    t.after(async () => {
      await client.close();
      await fs.close();
    });
    assert.equal(await caught(client.request(fs.url('/guarded'))), boom);
    await nothingActive(transport);
  });

  it('a MockTransport reply function that throws: the same object', T, async () => {
    const boom = new Mine('reply');
    const mock = new MockTransport();
    mock.on('GET', 'http://api.test/x').reply(() => {
      throw boom;
    });
    const client = new Client({ transport: mock });
    assert.equal(await caught(client.request('http://api.test/x')), boom);
  });

  it('checkRedirect is the exception (SPEC §7): HG_REDIRECT_REFUSED with the thrown object as cause', T, async (t) => {
    const boom = new Mine('no hops');
    const { fs, transport, client } = await world(t, {
      checkRedirect: () => {
        throw boom;
      },
    });
    const err = await caught(client.request(fs.url('/redirect?to=/ok')));
    assert.ok(err instanceof HourglassError && err.code === 'HG_REDIRECT_REFUSED', String(err));
    assert.equal(err.cause, boom);
    await nothingActive(transport);
  });

  it('a request body stream that throws is HG_REQUEST_BODY with the thrown object as cause, on the wire and in the mock', T, async (t) => {
    const boom = new Mine('generator');
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('part');
      throw boom;
    }
    const { fs, client } = await world(t);
    const wire = await caught(client.request(fs.url('/echo'), { method: 'POST', body: body() }));
    const mock = new MockTransport();
    mock.on('POST', 'http://api.test/echo').reply(200, 'ok');
    const mocked = await caught(new Client({ transport: mock }).request('http://api.test/echo', { method: 'POST', body: body() }));
    for (const e of [wire, mocked]) {
      assert.ok(e instanceof HourglassError && e.code === 'HG_REQUEST_BODY', String(e));
      assert.equal(e.cause, boom);
    }
  });

  it('download onResponse and onProgress that throw: the same object', T, async (t) => {
    const fs = await FaultServer.start();
    t.after(() => fs.close());
    const dest = join(tmpdir(), `hg-callback-${process.pid}.bin`);
    t.after(() => rm(`${dest}.part`, { force: true }).then(() => rm(dest, { force: true })));
    const onResponse = new Mine('onResponse');
    assert.equal(
      await caught(
        download(fs.url('/bytes?n=1000'), dest, {
          onResponse: () => {
            throw onResponse;
          },
        }),
      ),
      onResponse,
    );
    const onProgress = new Mine('onProgress');
    assert.equal(
      await caught(
        download(fs.url('/bytes?n=1000'), dest, {
          onProgress: () => {
            throw onProgress;
          },
        }),
      ),
      onProgress,
    );
  });
});
