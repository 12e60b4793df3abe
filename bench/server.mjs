// Load server for `npm run bench`: a raw node:net server with canned responses.
//
// It parses only what it must: it scans for the end of each head (CRLF CRLF), reads the
// path from the request line, and looks at Content-Length / Transfer-Encoding only for
// requests that are not GET or HEAD (the POST echo). Pipelined requests are answered in
// order; a request that sends `Connection: close` gets its answer and then a FIN.
//
//   /small    200, 13-byte body with Content-Length
//   /close    same body, `Connection: close`, then the server closes (connection churn)
//   /echo     echoes the request body (Content-Length or chunked request body)
//   /chunked  small chunked body
//   /1m       1 MiB body in one write
//   /64m      64 MiB: one preallocated 1 MiB buffer written 64 times, honouring backpressure
//   /never    never answers (timer accuracy, queueing)
//
// Started by run.mjs with child_process.fork: the port goes back over IPC
// ({ type: 'ready', port, pid }) and the server exits when its parent disconnects.
// Run alone (`node bench/server.mjs [port]`) it prints `PORT=<n>` on stdout and stops
// after BENCH_SERVER_MAX_MS (default 30 min) at the latest.

import net from 'node:net';

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const MIB = 1024 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_REQUEST_BODY = 16 * MIB;

export const SMALL_BODY = 'hello, world\n';

const head = (status, fields, length) =>
  Buffer.from(
    `HTTP/1.1 ${status}\r\n${fields.map((f) => `${f}\r\n`).join('')}${length >= 0 ? `Content-Length: ${length}\r\n` : ''}\r\n`,
    'latin1',
  );

const R_SMALL = Buffer.concat([head('200 OK', ['Content-Type: text/plain'], 13), Buffer.from(SMALL_BODY)]);
const R_SMALL_CLOSE = Buffer.concat([
  head('200 OK', ['Content-Type: text/plain', 'Connection: close'], 13),
  Buffer.from(SMALL_BODY),
]);
const R_CHUNKED = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5\r\nhello\r\n8\r\n, world\n\r\n0\r\n\r\n',
  'latin1',
);
const R_404 = Buffer.concat([
  head('404 Not Found', ['Content-Type: text/plain'], 10),
  Buffer.from('not found\n'),
]);
const R_400 = Buffer.from(
  'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'latin1',
);
const ONE_MIB = Buffer.alloc(MIB, 0x61);
const H_1M = head('200 OK', ['Content-Type: application/octet-stream'], MIB);
const H_64M = head('200 OK', ['Content-Type: application/octet-stream'], 64 * MIB);

