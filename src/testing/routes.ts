/**
 * routes — the built-in behaviours of the fault server, driven by the query string.
 * This file holds the basic ones and assembles the table; timing faults live in
 * ./routes-faults.ts, compressed bodies and ranges in ./routes-content.ts, malformed
 * responses in ./malformed.ts. Every route reads the whole request body first unless
 * noted, and keeps the connection alive unless noted. `h=Name:Value` (repeatable)
 * adds a header on the routes marked (h).
 *
 * | path | behaviour |
 * |---|---|
 * | `/ok` (h) | 200, `ok` |
 * | `/status/:code` (h) | that status, body `status N` (none for 1xx/204/304) |
 * | `/echo` | 200, JSON `{ method, target, path, query, httpVersion, headers, rawHeaders, body, bodyLength, trailers, connectionId, remotePort }` |
 * | `/bytes?n=1024` | N bytes of `rangeContent(N)`, Content-Length |
 * | `/chunked?n=26&chunks=3&interval=0` | N bytes in K chunks, `interval` ms apart |
 * | `/trailers` | chunked `hello world`; `Trailer: X-Checksum, X-Missing`; sends `X-Checksum: abc123`, `X-Extra: 1` |
 * | `/keepalive?timeout=5&value=` | `ok` with `Keep-Alive: timeout=N` (or the raw `value`) |
 * | `/close-idle?ms=100` | `ok`, then FIN if no new request arrived `ms` after the response |
 * | `/connection-close` | `ok` with `Connection: close`, then FIN |
 * | `/redirect?to=/ok&status=302` (h) | `Location: to` |
 * | `/redirect-chain?n=3&status=302` (h) | n>0: redirect to `n-1`; n=0: 200 `done` |
 * | `/redirect-loop?status=302` | redirects to itself |
 * | `/redirect-relative?to=ok` | `Location: ok` (relative, resolves to `/ok`) |
 * | `/1xx?codes=103&delay=0` | each interim response (`103` with a `Link`), `delay` ms, then 200 `ok` |
 * | `/expect-continue?mode=continue&status=417` | body not pre-read. `continue`: `100 Continue`, read body, 200 `received N bytes`; `final`: that status at once, body unread; `silent`: read the body without a 100, then 200 |
 * | `/early-response?status=200&read=0&close=0&body=early` | body not pre-read: reads `read` bytes, answers, FIN if `close=1`, else drains the upload |
 * | `/flaky?fail=1&status=503&retryAfter=` | the first `fail` requests for this exact URL get `status`, then 200 `ok` |
 * | `/raw?b64=…&end=fin&split=0&delay=0&wait=50` | writes the decoded bytes (in `split`-byte pieces `delay` ms apart), then `fin`, `rst` (after `wait` ms) or `open` |
 * | `/poison?ms=50` | `ok`, then `ms` later an unsolicited response on the idle socket |
 * | `/idle-408?ms=50` | `ok`, then `ms` later `HTTP/1.1 408 bye\r\n` and FIN on the idle socket |
 * | `CONNECT host:port` | a real tunnel (`200 Connection Established`); script with `fs.route('CONNECT', …)` |
 * | `/delay-headers?ms=1000` | waits, then 200 `ok` |
 * | `/never` | reads the request, never answers |
 * | `/drip?bytes=10&interval=100&chunk=1` | head (Content-Length) at once, then `chunk` bytes every `interval` ms |
 * | `/drip-headers?interval=50&chunk=1` | the head itself `chunk` bytes every `interval` ms, then `ok` |
 * | `/stall-body?after=3&length=10` | head with Content-Length `length`, `after` bytes, then silence |
 * | `/reset-after-headers?wait=50` | head (Content-Length 100), `wait` ms, RST |
 * | `/reset-mid-body?length=100&send=10&wait=50` | head, `send` bytes, `wait` ms, RST |
 * | `/reset-before-headers` | RST without answering |
 * | `/close-before-headers` | FIN without answering |
 * | `/truncated?length=100&send=10` | Content-Length `length`, `send` bytes, FIN |
 * | `/gzip`, `/deflate`, `/deflate-raw`, `/br` | `compressedText`, encoded; `corrupt=1`, `truncate=1` (no trailer, framing complete), `cut=N` (N bytes then FIN), `chunked=1`, `ce=` (Content-Encoding value) |
 * | `/range?size=1024` | see ./routes-content.ts: ETag, Last-Modified, 206/416, If-Range, `ignoreRange`, `etag`, `weak`, `changeEtag`, `noEtag`, `noLastModified`, `lastModified`, `resetAt=K1,K2…`, `stallAt=K1…` (n-th request cut at content offset Kn) |
 * | `/malformed/:name` | the exact bytes of `FaultServer.malformed[name]` (see ./malformed.ts) |
 * | `/edge/:name` | the exact bytes of `FaultServer.edgeCases[name]` (valid but unusual) |
 *
 * Invariant: `ROUTE_TABLE` lists every entry of `BUILTIN_ROUTES`, in match order.
 */

