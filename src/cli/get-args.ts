/**
 * cli/get-args — the flags of `hourglass get` (SPEC §10, §11): one table that both the
 * parser and `--help` read, so every flag is listed with its default.
 *
 * Owns: {@link GetOptions} and the cross-flag rules (`--resume`/`--mirror`/`--sha256`
 * need `-o` and a GET). Syntax and value parsing live in `args.ts`.
 */

import {
  count,
  duration,
  type FlagSpec,
  formatFlags,
  header,
  httpUrl,
  method,
  on as onFlag,
  parseFlags,
  positiveDuration,
  rate,
  set as setFlag,
  sha256,
  text,
  UsageError,
} from './args.js';
import { EXIT_CODE_HELP } from './exit-codes.js';

/** Everything `hourglass get` was asked to do. Durations are ms; undefined = library default. */
export interface GetOptions {
  url: string;
  output: string | undefined;
  /** `--har FILE`: write a HAR 1.2 log of every request made. */
  har: string | undefined;
  method: string | undefined;
  /** `[name, value]` pairs in the order given (`-H 'Name;'` gives an empty value). */
  headers: [string, string][];
  /** Lower-case names of default headers removed with `-H 'Name:'`. */
  removeHeaders: string[];
  /** `-d` arguments as given (`@file` is read by `get.ts`). */
  data: string[];
  /** `--data-binary` arguments as given (sent without newline stripping). */
  dataBinary: string[];
  location: boolean;
  maxRedirects: number;
  timeout: number | undefined;
  connectTimeout: number | undefined;
  tlsTimeout: number | undefined;
  headerTimeout: number | undefined;
  readTimeout: number | undefined;
  /** Bytes per second, or undefined for no minimum. */
  minSpeed: number | undefined;
  minSpeedWindow: number;
  retry: number;
  resume: boolean;
  mirrors: string[];
  sha256: string | undefined;
  /** A proxy URL, `''` for none, or undefined for the environment's. */
  proxy: string | undefined;
  /** `--unix-socket`: a Unix domain socket path dialed instead of TCP. */
  unixSocket: string | undefined;
  cacert: string | undefined;
  insecure: boolean;
  /**
   * HTTP version asked for, as curl's flags: `'2'` (`--http2`: ALPN h2 on https, the
   * default; plain http stays HTTP/1.1 — there is no Upgrade), `'1.1'` (`--http1.1`:
   * never HTTP/2), `'2-prior-knowledge'` (`--http2-prior-knowledge`: h2c on http, h2 on
   * https). Undefined: the library's default (h2 by ALPN on https).
   */
  httpVersion: '1.1' | '2' | '2-prior-knowledge' | undefined;
  verbose: boolean;
  json: boolean;
  fail: boolean;
  silent: boolean;
  /** `-S`: print the error message even with `-s`. */
  showError: boolean;
  /** `-I`: send HEAD and print the response head. */
  head: boolean;
  /** `-i`: print the response head before the body. */
  include: boolean;
  help: boolean;
}

const on = onFlag<GetOptions>;
const set = <K extends keyof GetOptions>(key: K, parse: (v: string, flag: string) => GetOptions[K]) =>
  setFlag<GetOptions, K>(key, parse);

