/**
 * h2-malformed — `/h2/malformed/:name`: responses and frames that break RFC 9113
 * (SCENARIOS §6.7 and H2-21 d, H2-32, H2-33, H2-40), at stream level (only that
 * stream should fail) and at connection level (every open stream should fail).
 *
 * Owns: the catalogue {@link H2_MALFORMED} (name → what it sends, which level, what
 * a strict client does) and the route that plays it. Never judges the client.
 */

import { encodeHeaderBlock } from './h2-hpack.js';
import type { H2Route, H2Stream } from './h2-stream.js';
import { dataFrame, Flag, frame, FrameType, headerFrames, Setting, settingsFrame, windowUpdateFrame } from './h2-wire.js';

/** One malformed case. */
export interface H2MalformedCase {
  /** `stream`: only this stream is malformed; `connection`: the connection is broken. */
  readonly level: 'stream' | 'connection';
  readonly description: string;
  /** RFC 9113 error code a strict client answers with (RST_STREAM or GOAWAY). */
  readonly code: number;
}

type Play = (s: H2Stream) => Promise<void>;

/** Fields RFC 9113 §8.2.1 makes malformed, each a smuggling attempt if passed on. */
const INVALID_FIELDS: [string, string][] = [
  ['x-inj', 'a\r\nset-cookie: evil=1'],
  ['x-nul', 'a\u0000b'],
  ['x bad', '1'],
  ['', 'empty-name'],
];

const head = (s: H2Stream, fields: [string, string][], end = false): Promise<void> =>
  s.conn.write(Buffer.concat(headerFrames(s.id, encodeHeaderBlock(fields), end)));

