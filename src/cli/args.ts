/**
 * cli/args — the command-line vocabulary shared by every `hourglass` command: a
 * table-driven flag parser (curl-style: `--flag value`, `--flag=value`, clustered
 * short flags `-sLo FILE`), the `--help` rendering of such a table (every flag with its
 * default), and the value parsers: durations, byte rates, counts, URLs, headers.
 *
 * Owns: syntax only. Never touches the network or the file system; each command
 * declares its flags (`get-args.ts`, `faults.ts`). Every problem is a
 * {@link UsageError} (exit 2), thrown before anything is sent.
 */

import { redactUrl } from '../errors.js';

/**
 * A command line that cannot be acted on: curl's exit 2, or the more precise code curl
 * uses for a URL it refuses (3 malformed, 1 unsupported scheme).
 */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode: number;
  /**
   * Set when the flags parsed and a later check (the URL, flags that clash) failed:
   * whether `--json` was given, so the command still writes its one JSON line.
   */
  json = false;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** One flag of a command: its spellings, its argument (if any), its help and its effect on `T`. */
export interface FlagSpec<T> {
  names: string[];
  /** Name of the argument in help, or undefined for a boolean flag. */
  arg?: string;
  help: string;
  /** Default shown by `--help`. */
  def?: string;
  apply(o: T, value: string, flag: string): void;
}

