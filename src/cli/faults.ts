/**
 * cli/faults — `hourglass faults [--port N] [--host H] [--tls] [--h2]`: the fault server of
 * `hourglass/testing` in the foreground, so its scripted misbehaviour can be tried with
 * any client (curl, a browser, `hourglass get`).
 *
 * Owns: the command's flags, printing the server's URL and route list
 * (`FaultServer.routes`), writing the test CA to a file in TLS mode (for `--cacert`),
 * and a clean shutdown on SIGINT/SIGTERM.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultServer } from '../testing/index.js';
import { count, type FlagSpec, formatFlags, on, parseFlags, set, text, UsageError } from './args.js';

interface FaultsOptions {
  port: number;
  host: string;
  tls: boolean;
  /** Speak HTTP/2 too (h2 by ALPN with --tls, h2c prior knowledge without). */
  h2: boolean;
  help: boolean;
}

const FLAGS: FlagSpec<FaultsOptions>[] = [
  {
    names: ['--port', '-p'],
    arg: 'N',
    def: '0 (any free port)',
    help: 'port to listen on',
    apply: set('port', port),
  },
  {
    names: ['--host'],
    arg: 'HOST',
    def: '127.0.0.1',
    help: 'address to listen on',
    apply: set('host', text),
  },
  { names: ['--tls'], def: 'off', help: 'serve HTTPS with the shipped test CA', apply: on('tls') },
  {
    names: ['--h2'],
    def: 'off',
    help: 'speak HTTP/2 too: h2 by ALPN with --tls, h2c prior knowledge without (curl --http2-prior-knowledge)',
    apply: on('h2'),
  },
  { names: ['-h', '--help'], help: 'show this help', apply: on('help') },
];

/** Runs the fault server until SIGINT/SIGTERM; resolves the exit code. */
export async function runFaults(argv: readonly string[]): Promise<number> {
  const o: FaultsOptions = { port: 0, host: '127.0.0.1', tls: false, h2: false, help: false };
  try {
    const rest = parseFlags(argv, FLAGS, o);
    if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hourglass faults: ${err.message}\nTry 'hourglass faults --help'.\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(
      `Usage: hourglass faults [options]\n\nRuns the fault server on loopback until interrupted.\n\nOptions:\n${formatFlags(FLAGS).join('\n')}\n`,
    );
    return 0;
  }
  const fs = await FaultServer.start({ tls: o.tls, host: o.host, port: o.port, ...(o.h2 ? { h2: true } : {}) });
  let caDir: string | undefined;
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  // Handlers first: a reader that stops us as soon as it sees the prompt must find them in place (before any output).
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  out(`hourglass fault server listening on ${fs.origin}`);
  if (o.tls) {
    caDir = await mkdtemp(join(tmpdir(), 'hourglass-faults-'));
    const caFile = join(caDir, 'ca.pem');
    await writeFile(caFile, fs.ca);
    out(`test CA written to ${caFile} (hourglass get --cacert ${caFile} ${fs.url('/ok')})`);
  }
  out();
  out('Routes:');
  const width = Math.max(...FaultServer.routes.map((r) => r.path.length)) + 2;
  for (const r of FaultServer.routes) out(`  ${r.path.padEnd(width)}${r.description}`);
  if (o.h2) {
    out();
    out('HTTP/2 routes:');
    const w2 = Math.max(...FaultServer.h2Routes.map((r) => r.path.length)) + 2;
    for (const r of FaultServer.h2Routes) out(`  ${r.path.padEnd(w2)}${r.description}`);
  }
  out();
  out('Press Ctrl-C to stop.');
  await stopped;
  await fs.close();
  if (caDir !== undefined) await rm(caDir, { recursive: true, force: true });
  return 0;
}

function port(v: string, flag: string): number {
  const n = count(v, flag);
  if (n > 65_535) throw new UsageError(`${flag}: port must be at most 65535`);
  return n;
}