/** Parses a chunked body starting at `p`: `{ end, parts }`, or null when incomplete. Throws on garbage. */
function parseChunked(buf, p) {
  const parts = [];
  for (let n = 0; n < 1_000_000; n++) {
    const le = buf.indexOf(CRLF, p);
    if (le === -1) return null;
    let sizeText = buf.toString('latin1', p, le);
    const semi = sizeText.indexOf(';');
    if (semi !== -1) sizeText = sizeText.slice(0, semi);
    const size = Number.parseInt(sizeText.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
    p = le + 2;
    if (size === 0) {
      if (buf.length < p + 2) return null;
      if (buf[p] === 13 && buf[p + 1] === 10) return { end: p + 2, parts };
      const te = buf.indexOf(CRLFCRLF, p);
      return te === -1 ? null : { end: te + 4, parts };
    }
    if (buf.length < p + size + 2) return null;
    parts.push(buf.subarray(p, p + size));
    p += size + 2;
  }
  throw new Error('too many chunks');
}

/** Writes the 64 MiB body from one 1 MiB buffer, waiting for 'drain' when the socket asks. */
function stream64(sock, done) {
  let written = 0;
  sock.write(H_64M);
  const pump = () => {
    while (written < 64) {
      if (sock.destroyed) return;
      written++;
      if (!sock.write(ONE_MIB) && written < 64) {
        sock.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

function onConnection(sock) {
  sock.setNoDelay(true);
  sock.on('error', () => {});
  let buf = null; // unparsed request bytes
  let busy = false; // a streamed response is being written: answer later requests after it
  let silent = false; // /never: answer nothing more, keep the socket open
  let closing = false; // Connection: close or /close: answer, then FIN

  const finish = () => {
    buf = null;
    if (closing && !sock.destroyed) sock.end();
  };

  const serve = () => {
    if (busy || silent || closing || buf === null) return;
    let off = 0;
    sock.cork();
    try {
      for (let n = 0; n < 100_000 && off < buf.length; n++) {
        const he = buf.indexOf(CRLFCRLF, off);
        if (he === -1) {
          if (buf.length - off > MAX_HEAD) throw new Error('head too large');
          break;
        }
        const sp1 = buf.indexOf(32, off);
        const sp2 = sp1 === -1 ? -1 : buf.indexOf(32, sp1 + 1);
        if (sp1 === -1 || sp2 === -1 || sp2 > he) throw new Error('bad request line');
        let path = buf.toString('latin1', sp1 + 1, sp2);
        const q = path.indexOf('?');
        if (q !== -1) path = path.slice(0, q);
        const c0 = buf[off];
        let next = he + 4;
        let echo;
        if (c0 !== 0x47 /* G */ && c0 !== 0x48 /* H */) {
          // A method that may carry a body: find its framing (names are case-insensitive).
          const fields = buf.toString('latin1', off, he + 2).toLowerCase();
          const te = /\r\ntransfer-encoding:[^\r]*chunked/.test(fields);
          const cl = /\r\ncontent-length:[ \t]*(\d+)/.exec(fields);
          if (te) {
            const r = parseChunked(buf, next);
            if (r === null) {
              if (buf.length - off > MAX_REQUEST_BODY) throw new Error('body too large');
              break;
            }
            echo = Buffer.concat(r.parts);
            next = r.end;
          } else if (cl !== null) {
            const len = Number(cl[1]);
            if (len > MAX_REQUEST_BODY) throw new Error('body too large');
            if (buf.length < next + len) break;
            echo = buf.subarray(next, next + len);
            next += len;
          }
        }
        // "connection: close" / "Connection: close", as churning clients send it.
        const ci = buf.indexOf('onnection: close', off, 'latin1');
        if (ci !== -1 && ci < he) closing = true;
        off = next;
        if (path === '/small') sock.write(closing ? R_SMALL_CLOSE : R_SMALL);
        else if (path === '/close') {
          sock.write(R_SMALL_CLOSE);
          closing = true;
        } else if (path === '/echo') {
          const len = echo === undefined ? 0 : echo.length;
          sock.write(head('200 OK', ['Content-Type: application/octet-stream'], len));
          if (len > 0) sock.write(echo);
        } else if (path === '/chunked') sock.write(R_CHUNKED);
        else if (path === '/1m') {
          sock.write(H_1M);
          sock.write(ONE_MIB);
        } else if (path === '/64m') {
          busy = true;
          stream64(sock, () => {
            busy = false;
            if (closing) finish();
            else serve();
          });
          break;
        } else if (path === '/never') {
          silent = true;
          break;
        } else sock.write(R_404);
        if (closing) break;
      }
    } catch {
      sock.write(R_400);
      closing = true;
    }
    buf = off < buf.length ? buf.subarray(off) : null;
    sock.uncork();
    if (silent) buf = null;
    else if (closing && !busy) finish();
  };

  sock.on('data', (chunk) => {
    if (silent || closing) return; // nothing more is answered on this connection
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    serve();
  });
}

/** Starts the server; resolves with the net.Server once it listens. */
export function startServer(port = 0) {
  const server = net.createServer({ noDelay: true }, onConnection);
  server.maxConnections = 20_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => resolve(server));
  });
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const server = await startServer(Number(process.argv[2] ?? 0));
  const { port } = server.address();
  const maxMs = Number(process.env.BENCH_SERVER_MAX_MS ?? 30 * 60_000);
  setTimeout(() => process.exit(0), maxMs).unref();
  if (process.send !== undefined) {
    process.send({ type: 'ready', port, pid: process.pid });
    process.on('disconnect', () => process.exit(0));
    process.on('message', (m) => {
      if (m?.type === 'stop') process.exit(0);
    });
  } else {
    process.stdout.write(`PORT=${port}\n`);
  }
}
