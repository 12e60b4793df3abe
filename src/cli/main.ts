#!/usr/bin/env node
/**
 * cli/main — the `hourglass` executable: picks the command and exits with its code.
 *
 * Commands: `get` (curl-like transfer, `get.ts`), `demo` (every timeout firing against
 * a loopback fault server, `demo.ts`), `faults` (the fault server in the foreground,
 * `faults.ts`). Output is flushed before exiting; the process exits explicitly so a
 * socket left behind by a failed transfer can never keep the command alive.
 */

import { UsageError } from './args.js';
import { cliVersion, runGet } from './get.js';

const USAGE = `Usage: hourglass <command> [options]

Commands:
  get URL          fetch URL like curl (see 'hourglass get --help')
  demo             show every timeout of hourglass firing against a local fault server
  faults           run the fault server in the foreground (see 'hourglass faults --help')

Options:
  -h, --help       show this help
  --version        print the version`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'get':
      return runGet(rest);
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      return runDemo(rest);
    }
    case 'faults': {
      const { runFaults } = await import('./faults.js');
      return runFaults(rest);
    }
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case '--version':
    case '-V':
      process.stdout.write(`hourglass ${cliVersion()}\n`);
      return 0;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return 2;
    default:
      process.stderr.write(`hourglass: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      return 2;
  }
}

/** Waits until everything written to stdout and stderr has been handed to the OS. */
function flush(): Promise<void> {
  const drain = (s: NodeJS.WriteStream): Promise<void> =>
    new Promise((resolve) => s.write('', () => resolve()));
  return Promise.all([drain(process.stdout), drain(process.stderr)]).then(() => undefined);
}

// A closed pipe on stdout (`hourglass get URL | head`) must not crash the process.
process.stdout.on('error', () => undefined);

main(process.argv.slice(2)).then(
  async (code) => {
    await flush();
    process.exit(code);
  },
  async (err: unknown) => {
    const usage = err instanceof UsageError;
    process.stderr.write(
      `hourglass: ${usage ? (err as Error).message : ((err as Error)?.stack ?? String(err))}\n`,
    );
    await flush();
    process.exit(usage ? 2 : 1);
  },
);
