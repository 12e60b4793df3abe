// Adversarial suite, seams 2 (issue 15, second outside attack): Response.from and
// MockTransport frame a body as the wire does — a body longer than its content-length is
// cut to it, a bad or twice-differing content-length is ProtocolError `bad-content-length`,
// content-length beside transfer-encoding is `conflicting-framing` — each checked against a
// raw loopback server sending the same head. Response.from refuses unknown option keys.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, HourglassError, ProtocolError, Response } from '../../src/index.js';
import { MockTransport } from '../../src/testing/index.js';

type Case = [name: string, headers: [string, string][], body: string];
const CASES: Case[] = [
  ['content-length shorter than the body', [['content-length', '2']], 'abcdef'],
  ['content-length not a number', [['content-length', 'zz']], 'abc'],
  ['negative content-length', [['content-length', '-1']], 'abc'],
  ['two differing content-lengths', [['content-length', '3'], ['content-length', '4']], 'abc'],
  ['content-length with chunked', [['content-length', '3'], ['transfer-encoding', 'chunked']], 'abc'],
];

async function outcome(p: Promise<Response>): Promise<string> {
  try {
    const r = await p;
    return `${r.status} ${JSON.stringify(await r.text())}`;
  } catch (e) {
    return e instanceof ProtocolError ? `ProtocolError ${e.reason}` : String(e);
  }
}

describe('seams2: mock framing is the wire framing', () => {
  it('MockTransport and Response.from agree with a raw server', { timeout: 10_000 }, async (t) => {
    const srv = net.createServer((s) => {
      s.once('data', (d) => {
        const c = CASES[Number(String(d).split(' ')[1]!.slice(1))]!;
        s.end(`HTTP/1.1 200 OK\r\n${c[1].map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${c[2]}`);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => srv.close());
    const port = (srv.address() as net.AddressInfo).port;
    const wire = new Client({ timeout: 2000 });
    const mock = new MockTransport();
    const mc = new Client({ transport: mock, timeout: 2000 });
    t.after(() => wire.close());
    for (const [i, [name, headers, body]] of CASES.entries()) {
      mock.on('GET', `http://m.test/${i}`).reply(200, body, headers);
      const w = await outcome(wire.request(`http://127.0.0.1:${port}/${i}`));
      const m = await outcome(mc.request(`http://m.test/${i}`));
      const f = await outcome(new Promise<Response>((r) => r(Response.from({ status: 200, url: 'http://a.test/', headers, body }))));
      assert.equal(m, w, `MockTransport: ${name}`);
      assert.equal(f, w, `Response.from: ${name}`);
    }
  });

  it('a stream body longer than its content-length is cut, and the stream closed', { timeout: 10_000 }, async () => {
    const src = new Readable({
      read() {
        this.push('abcd');
      },
    });
    const res = Response.from({ status: 200, url: 'http://a.test/', headers: { 'content-length': '10' }, body: src });
    assert.equal(await res.text(), 'abcdabcdab');
    assert.equal(src.destroyed, true);
  });

  it('an iterator body longer than its content-length is cut and returned', { timeout: 10_000 }, async () => {
    let returned = false;
    async function* gen(): AsyncGenerator<string> {
      try {
        for (;;) yield 'xyz';
      } finally {
        returned = true;
      }
    }
    const res = Response.from({ status: 200, url: 'http://a.test/', headers: { 'content-length': '4' }, body: gen() });
    assert.equal(await res.text(), 'xyzx');
    await new Promise((r) => setImmediate(r));
    assert.equal(returned, true);
  });

  it('Response.from refuses an unknown option', { timeout: 5000 }, () => {
    assert.throws(
      () => Response.from({ status: 200, url: 'http://a.test/', bdy: 'abc' } as unknown as Parameters<typeof Response.from>[0]),
      (e: unknown) => e instanceof HourglassError && e.code === 'HG_INVALID_ARG' && /bdy/.test(e.message),
    );
  });
});
