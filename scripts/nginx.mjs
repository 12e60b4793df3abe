// nginx — starts a real nginx on loopback for tests and benchmarks, with its own prefix and
// config in a temp dir (never the system config), as a non-daemon child of this process.
//
// Owns: the temp dir (config, static files, self-signed certificate, logs) and the nginx
// child. Never: binds anything but 127.0.0.1, reads /etc/nginx, or leaves the child running
// after close() or after this process exits.
//
// Paths served (every listener):
//   /small    13 bytes "hello, world\n"  (the header set chosen by `headers`)
//   /1k       1 KiB file                  /1m, /64m   1 MiB and 64 MiB files (`files`)
//   /echo     any method; answers a canned 1 KiB body (nginx discards the request body)
//   /close    /small with keep-alive off (a new connection per request)
//   /chunked  a small chunked body (SSI turns off Content-Length)
//   /never    proxied to `neverPort` when given (nginx cannot stay silent by itself)
// On a port of its own (plain): /status, nginx's stub_status, read by `stats()` (connections
// accepted and requests served so far, the look itself not counted).
//
// Header sets: 'minimal' = what nginx sends for a `return 200` (Server, Date, Content-Type,
// Content-Length, Connection); 'realistic' = the ~12 headers a CDN or API sends (Date,
// Server, Content-Type, Content-Length, Last-Modified, ETag, Accept-Ranges, Connection,
// Cache-Control, Vary, X-Request-Id, Strict-Transport-Security), served from static files.
//
// Invariants: startNginx resolves only once every listener accepts connections; a failed
// start kills the child, removes the temp dir and rejects with the tail of nginx's error log.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SMALL = 'hello, world\n';
const KIB = 1024;
const MIB = 1024 * 1024;

let cachedPath;

