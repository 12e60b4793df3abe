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
