// An abort at every phase (UN-17, GO-18): the request rejects with AbortError whose cause
// is signal.reason, promptly, the exchange's socket is closed, and nothing is left waiting.
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, Client, type ClientOptions, Transport, type TransportOptions } from '../src/index.js';
import { FaultServer } from '../src/testing/index.js';

async function expectAbort(start: (signal: AbortSignal) => Promise<unknown>, afterMs: number): Promise<void> {
  const ac = new AbortController();
  const reason = new Error(`stop after ${afterMs}`);
  const p = start(ac.signal);
  const timer = setTimeout(() => ac.abort(reason), afterMs);
  const t0 = performance.now();
  try {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof AbortError, `expected AbortError, got ${String(err)}`);
      assert.equal(err.name, 'AbortError');
      assert.equal(err.code, 'ABORT_ERR');
      assert.equal(err.cause, reason);
      return true;
    });
  } finally {
    clearTimeout(timer);
  }
  assert.ok(performance.now() - t0 < afterMs + 500, 'settles promptly after the abort');
}

describe('abort at every phase', () => {
  let fs: FaultServer;
  let tlsFs: FaultServer;
  const clients: Client[] = [];
  const mk = (t: TransportOptions = {}, c: ClientOptions = {}): Client => {
    const x = new Client({ ...c, transport: new Transport(t) });
    clients.push(x);
    return x;
  };
  before(async () => {
    fs = await FaultServer.start();
    tlsFs = await FaultServer.start({ tls: true });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await fs.close();
    await tlsFs.close();
  });

  it('an already-aborted signal rejects without dialing', async () => {
    const c = mk();
    const before = fs.connections;
    const ac = new AbortController();
    const reason = new Error('early');
    ac.abort(reason);
    await assert.rejects(c.request(fs.url('/ok'), { signal: ac.signal }), (err: unknown) => {
      assert.ok(err instanceof AbortError);
      assert.equal(err.cause, reason);
      return true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.connections, before);
  });

  it('during DNS', async () => {
    const c = mk({ dialer: { lookup: () => {} } });
    await expectAbort((signal) => c.request('http://never-resolves.test/', { signal }), 100);
  });

  it('during connect', async () => {
    const bh = await fs.blackhole();
    const c = mk();
    await expectAbort((signal) => c.request(`http://${bh.host}:${bh.port}/`, { signal }), 100);
  });

  it('during the TLS handshake', async () => {
    const hang = await tlsFs.tlsHang();
    const c = mk({ tls: { ca: tlsFs.ca } });
    await expectAbort((signal) => c.request(`https://${hang.host}:${hang.port}/`, { signal }), 100);
  });

  it('while queued for a connection, leaving the queue at once', async () => {
    const c = mk({ maxConnsPerHost: 1 });
    const holder = c.request(fs.url('/never'), { timeout: 2_000 });
    holder.catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    await expectAbort((signal) => c.request(fs.url('/ok'), { signal }), 100);
    assert.equal(c.transport.stats().totals.waiting, 0);
    await holder.catch(() => {});
  });

  it('while writing the request body', async () => {
    fs.route('/no-read-abort', async (ex) => {
      ex.socket.pause();
      await ex.stall();
    }, { readBody: false });
    const c = mk();
    const body = Buffer.alloc(64 * 1024 * 1024, 0x62);
    await expectAbort((signal) => c.request(fs.url('/no-read-abort'), { method: 'POST', body, signal }), 150);
  });

  it('while waiting for the response head; the server sees the socket close (GO-16)', async () => {
    const c = mk();
    await expectAbort((signal) => c.request(fs.url('/never?case=go16'), { signal }), 100);
    const req = fs.requests.find((r) => r.target === '/never?case=go16');
    assert.ok(req !== undefined);
    // The server's read on that socket returns EOF/RST promptly.
    const deadline = Date.now() + 2_000;
    let info = fs.connectionLog.find((ci) => ci.id === req.connectionId);
    while (info?.clientEnded == null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      info = fs.connectionLog.find((ci) => ci.id === req.connectionId);
    }
    assert.ok(info?.clientEnded != null, 'server saw the client close the socket');
  });

  it('while reading the body: the body errors with AbortError, cause = reason', async () => {
    const c = mk();
    const ac = new AbortController();
    const reason = new Error('mid-body');
    const res = await c.request(fs.url('/stall-body?after=5&length=100'), { signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    await assert.rejects(res.text(), (err: unknown) => {
      assert.ok(err instanceof AbortError);
      assert.equal(err.cause, reason);
      return true;
    });
    assert.equal(c.transport.stats().totals.active, 0);
  });

  it('an abort after the body was fully read does not affect the next request on that socket (GO-11b)', async () => {
    const c = mk();
    const ac = new AbortController();
    const res = await c.request(fs.url('/ok'), { signal: ac.signal });
    assert.equal(await res.text(), 'ok');
    ac.abort(new Error('late'));
    const res2 = await c.request(fs.url('/ok'));
    assert.equal(res2.reused, true);
    assert.equal(await res2.text(), 'ok');
  });
});
