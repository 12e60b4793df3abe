// The HTTP clients the bench compares, behind one small interface.
//
// makeClient(name, { origin, port, inflight, churn, hourglass }) resolves with
//   { name, op(kind, path, body) => (lane) => Promise<bytes>, queued(), close() }
// where kind is
//   'text'   GET, whole body read as text (what an API call does); resolves with its length
//   'post'   POST `body` (a Buffer), whole response body read as bytes
//   'stream' GET, body consumed as a stream and discarded; resolves with the byte count
//            ('hourglass-readinto' reads it with res.readInto into one reused buffer)
// `lane` is the index of the calling loop (0 .. inflight-1): only the raw floor client
// uses it, to give every loop its own socket.
//
// Every library is used the way its documentation shows, with a keep-alive pool sized to
// the number of requests in flight where it has one; `churn` turns keep-alive off.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const CLIENT_NAMES = [
  'hourglass',
  'undici-request',
  'undici-fetch',
  'node-http',
  'got',
  'axios',
  'node-fetch',
  'raw',
];

/** Human labels for tables. */
export const CLIENT_LABELS = {
  hourglass: 'hourglass',
  'hourglass-on': 'hourglass (all timeouts on)',
  'hourglass-off': 'hourglass (all timeouts off)',
  'hourglass-readinto': 'hourglass, res.readInto(64 KiB buffer)',
  'hourglass-base': 'hourglass (BENCH_BASE_DIST build)',
  'hourglass-base-on': 'hourglass (BENCH_BASE_DIST build, all timeouts on)',
  'hourglass-on-idle1000': 'hourglass (all timeouts on, maxIdleConns 1000)',
  'undici-request': 'undici request (Pool)',
  'undici-fetch': 'undici fetch (Agent)',
  'node-http': 'node:http (keep-alive Agent)',
  got: 'got',
  axios: 'axios',
  'node-fetch': "Node's global fetch",
  raw: 'raw socket floor',
};

/** Hourglass options of the timeouts on/off scenario (SPEC §3). */
export const HOURGLASS_TIMEOUTS_ON = {
  transport: {
    dialTimeout: 30_000,
    tlsHandshakeTimeout: 10_000,
    poolTimeout: 30_000,
    writeTimeout: 30_000,
    writeIdleTimeout: 30_000,
    responseHeaderTimeout: 30_000,
    readIdleTimeout: 30_000,
    minThroughput: { bytesPerSecond: 1, window: 5_000 },
  },
  timeout: 60_000,
};
export const HOURGLASS_TIMEOUTS_OFF = {
  transport: {
    dialTimeout: 0,
    tlsHandshakeTimeout: 0,
    poolTimeout: 0,
    writeTimeout: 0,
    writeIdleTimeout: 0,
    responseHeaderTimeout: 0,
    readIdleTimeout: 0,
    minThroughput: { bytesPerSecond: 0, window: 0 },
  },
  timeout: 0,
};

async function drainText(stream) {
  let s = '';
  stream.setEncoding('utf8');
  for await (const c of stream) s += c;
  return s.length;
}

async function countStream(iterable) {
  let n = 0;
  for await (const c of iterable) n += c.byteLength;
  return n;
}

// --- raw socket floor -------------------------------------------------------------------

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Reads the Content-Length value of a head, or -1. Only the exact spellings servers here use. */
function contentLength(buf, end) {
  let i = buf.indexOf('ontent-Length:', 0, 'latin1');
  if (i === -1 || i > end) i = buf.indexOf('ontent-length:', 0, 'latin1');
  if (i === -1 || i > end) return -1;
  i += 14;
  while (buf[i] === 32) i++;
  let n = 0;
  let digits = 0;
  for (; i < end && buf[i] >= 48 && buf[i] <= 57 && digits < 16; i++, digits++) n = n * 10 + (buf[i] - 48);
  return digits === 0 ? -1 : n;
}

/**
 * One socket, one request at a time: writes a fixed request and counts the response by
 * its Content-Length. With `fresh`, a new socket per request (connection churn).
 */
class RawLane {
  constructor(port, request, fresh) {
    this.port = port;
    this.request = request;
    this.fresh = fresh;
    this.sock = undefined;
    this.pending = undefined;
  }

