/**
 * h2-routes — the built-in HTTP/2 routes of the fault server: the everyday ones
 * under the same paths as HTTP/1.1 (`/ok`, `/echo`, `/bytes`, `/drip`, `/stall-body`,
 * …) and the stream-level misbehaviours of SPEC §13 under `/h2/…` (refusals, resets,
 * GOAWAY, held windows, early responses, 100-continue) and `/h2/malformed/:name`
 * (./h2-malformed.ts).
 *
 * Owns: the route table {@link H2_ROUTES} and its documentation lines. Never holds
 * state beyond what a stream or its connection carries; query helpers never throw.
 */

import * as zlib from 'node:zlib';
import { H2_MALFORMED_ROUTE } from './h2-malformed.js';
import type { H2Route, H2Stream } from './h2-stream.js';
import { encodeHeaderBlock } from './h2-hpack.js';
import { frame, FrameType, H2Code, headerFrames, Setting } from './h2-wire.js';
import { flag, num } from './route-kit.js';
import { COMPRESSED_TEXT, rangeContent } from './routes-content.js';


const TEXT = ['content-type', 'text/plain'] as const;
const OCTETS = ['content-type', 'application/octet-stream'] as const;

const ok = (s: H2Stream): Promise<void> => s.respond(200, [TEXT], 'ok');

async function echo(s: H2Stream): Promise<void> {
  const body = await s.readBody();
  const r = s.request;
  const json = JSON.stringify({
    method: r.method,
    target: r.target,
    path: r.path,
    httpVersion: r.httpVersion,
    pseudo: r.pseudo,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: body.toString('utf8'),
    bodyLength: body.length,
    trailers: r.trailers,
    streamId: s.id,
    connectionId: r.connectionId,
  });
  await s.respond(200, [['content-type', 'application/json']], json);
}

async function refuse(s: H2Stream): Promise<void> {
  const times = s.query.get('times');
  if (times === 'always' || s.hit <= num(s.query, 'times', 1)) {
    await s.rst(H2Code.REFUSED_STREAM);
    return;
  }
  await s.readBody();
  await s.respond(200, [TEXT], `ok ${s.request.body.length}`);
}

async function rst(s: H2Stream): Promise<void> {
  const q = s.query;
  const code = num(q, 'code', H2Code.INTERNAL_ERROR);
  if (flag(q, 'complete')) {
    await s.respond(200, [TEXT], 'complete');
    await s.sleep(num(q, 'wait', 0));
    await s.rst(num(q, 'code', H2Code.NO_ERROR));
    return;
  }
  const after = num(q, 'after', -1);
  if (after >= 0) {
    const length = Math.max(after, num(q, 'length', after + 100));
    await s.headers(200, [OCTETS, ['content-length', String(length)]]);
    if (after > 0) await s.data(rangeContent(length).subarray(0, after));
  }
  await s.sleep(num(q, 'wait', 0));
  await s.rst(code);
}

async function goaway(s: H2Stream): Promise<void> {
  const q = s.query;
  await s.conn.waitForStreams(num(q, 'streams', 1)).catch(() => {});
  await s.sleep(num(q, 'wait', 0));
  await s.conn.goaway(num(q, 'last', s.id - 2), num(q, 'code', H2Code.NO_ERROR), q.get('debug') ?? '');
  if (flag(q, 'close')) s.conn.closeWhenDrained();
  await s.sleep(num(q, 'delay', 0));
  await ok(s); // a no-op when this stream is above last
}

async function holdWindow(s: H2Stream): Promise<void> {
  s.holdWindow = true;
  const grant = num(s.query, 'grant', 0);
  const every = Math.max(1, num(s.query, 'every', 50));
  if (grant > 0) await s.sleep(num(s.query, 'shift', 0));
  if (grant > 0 && flag(s.query, 'once')) await s.grantWindow(grant);
  while (grant > 0 && !flag(s.query, 'once') && !s.remoteEnded && !s.closed) {
    await s.sleep(every);
    await s.grantWindow(grant);
  }
  await s.readBody();
  await s.respond(200, [TEXT], `received ${s.bodyBytes}`);
}