/** Applies `argv` to `o` through `flags`; returns the positional arguments. */
export function parseFlags<T>(argv: readonly string[], flags: readonly FlagSpec<T>[], o: T): string[] {
  const byName = new Map<string, FlagSpec<T>>();
  for (const f of flags) for (const n of f.names) byName.set(n, f);
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a : a.slice(0, eq);
      const spec = byName.get(name);
      if (spec === undefined) throw new UsageError(`unknown option ${name}`);
      if (spec.arg === undefined) {
        if (eq !== -1) throw new UsageError(`option ${name} takes no value`);
        spec.apply(o, '', name);
      } else if (eq !== -1) {
        spec.apply(o, a.slice(eq + 1), name);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option ${name} needs a value (${spec.arg})`);
        spec.apply(o, argv[++i]!, name);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      // Short flags cluster like curl's: `-sL`, `-vo FILE`, `-oFILE`.
      for (let j = 1; j < a.length; j++) {
        const name = `-${a[j]}`;
        const spec = byName.get(name);
        if (spec === undefined) throw new UsageError(`unknown option ${name}`);
        if (spec.arg === undefined) {
          spec.apply(o, '', name);
          continue;
        }
        const rest = a.slice(j + 1);
        if (rest !== '') spec.apply(o, rest, name);
        else if (i + 1 < argv.length) spec.apply(o, argv[++i]!, name);
        else throw new UsageError(`option ${name} needs a value (${spec.arg})`);
        break;
      }
    } else {
      positional.push(a);
    }
  }
  return positional;
}

/** `--help` lines for a flag table: names and argument, then help and default. */
export function formatFlags<T>(flags: readonly FlagSpec<T>[]): string[] {
  const rows = flags.map((f) => {
    const left = `  ${f.names.join(', ')}${f.arg !== undefined ? ` ${f.arg}` : ''}`;
    return { left, right: f.def !== undefined ? `${f.help} (default: ${f.def})` : f.help };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  return rows.map((r) => r.left.padEnd(width) + r.right);
}

/**
 * Parses a duration into ms: `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds
 * (curl's unit). Throws {@link UsageError} for anything else or a negative value.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (m === null)
    throw new UsageError(`invalid duration ${JSON.stringify(text)} (expected e.g. 250ms, 1.5s, 2m or 3)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const scale = unit === 'ms' ? 1 : unit === 's' ? 1_000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = n * scale;
  if (!Number.isFinite(ms)) throw new UsageError(`invalid duration ${JSON.stringify(text)}`);
  return Math.round(ms * 1000) / 1000;
}

/** Parses a byte rate: `500`, `10k`, `1.5M`, `2G` (1024-based, like curl), optionally `B/s`. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmg])?\s*(?:b)?\s*(?:\/s)?\s*$/i.exec(text);
  if (m === null)
    throw new UsageError(`invalid rate ${JSON.stringify(text)} (expected bytes/s, e.g. 500, 10k, 1M)`);
  const scale = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Math.round(Number(m[1]) * scale);
}

/** A `FlagSpec.apply` for a boolean flag: sets `key` to true. */
export function on<T>(
  key: { [K in keyof T]-?: T[K] extends boolean ? K : never }[keyof T],
): FlagSpec<T>['apply'] {
  return (o) => {
    (o as Record<typeof key, boolean>)[key] = true;
  };
}

/** A `FlagSpec.apply` for a flag with a value: `key = parse(value, flag)`. */
export function set<T, K extends keyof T>(
  key: K,
  parse: (v: string, flag: string) => T[K],
): FlagSpec<T>['apply'] {
  return (o, v, f) => {
    o[key] = parse(v, f);
  };
}

export function text(v: string): string {
  return v;
}

export function duration(v: string, flag: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

export function positiveDuration(v: string, flag: string): number {
  const ms = duration(v, flag);
  if (ms <= 0) throw new UsageError(`${flag}: must be greater than 0`);
  return ms;
}

export function rate(v: string, flag: string): number | undefined {
  try {
    const r = parseRate(v);
    return r === 0 ? undefined : r;
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

export function count(v: string, flag: string): number {
  if (!/^\s*\d+\s*$/.test(v))
    throw new UsageError(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function method(v: string): string | undefined {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v))
    throw new UsageError(`-X: invalid method ${JSON.stringify(v)}`);
  return v;
}

/**
 * A `-H` argument, as curl reads it: `Name: value` adds a header, `Name:` (nothing after
 * the colon) removes the header the command would send by default, and `Name;` sends the
 * header with an empty value. `value` is null for a removal.
 */
export function header(v: string, flag: string): [string, string | null] {
  const colon = v.indexOf(':');
  let name: string;
  let value: string | null;
  if (colon === -1 && /;\s*$/.test(v)) {
    name = v.slice(0, v.lastIndexOf(';')).trim();
    value = '';
  } else if (colon > 0) {
    name = v.slice(0, colon).trim();
    const rest = v.slice(colon + 1).trim();
    value = rest === '' ? null : rest;
  } else {
    throw new UsageError(`${flag}: expected 'Name: value', 'Name:' or 'Name;', got ${JSON.stringify(v)}`);
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
    throw new UsageError(`${flag}: invalid header name ${JSON.stringify(name)}`);
  return [name, value];
}

export function sha256(v: string, flag: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(v)) throw new UsageError(`${flag}: expected 64 hex digits`);
  return v.toLowerCase();
}

/** curl's exit code for a URL it cannot parse. */
const EXIT_MALFORMED_URL = 3;
/** curl's exit code for a scheme it does not speak. */
const EXIT_UNSUPPORTED_PROTOCOL = 1;

/**
 * Checks a URL from the command line. Like curl: a URL without a scheme is http; a URL
 * that does not parse, or holds a space or a control character (which a browser would
 * quietly percent-encode), is exit 3; a scheme other than http/https is exit 1.
 */
export function httpUrl(given: string, what: string): string {
  const v = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL;
  try {
    if (/[\s\x00-\x1f\x7f]/.test(v)) throw new Error('whitespace or a control character');
    url = new URL(v);
  } catch {
    throw new UsageError(`${what}: malformed URL ${JSON.stringify(redactUrl(v))}`, EXIT_MALFORMED_URL);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `${what}: unsupported scheme ${url.protocol} (only http: and https:)`,
      EXIT_UNSUPPORTED_PROTOCOL,
    );
  }
  return v;
}
