// Adversarial suite, seams (issue 15, outside attack): a call that fails by its signal or
// deadline while user code in the chain (an interceptor, a network interceptor, a foreign
// RoundTripper) holds it rejects request() once, and nothing else is left rejected
// unhandled — not the chain's own promise (a pre-aborted signal, an abort fired during the
// synchronous part of an interceptor), not a late throw or a late non-Response of that code
// (which would crash a default Node process, exit 1).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, bearerAuth, Client, type ClientOptions, logger, type RoundTripper, TimeoutError } from '../../src/index.js';

const T = { timeout: 10_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Nothing listens on port 1: a request that got that far would fail to connect. */
const NOWHERE = 'http://127.0.0.1:1/x';

/** Runs `fn` while recording unhandled rejections; returns them after a settling pause. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const on = (e: unknown): void => void seen.push(e);
  process.on('unhandledRejection', on);
  try {
    await fn();
    await sleep(150);
  } finally {
    process.off('unhandledRejection', on);
  }
  return seen;
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('seams: no unhandled rejection when the call fails under user code', () => {
  const withChain: Record<string, ClientOptions<RoundTripper>> = {
    logger: { interceptors: [logger(() => undefined)] },
    bearerAuth: { interceptors: [bearerAuth({ token: () => 't' })] },
    'network logger': { networkInterceptors: [logger(() => undefined)] },
    'foreign RoundTripper': { transport: { roundTrip: () => Promise.reject(new Error('never called')) } },
  };
  for (const [name, opts] of Object.entries(withChain)) {
    it(`a pre-aborted signal with ${name}: one AbortError, nothing unhandled`, T, async () => {
      let err: unknown;
      const un = await unhandledDuring(async () => {
        err = await rejectionOf(new Client(opts).request(NOWHERE, { signal: AbortSignal.abort() }));
      });
      assert.ok(err instanceof AbortError, String(err));
      assert.deepEqual(un, []);
    });
  }

  const sync = (ac: AbortController): Record<string, ClientOptions<RoundTripper>> => ({
    'abort in the sync part of an interceptor': { interceptors: [async (req, next) => (ac.abort(), next(req))] },
    'abort in the sync part of a network interceptor': { networkInterceptors: [async (req, next) => (ac.abort(), next(req))] },
    'abort in the sync part of a RoundTripper': { transport: { roundTrip: () => (ac.abort(), sleep(20).then(() => Promise.reject(new Error('late')))) } },
    'sync abort, then a late non-Response': { interceptors: [async () => (ac.abort(), await sleep(50), 42 as never)] },
    'sync abort, returns a non-Response at once': { interceptors: [async () => (ac.abort(), 42 as never)] },
    'sync abort in a network interceptor, then a late non-Response': { networkInterceptors: [async () => (ac.abort(), await sleep(50), 42 as never)] },
    'sync abort in a RoundTripper, then a late non-Response': { transport: { roundTrip: async () => (ac.abort(), await sleep(50), 42 as never) } },
    'sync abort, then a late throw': {
      interceptors: [
        async () => {
          ac.abort();
          await sleep(50);
          throw new Error('late');
        },
      ],
    },
    'abort after an await, then a late non-Response': { interceptors: [async () => (await sleep(10), ac.abort(), await sleep(50), 42 as never)] },
  });
  for (const name of Object.keys(sync(new AbortController()))) {
    it(`${name}: one AbortError, nothing unhandled`, T, async () => {
      const ac = new AbortController();
      let err: unknown;
      const un = await unhandledDuring(async () => {
        err = await rejectionOf(new Client(sync(ac)[name]).request(NOWHERE, { signal: ac.signal }));
        await sleep(100); // the late settle happens
      });
      assert.ok(err instanceof AbortError, String(err));
      assert.deepEqual(un, []);
    });
  }

  it('the deadline passes during the sync part, then a late non-Response: one TimeoutError, nothing unhandled', T, async () => {
    const spin = async (): Promise<never> => {
      const t = Date.now();
      while (Date.now() - t < 40);
      await sleep(50);
      return 42 as never;
    };
    let err: unknown;
    const un = await unhandledDuring(async () => {
      err = await rejectionOf(new Client({ timeout: 20, interceptors: [spin] }).request(NOWHERE));
      await sleep(100);
    });
    assert.ok(err instanceof TimeoutError, String(err));
    assert.deepEqual(un, []);
  });
});
