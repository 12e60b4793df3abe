/**
 * h2-client — a thin promise wrapper over a raw `node:http2` client session, for
 * tests of the HTTP/2 fault server itself (never hourglass): one request, its head,
 * body, trailers, and how it ended (clean, or the RST/GOAWAY code nghttp2 reported).
 */

import * as http2 from 'node:http2';

export interface H2Result {
  status: number | null;
  headers: http2.IncomingHttpHeaders | null;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | null;
  /** nghttp2 error code the stream closed with (0 = clean), or null when it ended cleanly. */
  rstCode: number | null;
  error: Error | null;
  /** ms from the request to its head / to its end. */
  headMs: number | null;
  ms: number;
  gotContinue: boolean;
}

export interface H2ReqOpts {
  method?: string;
  headers?: http2.OutgoingHttpHeaders;
  /** Request body; `'open'` leaves the upload open (never ended). */
  body?: string | Buffer | 'open';
  /** Give up after this long (resolves with what came; `error` = 'gave up'). */
  waitMs?: number;
}

/** Opens a session to a fault server (`ca` for TLS). Errors are kept, never thrown. */
export function connect(origin: string, ca?: string): { session: http2.ClientHttp2Session; errors: Error[] } {
  const errors: Error[] = [];
  const session = http2.connect(origin, ca === undefined ? {} : { ca });
  session.on('error', (e) => errors.push(e));
  return { session, errors };
}

/** One request on `session`. */
export function request(session: http2.ClientHttp2Session, path: string, opts: H2ReqOpts = {}): Promise<H2Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    const out: H2Result = {
      status: null, headers: null, body: Buffer.alloc(0), trailers: null, rstCode: null, error: null,
      headMs: null, ms: 0, gotContinue: false,
    };
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      out.body = Buffer.concat(chunks);
      out.ms = Date.now() - started;
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.error ??= new Error('gave up');
      finish();
    }, opts.waitMs ?? 3000);
    const body = opts.body;
    const req = session.request(
      { ':method': opts.method ?? (body === undefined ? 'GET' : 'POST'), ':path': path, ...opts.headers },
      { endStream: body === undefined },
    );
    req.on('response', (h) => {
      out.status = Number(h[':status']);
      out.headers = h;
      out.headMs = Date.now() - started;
    });
    req.on('continue', () => (out.gotContinue = true));
    req.on('trailers', (t) => (out.trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', (e) => (out.error = e));
    req.on('close', () => {
      if (req.rstCode !== undefined && req.rstCode !== 0) out.rstCode = req.rstCode;
      finish();
    });
    if (body !== undefined && body !== 'open') req.end(body);
  });
}
