// Small helpers shared by the bench scripts: statistics, process CPU, starting the server.

import { fork, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Percentile (0..100) of an array or typed array, nearest-rank. */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const v = Array.from(xs).sort((a, b) => a - b);
  const i = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[i];
}

const CLK_TCK = 100;

/** CPU seconds (user + system) a process used so far, from /proc; NaN where unavailable. */
export function procCpuSeconds(pid) {
  if (pid === undefined) return Number.NaN;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/**
 * Syscall and wake-up counters of a process, from /proc (NaN where unavailable): syscr/syscw
 * (read-like and write-like syscalls), wchar (bytes written), vcsw (voluntary context
 * switches: how often it blocked waiting, e.g. in epoll_wait, and was woken).
 */
export function procCounters(pid) {
  const out = { syscr: Number.NaN, syscw: Number.NaN, wchar: Number.NaN, vcsw: Number.NaN };
  if (pid === undefined) return out;
  try {
    for (const line of readFileSync(`/proc/${pid}/io`, 'latin1').split('\n')) {
      const [k, v] = line.split(': ');
      if (k === 'syscr' || k === 'syscw' || k === 'wchar') out[k] = Number(v);
    }
    const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    if (m !== null) out.vcsw = Number(m[1]);
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

/** CPU seconds the whole machine spent busy so far (all cores), from /proc/stat; NaN elsewhere. */
export function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits until processes other than `ownPids` use less than `maxCores` of CPU over a 150 ms
 * window, for at most `maxWaitMs`. Resolves with the foreign load last seen (cores).
 */
export async function waitForQuiet(ownPids, { maxCores = 0.25, maxWaitMs = 3000 } = {}) {
  const own = () => ownPids.reduce((a, p) => a + (procCpuSeconds(p) || 0), 0) + process.cpuUsage().user / 1e6;
  let load = Number.NaN;
  for (let waited = 0; waited <= maxWaitMs; waited += 150) {
    const m0 = machineBusySeconds();
    const o0 = own();
    await new Promise((r) => setTimeout(r, 150));
    load = (machineBusySeconds() - m0 - (own() - o0)) / 0.15;
    if (!(load >= maxCores)) return { load, waitedMs: waited };
  }
  return { load, waitedMs: maxWaitMs };
}

/** Finds a free loopback port (for servers that cannot report an ephemeral one). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = (n) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until || n > 200) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(() => attempt(n + 1), 50);
      });
    };
    attempt(0);
  });
}

/** Starts bench/server.mjs in its own process; resolves { port, pid, kind, stop }. */
export function startNodeServer() {
  const child = fork(path.join(BENCH_DIR, 'server.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('bench server did not start within 10 s'));
    }, 10_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
    child.once('message', (m) => {
      clearTimeout(timer);
      if (m?.type !== 'ready') return reject(new Error('unexpected message from the bench server'));
      resolve({
        kind: 'node',
        port: m.port,
        pid: child.pid,
        stop: async () => {
          child.removeAllListeners('exit');
          if (child.exitCode === null) child.kill('SIGTERM');
        },
      });
    });
  });
}

/** The nginx binary to use, or undefined: BENCH_NGINX_BIN, else `nginx` on PATH or in /usr/sbin. */
export function findNginx() {
  const candidates = process.env.BENCH_NGINX_BIN
    ? [process.env.BENCH_NGINX_BIN]
    : ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
  for (const c of candidates) {
    const r = spawnSync(c, ['-v'], { stdio: 'ignore', timeout: 5000 });
    if (r.status === 0) return c;
  }
  return undefined;
}

/**
 * Starts nginx (`daemon off`, one worker, no master) on a loopback port with the same paths
 * as server.mjs. /never is proxied to `neverPort` (the node server) since nginx cannot stay
 * silent by itself; /echo answers a canned 1 KiB body (nginx has no echo without modules).
 */
export async function startNginx(bin, neverPort) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-bench-nginx-'));
  const www = path.join(dir, 'www');
  await mkdir(www);
  const mib = Buffer.alloc(1024 * 1024, 0x61);
  await writeFile(path.join(www, '1m'), mib);
  await writeFile(path.join(www, '64m'), Buffer.alloc(64 * 1024 * 1024, 0x61));
  await writeFile(path.join(www, 'chunked'), 'hello, world\n');
  const port = await freePort();
  const kib = 'a'.repeat(1024);
  const conf = `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nodelay on;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
    location = /small { default_type text/plain; return 200 "hello, world\\n"; }
    location = /close { default_type text/plain; keepalive_timeout 0; return 200 "hello, world\\n"; }
    location = /echo { return 200 "${kib}"; }
    location = /1m { }
    location = /64m { }
    location = /chunked { default_type text/plain; ssi on; ssi_types *; }
    location = /never { proxy_pass http://127.0.0.1:${neverPort}; proxy_read_timeout 3600s; }
  }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn(bin, ['-p', dir, '-c', confPath], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      exited.then((code) => {
        throw new Error(`nginx exited (${code}); see ${dir}/error.log`);
      }),
    ]);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    kind: 'nginx',
    port,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs bench/worker.mjs in a fresh process with `config`; resolves with its result.
 * The child is killed after `limitMs`.
 */
export function runWorker(config, { execArgv = ['--expose-gc'], limitMs = 120_000 } = {}) {
  const child = fork(path.join(BENCH_DIR, 'worker.mjs'), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result;
    let failure;
    const timer = setTimeout(() => {
      failure ??= new Error(`worker exceeded ${limitMs} ms`);
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (m) => {
      if (m?.type === 'result') result ??= m.result;
      else if (m?.type === 'error') failure ??= new Error(m.error);
    });
    // Settle at exit, so whatever the child writes when it exits (a --cpu-prof file) is there.
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (failure !== undefined) reject(failure);
      else if (result !== undefined) resolve(result);
      else reject(new Error(`worker exited (${code ?? signal}) without a result`));
    });
    child.send(config);
  });
}

/**
 * Starts an interactive load worker (run.mjs interleaves the reps of several clients).
 * Returns { ready, rep(), finish() }: `rep()` resolves with one timed run, `finish()` with
 * the final result once the child exited. The child is killed after `limitMs`.
 */
export function openWorker(config, { execArgv = ['--expose-gc'], limitMs = 300_000 } = {}) {
  const child = fork(path.join(BENCH_DIR, 'worker.mjs'), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let failure;
  let result;
  const replies = [];
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = { resolve, reject };
  });
  const timer = setTimeout(() => {
    failure ??= new Error(`worker ${config.client} exceeded ${limitMs} ms`);
    child.kill('SIGKILL');
  }, limitMs);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      failure ??=
        result === undefined ? new Error(`worker ${config.client} exited (${code ?? signal})`) : undefined;
      if (failure !== undefined) {
        onReady.reject(failure);
        for (const r of replies.splice(0)) r.reject(failure);
      }
      resolve();
    });
  });
  child.on('message', (m) => {
    if (m?.type === 'ready') onReady.resolve();
    else if (m?.type === 'rep-result') replies.shift()?.resolve(m.result);
    else if (m?.type === 'result') result = m.result;
    else if (m?.type === 'error') {
      failure ??= new Error(m.error);
      for (const r of replies.splice(0)) r.reject(failure);
      onReady.reject(failure);
    }
  });
  child.send({ ...config, interactive: true, limitMs });
  ready.catch(() => {});
  return {
    ready,
    rep() {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        replies.push({ resolve, reject });
        child.send({ type: 'rep' });
      });
    },
    async finish() {
      if (child.exitCode === null && child.connected) child.send({ type: 'finish' });
      await exited;
      if (failure !== undefined) throw failure;
      return result;
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
