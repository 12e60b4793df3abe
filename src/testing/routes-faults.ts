/**
 * routes-faults — built-in routes that fail in time or at the socket: delayed or
 * dripped heads and bodies, stalls, resets (RST), early closes (FIN), truncation.
 * Documented in the table of ./routes.ts.
 *
 * Invariant: a reset that follows bytes the client must see first waits `wait` ms
 * (default 50) before the RST, because a kernel that receives an RST may discard
 * data the client has not read yet (Linux does), which would turn "head then reset"
 * into "reset before headers".
 */

import type { Exchange } from './exchange.js';
import { type BuiltinRoute, num } from './route-kit.js';
import { rangeContent } from './routes-content.js';

const OCTETS: [string, string] = ['Content-Type', 'application/octet-stream'];

async function drip(ex: Exchange): Promise<void> {
  const body = rangeContent(Math.max(0, num(ex.query, 'bytes', 10)));
  const interval = num(ex.query, 'interval', 100);
  const chunk = Math.max(1, num(ex.query, 'chunk', 1));
  await ex.writeHead(200, [OCTETS, ['Content-Length', String(body.length)]]);
  for (let off = 0; off < body.length && !ex.closed; off += chunk) {
    await ex.sleep(interval);
    await ex.write(body.subarray(off, off + chunk));
  }
}

async function dripHeaders(ex: Exchange): Promise<void> {
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Dripped: head\r\nContent-Length: 2\r\n\r\n';
  await ex.writeSlowly(head, {
    chunkSize: Math.max(1, num(ex.query, 'chunk', 1)),
    intervalMs: num(ex.query, 'interval', 50),
  });
  await ex.write('ok');
}

async function stallBody(ex: Exchange): Promise<void> {
  const length = Math.max(0, num(ex.query, 'length', 10));
  const after = Math.min(length, Math.max(0, num(ex.query, 'after', 3)));
  await ex.writeHead(200, [OCTETS, ['Content-Length', String(length)]]);
  await ex.write(rangeContent(length).subarray(0, after));
  await ex.stall();
}

async function resetMidBody(ex: Exchange): Promise<void> {
  const length = Math.max(0, num(ex.query, 'length', 100));
  const send = Math.min(length, Math.max(0, num(ex.query, 'send', 10)));
  await ex.writeHead(200, [OCTETS, ['Content-Length', String(length)]]);
  await ex.write(rangeContent(length).subarray(0, send));
  await ex.sleep(num(ex.query, 'wait', 50));
  ex.reset();
}

async function truncated(ex: Exchange): Promise<void> {
  const length = Math.max(0, num(ex.query, 'length', 100));
  const send = Math.min(length, Math.max(0, num(ex.query, 'send', 10)));
  await ex.writeHead(200, [OCTETS, ['Content-Length', String(length)]]);
  await ex.end(rangeContent(length).subarray(0, send));
}

export const FAULT_ROUTES: readonly BuiltinRoute[] = [
  {
    path: '/delay-headers',
    description: '`?ms=1000`: waits, then 200 `ok`',
    handler: async (ex) => {
      await ex.sleep(num(ex.query, 'ms', 1000));
      await ex.respond(200, { 'Content-Type': 'text/plain' }, 'ok');
    },
  },
  { path: '/never', description: 'reads the request, never answers', handler: (ex) => ex.stall() },
  {
    path: '/drip',
    description: '`?bytes=10&interval=100&chunk=1`: head at once, then `chunk` bytes every `interval` ms',
    handler: drip,
  },
  {
    path: '/drip-headers',
    description: '`?interval=50&chunk=1`: the head itself dripped, then `ok`',
    handler: dripHeaders,
  },
  {
    path: '/stall-body',
    description: '`?after=3&length=10`: head, `after` body bytes, then silence',
    handler: stallBody,
  },
  {
    path: '/reset-after-headers',
    description: '`?wait=50`: head (Content-Length 100), `wait` ms, RST',
    handler: async (ex) => {
      await ex.writeHead(200, [OCTETS, ['Content-Length', '100']]);
      await ex.sleep(num(ex.query, 'wait', 50));
      ex.reset();
    },
  },
  {
    path: '/reset-mid-body',
    description: '`?length=100&send=10&wait=50`: head, `send` bytes, `wait` ms, RST',
    handler: resetMidBody,
  },
  { path: '/reset-before-headers', description: 'RST without answering', handler: (ex) => ex.reset() },
  { path: '/close-before-headers', description: 'FIN without answering', handler: (ex) => ex.end() },
  {
    path: '/truncated',
    description: '`?length=100&send=10`: Content-Length `length`, `send` bytes, FIN',
    handler: truncated,
  },
];