async function early(s: H2Stream): Promise<void> {
  const q = s.query;
  await s.waitForBody(num(q, 'after', 0));
  const status = num(q, 'status', 413);
  if (flag(q, 'open')) {
    // A 200 without END_STREAM: the upload continues (full duplex), then the body ends.
    await s.headers(status, [TEXT]);
    await s.readBody();
    await s.data(`received ${s.bodyBytes}`, { end: true });
    return;
  }
  await s.respond(status, [TEXT], q.get('body') ?? '');
  const code = q.get('rst');
  if (code !== null) await s.rst(Number(code) || H2Code.NO_ERROR);
}

async function expectContinue(s: H2Stream): Promise<void> {
  const q = s.query;
  const final = num(q, 'final', 200);
  if (flag(q, 'no100')) {
    await s.respond(final, [TEXT], q.get('body') ?? 'denied');
    return;
  }
  await s.sleep(num(q, 'delay', 0));
  await s.headers(100, [], { split: num(q, 'split', 1) });
  await s.readBody();
  await s.respond(final, [TEXT], `received ${s.bodyBytes}`);
}

async function interim(s: H2Stream): Promise<void> {
  const count = num(s.query, 'count', 11);
  for (let i = 0; i < count; i++) await s.headers(num(s.query, 'status', 103), [['link', `</i${i}>`]]);
  await s.respond(200, [TEXT], 'ok');
}

async function dripHeaders(s: H2Stream): Promise<void> {
  const split = Math.max(1, num(s.query, 'split', 4));
  const interval = num(s.query, 'interval', 50);
  // The head as HEADERS + CONTINUATIONs, one frame every `interval` ms.
  const fields: [string, string][] = [[':status', '200'], [...TEXT], ['x-filler', 'x'.repeat(64)]];
  const frames = headerFrames(s.id, encodeHeaderBlock(fields), false, split);
  // No other frame may interleave with a header block: the connection is held meanwhile.
  await s.conn.exclusive(s.id, async () => {
    for (const [i, f] of frames.entries()) {
      if (i > 0) await s.sleep(interval);
      await s.conn.send(f, s.id);
    }
  });
  await s.data('ok', { end: true });
}

async function continuationFlood(s: H2Stream): Promise<void> {
  const q = s.query;
  const burst = Math.max(1, num(q, 'burst', 200));
  const bursts = Math.max(1, num(q, 'bursts', 100));
  const interval = num(q, 'interval', 5);
  // HEADERS without END_HEADERS, then CONTINUATIONs that never end the block: nothing else
  // may be sent on the connection meanwhile (RFC 9113 §6.10), so nothing else is.
  await s.conn.write(frame(FrameType.HEADERS, 0, s.id, encodeHeaderBlock([[':status', '200']])));
  const piece = frame(FrameType.CONTINUATION, 0, s.id, encodeHeaderBlock([['x-f', 'a'.repeat(Math.max(1, num(q, 'value', 100)))]]));
  for (let i = 0; i < bursts && !s.conn.closed; i++) {
    if (i > 0) await s.sleep(interval);
    // One write per frame: the client reads the block in many pieces, as from a real peer.
    let last: Promise<void> = Promise.resolve();
    for (let k = 0; k < burst && !s.conn.closed; k++) last = s.conn.write(piece);
    await last;
  }
  await s.stall();
}

async function stallBody(s: H2Stream): Promise<void> {
  const after = Math.max(0, num(s.query, 'after', 3));
  const length = Math.max(after, num(s.query, 'length', 10));
  await s.headers(200, [OCTETS, ['content-length', String(length)]]);
  if (after > 0) await s.data(rangeContent(length).subarray(0, after));
  await s.stall();
}