const FLAGS: FlagSpec<GetOptions>[] = [
  {
    names: ['-o', '--output'],
    arg: 'FILE',
    def: 'stdout',
    help: "write the body to FILE ('-': stdout)",
    apply: set('output', text),
  },
  {
    names: ['-X', '--request'],
    arg: 'METHOD',
    def: 'GET, POST with -d',
    help: 'request method',
    apply: set('method', method),
  },
  {
    names: ['-H', '--header'],
    arg: "'NAME: VALUE'",
    def: 'none',
    help: "add a header (repeatable; 'NAME:' drops a default one, 'NAME;' sends it empty)",
    apply: (o, v, f) => {
      const [name, value] = header(v, f);
      if (value !== null) {
        o.headers.push([name, value]);
        return;
      }
      const lower = name.toLowerCase();
      o.headers = o.headers.filter(([k]) => k.toLowerCase() !== lower);
      if (!o.removeHeaders.includes(lower)) o.removeHeaders.push(lower);
    },
  },
  { names: ['-I', '--head'], def: 'off', help: 'send HEAD and print the response head', apply: on('head') },
  {
    names: ['-i', '--include'],
    def: 'off',
    help: 'print the response head (every hop with -L) before the body',
    apply: on('include'),
  },
  {
    names: ['-d', '--data'],
    arg: 'DATA|@FILE',
    def: 'none',
    help: 'send DATA as an urlencoded form body (repeatable, joined with &)',
    apply: (o, v) => void o.data.push(v),
  },
  {
    names: ['--data-binary'],
    arg: 'DATA|@FILE',
    def: 'none',
    help: 'like -d, but send the bytes of @FILE unchanged',
    apply: (o, v) => void o.dataBinary.push(v),
  },
  { names: ['-L', '--location'], def: 'off', help: 'follow redirects', apply: on('location') },
  {
    names: ['--max-redirects', '--max-redirs'],
    arg: 'N',
    def: '10',
    help: 'redirects followed at most with -L; -1 for no limit (as curl)',
    apply: set('maxRedirects', (v: string, f: string) => (v.trim() === '-1' ? Infinity : count(v, f))),
  },
  {
    names: ['--timeout', '-m', '--max-time'],
    arg: 'DURATION',
    def: 'none',
    help: 'overall budget: DNS to the end of the body, redirects and retries included',
    apply: set('timeout', duration),
  },
  {
    names: ['--connect-timeout'],
    arg: 'DURATION',
    def: '30s',
    help: 'DNS lookup plus TCP connect; also caps the TLS handshake (as curl), each phase getting up to this (no combined budget)',
    apply: set('connectTimeout', duration),
  },
  {
    names: ['--tls-timeout'],
    arg: 'DURATION',
    def: '10s',
    help: 'TLS handshake (the smaller of this and --connect-timeout)',
    apply: set('tlsTimeout', duration),
  },
  {
    names: ['--header-timeout'],
    arg: 'DURATION',
    def: '300s',
    help: 'from the request sent until the response head arrived',
    apply: set('headerTimeout', duration),
  },
  {
    names: ['--read-timeout'],
    arg: 'DURATION',
    def: '300s',
    help: 'longest silence while response bytes are expected',
    apply: set('readTimeout', duration),
  },
  {
    names: ['--min-speed', '--speed-limit'],
    arg: 'RATE',
    def: 'none',
    help: 'fail when the body is slower than RATE bytes/s (500, 10k, 1M)',
    apply: set('minSpeed', rate),
  },
  {
    names: ['--min-speed-window', '--speed-time'],
    arg: 'DURATION',
    def: '5s',
    help: 'window over which --min-speed is measured',
    apply: set('minSpeedWindow', positiveDuration),
  },
  {
    names: ['--retry'],
    arg: 'N',
    def: '0',
    help: 'retry connect failures, connect/TLS/pool timeouts and 408/429/5xx N times',
    apply: set('retry', count),
  },
  {
    names: ['--resume'],
    def: 'off',
    help: 'continue FILE.part of -o FILE with a range request',
    apply: on('resume'),
  },
  {
    names: ['--mirror'],
    arg: 'URL',
    def: 'none',
    help: 'fallback URL of the same file (repeatable; makes it a ranged download)',
    apply: (o, v, f) => void o.mirrors.push(httpUrl(v, f)),
  },
  {
    names: ['--sha256'],
    arg: 'HEX',
    def: 'none',
    help: 'verify the downloaded file before renaming it into place',
    apply: set('sha256', sha256),
  },
  {
    names: ['-x', '--proxy'],
    arg: 'URL',
    def: 'HTTP(S)_PROXY / NO_PROXY',
    help: "proxy to use ('' for none)",
    apply: set('proxy', text),
  },
  {
    names: ['--unix-socket'],
    arg: 'PATH',
    def: 'none',
    help: "connect through the Unix domain socket PATH; the URL's host still names the server",
    apply: set('unixSocket', (v, f) => {
      if (v === '') throw new UsageError(`${f} needs a path`);
      return v;
    }),
  },
  {
    names: ['--cacert'],
    arg: 'FILE',
    def: 'system CAs',
    help: 'trust the CAs in FILE (PEM)',
    apply: set('cacert', text),
  },
  {
    names: ['--http2'],
    def: 'on for https',
    help: 'offer HTTP/2 by ALPN on https (the default); http:// stays HTTP/1.1 (no Upgrade)',
    apply: (o) => (o.httpVersion = '2'),
  },
  {
    names: ['--http1.1'],
    def: 'off',
    help: 'HTTP/1.1 only: never offer h2',
    apply: (o) => (o.httpVersion = '1.1'),
  },
  {
    names: ['--http2-prior-knowledge'],
    def: 'off',
    help: 'speak HTTP/2 at once on http:// (h2c, no HTTP/1.1 fallback); h2 by ALPN on https',
    apply: (o) => (o.httpVersion = '2-prior-knowledge'),
  },
  {
    names: ['-k', '--insecure'],
    def: 'off',
    help: 'do not verify the server certificate',
    apply: on('insecure'),
  },
  {
    names: ['-v', '--verbose'],
    def: 'off',
    help: 'headers, trace events and a timing waterfall on stderr',
    apply: on('verbose'),
  },
  {
    names: ['--har'],
    arg: 'FILE',
    def: 'off',
    help: 'write a HAR 1.2 log of every request made (redirect hops and retries) to FILE',
    apply: set('har', text),
  },
  {
    names: ['--json'],
    def: 'off',
    help: 'print one JSON line {status,url,headers,bytes,timings,error}; body to -o or discarded',
    apply: on('json'),
  },
  {
    names: ['-f', '--fail'],
    def: 'off',
    help: 'exit 22 on HTTP status >= 400, write no body',
    apply: on('fail'),
  },
  {
    names: ['-s', '--silent'],
    def: 'off',
    help: 'no progress bar and no error message',
    apply: on('silent'),
  },
  {
    names: ['-S', '--show-error'],
    def: 'off',
    help: 'with -s, still print the error message',
    apply: on('showError'),
  },
  { names: ['-h', '--help'], help: 'show this help', apply: on('help') },
];