import type { Exchange } from './exchange.js';
import { MALFORMED_ROUTES } from './malformed.js';
import { type BuiltinRoute, flag, num, withExtras } from './route-kit.js';
import { CONTENT_ROUTES, rangeContent } from './routes-content.js';
import { FAULT_ROUTES } from './routes-faults.js';

export { matchRoute, type RouteHandler, type RouteOptions } from './route-kit.js';

const TEXT: [string, string] = ['Content-Type', 'text/plain'];

/** The unsolicited bytes `/poison` writes on the idle socket (undici response-queue-poisoning). */
export const POISON =
  'HTTP/1.1 200 OK\r\nPoison-Free-Socket: true\r\nConnection: keep-alive\r\nKeep-Alive: timeout=300\r\nContent-Length: 0\r\n\r\n';

function redirect(ex: Exchange, location: string): Promise<void> {
  const status = num(ex.query, 'status', 302);
  return ex.respond(status, withExtras(ex, [['Location', location], TEXT]), `redirecting to ${location}`);
}

function echo(ex: Exchange): Promise<void> {
  const r = ex.request;
  const json = JSON.stringify({
    method: r.method,
    target: r.target,
    path: r.path,
    query: Object.fromEntries(r.query),
    httpVersion: r.httpVersion,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.body.toString('utf8'),
    bodyLength: r.body.length,
    trailers: r.trailers,
    connectionId: r.connectionId,
    remotePort: r.remotePort,
  });
  return ex.respond(200, { 'Content-Type': 'application/json' }, json);
}

async function chunked(ex: Exchange): Promise<void> {
  const body = rangeContent(Math.max(0, num(ex.query, 'n', 26)));
  const k = Math.max(1, num(ex.query, 'chunks', 3));
  const interval = num(ex.query, 'interval', 0);
  await ex.writeHead(200, [TEXT, ['Transfer-Encoding', 'chunked']]);
  const size = Math.ceil(body.length / k);
  for (let off = 0; off < body.length; off += size) {
    if (off > 0 && interval > 0) await ex.sleep(interval);
    const piece = body.subarray(off, off + size);
    await ex.write(
      Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]),
    );
  }
  if (interval > 0 && body.length > 0) await ex.sleep(interval);
  await ex.write('0\r\n\r\n');
}

async function interim(ex: Exchange): Promise<void> {
  for (const c of (ex.query.get('codes') ?? '103').split(',')) {
    const code = Number(c);
    if (!Number.isInteger(code)) continue;
    const link = code === 103 ? 'Link: </style.css>; rel=preload; as=style\r\n' : '';
    await ex.write(
      `HTTP/1.1 ${code} ${code === 100 ? 'Continue' : code === 103 ? 'Early Hints' : 'Info'}\r\n${link}\r\n`,
    );
  }
  const delay = num(ex.query, 'delay', 0);
  if (delay > 0) await ex.sleep(delay);
  await ex.respond(200, [TEXT], 'ok');
}

