// Helpers for the CLI suites: `hg(args)` spawns the built `hourglass` binary, `curl(args)`
// the system curl (`HAVE_CURL` says whether there is one; tests that need it skip, never
// fail, without it), `inPty(cmd)` runs a command line under a pseudo-terminal with
// `script` (`HAVE_SCRIPT`), `freePort()` a loopback port with nothing listening, and
// `rawServer(onRequest)` a node:net server that answers each request head with bytes the
// test chooses (resets, cut bodies, malformed heads).
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export const MAIN = new URL('../../../dist/cli/main.js', import.meta.url).pathname;

/** What a spawned command did. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const NO_PROXY_ENV = { HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '', NO_PROXY: '', ALL_PROXY: '' };

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether curl is installed (tests comparing with it skip otherwise). */
export const HAVE_CURL = which('curl');
/** Whether util-linux `script` is installed (pseudo-terminal tests skip otherwise). */
export const HAVE_SCRIPT = which('script');

/** Runs a command, killing it after `timeoutMs`; never blocks the event loop. */
export function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NO_PROXY_ENV } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** `hourglass ARGS` (the built binary). */
export function hg(args: string[], timeoutMs = 15_000): Promise<Run> {
  return run(process.execPath, [MAIN, ...args], timeoutMs);
}

/** `curl -q ARGS` (no .curlrc). */
export function curl(args: string[], timeoutMs = 15_000): Promise<Run> {
  return run('curl', ['-q', ...args], timeoutMs);
}

/** Runs `argv` under a pseudo-terminal (`script -qec`); the exit code is the command's. */
export function inPty(argv: string[], timeoutMs = 15_000): Promise<Run> {
  const line = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('script', ['-qec', line, '/dev/null'], timeoutMs);
}

/** A loopback port with nothing listening. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A raw loopback server: `onRequest(socket, head)` runs once per connection's first request head. */
export async function rawServer(
  onRequest: (socket: net.Socket, head: string) => void,
): Promise<{ base: string; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      if (buf.charCodeAt(0) === 0x16) {
        // A TLS ClientHello on this plain port: answer in HTTP, as a web server would.
        s.off('data', onData);
        s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      s.off('data', onData);
      onRequest(s, buf.slice(0, end + 4));
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
