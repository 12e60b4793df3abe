// Adversarial suite, what an overall timeout says (issue 13, item 15; SPEC §3 Client
// `timeout`, §4 `requestSent`): a `request` timeout names the phase that was running
// (`activePhase`, "during <phase>" in the message) and says whether the request was sent.
// Servers that hang in DNS, TCP connect, the TLS handshake, before the response head and
// in the middle of a body; all on loopback, each test bounded in seconds.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { Client, TimeoutError, Transport, type TransportOptions } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { startRawServer } from '../helpers/raw-server.js';
import { rejection } from '../helpers/setup.js';

const OVERALL = 300;
const LATE = 700;

function client(t: TestContext, opts: TransportOptions = {}): Client {
  const c = new Client({ transport: new Transport(opts), timeout: OVERALL });
  t.after(() => c.close());
  return c;
}

function overall(err: unknown, activePhase: string, requestSent: boolean, ms: number): TimeoutError {
  assert.ok(err instanceof TimeoutError, `expected TimeoutError, got ${String(err)}`);
  assert.equal(err.phase, 'request', err.message);
  assert.equal(err.activePhase, activePhase, err.message);
  assert.ok(err.message.includes(`during ${activePhase}`), err.message);
  assert.equal(err.requestSent, requestSent, err.message);
  assert.ok(err.message.includes(requestSent ? '(request sent)' : '(request not sent)'), err.message);
  assert.ok(ms <= OVERALL + LATE, `settled after ${Math.round(ms)} ms`);
  return err;
}

/** A server that reads the request and answers `head` (+ `body`), then stays silent. */
async function rawServer(t: TestContext, reply: string | undefined): Promise<number> {
  const srv = await startRawServer(t, (s) => {
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n\r\n') && reply !== undefined) {
        s.write(reply);
        reply = undefined;
      }
    });
  });
  return srv.port;
}

describe('adversarial: the overall timeout names the running phase', () => {
  it('during the TLS handshake: activePhase tls, request not sent', { timeout: 5_000 }, async (t) => {
    const fs = await FaultServer.start();
    t.after(() => fs.close());
    const { host, port } = await fs.tlsHang();
    const c = client(t);
    const { err, ms } = await rejection(c.request(`https://${host}:${port}/`));
    overall(err, 'tls', false, ms);
  });

  it('during DNS: activePhase dns', { timeout: 5_000 }, async (t) => {
    const lookup = (() => {}) as unknown as net.LookupFunction; // never answers
    const c = client(t, { dialer: { lookup } });
    const { err, ms } = await rejection(c.request('http://never.test/'));
    overall(err, 'dns', false, ms);
  });

  it('during TCP connect: activePhase connect', { timeout: 5_000 }, async (t) => {
    const fs = await FaultServer.start();
    t.after(() => fs.close());
    const { host, port } = await fs.blackhole();
    const c = client(t);
    const { err, ms } = await rejection(c.request(`http://${host}:${port}/`));
    overall(err, 'connect', false, ms);
  });

  it('waiting for a proxy to answer CONNECT: activePhase connect (the tunnel reports it)', { timeout: 5_000 }, async (t) => {
    const proxy = await rawServer(t, undefined); // reads CONNECT, never answers
    const c = client(t, { proxy: `http://127.0.0.1:${proxy}` });
    const { err, ms } = await rejection(c.request('https://tunnelled.test/'));
    overall(err, 'connect', false, ms);
  });

  it('each layer reports its own phase: only the policy layers with no holder object write the budget\'s', { timeout: 5_000 }, () => {
    // Issue 15 item 3: the dialer, TLS, proxy tunnel, pool and connection report their phase
    // as holders of the budget (a `phase` getter); nothing below the chain assigns it.
    const src = new URL('../../../src/', import.meta.url);
    const writers: string[] = [];
    const walk = (dir: URL): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(new URL(`${e.name}/`, dir));
        else if (e.name.endsWith('.ts')) {
          const text = readFileSync(new URL(e.name, dir), 'utf8');
          if (/\.activePhase\s*=[^=]|\.requestSent\s*=[^=]/.test(text)) writers.push(new URL(e.name, dir).pathname.split('/src/')[1]!);
        }
      }
    };
    walk(src);
    // chain.ts: retry backoff and the cookie jar; download: its own budget across requests;
    // errors.ts: the error's own fields.
    assert.deepEqual(writers.sort(), ['chain.ts', 'download.ts', 'download/shared.ts', 'errors.ts']);
  });

  it('waiting for the response head: activePhase response-headers, request sent', { timeout: 5_000 }, async (t) => {
    const port = await rawServer(t, undefined);
    const c = client(t);
    const { err, ms } = await rejection(c.request(`http://127.0.0.1:${port}/`));
    overall(err, 'response-headers', true, ms);
  });

  it('in the middle of a body: activePhase body, request sent', { timeout: 5_000 }, async (t) => {
    const port = await rawServer(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial');
    const c = client(t);
    const t0 = performance.now();
    const res = await c.request(`http://127.0.0.1:${port}/`);
    const { err } = await rejection(res.text());
    overall(err, 'body', true, performance.now() - t0);
  });

  it('in the middle of a small body left unread: request sent', { timeout: 5_000 }, async (t) => {
    const port = await rawServer(t, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart');
    const c = client(t);
    const t0 = performance.now();
    const res = await c.request(`http://127.0.0.1:${port}/`);
    await new Promise((r) => setTimeout(r, OVERALL + 50));
    const { err } = await rejection(res.text());
    overall(err, 'body', true, performance.now() - t0 - 50);
  });
});