async function expectContinue(ex: Exchange): Promise<void> {
  const mode = ex.query.get('mode') ?? 'continue';
  if (mode === 'final') return ex.respond(num(ex.query, 'status', 417), [TEXT], 'final response without 100');
  const body = await ex.readBody(Number.POSITIVE_INFINITY, { sendContinue: mode !== 'silent' });
  await ex.respond(200, [TEXT], `received ${body.length} bytes`);
}

async function earlyResponse(ex: Exchange): Promise<void> {
  const read = num(ex.query, 'read', 0);
  if (read > 0) await ex.readBody(read, { sendContinue: false });
  const close = flag(ex.query, 'close');
  await ex.respond(
    num(ex.query, 'status', 200),
    close ? [TEXT, ['Connection', 'close']] : [TEXT],
    ex.query.get('body') ?? 'early',
  );
  if (close) await ex.end();
}

async function raw(ex: Exchange): Promise<void> {
  const bytes = Buffer.from(ex.query.get('b64') ?? '', 'base64');
  const split = num(ex.query, 'split', 0);
  if (split > 0) await ex.writeSlowly(bytes, { chunkSize: split, intervalMs: num(ex.query, 'delay', 0) });
  else await ex.write(bytes);
  const end = ex.query.get('end') ?? 'fin';
  if (end === 'rst') {
    await ex.sleep(num(ex.query, 'wait', 50)); // see routes-faults.ts: let the client read first
    ex.reset();
  } else if (end !== 'open') {
    await ex.end();
  }
}

