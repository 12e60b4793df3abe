// A stock node:http server that records every request it parses (method, target, headers,
// the body bytes it read, whether the body was cut short, which connection carried it)
// and answers 200 "ok" with keep-alive. The wire suites use it to prove what a real
// HTTP/1.1 parser made of hourglass's bytes: exactly the intended requests and bodies,
// nothing smuggled after them. Also `rawServer(script)`: a node:net server that writes
// scripted bytes after reading a request head, for responses node:http cannot produce.
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { Client, HourglassError, Transport, type TransportOptions } from '../../src/index.js';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The body ended early (the client closed mid-body). */
  aborted: boolean;
  /** Index of the TCP connection that carried it (0, 1, ...). */
  conn: number;
}

export interface Recorder {
  url(path: string): string;
  seen: Seen[];
  /** Bytes received on every connection, in order of arrival (all connections concatenated per connection). */
  raw: Buffer[];
  /** Requests node:http refused as malformed (clientError). */
  clientErrors: number;
}

/** Starts a recording node:http server; it and the returned client close after the test. */
export async function recorder(
  t: TestContext,
  opts: TransportOptions = {},
): Promise<{ rec: Recorder; client: Client; transport: Transport }> {
  const seen: Seen[] = [];
  const raw: Buffer[] = [];
  let conns = 0;
  const rec: Recorder = { url: () => '', seen, raw, clientErrors: 0 };
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const chunks: Buffer[] = [];
    const entry: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
      aborted: false,
      conn: (req.socket as net.Socket & { connIndex?: number }).connIndex ?? -1,
    };
    seen.push(entry);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('aborted', () => {
      entry.aborted = true;
    });
    req.on('error', () => {
      entry.aborted = true;
    });
    req.on('close', () => {
      entry.body = Buffer.concat(chunks);
    });
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  server.on('connection', (s: net.Socket & { connIndex?: number }) => {
    s.connIndex = conns++;
    const buf: Buffer[] = [];
    raw.push(Buffer.alloc(0));
    const i = raw.length - 1;
    s.on('data', (c: Buffer) => {
      buf.push(c);
      raw[i] = Buffer.concat(buf);
    });
  });
  server.on('clientError', (_err, socket) => {
    rec.clientErrors++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  rec.url = (p) => `http://127.0.0.1:${port}${p}`;
  const transport = new Transport(opts);
  const client = new Client({ transport });
  t.after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { rec, client, transport };
}

/**
 * A node:net server that, for each request head it reads on a connection, writes
 * `script(n, head)` (n counts requests across connections) and leaves the socket open.
 */
export async function rawServer(
  t: TestContext,
  script: (n: number, head: string) => string | Buffer,
): Promise<{ url(path: string): string; port: number; heads: string[] }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        heads.push(head);
        s.write(script(heads.length - 1, head));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: (p) => `http://127.0.0.1:${port}${p}`, port, heads };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** True when `e` is an HourglassError with this `code`. */
export function hasCode(e: unknown, code: string): boolean {
  return e instanceof HourglassError && e.code === code;
}
