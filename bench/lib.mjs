// Small helpers shared by the bench scripts: statistics, process CPU, starting the server.

import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
