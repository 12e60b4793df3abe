// Adversarial suite, seams (issue 15, outside attack, round 2): Response.from reads like a
// response off the wire — its url never carries userinfo, and a body shorter than the
// content-length it declares fails as a wire body cut short does (same class, code and
// reason as a real connection closed mid-body).
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Client, ProtocolError, Response } from '../../src/index.js';

const T = { timeout: 10_000 };

async function truncatedWireError(): Promise<unknown> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await new Client().request(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    return await res.text().then(
      () => assert.fail('the wire body resolved'),
      (e: unknown) => e,
    );
  } finally {
    server.close();
  }
}

describe('seams: Response.from', () => {
  it('res.url drops userinfo (string or URL)', T, async () => {
    for (const url of ['http://user:pw@a.test/x', new URL('http://user:pw@a.test/x')]) {
      const res = Response.from({ status: 200, url, body: 'ok' });
      assert.equal(res.url, 'http://a.test/x');
      await res.dump();
    }
  });

  it('a body shorter than its content-length fails as a truncated wire body (bytes, string, stream)', T, async () => {
    const wire = await truncatedWireError();
    assert.ok(wire instanceof ProtocolError, String(wire));
    const bodies = { string: () => 'abc', bytes: () => Buffer.from('abc'), stream: () => Readable.from([Buffer.from('a'), Buffer.from('bc')]) };
    for (const [kind, body] of Object.entries(bodies)) {
      const res = Response.from({ status: 200, url: 'http://a.test/', headers: { 'content-length': '10' }, body: body() });
      const err = await res.text().then(
        () => assert.fail(`${kind}: resolved`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ProtocolError, `${kind}: ${String(err)}`);
      assert.equal(err.constructor, wire.constructor);
      assert.equal(err.code, wire.code);
      assert.equal(err.reason, wire.reason);
    }
  });

  it('a body that fills its content-length, and HEAD or 204/304 with one, read normally', T, async () => {
    const full = Response.from({ status: 200, url: 'http://a.test/', headers: { 'content-length': '3' }, body: 'abc' });
    assert.equal(await full.text(), 'abc');
    const head = Response.from({ status: 200, url: 'http://a.test/', method: 'HEAD', headers: { 'content-length': '10' } });
    assert.equal(await head.text(), '');
    const notModified = Response.from({ status: 304, url: 'http://a.test/', headers: { 'content-length': '10' } });
    assert.equal(await notModified.text(), '');
  });
});