const CASES: Record<string, H2MalformedCase & { play: Play }> = {
  'uppercase-header': {
    level: 'stream', code: 1, description: 'HEADERS with a field name `Capital`',
    play: (s) => head(s, [[':status', '200'], ['Capital', 'x']], true),
  },
  'space-header': {
    level: 'stream', code: 1, description: 'HEADERS with a field name `  content-type`',
    play: (s) => head(s, [[':status', '200'], ['  content-type', 'text/plain']], true),
  },
  // RFC 9113 §8.2.1 makes each of these malformed; node's nghttp2 drops them (issue #16 adv4 F5).
  'invalid-fields': {
    level: 'stream', code: 1,
    description: 'a 200 `ok` whose head and trailers carry, beside `x-ok: 1`, a value with CR LF (`a\\r\\nset-cookie: evil=1`), a value with NUL, a name with a space and an empty name',
    play: async (s) => {
      await head(s, [[':status', '200'], ['content-length', '2'], ...INVALID_FIELDS, ['x-ok', '1']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('ok'), false));
      await s.conn.write(Buffer.concat(headerFrames(s.id, encodeHeaderBlock([...INVALID_FIELDS, ['x-ok-trailer', '1']]), true)));
    },
  },
  'connection-header': {
    level: 'stream', code: 1, description: 'HEADERS with `connection: keep-alive` (connection-specific)',
    play: (s) => head(s, [[':status', '200'], ['connection', 'keep-alive']], true),
  },
  'bad-status': {
    level: 'stream', code: 1, description: '`:status abc`',
    play: (s) => head(s, [[':status', 'abc']], true),
  },
  'status-099': {
    level: 'stream', code: 1, description: '`:status 099` (below 100)',
    play: (s) => head(s, [[':status', '099']], true),
  },
  'no-status': {
    level: 'stream', code: 1, description: 'HEADERS without `:status`',
    play: (s) => head(s, [['content-type', 'text/plain']], true),
  },
  'pseudo-after-regular': {
    level: 'stream', code: 1, description: 'a regular field before `:status`',
    play: (s) => head(s, [['content-type', 'text/plain'], [':status', '200']], true),
  },
  'request-pseudo': {
    level: 'stream', code: 1, description: 'a request pseudo-header (`:path`) in a response',
    play: (s) => head(s, [[':status', '200'], [':path', '/']], true),
  },
  'data-before-headers': {
    level: 'stream', code: 1, description: 'DATA `abc` before any HEADERS',
    play: (s) => s.conn.write(dataFrame(s.id, Buffer.from('abc'), true)),
  },
  'content-length-mismatch': {
    level: 'stream', code: 1, description: '`content-length: 42` and END_STREAM with 3 bytes',
    play: async (s) => {
      await head(s, [[':status', '200'], ['content-length', '42']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('abc'), true));
    },
  },
  'content-length-surplus': {
    level: 'stream', code: 1, description: '`content-length: 3` and one DATA frame of 11 bytes with END_STREAM',
    play: async (s) => {
      await head(s, [[':status', '200'], ['content-length', '3']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('hello world'), true));
    },
  },
  'content-length-surplus-later': {
    level: 'stream', code: 1, description: '`content-length: 3`, DATA `abc`, then 20 ms later DATA `defgh` with END_STREAM',
    play: async (s) => {
      await head(s, [[':status', '200'], ['content-length', '3']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('abc'), false));
      await s.sleep(20);
      await s.conn.write(dataFrame(s.id, Buffer.from('defgh'), true));
    },
  },
  'content-length-no-body': {
    level: 'stream', code: 1, description: '`content-length: 42` and END_STREAM on HEADERS',
    play: (s) => head(s, [[':status', '200'], ['content-length', '42']], true),
  },
  'content-length-sign': {
    level: 'stream', code: 1, description: '`content-length: +3` with 3 bytes',
    play: async (s) => {
      await head(s, [[':status', '200'], ['content-length', '+3']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('abc'), true));
    },
  },
  'trailer-pseudo': {
    level: 'stream', code: 1, description: 'DATA `abc`, then trailers with `:colon`',
    play: (s) => withTrailers(s, [[':colon', 'x']]),
  },
  'trailer-uppercase': {
    level: 'stream', code: 1, description: 'DATA `abc`, then trailers with `Capital`',
    play: (s) => withTrailers(s, [['Capital', 'x']]),
  },
  'trailer-empty-name': {
    level: 'stream', code: 1, description: 'DATA `abc`, then trailers with an empty name',
    play: (s) => withTrailers(s, [['', 'x']]),
  },
  'trailer-newline': {
    level: 'stream', code: 1, description: 'DATA `abc`, then trailers with a value containing `\\n`',
    play: (s) => withTrailers(s, [['x-bad', 'a\nb']]),
  },
  'data-after-100': {
    level: 'stream', code: 1, description: 'HEADERS(:status 100), then DATA (1 byte)',
    play: async (s) => {
      await head(s, [[':status', '100']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('x'), false));
    },
  },
  'huge-headers': {
    level: 'stream', code: 1, description: '`?size=100000`: a 200 whose header list exceeds that many bytes',
    play: (s) => head(s, [[':status', '200'], ['x-big', 'a'.repeat(Number(s.query.get('size') ?? 100_000))]], true),
  },
  'window-overflow-stream': {
    level: 'stream', code: 3, description: 'WINDOW_UPDATE(stream, 2^31-1) overflowing the stream\'s send window',
    play: (s) => s.conn.write(windowUpdateFrame(s.id, 0x7fffffff)),
  },
  'window-update-0-stream': {
    level: 'stream', code: 1, description: 'WINDOW_UPDATE(stream, 0): a stream error by RFC 9113 §6.9 (nghttp2 makes it a connection one)',
    play: (s) => s.conn.write(windowUpdateFrame(s.id, 0)),
  },
  'data-stream-0': {
    level: 'connection', code: 1, description: 'DATA on stream 0',
    play: (s) => s.conn.write(dataFrame(0, Buffer.from('abc'), false)),
  },
  'data-unknown-stream': {
    level: 'connection', code: 1, description: 'DATA on a stream the client never opened (id + 100, odd)',
    play: (s) => s.conn.write(dataFrame(s.id + 100, Buffer.from('abc'), false)),
  },
  'settings-7-bytes': {
    level: 'connection', code: 6, description: 'a SETTINGS payload of 7 bytes',
    play: (s) => s.conn.write(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7))),
  },
  'max-frame-size-0': {
    level: 'connection', code: 1, description: 'SETTINGS(MAX_FRAME_SIZE=0)',
    play: (s) => s.conn.write(settingsFrame([[Setting.MAX_FRAME_SIZE, 0]])),
  },
  'window-overflow': {
    level: 'connection', code: 3, description: 'WINDOW_UPDATE(0, 2^31-1) overflowing the connection window',
    play: (s) => s.conn.write(windowUpdateFrame(0, 0x7fffffff)),
  },
  'bad-hpack': {
    level: 'connection', code: 9, description: 'HEADERS whose block indexes past every table',
    play: (s) => s.conn.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, s.id, Buffer.from([0xff, 0xff, 0xff, 0x7f]))),
  },
  'oversized-frame': {
    level: 'connection', code: 6, description: 'a DATA frame of 20 000 bytes (above the default 16 384 max frame size)',
    play: async (s) => {
      await head(s, [[':status', '200']]);
      await s.conn.write(dataFrame(s.id, Buffer.alloc(20_000, 0x61), true));
    },
  },
  // A connection error in the same write as a 200 head (one read for the client: issue #16 F0).
  'head-then-oversized': {
    level: 'connection', code: 6, description: 'a 200 head and, in the same write, a DATA frame of 20 000 bytes',
    play: (s) => headThen(s, dataFrame(s.id, Buffer.alloc(20_000, 0x61), true)),
  },
  'head-then-bad-padding': {
    level: 'connection', code: 1, description: 'a 200 head and, in the same write, a DATA frame whose pad length exceeds its payload',
    play: (s) => headThen(s, frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, s.id, Buffer.from([50, 0x68, 0x69]))),
  },
  'head-then-data-unknown-stream': {
    level: 'connection', code: 1, description: 'a 200 head and, in the same write, DATA on a stream never opened (id + 100)',
    play: (s) => headThen(s, dataFrame(s.id + 100, Buffer.from('x'), false)),
  },
  'head-then-ping-3': {
    level: 'connection', code: 6, description: 'a 200 head and, in the same write, a PING of 3 bytes',
    play: (s) => headThen(s, frame(FrameType.PING, 0, 0, Buffer.alloc(3))),
  },
  'http1-response': {
    level: 'connection', code: 1, description: 'an HTTP/1.1 response instead of a frame',
    play: (s) => s.conn.write(Buffer.from('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n', 'latin1')),
  },
  'ssh-banner': {
    level: 'connection', code: 6, description: '`SSH-2.0-OpenSSH_9.6\\r\\n` instead of a frame',
    play: (s) => s.conn.write(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n', 'latin1')),
  },
  'truncated-data': {
    level: 'connection', code: 0, description: 'HEADERS, DATA `partial`, then a DATA header of 100 bytes with 10 sent, then FIN',
    play: async (s) => {
      await head(s, [[':status', '200']]);
      await s.conn.write(dataFrame(s.id, Buffer.from('partial'), false));
      await s.conn.write(frame(FrameType.DATA, 0, s.id, Buffer.alloc(10, 0x62), 100));
      await s.conn.end();
    },
  },
};