/** The nginx binary (NGINX_BIN or BENCH_NGINX_BIN, else on PATH or in /usr/sbin), or null. */
export function nginxPath() {
  if (cachedPath !== undefined) return cachedPath;
  const env = process.env.NGINX_BIN || process.env.BENCH_NGINX_BIN;
  const candidates = env ? [env] : ['/usr/sbin/nginx', 'nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
  cachedPath = null;
  for (const c of candidates) {
    const r = spawnSync(c, ['-v'], { stdio: 'ignore', timeout: 5000 });
    if (r.status === 0) {
      cachedPath = c;
      break;
    }
  }
  return cachedPath;
}

/** True when an nginx binary is there; tests skip (with a message) when it is not. */
export function haveNginx() {
  return nginxPath() !== null;
}

/** Why a test or benchmark cannot use nginx, or undefined when it can. */
export function nginxSkipReason() {
  return haveNginx() ? undefined : 'nginx is not installed (Debian: apt-get install nginx-light)';
}

/**
 * Starts nginx. Options: tls (self-signed cert for 127.0.0.1/localhost, returned as `ca`),
 * http2 (h2 over TLS, or h2c with prior knowledge without tls), keepaliveRequests (requests per
 * connection before nginx closes it — GOAWAY over HTTP/2; default 10 000 000), files (create /1m and /64m;
 * default true), headers ('minimal' | 'realistic', default 'minimal'), extraListeners (how
 * many more ports serve the same paths: distinct origins), neverPort, workers (default 1).
 * Resolves { port, origin, url(path), ports, origins, ca, pid, dir, close() }.
 */
export async function startNginx(options = {}) {
  const {
    tls = false,
    http2 = false,
    files = true,
    headers = 'minimal',
    extraListeners = 0,
    neverPort,
    workers = 1,
    keepaliveRequests = 10_000_000,
  } = options;
  if (headers !== 'minimal' && headers !== 'realistic') throw new Error(`headers must be minimal or realistic`);
  const bin = nginxPath();
  if (bin === null) throw new Error(nginxSkipReason());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-nginx-'));
  let child;
  try {
    const www = path.join(dir, 'www');
    await mkdir(www);
    await writeFile(path.join(www, 'small'), SMALL);
    await writeFile(path.join(www, '1k'), Buffer.alloc(KIB, 0x61));
    await writeFile(path.join(www, 'chunked'), SMALL);
    if (files) {
      await writeFile(path.join(www, '1m'), Buffer.alloc(MIB, 0x61));
      await writeFile(path.join(www, '64m'), Buffer.alloc(64 * MIB, 0x61));
    }
    let ca;
    if (tls) ca = makeCert(dir);
    const ports = [];
    for (let i = 0; i <= extraListeners; i++) ports.push(await freePort(ports));
    const statusPort = await freePort(ports);
    const conf = config({ dir, www, ports, statusPort, tls, http2, headers, neverPort, workers, files, keepaliveRequests });
    const confPath = path.join(dir, 'nginx.conf');
    await writeFile(confPath, conf);
    child = spawn(bin, ['-p', dir, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const failed = exited.then(async (code) => {
      const log = await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited (${code}): ${(stderr + log).trim().slice(-1500)}`);
    });
    failed.catch(() => {});
    await Promise.race([Promise.all([...ports, statusPort].map((p) => waitForPort(p, 10_000))), failed]);
    const killAtExit = () => child.exitCode === null && child.kill('SIGKILL');
    process.once('exit', killAtExit);
    const scheme = tls ? 'https' : 'http';
    const origins = ports.map((p) => `${scheme}://127.0.0.1:${p}`);
    let closing;
    let statsCalls = 0;
    return {
      port: ports[0],
      origin: origins[0],
      url: (p = '/') => `${origins[0]}${p.startsWith('/') ? p : `/${p}`}`,
      ports,
      origins,
      ca,
      pid: child.pid,
      dir,
      async stats() {
        // A plain listener of its own; each look is one more connection and request: not counted.
        statsCalls++;
        const text = await getText(`http://127.0.0.1:${statusPort}/status`);
        const m = /\n\s*(\d+) (\d+) (\d+)/.exec(text);
        if (m === null) throw new Error(`unexpected stub_status: ${text}`);
        return { accepts: Number(m[1]) - statsCalls, requests: Number(m[3]) - statsCalls };
      },
      close() {
        closing ??= (async () => {
          process.removeListener('exit', killAtExit);
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGKILL');
              await exited;
            }
          }
          await rm(dir, { recursive: true, force: true });
        })();
        return closing;
      },
    };
  } catch (err) {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// Private implementation past this point.

function config({ dir, www, ports, statusPort, tls, http2, headers, neverPort, workers, files, keepaliveRequests }) {
  const listenFlags = `${tls ? ' ssl' : ''}${http2 ? ' http2' : ''}`;
  const listens = ports
    .map((p, i) => `    listen 127.0.0.1:${p}${listenFlags}${i === 0 ? ' backlog=4096' : ''};`)
    .join('\n');
  const realistic = headers === 'realistic';
  // add_header at server level is inherited by every location that sets none itself.
  const extra = realistic
    ? `
    etag on;
    add_header Cache-Control "public, max-age=60";
    add_header Vary "Accept-Encoding";
    add_header X-Request-Id $request_id;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains";`
    : `
    etag off;`;
  const small = realistic
    ? `location = /small { default_type text/plain; }`
    : `location = /small { default_type text/plain; return 200 "hello, world\\n"; }`;
  const kib = 'a'.repeat(KIB);
  const ssl = tls
    ? `
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;`
    : '';
  return `daemon off;
master_process off;
worker_processes ${workers};
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests ${keepaliveRequests};
  keepalive_timeout 300s;
  http2_max_requests 10000000;
  sendfile on;
  tcp_nodelay on;
  types { text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  server {
${listens}
    root ${www};${ssl}${extra}
    ${small}
    location = /close { default_type text/plain; keepalive_timeout 0; return 200 "hello, world\\n"; }
    location = /echo { default_type application/octet-stream; return 200 "${kib}"; }
    location = /1k { }
    ${files ? 'location = /1m { }\n    location = /64m { }' : ''}
    location = /chunked { default_type text/plain; ssi on; ssi_types *; }
    ${neverPort ? `location = /never { proxy_pass http://127.0.0.1:${neverPort}; proxy_read_timeout 3600s; }` : ''}
    location / { return 404; }
  }
  server {
    listen 127.0.0.1:${statusPort};
    location = /status { stub_status; }
  }
}
`;
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost (openssl CLI); returns its PEM. */
function makeCert(dir) {
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 },
  );
  if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.stderr ?? r.error}`);
  return readFileSync(path.join(dir, 'cert.pem'), 'utf8');
}

function getText(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function freePort(taken) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => (taken.includes(port) ? freePort(taken).then(resolve, reject) : resolve(port)));
    });
  });
}

function waitForPort(port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`nginx does not listen on 127.0.0.1:${port}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}