/** The built-in HTTP/2 routes, in match order. */
export const H2_ROUTES: readonly H2Route[] = [
  { path: '/', description: '200 `ok`', handler: ok },
  { path: '/ok', description: '200 `ok`', handler: ok },
  {
    path: '/status/:code',
    description: 'that status, body `status N`',
    handler: (s) => s.respond(Number(s.params.code) || 400, [TEXT], `status ${s.params.code}`),
  },
  { path: '/echo', description: 'reads the body; 200 with the request as JSON (pseudo, headers, body, streamId, connectionId)', handler: echo },
  {
    path: '/bytes',
    description: '`?n=1024`: n bytes of rangeContent(n) as fast as the client\'s windows allow',
    handler: (s) => s.respond(200, [OCTETS], rangeContent(Math.max(0, num(s.query, 'n', 1024)))),
  },
  {
    path: '/delay-headers',
    description: '`?ms=1000`: waits, then 200 `ok`',
    handler: async (s) => {
      await s.sleep(num(s.query, 'ms', 1000));
      await ok(s);
    },
  },
  { path: '/never', description: 'never answers the stream (the connection stays responsive)', handler: (s) => s.stall() },
  {
    path: '/drip',
    description: '`?bytes=10&interval=100&chunk=1`: HEADERS at once, then `chunk` bytes per DATA every `interval` ms',
    handler: async (s) => {
      const q = s.query;
      await s.headers(200, [OCTETS]);
      await s.drip(rangeContent(Math.max(0, num(q, 'bytes', 10))), { chunkSize: num(q, 'chunk', 1), intervalMs: num(q, 'interval', 100) });
    },
  },
  { path: '/drip-headers', description: '`?split=4&interval=50`: the head in `split` frames (HEADERS + CONTINUATION) `interval` ms apart (the connection\'s other frames wait meanwhile, as RFC 9113 requires), then `ok`', handler: dripHeaders },
  {
    path: '/h2/continuation-flood',
    description: '`?burst=200&bursts=100&interval=5&value=100`: HEADERS(:status 200) without END_HEADERS, then `bursts` writes of `burst` CONTINUATION frames (one field of `value` bytes each, never END_HEADERS) `interval` ms apart, until the connection closes',
    handler: continuationFlood,
  },
  { path: '/stall-body', description: '`?after=3&length=10`: HEADERS (content-length), `after` body bytes, then silence on this stream', handler: stallBody },
  {
    path: '/trailers',
    description: 'PUT/POST/GET: 200, DATA `hello h2!`, trailers `x-trailer: hello` (`?split=2` splits them with CONTINUATION)',
    handler: async (s) => {
      await s.readBody();
      await s.headers(200, [TEXT]);
      await s.data('hello h2!');
      await s.headers([['x-trailer', 'hello']], {}, { end: true, split: num(s.query, 'split', 1) });
    },
  },
  {
    path: '/gzip',
    description: 'gzip body of FaultServer.compressedText, `content-encoding: gzip`',
    handler: (s) => s.respond(200, [TEXT, ['content-encoding', 'gzip']], zlib.gzipSync(COMPRESSED_TEXT)),
  },
  {
    path: '/padded',
    description: '`?n=100&pad=5`: n bytes in one DATA padded with `pad` bytes',
    handler: async (s) => {
      await s.headers(200, [OCTETS]);
      await s.data(rangeContent(Math.max(0, num(s.query, 'n', 100))), { end: true, pad: num(s.query, 'pad', 5) });
    },
  },
  { path: '/h2/refuse', description: '`?times=1` (or `always`): RST_STREAM(REFUSED_STREAM) for the first `times` hits of this URL, then 200 `ok N` (N = body bytes)', handler: refuse },
  {
    path: '/h2/rst',
    description: '`?code=2&after=-1&length&wait=0`: RST_STREAM(code) before HEADERS (`after` < 0) or after HEADERS + `after` body bytes; `&complete=1`: a full response, then RST_STREAM(code, default NO_ERROR)',
    handler: rst,
  },
  {
    path: '/h2/goaway',
    description: '`?last=<id-2>&code=0&debug=&streams=1&wait=0&close=0`: once the connection has `streams` streams, GOAWAY(last, code, debug); streams above `last` are never answered; `close=1`: FIN when the rest are done; this stream answers `ok` if at or below `last`',
    handler: goaway,
  },
  {
    path: '/h2/goaway-idle',
    description: '`?wait=20&code=0`: 200 `ok`, then `wait` ms later GOAWAY(last = this stream) on the idle connection, socket kept open',
    handler: async (s) => {
      await ok(s);
      const c = s.conn;
      s.conn.timer(num(s.query, 'wait', 20), () => void c.goaway(s.id, num(s.query, 'code', H2Code.NO_ERROR)));
    },
  },
  {
    path: '/h2/settings',
    description: '`?mcs=0&window=N`: 200 `ok` with SETTINGS sent before its END_STREAM: MAX_CONCURRENT_STREAMS `mcs` and/or INITIAL_WINDOW_SIZE `window`',
    handler: async (s) => {
      // SETTINGS go out between the head and the body's END_STREAM, so the client has
      // them before this response ends (and before it can start another stream).
      await s.headers(200, [TEXT, ['content-length', '2']]);
      const pairs: [number, number][] = [];
      if (s.query.has('mcs')) pairs.push([Setting.MAX_CONCURRENT_STREAMS, num(s.query, 'mcs', 0)]);
      if (s.query.has('window')) pairs.push([Setting.INITIAL_WINDOW_SIZE, num(s.query, 'window', 65_535)]);
      await s.conn.settings(pairs);
      await s.data('ok', { end: true });
    },
  },
  {
    path: '/h2/hold-window',
    description: '`?grant=0&every=50&shift=0`: never reopens this stream\'s receive window (with `grant`, opens `grant` bytes every `every` ms, the first `shift` + `every` ms in; `&once=1`: `grant` bytes `shift` ms in, then never again); 200 `received N` once the upload ends',
    handler: holdWindow,
  },
  {
    path: '/h2/early',
    description: '`?status=413&after=0&body=&rst=`: once `after` upload bytes arrived, a complete response (END_STREAM) before the upload ends, then RST_STREAM(`rst`) if given; `&open=1`: HEADERS without END_STREAM, reads the whole upload, then ends',
    handler: early,
  },
  { path: '/h2/many-headers', description: '`?count=200`: 200 `ok` with `count` fields `x-hN: v`', handler: (s) => s.respond(200, [TEXT, ...Array.from({ length: num(s.query, 'count', 200) }, (_, i): [string, string] => [`x-h${i}`, 'v'])], 'ok') },
  { path: '/h2/big-header', description: '`?bytes=70000`: 200 `ok` with one field `x-big` of `bytes` bytes (valid HPACK, split in CONTINUATIONs)', handler: (s) => s.respond(200, [TEXT, ['x-big', 'v'.repeat(num(s.query, 'bytes', 70_000))]], 'ok') },
  { path: '/h2/interim', description: '`?count=11&status=103`: `count` interim heads, then 200 `ok`', handler: interim },
  {
    path: '/h2/continue',
    description: '`?final=200&split=1&delay=0`: HEADERS(:status 100) `delay` ms in, reads the body, then `final` `received N`; `&no100=1`: `final` at once with body `denied`, never a 100',
    handler: expectContinue,
  },
  {
    path: '/h2/dead',
    description: 'the connection goes silent after this request: no answer, no PING ACK, no frame at all (socket kept open)',
    handler: (s) => {
      s.conn.blackhole();
      return s.stall();
    },
  },
  {
    path: '/h2/stop-reading',
    description: '200 `ok`, then the server stops reading the socket (the client\'s writes stall once kernel buffers fill)',
    handler: async (s) => {
      await ok(s);
      s.conn.stopReading();
    },
  },
  H2_MALFORMED_ROUTE,
];
