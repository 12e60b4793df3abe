// Adversarial suite: response header bytes 0x80-0xFF (obs-text, RFC 9110 §5.5). SPEC §2:
// rawHeaders are "name/value pairs as received": decoded as Latin-1 (as node:http and undici),
// no byte is replaced by U+FFFD; a Location holding such bytes is followed to the URL its bytes
// say (UTF-8 read as UTF-8, any other byte percent-encoded as itself), never to %EF%BF%BD.
import * as assert from 'node:assert/strict';
import { startRawServer } from '../helpers/raw-server.js';
import { describe, it } from 'node:test';
import { request } from '../../src/index.js';
import { locationText } from '../../src/redirect.js';

async function server(t: { after: (f: () => unknown) => void }, answer: (path: string) => Buffer): Promise<{ base: string; seen: string[] }> {
  const seen: string[] = [];
  const srv = await startRawServer(t, (s) => {
    s.on('data', (d) => {
      const path = String(d).split(' ')[1]!;
      seen.push(path);
      s.write(answer(path));
    });
  });
  return { base: `http://127.0.0.1:${srv.port}`, seen };
}

const head = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('adversarial: obs-text in response headers', () => {
  it('a Latin-1 byte in a header value is kept (headers and rawHeaders)', { timeout: 5_000 }, async (t) => {
    const { base } = await server(t, () => head('HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename="caf', [0xe9], '.txt"\r\nContent-Length: 2\r\n\r\nok'));
    const res = await request(`${base}/file`);
    await res.text();
    assert.equal(res.rawHeaders[1], 'attachment; filename="caf\u00e9.txt"');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="caf\u00e9.txt"');
    assert.ok(!res.rawHeaders[1]!.includes('\ufffd'));
  });
  it('UTF-8 bytes in a header value are recoverable from the Latin-1 string', { timeout: 5_000 }, async (t) => {
    const { base } = await server(t, () => head('HTTP/1.1 200 OK\r\nX-Name: ', [...Buffer.from('Jürgen ✓')], '\r\nContent-Length: 0\r\n\r\n'));
    const res = await request(`${base}/`);
    await res.dump();
    assert.equal(Buffer.from(res.headers['x-name'] as string, 'latin1').toString('utf8'), 'Jürgen ✓');
  });
  const redirects: [string, number[], string][] = [
    ['a lone Latin-1 byte', [0xe9], '/dl/%E9.txt'],
    ['UTF-8 bytes', [0xc3, 0xa9], '/dl/%C3%A9.txt'],
  ];
  for (const [name, bytes, want] of redirects) {
    it(`a Location with ${name} is followed to ${want}`, { timeout: 5_000 }, async (t) => {
      const { base, seen } = await server(t, (path) =>
        path === '/redir'
          ? head('HTTP/1.1 302 Found\r\nLocation: /dl/', bytes, '.txt\r\nContent-Length: 0\r\n\r\n')
          : head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      );
      const res = await request(`${base}/redir`);
      await res.dump();
      assert.equal(seen.at(-1), want);
    });
  }
  it('locationText', { timeout: 2_000 }, () => {
    assert.equal(locationText('/plain?a=b'), '/plain?a=b');
    assert.equal(locationText('/dl/\u00e9'), '/dl/%E9');
    assert.equal(locationText('/dl/\u00c3\u00a9'), '/dl/\u00e9');
  });
});