  send() {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, head: null, remaining: -1, length: 0 };
      if (this.sock === undefined || this.sock.destroyed) this.connect();
      this.sock.write(this.request);
    });
  }

  connect() {
    const sock = net.connect({ port: this.port, host: '127.0.0.1', noDelay: true });
    this.sock = sock;
    sock.on('data', (chunk) => {
      if (this.sock === sock) this.onData(chunk);
    });
    const dead = (err) => {
      // A socket already replaced (churn) must not fail the next socket's request.
      if (this.sock !== sock) return;
      this.sock = undefined;
      const p = this.pending;
      if (p !== undefined) {
        this.pending = undefined;
        p.reject(err ?? new Error('raw: connection closed before the response ended'));
      }
    };
    sock.on('error', dead);
    sock.on('close', () => dead(undefined));
  }

  onData(chunk) {
    const p = this.pending;
    if (p === undefined) {
      this.sock.destroy();
      return;
    }
    if (p.remaining < 0) {
      const buf = p.head === null ? chunk : Buffer.concat([p.head, chunk]);
      const he = buf.indexOf(CRLFCRLF);
      if (he === -1) {
        p.head = buf;
        return;
      }
      const len = contentLength(buf, he);
      if (len < 0) {
        this.pending = undefined;
        this.sock.destroy();
        p.reject(new Error('raw: response without Content-Length'));
        return;
      }
      p.head = null;
      p.length = len;
      p.remaining = len - (buf.length - he - 4);
    } else {
      p.remaining -= chunk.length;
    }
    if (p.remaining <= 0) {
      this.pending = undefined;
      if (p.remaining < 0 || this.fresh) this.sock.destroy();
      if (this.fresh) this.sock = undefined;
      p.resolve(p.length);
    }
  }

  close() {
    this.sock?.destroy();
  }
}

function rawClient({ port, inflight, churn }) {
  const lanes = new Map();
  return {
    op(kind, path, body) {
      const head =
        kind === 'post'
          ? `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`
          : `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${churn ? 'Connection: close\r\n' : ''}\r\n`;
      const request =
        kind === 'post' ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
      const key = `${kind} ${path}`;
      const list = [];
      for (let i = 0; i < inflight; i++) list.push(new RawLane(port, request, churn));
      lanes.set(key, list);
      return (lane) => list[lane].send();
    },
    async close() {
      for (const list of lanes.values()) for (const l of list) l.close();
    },
  };
}

// --- the libraries ------------------------------------------------------------------------

