// Raw node:http2 servers on loopback for the HTTP/2 client tests (until the h2 FaultServer
// covers a case): TLS with ALPN h2 (+ http/1.1 when asked) or h2c, counting sessions and
// streams, with the CA the client trusts.
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from '../../src/testing/certs.js';
import { Transport, type TransportOptions } from '../../src/transport.js';

export interface H2Server {
  url(path: string): string;
  /** Sessions accepted so far. */
  sessions: number;
  /** Streams received so far. */
  streams: number;
  /** Streams open now, and the most seen at once. */
  open: number;
  maxOpen: number;
  server: http2.Http2SecureServer | http2.Http2Server;
  live: Set<http2.ServerHttp2Session>;
  close(): Promise<void>;
}

export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, srv: H2Server) => void;

export async function h2Server(
  handler: StreamHandler,
  opts: { h2c?: boolean; allowHTTP1?: boolean; settings?: http2.Settings } = {},
): Promise<H2Server> {
  const server = opts.h2c
    ? http2.createServer({ settings: opts.settings })
    : http2.createSecureServer({ cert: SERVER_CERT, key: SERVER_KEY, allowHTTP1: opts.allowHTTP1 === true, settings: opts.settings });
  const live = new Set<http2.ServerHttp2Session>();
  const srv: H2Server = {
    url: (p) => `${opts.h2c ? 'http' : 'https'}://localhost:${(server.address() as AddressInfo).port}${p}`,
    sessions: 0,
    streams: 0,
    open: 0,
    maxOpen: 0,
    server,
    live,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (s) => {
    srv.sessions++;
    live.add(s);
    s.on('close', () => live.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    srv.streams++;
    srv.open++;
    srv.maxOpen = Math.max(srv.maxOpen, srv.open);
    stream.on('close', () => srv.open--);
    stream.on('error', () => {});
    handler(stream, headers, srv);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return srv;
}

/** A Transport trusting the test CA. */
export function h2Transport(o: TransportOptions = {}): Transport {
  return new Transport({ tls: { ca: CA_CERT }, ...o });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP relay in front of `port` whose connections can be blackholed (both ways silent, sockets kept open). */
export async function relay(port: number): Promise<{ port: number; conns: number; blackhole(): void; close(): Promise<void> }> {
  const net = await import('node:net');
  const pairs: { a: import('node:net').Socket; b: import('node:net').Socket; dead: boolean }[] = [];
  const server = net.createServer((a) => {
    const b = net.connect(port, '127.0.0.1');
    const pair = { a, b, dead: false };
    pairs.push(pair);
    r.conns++;
    a.on('data', (d) => {
      if (!pair.dead) b.write(d);
    });
    b.on('data', (d) => {
      if (!pair.dead) a.write(d);
    });
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const r = {
    port: (server.address() as AddressInfo).port,
    conns: 0,
    blackhole: () => {
      for (const p of pairs) p.dead = true;
    },
    close: () =>
      new Promise<void>((res) => {
        for (const p of pairs) {
          p.a.destroy();
          p.b.destroy();
        }
        server.close(() => res());
      }),
  };
  return r;
}
