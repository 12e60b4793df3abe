// The wire channels (src/wire.ts) as any subscriber sees them: per request on the wire the
// order start → connected → headers → end (or error), exactly one of end/error, the same
// WireRequest in every message; a redirect is two such sequences with attempt 0 and 1;
// a failure before the head is start → error; a body that fails ends with error;
// connection active/idle carry the same ConnectionInfo object as connection:open.
import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { Client, Transport } from '../../src/index.js';
import { FaultServer } from '../../src/testing/index.js';

const T = { timeout: 15_000 };
const NAMES = ['wire:start', 'wire:connected', 'wire:headers', 'wire:end', 'wire:error'];
const CONN = ['connection:open', 'connection:active', 'connection:idle', 'connection:close'];

describe('wire diagnostics channels', () => {
  let fs: FaultServer;
  let log: { name: string; msg: Record<string, unknown> }[] = [];
  const subs: [string, (m: unknown) => void][] = [];

  before(async () => {
    fs = await FaultServer.start();
    for (const n of [...NAMES, ...CONN]) {
      const fn = (m: unknown): void => void log.push({ name: n, msg: m as Record<string, unknown> });
      diagnostics.subscribe(`hourglass:${n}`, fn);
      subs.push([`hourglass:${n}`, fn]);
    }
  });
  after(async () => {
    for (const [n, fn] of subs) diagnostics.unsubscribe(n, fn);
    await fs.close();
  });

  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
  const wires = (): { name: string; wire: unknown; attempt: unknown }[] =>
    log
      .filter((e) => e.name.startsWith('wire:'))
      .map((e) => ({ name: e.name, wire: e.msg.wire, attempt: (e.msg.wire as { attempt: number }).attempt }));

  it('a request: start, connected, headers, end with one WireRequest; active then idle on the open connection', T, async () => {
    log = [];
    const c = new Client({ transport: new Transport() });
    await (await c.request(fs.url('/ok'))).text();
    await settle();
    const w = wires();
    assert.deepEqual(
      w.map((e) => e.name),
      ['wire:start', 'wire:connected', 'wire:headers', 'wire:end'],
    );
    assert.ok(w.every((e) => e.wire === w[0].wire));
    const conn = log.filter((e) => e.name.startsWith('connection:'));
    assert.deepEqual(
      conn.map((e) => e.name),
      ['connection:open', 'connection:active', 'connection:idle'],
    );
    assert.ok(conn.every((e) => e.msg.connection === conn[0].msg.connection));
    const connected = log.find((e) => e.name === 'wire:connected')!.msg;
    assert.equal(connected.reused, false);
    assert.equal(connected.protocol, '1.1');
    assert.equal(connected.connection, conn[0].msg.connection);
    assert.equal(log.find((e) => e.name === 'wire:end')!.msg.complete, true);
    await c.close();
  });

  it('a redirect: two sequences, attempt 0 then 1', T, async () => {
    log = [];
    const c = new Client({ transport: new Transport() });
    await (await c.request(fs.url('/redirect?to=/ok'))).text();
    await settle();
    const w = wires();
    assert.deepEqual(
      w.map((e) => `${e.name}@${String(e.attempt)}`),
      ['wire:start@0', 'wire:connected@0', 'wire:headers@0', 'wire:end@0', 'wire:start@1', 'wire:connected@1', 'wire:headers@1', 'wire:end@1'],
    );
    await c.close();
  });

  it('a failure before the head is start then error; a body failure ends with error', T, async () => {
    log = [];
    const c = new Client({ transport: new Transport({ responseHeaderTimeout: 80, readIdleTimeout: 80 }) });
    await assert.rejects(c.request(fs.url('/never')), { phase: 'response-headers' });
    const res = await c.request(fs.url('/stall-body?after=3&length=100'));
    await assert.rejects(res.text(), { phase: 'read-idle' });
    await settle();
    assert.deepEqual(
      wires().map((e) => e.name),
      ['wire:start', 'wire:connected', 'wire:error', 'wire:start', 'wire:connected', 'wire:headers', 'wire:error'],
    );
    await c.close();
  });

  it('setHeader works during wire:start only, and refuses a bad name or value', T, async () => {
    let got: Record<string, string> = {};
    fs.route('/hdr', (ex) => {
      got = { ...ex.request.headers };
      return ex.respond(200, {}, 'ok');
    });
    let later: { setHeader(n: string, v: string): void } | undefined;
    const fn = (m: unknown): void => {
      const wire = (m as { wire: { setHeader(n: string, v: string): void } }).wire;
      wire.setHeader('x-added', 'yes');
      wire.setHeader('bad name', 'x');
      wire.setHeader('x-crlf', 'a\r\nb: c');
      later = wire;
    };
    diagnostics.subscribe('hourglass:wire:start', fn);
    try {
      const c = new Client();
      await (await c.request(fs.url('/hdr'))).text();
      later!.setHeader('x-late', '1');
      await c.close();
    } finally {
      diagnostics.unsubscribe('hourglass:wire:start', fn);
    }
    assert.equal(got['x-added'], 'yes');
    assert.equal(got['x-crlf'], undefined);
    assert.equal(got['bad name'], undefined);
    assert.equal(got['x-late'], undefined);
  });
});