/** Parses the arguments that follow `get`. Throws {@link UsageError}. */
export function parseGetArgs(argv: readonly string[]): GetOptions {
  const o: GetOptions = {
    url: '',
    output: undefined,
    har: undefined,
    method: undefined,
    headers: [],
    removeHeaders: [],
    data: [],
    dataBinary: [],
    location: false,
    maxRedirects: 10,
    timeout: undefined,
    connectTimeout: undefined,
    tlsTimeout: undefined,
    headerTimeout: undefined,
    readTimeout: undefined,
    minSpeed: undefined,
    minSpeedWindow: 5_000,
    retry: 0,
    resume: false,
    mirrors: [],
    sha256: undefined,
    proxy: undefined,
    unixSocket: undefined,
    cacert: undefined,
    insecure: false,
    httpVersion: undefined,
    verbose: false,
    json: false,
    fail: false,
    silent: false,
    showError: false,
    head: false,
    include: false,
    help: false,
  };
  const positional = parseFlags(argv, FLAGS, o);
  if (o.help) return o;
  try {
    return checkGetOptions(o, positional);
  } catch (err) {
    if (err instanceof UsageError) err.json = o.json;
    throw err;
  }
}

/** The checks after the flags parsed: one URL that hourglass speaks, flags that agree. */
function checkGetOptions(o: GetOptions, positional: string[]): GetOptions {
  if (positional.length === 0) throw new UsageError('no URL given');
  if (positional.length > 1) throw new UsageError(`one URL expected, got ${positional.length}`);
  o.url = httpUrl(positional[0]!, 'URL');
  if (
    (o.resume || o.mirrors.length > 0 || o.sha256 !== undefined) &&
    (o.output === undefined || o.output === '-')
  ) {
    throw new UsageError('--resume, --mirror and --sha256 need -o FILE (a file, not stdout)');
  }
  if (
    (o.resume || o.mirrors.length > 0 || o.sha256 !== undefined) &&
    (o.data.length > 0 || o.dataBinary.length > 0)
  ) {
    throw new UsageError('--resume, --mirror and --sha256 download with GET; they cannot send -d data');
  }
  return o;
}

/** The `--help` text of `hourglass get`: every flag with its default. */
export function getHelp(): string {
  return [
    'Usage: hourglass get [options] URL',
    '',
    'Fetch URL like curl. The body goes to stdout unless -o or --json is given.',
    'DURATION is 250ms, 1.5s, 2m or a bare number of seconds; 0 disables a timeout.',
    '',
    'Options:',
    ...formatFlags(FLAGS),
    '',
    ...EXIT_CODE_HELP,
  ].join('\n');
}