const BASIC_ROUTES: readonly BuiltinRoute[] = [
  {
    path: '/ok',
    description: '200 `ok` (`h=Name:Value` adds headers)',
    handler: (ex) => ex.respond(200, withExtras(ex, [TEXT]), 'ok'),
  },
  {
    path: '/status/:code',
    description: 'that status, body `status N` (none for 1xx/204/304); `h=Name:Value` adds headers',
    handler: (ex) => {
      const code = Number(ex.params.code);
      return ex.respond(
        Number.isInteger(code) ? code : 400,
        withExtras(ex, [TEXT]),
        `status ${ex.params.code}`,
      );
    },
  },
  {
    path: '/echo',
    description:
      '200, the request as JSON: method, target, path, query, httpVersion, headers, rawHeaders, body, bodyLength, trailers, connectionId, remotePort',
    handler: echo,
  },
  {
    path: '/bytes',
    description: '`?n=1024`: n bytes of rangeContent(n), Content-Length',
    handler: (ex) =>
      ex.respond(
        200,
        [['Content-Type', 'application/octet-stream']],
        rangeContent(Math.max(0, num(ex.query, 'n', 1024))),
      ),
  },
  {
    path: '/chunked',
    description: '`?n=26&chunks=3&interval=0`: n bytes chunked in `chunks` chunks, `interval` ms apart',
    handler: chunked,
  },
  {
    path: '/trailers',
    description:
      'chunked `hello world`, `Trailer: X-Checksum, X-Missing`; sends X-Checksum: abc123 and X-Extra: 1',
    handler: (ex) =>
      ex.write(
        'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Missing\r\n\r\n' +
          '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\nX-Extra: 1\r\n\r\n',
      ),
  },
  {
    path: '/keepalive',
    description: '`?timeout=5&value=`: `ok` with `Keep-Alive: timeout=N` (or the raw `value`)',
    handler: (ex) =>
      ex.respond(
        200,
        [
          TEXT,
          ['Connection', 'keep-alive'],
          ['Keep-Alive', ex.query.get('value') ?? `timeout=${num(ex.query, 'timeout', 5)}`],
        ],
        'ok',
      ),
  },
  {
    path: '/close-idle',
    description: '`?ms=100`: `ok`, then FIN if no new request came `ms` after the response',
    handler: async (ex) => {
      await ex.respond(200, [TEXT], 'ok');
      ex.closeIdleAfter(num(ex.query, 'ms', 100));
    },
  },
  {
    path: '/connection-close',
    description: '`ok` with `Connection: close`, then FIN',
    handler: (ex) =>
      ex.end(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok`,
      ),
  },
  {
    path: '/redirect',
    description: '`?to=/ok&status=302`: `Location: to`',
    handler: (ex) => redirect(ex, ex.query.get('to') ?? '/ok'),
  },
  {
    path: '/redirect-chain',
    description: '`?n=3&status=302`: n>0 redirects to n-1, n=0 is 200 `done`',
    handler: (ex) => {
      const n = num(ex.query, 'n', 3);
      if (n <= 0) return ex.respond(200, withExtras(ex, [TEXT]), 'done');
      return redirect(ex, `/redirect-chain?n=${n - 1}&status=${num(ex.query, 'status', 302)}`);
    },
  },
  {
    path: '/redirect-loop',
    description: '`?status=302`: redirects to itself',
    handler: (ex) => redirect(ex, ex.request.target),
  },
  {
    path: '/redirect-relative',
    description: '`?to=ok`: relative `Location: ok` (resolves to /ok)',
    handler: (ex) => redirect(ex, ex.query.get('to') ?? 'ok'),
  },
  {
    path: '/1xx',
    description: '`?codes=103&delay=0`: interim responses, `delay` ms, then 200 `ok`',
    handler: interim,
  },
  {
    path: '/expect-continue',
    description:
      '`?mode=continue|final|silent&status=417`: 100 then read body; final status at once; read body without 100',
    handler: expectContinue,
    readBody: false,
  },
  {
    path: '/early-response',
    description: '`?status=200&read=0&close=0&body=early`: reads `read` body bytes, answers, FIN if close=1',
    handler: earlyResponse,
    readBody: false,
  },
  {
    path: '/flaky',
    description:
      '`?fail=1&status=503&retryAfter=`: the first `fail` requests for this exact URL fail, then 200 `ok`',
    handler: (ex) => {
      if (ex.hit > num(ex.query, 'fail', 1)) return ex.respond(200, [TEXT], 'ok');
      const retryAfter = ex.query.get('retryAfter');
      const headers: [string, string][] = retryAfter === null ? [TEXT] : [TEXT, ['Retry-After', retryAfter]];
      return ex.respond(num(ex.query, 'status', 503), headers, `failure ${ex.hit}`);
    },
  },
  {
    path: '/raw',
    description:
      '`?b64=&end=fin|rst|open&split=0&delay=0&wait=50`: the decoded bytes verbatim, then `end` (rst after `wait` ms)',
    handler: raw,
  },
  {
    path: '/poison',
    description: '`?ms=50`: `ok`, then `ms` later an unsolicited response on the idle socket',
    handler: async (ex) => {
      await ex.respond(200, [TEXT], 'ok');
      ex.after(num(ex.query, 'ms', 50), (e) => e.write(POISON));
    },
  },
  {
    path: '/idle-408',
    description: '`?ms=50`: `ok`, then `ms` later `HTTP/1.1 408 bye` and FIN on the idle socket',
    handler: async (ex) => {
      await ex.respond(200, [TEXT], 'ok');
      ex.after(num(ex.query, 'ms', 50), (e) => e.end('HTTP/1.1 408 bye\r\n'));
    },
  },
  {
    path: 'CONNECT',
    description: "CONNECT host:port: a real tunnel (script with fs.route('CONNECT', ...))",
    handler: (ex) => ex.tunnel(),
  },
];

/** Every built-in route, in match order. */
export const BUILTIN_ROUTES: readonly BuiltinRoute[] = [
  ...BASIC_ROUTES,
  ...FAULT_ROUTES,
  ...CONTENT_ROUTES,
  ...MALFORMED_ROUTES,
];

/** `{ path, description }` of every built-in route (what `FaultServer.routes` exposes). */
export const ROUTE_TABLE: readonly { path: string; description: string }[] = BUILTIN_ROUTES.map((r) => ({
  path: r.path,
  description: r.description,
}));
