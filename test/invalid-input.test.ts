// Invalid input is refused at the call, typed and named (SPEC §11 "Invalid input"; issue 14
// items 10–12): misspelt option names in every options object hourglass accepts, a
// `transport` that is no RoundTripper, a `signal` that is no AbortSignal, a null options
// argument, and messages that show the offending value's type.
import * as assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import {
  Client,
  Dialer,
  download,
  HourglassError,
  type RequestOptions,
  Transport,
  type TransportOptions,
} from '../src/index.js';
import { closest, describeValue } from '../src/options.js';
import { newClient, rejectedWith } from './helpers/setup.js';

const T = { timeout: 5_000 };

/** Asserts `fn` throws HG_INVALID_ARG whose message matches every pattern. */
function throwsInvalid(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => isInvalid(e, patterns));
}

function isInvalid(e: unknown, patterns: RegExp[]): true {
  assert.ok(e instanceof HourglassError, `expected HourglassError, got ${String(e)}`);
  assert.equal(e.code, 'HG_INVALID_ARG', e.message);
  for (const p of patterns) assert.match(e.message, p);
  return true;
}

/** A loopback server that counts accepted connections (each is closed at once). */
async function countingServer(t: TestContext): Promise<{ url: string; accepts: () => number }> {
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, accepts: () => n };
}

test('misspelt Client, Transport and Dialer option names are HG_INVALID_ARG naming the closest known one', T, () => {
  throwsInvalid(() => new Client({ timout: 5 } as never), /unknown option timout/, /did you mean timeout\?/);
  throwsInvalid(
    () => new Transport({ responseHeadersTimeout: 5 } as TransportOptions),
    /unknown option responseHeadersTimeout/,
    /did you mean responseHeaderTimeout\?/,
  );
  throwsInvalid(() => new Transport({ readIdleTimout: 5 } as TransportOptions), /did you mean readIdleTimeout\?/);
  throwsInvalid(() => new Transport({ maxConnPerHost: 1 } as TransportOptions), /did you mean maxConnsPerHost\?/);
  throwsInvalid(() => new Dialer({ fallbackDelya: 5 } as never), /did you mean fallbackDelay\?/);
  throwsInvalid(
    () => new Transport({ dialer: { keepalive: 1 } } as never),
    /unknown option dialer\.keepalive/,
    /did you mean keepAlive\?/,
  );
  throwsInvalid(
    () => new Transport({ minThroughput: { bytesPerSec: 10, window: 100 } } as never),
    /minThroughput\.bytesPerSec/,
    /did you mean bytesPerSecond\?/,
  );
  throwsInvalid(() => new Client({ retry: { limits: 2 } } as never), /retry\.limits/, /did you mean limit\?/);
  // A name far from every known one lists them instead of guessing.
  throwsInvalid(() => new Client({ banana: 1 } as never), /unknown option banana/, /known options: .*maxRedirects/);
});

test('the known names, writeIdleTimeout included, are accepted everywhere', T, async (t) => {
  const transport = new Transport({ writeIdleTimeout: 1_000, responseHeaderTimeout: 1_000, dialer: { keepAlive: 0 } } as TransportOptions);
  const client = newClient(t, { transport, timeout: 1_000, retry: { limit: 0, maxRetryAfter: 1 } });
  assert.equal(transport.timeouts.responseHeaderTimeout, 1_000);
  const { url } = await countingServer(t);
  // Known per-request names pass the check (the request then fails on the closed socket).
  const err = await rejectedWith(
    client.request(url, { timeouts: { writeIdleTimeout: 500, readIdleTimeout: 500 } as never, followRedirects: false }),
  );
  assert.notEqual((err as HourglassError).code, 'HG_INVALID_ARG', err.message);
});

test('misspelt request, timeouts and retry names reject before anything is sent', T, async (t) => {
  const { url, accepts } = await countingServer(t);
  const client = newClient(t);
  const cases: [RequestOptions, RegExp][] = [
    [{ timout: 5 } as RequestOptions, /did you mean timeout\?/],
    [{ timeouts: { responseHeadersTimeout: 5 } } as never, /timeouts\.responseHeadersTimeout.*did you mean responseHeaderTimeout\?/],
    [{ timeouts: { readIdleTimeOut: 5 } } as never, /did you mean readIdleTimeout\?/],
    [{ timeouts: { minThroughput: { bytesPerSecond: 1, windw: 100 } } } as never, /did you mean window\?/],
    [{ retry: { statusCode: [503] } } as never, /retry\.statusCode.*did you mean statusCodes\?/],
    [{ maxRedirect: 3 } as never, /did you mean maxRedirects\?/],
  ];
  for (const [opts, pattern] of cases) {
    const err = await rejectedWith(client.request(url, opts));
    isInvalid(err, [pattern]);
  }
  assert.equal(accepts(), 0, 'no connection was opened for invalid options');
});

