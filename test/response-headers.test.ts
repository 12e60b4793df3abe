// Runtime shape of `res.headers` matches its type (issue 14 item 13, SPEC §2): a single
// Set-Cookie is still a string[], every other field is one string (repeats joined with
// ', '), an absent one is undefined. (Own keys only: the object still has Object.prototype,
// which SPEC §11's null prototype will remove — left to the parser's owner.)
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { newClient } from './helpers/setup.js';

test('res.headers: set-cookie always string[], other fields one string, absent undefined', { timeout: 5_000 }, async (t) => {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.setHeader('x-multi', ['a', 'b']);
    if (req.url === '/one') res.setHeader('set-cookie', 'a=1; Path=/');
    else res.setHeader('set-cookie', ['a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT', 'b=2']);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = newClient(t);

  const one = await client.request(`${base}/one`);
  await one.text();
  assert.deepEqual(one.headers['set-cookie'], ['a=1; Path=/']);
  assert.equal(one.headers['content-type'], 'text/plain');
  assert.equal(one.headers['x-multi'], 'a, b');
  assert.equal(one.headers.etag, undefined);
  assert.deepEqual(Object.keys(one.headers).sort(), ['connection', 'content-length', 'content-type', 'date', 'keep-alive', 'set-cookie', 'x-multi']);
  for (const [name, value] of Object.entries(one.headers)) {
    if (name === 'set-cookie') assert.ok(Array.isArray(value));
    else assert.equal(typeof value, 'string', name);
  }

  const two = await client.request(`${base}/two`);
  await two.text();
  assert.deepEqual(two.headers['set-cookie'], ['a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT', 'b=2']);
});
