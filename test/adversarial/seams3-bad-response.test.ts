// Adversarial suite, seams 3 (issue 15, third outside attack): an object that passes
// `instanceof Response` without being one — `Object.create(Response.prototype)`, a subclass
// instance that skipped construction, a Proxy of a real Response — resolved by a
// RoundTripper, an interceptor or a MockTransport reply function is HG_BAD_RESPONSE
// (SPEC §12), never a TypeError from deep inside.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, HourglassError, type Interceptor, Response, type RoundTripper } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

const T = { timeout: 5000 };
const URL_ = 'http://127.0.0.1:1/x';

function real(): Response {
  return Response.from({ status: 200, body: 'hi', url: URL_ });
}

/** Impostors, each built fresh. */
const impostors: Record<string, () => unknown> = {
  'Object.create(Response.prototype)': () => Object.create(Response.prototype) as unknown,
  'a subclass instance that skipped construction': () => {
    // A derived constructor that returns an object never runs Response's own.
    class Fake extends (Response as unknown as new () => object) {
      constructor(construct: boolean) {
        if (construct) super();
        return Object.create(new.target.prototype) as Fake;
      }
    }
    return new Fake(false);
  },
  'a Proxy of a real Response': () => new Proxy(real(), {}),
};

function isBadResponse(e: unknown): boolean {
  return e instanceof HourglassError && e.code === 'HG_BAD_RESPONSE' && !(e instanceof TypeError);
}

describe('seams3: a Response impostor is HG_BAD_RESPONSE', () => {
  for (const [name, make] of Object.entries(impostors)) {
    it(`a RoundTripper resolving with ${name}`, T, async () => {
      const rt: RoundTripper = { roundTrip: () => Promise.resolve(make() as Response) };
      const c = new Client({ transport: rt });
      await assert.rejects(c.request(URL_), isBadResponse);
    });
    it(`an interceptor resolving with ${name}`, T, async () => {
      const fake: Interceptor = () => Promise.resolve(make() as Response);
      const mock = new MockTransport();
      const c = new Client({ transport: mock, interceptors: [fake] });
      await assert.rejects(c.request(URL_), isBadResponse);
      const net = new Client({ transport: mock, networkInterceptors: [fake] });
      await assert.rejects(net.request(URL_), isBadResponse);
    });
    it(`a MockTransport reply function returning ${name}`, T, async () => {
      const mock = new MockTransport();
      mock.on('GET', URL_).reply(() => make() as { status: number });
      const c = new Client({ transport: mock });
      await assert.rejects(c.request(URL_), isBadResponse);
    });
  }

  it('Response.from given an impostor as its init is HG_INVALID_ARG, not a TypeError', T, () => {
    for (const make of Object.values(impostors)) {
      assert.throws(
        () => Response.from(make() as Parameters<typeof Response.from>[0]),
        (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG',
      );
    }
  });

  it('a real Response still passes, from a RoundTripper and an interceptor', T, async () => {
    const c = new Client({ transport: { roundTrip: () => Promise.resolve(real()) } });
    assert.equal(await (await c.request(URL_)).text(), 'hi');
    const i = new Client({ transport: new MockTransport(), interceptors: [() => Promise.resolve(real())] });
    assert.equal(await (await i.request(URL_)).text(), 'hi');
  });
});