test('download() options are checked by name too', T, async (t) => {
  const { url, accepts } = await countingServer(t);
  const dest = join(tmpdir(), `hg-invalid-${process.pid}.bin`);
  isInvalid(await rejectedWith(download(url, dest, { sha: 'x' } as never)), [/did you mean sha256\?/]);
  isInvalid(await rejectedWith(download(url, dest, { retry: { limt: 1 } } as never)), [/retry\.limt.*did you mean limit\?/]);
  isInvalid(await rejectedWith(download(url, dest, { signal: {} } as never)), [/signal must be an AbortSignal, got object/]);
  isInvalid(await rejectedWith(download(url, dest, { timeouts: { readIdleTimout: 5 } } as never)), [/did you mean readIdleTimeout\?/]);
  isInvalid(await rejectedWith(download(url, dest, { onResponse: 'log' } as never)), [/onResponse must be a function/]);
  // Durations are checked by the one checkDuration every other option uses (same message).
  for (const bad of [-1, Number.NaN, Number.MAX_SAFE_INTEGER + 2, '5'] as const) {
    isInvalid(await rejectedWith(download(url, dest, { timeout: bad as number })), [/^timeout must be a number of milliseconds from 0/]);
    isInvalid(await rejectedWith(download(url, dest, { timeouts: { readIdleTimeout: bad as number } })), [
      /^readIdleTimeout must be a number of milliseconds from 0/,
    ]);
  }
  assert.equal(accepts(), 0);
  // onResponse is a known name (the unknown-option check accepts it).
  const ok = await rejectedWith(download('http://127.0.0.1:1/x', dest, { onResponse: () => {}, retry: { limit: 0 } }));
  assert.notEqual((ok as HourglassError).code, 'HG_INVALID_ARG', ok.message);
});

test('a streamed request body yielding something that is not bytes is HG_INVALID_ARG, not a bare TypeError', T, async (t) => {
  const server = net.createServer((s) => s.on('data', () => {}).on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  async function* body(): AsyncGenerator<unknown> {
    yield 'a';
    yield 42;
  }
  const client = newClient(t);
  const err = await rejectedWith(
    client.request(`http://127.0.0.1:${port}/`, { method: 'POST', body: body() as never, timeout: 3000 }),
  );
  isInvalid(err, [/request body chunk must be a string, an ArrayBufferView or an ArrayBuffer, got number/]);
});

test('a transport that is not a RoundTripper is refused at construction', T, () => {
  throwsInvalid(
    () => new Client({ transport: { readIdleTimeout: 200 } } as never),
    /transport must be a RoundTripper/,
    /got object/,
    /new Transport/,
  );
  throwsInvalid(() => new Client({ transport: 'http://proxy' } as never), /got string "http:\/\/proxy"/);
  throwsInvalid(() => new Client({ transport: null } as never), /got null/);
  // Anything with a roundTrip method is accepted (SPEC §12 RoundTripper).
  const custom = { roundTrip: () => Promise.reject(new Error('unused')), close() {} };
  assert.equal(new Client({ transport: custom as never }).transport, custom);
});

test('a signal that is not an AbortSignal and a null options argument are HG_INVALID_ARG', T, async (t) => {
  const { url, accepts } = await countingServer(t);
  const client = newClient(t);
  isInvalid(await rejectedWith(client.request(url, { signal: {} as AbortSignal })), [/signal must be an AbortSignal, got object/]);
  isInvalid(await rejectedWith(client.request(url, { signal: null } as never)), [/got null/]);
  isInvalid(await rejectedWith(client.request(url, null as never)), [/request options must be an object, got null/]);
  isInvalid(await rejectedWith(client.request(url, 'GET' as never)), [/got string "GET"/]);
  throwsInvalid(() => new Client(null as never), /Client options must be an object, got null/);
  throwsInvalid(() => new Transport(5 as never), /got number 5/);
  assert.equal(accepts(), 0);
});

test('every invalid-argument message shows the value with its type', T, async (t) => {
  const { url } = await countingServer(t);
  const client = newClient(t);
  isInvalid(await rejectedWith(client.request(url, { maxRedirects: '3' as never })), [/got string "3"/]);
  isInvalid(await rejectedWith(client.request(url, { timeout: '100' as never })), [/got string "100"/]);
  isInvalid(await rejectedWith(client.request(url, { timeouts: { readIdleTimeout: '5' as never } })), [/got string "5"/]);
  throwsInvalid(() => new Client({ maxRedirects: '3' as never }), /got string "3"/);
  throwsInvalid(() => new Client({ timeout: Number.NaN }), /got number NaN/);
  throwsInvalid(() => new Transport({ maxIdleConns: -1 }), /got number -1/);
  throwsInvalid(() => new Transport({ responseHeaderTimeout: true as never }), /got boolean true/);
  throwsInvalid(() => new Transport({ tls: 'yes' as never }), /got string "yes"/);
  throwsInvalid(() => new Dialer({ timeout: [5] as never }), /got array of 1/);
  assert.equal(describeValue(undefined), 'undefined');
  assert.equal(describeValue(new Date(0)), 'object Date');
});

test('closest() suggests near misses only', T, () => {
  const names = ['timeout', 'timeouts', 'maxRedirects', 'responseHeaderTimeout'];
  assert.equal(closest('timout', names), 'timeout');
  assert.equal(closest('Timeouts', names), 'timeouts');
  assert.equal(closest('responseHeadersTimeout', names), 'responseHeaderTimeout');
  assert.equal(closest('maxRedirect', names), 'maxRedirects');
  assert.equal(closest('xyz', names), undefined);
});