function headThen(s: H2Stream, violation: Buffer): Promise<void> {
  return s.conn.write(Buffer.concat([...headerFrames(s.id, encodeHeaderBlock([[':status', '200']]), false), violation]));
}

function withTrailers(s: H2Stream, trailers: [string, string][]): Promise<void> {
  return (async () => {
    await head(s, [[':status', '200']]);
    await s.conn.write(dataFrame(s.id, Buffer.from('abc'), false));
    await s.conn.write(Buffer.concat(headerFrames(s.id, encodeHeaderBlock(trailers), true)));
  })();
}

/** The catalogue: name → level, description and the code a strict client answers with. */
export const H2_MALFORMED: Readonly<Record<string, H2MalformedCase>> = Object.fromEntries(
  Object.entries(CASES).map(([name, { level, description, code }]) => [name, { level, description, code }]),
);

/** `/h2/malformed/:name`. */
export const H2_MALFORMED_ROUTE: H2Route = {
  path: '/h2/malformed/:name',
  description: `one of ${Object.keys(CASES).join(', ')} (FaultServer.h2Malformed says what each sends and expects); the stream is then left alone`,
  handler: async (s) => {
    const c = CASES[s.params.name ?? ''];
    if (!c) {
      await s.respond(404, [['content-type', 'text/plain']], 'no such malformed case');
      return;
    }
    await c.play(s);
    await s.stall();
  },
};