/** Creates client `name`. `hourglass` may carry `{ transport, timeout }` options. */
export async function makeClient(name, { origin, port, inflight, churn = false, hourglass = {}, ca, origins }) {
  // `ca`: the test server's self-signed certificate when `origin` is https. `origins`: the
  // origins kind 'origins' goes round-robin over (one after the other across all lanes).
  let next = 0;
  const nextOrigin = () => origins[next++ % origins.length];
  const url = (path) => `${origin}${path}`;
  const octet = { 'content-type': 'application/octet-stream' };

  if (name === 'raw') return { name, ...rawClient({ port, inflight, churn }) };

  if (name.startsWith('hourglass')) {
    // `…-on`: every timeout of SPEC §3 set; `…-idle1000`: maxIdleConns raised to 1,000.
    if (/-on(-|$)/.test(name)) {
      hourglass = {
        transport: { ...HOURGLASS_TIMEOUTS_ON.transport, ...(hourglass.transport ?? {}) },
        timeout: hourglass.timeout ?? HOURGLASS_TIMEOUTS_ON.timeout,
      };
    }
    // `…-off`: every timeout off, unless the caller passed options (the pair mode does).
    if (/-off(-|$)/.test(name) && hourglass.transport === undefined) hourglass = HOURGLASS_TIMEOUTS_OFF;
    if (name.endsWith('-idle1000')) hourglass = { ...hourglass, transport: { ...hourglass.transport, maxIdleConns: 1000 } };
    // `hourglass-base…`: another build (BENCH_BASE_DIST, e.g. a copy of dist/ before a change),
    // to compare a change with what it changes in one run.
    const base = name.startsWith('hourglass-base');
    if (base && !process.env.BENCH_BASE_DIST) throw new Error('hourglass-base needs BENCH_BASE_DIST=<dir with index.js>');
    const { Client, Transport } = await import(
      base ? pathToFileURL(path.resolve(process.env.BENCH_BASE_DIST, 'index.js')).href : '../dist/index.js'
    );
    const transport = new Transport({
      maxIdleConnsPerHost: Math.max(100, inflight),
      ...(churn ? { disableKeepAlives: true } : {}),
      ...(ca !== undefined ? { tls: { ca } } : {}),
      ...(hourglass.transport ?? {}),
    });
    const client = new Client({
      transport,
      ...(hourglass.timeout !== undefined ? { timeout: hourglass.timeout } : {}),
    });
    return {
      name,
      client,
      transport,
      op(kind, path, body) {
        const u = url(path);
        if (kind === 'text') return async () => (await (await client.request(u)).text()).length;
        if (kind === 'origins') return async () => (await (await client.request(`${nextOrigin()}${path}`)).text()).length;
        if (kind === 'post') {
          const opts = { method: 'POST', body, headers: octet };
          return async () => (await (await client.request(u, opts)).bytes()).length;
        }
        if (name === 'hourglass-readinto') {
          // Go's io.Copy shape: one caller-owned buffer for the whole body.
          const buf = new Uint8Array(64 * 1024);
          return async () => {
            const res = await client.request(u);
            let total = 0;
            for (let n; (n = await res.readInto(buf)) > 0; ) total += n;
            return total;
          };
        }
        return async () => countStream((await client.request(u)).body);
      },
      queued: () => transport.stats().totals.waiting,
      close: () => client.close(),
    };
  }

  if (name === 'undici-request') {
    const { Agent, Pool } = await import('undici');
    const pool = new Pool(origin, { connections: inflight, ...(ca !== undefined ? { connect: { ca } } : {}) });
    return {
      name,
      pool,
      op(kind, path, body) {
        if (kind === 'text') {
          const o = { path, method: 'GET', reset: churn };
          return async () => (await (await pool.request(o)).body.text()).length;
        }
        if (kind === 'origins') {
          // Many origins: an Agent (one Pool per origin), as undici's global dispatcher.
          const agent = new Agent();
          this.close = async () => {
            await agent.close();
            await pool.close();
          };
          return async () =>
            (await (await agent.request({ origin: nextOrigin(), path, method: 'GET' })).body.text()).length;
        }
        if (kind === 'post') {
          return async () =>
            (await (await pool.request({ path, method: 'POST', body, headers: octet })).body.arrayBuffer())
              .byteLength;
        }
        const o = { path, method: 'GET', reset: churn };
        return async () => countStream((await pool.request(o)).body);
      },
      queued: () => pool.stats.size,
      close: () => pool.close(),
    };
  }

  if (name === 'undici-fetch' || name === 'node-fetch') {
    let fetchFn = globalThis.fetch;
    let dispatcher;
    if (name === 'undici-fetch') {
      const undici = await import('undici');
      fetchFn = undici.fetch;
      dispatcher = new undici.Agent({ connections: inflight, ...(ca !== undefined ? { connect: { ca } } : {}) });
    }
    const init = dispatcher !== undefined ? { dispatcher } : {};
    return {
      name,
      op(kind, path, body) {
        const u = url(path);
        if (kind === 'text') return async () => (await (await fetchFn(u, init)).text()).length;
        if (kind === 'post') {
          const pinit = { ...init, method: 'POST', body, headers: octet };
          return async () => (await (await fetchFn(u, pinit)).arrayBuffer()).byteLength;
        }
        return async () => countStream((await fetchFn(u, init)).body);
      },
      close: async () => dispatcher?.close(),
    };
  }

  if (name === 'node-http') {
    const secure = origin.startsWith('https:');
    const mod = secure ? https : http;
    const agent = new mod.Agent({ keepAlive: !churn, maxSockets: inflight, ...(secure ? { ca } : {}) });
    const { hostname } = new URL(origin);
    const call = (method, path, body, consume, toPort = port) =>
      new Promise((resolve, reject) => {
        const req = mod.request(
          { agent, host: hostname, port: toPort, path, method, headers: body ? octet : {} },
          (res) => {
            consume(res).then(resolve, reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const collect = async (res) => {
      const chunks = [];
      for await (const c of res) chunks.push(c);
      return Buffer.concat(chunks).length;
    };
    return {
      name,
      agent,
      op(kind, path, body) {
        if (kind === 'text') return () => call('GET', path, undefined, drainText);
        if (kind === 'origins') {
          const ports = origins.map((o) => Number(new URL(o).port));
          let k = 0;
          return () => call('GET', path, undefined, drainText, ports[k++ % ports.length]);
        }
        if (kind === 'post') return () => call('POST', path, body, collect);
        return () => call('GET', path, undefined, countStream);
      },
      queued: () => {
        let n = 0;
        for (const list of Object.values(agent.requests)) n += list.length;
        return n;
      },
      close: async () => agent.destroy(),
    };
  }

  if (name === 'got') {
    const { default: got } = await import('got');
    const agent = new http.Agent({ keepAlive: !churn, maxSockets: inflight });
    const g = got.extend({ agent: { http: agent }, retry: { limit: 0 } });
    return {
      name,
      op(kind, path, body) {
        const u = url(path);
        if (kind === 'text') return async () => (await g(u).text()).length;
        if (kind === 'post') return async () => (await g.post(u, { body, headers: octet }).buffer()).length;
        return () => countStream(g.stream(u));
      },
      close: async () => agent.destroy(),
    };
  }

  if (name === 'axios') {
    const { default: axios } = await import('axios');
    const agent = new http.Agent({ keepAlive: !churn, maxSockets: inflight });
    const ax = axios.create({ httpAgent: agent });
    return {
      name,
      op(kind, path, body) {
        const u = url(path);
        if (kind === 'text') return async () => (await ax.get(u, { responseType: 'text' })).data.length;
        if (kind === 'post') {
          const cfg = { responseType: 'arraybuffer', headers: octet };
          return async () => (await ax.post(u, body, cfg)).data.length;
        }
        return async () => countStream((await ax.get(u, { responseType: 'stream' })).data);
      },
      close: async () => agent.destroy(),
    };
  }

  throw new Error(`unknown client ${name}`);
}
