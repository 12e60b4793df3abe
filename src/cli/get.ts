/**
 * cli/get — `hourglass get URL`: one curl-like transfer (SPEC §10, §11).
 *
 * Owns: turning {@link GetOptions} into a Client/Transport, the request body (`-d`),
 * where the response body goes (`-o`, stdout, or nowhere with `--json`), `--fail`,
 * the `-v` transcript, the `--json` line, and the exit code. Ranged, verified or
 * mirrored downloads (`--resume`, `--mirror`, `--sha256`) are handed to `download()`
 * (see `get-download.ts`). Never prints userinfo: every URL shown goes through
 * `redactUrl`, and credentials headers are masked in `-v`.
 */

import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type * as tls from 'node:tls';
import { Client } from '../client.js';
import { redactUrl } from '../errors.js';
import type { Response, ResponseHeaders } from '../response.js';
import { Timings } from '../timings.js';
import { Transport, type TransportOptions } from '../transport.js';
import { UsageError } from './args.js';
import { EXIT, errorSummary, exitCodeFor, HttpStatusError, ReadError, WriteError } from './exit-codes.js';
import { type GetOptions, getHelp, parseGetArgs } from './get-args.js';
import { runDownload } from './get-download.js';
import { ProgressBar, progressAllowed } from './progress.js';
import { type Marks, renderWaterfall, TraceRecorder } from './waterfall.js';

/** What the command learned; `--json` prints it. */
export interface GetResult {
  status: number | null;
  url: string;
  headers: ResponseHeaders | null;
  bytes: number;
  timings: Record<string, unknown> | null;
  error: ReturnType<typeof errorSummary> | null;
  /** Only for downloads: `{ path, sha256, resumed, attempts }`. */
  download?: Record<string, unknown>;
}

/** Runs `hourglass get` with the arguments after `get`; resolves the exit code. */
export async function runGet(argv: readonly string[]): Promise<number> {
  let o: GetOptions;
  try {
    o = parseGetArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hourglass: ${err.message}\nTry 'hourglass get --help'.\n`);
    return EXIT.usage;
  }
  if (o.help) {
    process.stdout.write(`${getHelp()}\n`);
    return EXIT.ok;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const rec = new TraceRecorder(o.verbose ? log : undefined);
  const result: GetResult = {
    status: null,
    url: redactUrl(o.url) ?? o.url,
    headers: null,
    bytes: 0,
    timings: null,
    error: null,
  };
  const bar = progressAllowed(o) ? new ProgressBar(process.stderr) : undefined;
  let client: Client | undefined;
  let code: number = EXIT.ok;
  try {
    client = new Client(clientOptions(o));
    if (o.resume || o.mirrors.length > 0 || o.sha256 !== undefined) {
      await runDownload(o, client, result, { log: o.verbose ? log : undefined, bar });
    } else {
      await transfer(o, client, rec, result, o.verbose ? log : undefined, bar);
    }
    bar?.done();
  } catch (err) {
    bar?.clear();
    code = exitCodeFor(err);
    result.error = errorSummary(err);
    if (!o.silent) process.stderr.write(`hourglass: (${code}) ${result.error.message}\n`);
  } finally {
    rec.finish();
    if (result.timings === null && rec.marks.attempt !== undefined)
      result.timings = timingsFromMarks(rec.marks);
    if (o.verbose && rec.marks.attempt !== undefined) for (const l of renderWaterfall(rec.marks)) log(l);
    await client?.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return code;
}

// Private implementation past this point.

/** Sends the request and moves its body to the sink. */
async function transfer(
  o: GetOptions,
  client: Client,
  rec: TraceRecorder,
  result: GetResult,
  log: ((line: string) => void) | undefined,
  bar: ProgressBar | undefined,
): Promise<void> {
  const body = requestBody(o);
  const headers: [string, string][] = [...o.headers];
  const has = (n: string): boolean => headers.some(([k]) => k.toLowerCase() === n);
  if (body !== undefined && !has('content-type'))
    headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  if (!has('user-agent')) headers.push(['User-Agent', `hourglass/${version()}`]);
  const method = o.method ?? (body !== undefined ? 'POST' : 'GET');
  if (log !== undefined) logRequest(log, method, o.url, headers, o.proxy);

  rec.begin();
  const res = await client.request(o.url, { method, headers, body, trace: rec.hooks });
  result.status = res.status;
  result.url = redactUrl(res.url) ?? res.url;
  result.headers = res.headers;
  if (log !== undefined) logResponse(log, res);
  if (o.fail && res.status >= 400) {
    await res.dump();
    throw new HttpStatusError(res.status, res.statusText);
  }
  const toStdout = o.output === '-' || (o.output === undefined && !o.json);
  let sink: Writable | undefined = toStdout ? process.stdout : undefined;
  if (!toStdout && o.output !== undefined) {
    try {
      sink = await openFile(o.output);
    } catch (err) {
      res.body.destroy(); // nobody will read it: close the connection
      throw err;
    }
  }
  const length = Number(res.headers['content-length']);
  const total = Number.isFinite(length) ? length : undefined;
  try {
    result.bytes = await copyBody(res, sink, (n) => bar?.update(n, total));
  } finally {
    rec.finish();
    result.timings = res.timings.toJSON();
  }
}

/** Streams the body into `sink` (or counts and drops it); a sink failure is a {@link WriteError}. */
async function copyBody(
  res: Response,
  sink: Writable | undefined,
  progress: (received: number) => void,
): Promise<number> {
  let bytes = 0;
  let sinkError: Error | undefined;
  const onError = (err: Error): void => {
    sinkError ??= err;
    res.body.destroy();
  };
  sink?.on('error', onError);
  const failed = (): WriteError =>
    new WriteError(`failed writing the body: ${sinkError?.message}`, sinkError);
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      progress(bytes);
      if (sink !== undefined && !sink.write(buf)) {
        await Promise.race([once(sink, 'drain'), once(sink, 'close')]);
      }
      if (sinkError !== undefined) throw failed();
    }
  } catch (err) {
    if (sinkError !== undefined) throw failed();
    throw err;
  }
  if (sink !== undefined && sink !== process.stdout) {
    sink.end();
    await Promise.race([once(sink, 'finish'), once(sink, 'close')]).catch(() => undefined);
  }
  if (sinkError !== undefined) throw failed();
  sink?.off('error', onError);
  return bytes;
}

/** Opens `-o FILE` for writing; failure is a {@link WriteError} (exit 23). */
async function openFile(path: string): Promise<Writable> {
  const ws = createWriteStream(path);
  try {
    await once(ws, 'open');
  } catch (err) {
    throw new WriteError(`cannot write ${path}: ${(err as Error).message}`, err);
  }
  return ws;
}

/** The request body of `-d`/`--data-binary`, or undefined. `@file` is read here (exit 26). */
function requestBody(o: GetOptions): Buffer | undefined {
  if (o.data.length === 0 && o.dataBinary.length === 0) return undefined;
  const parts: Buffer[] = [];
  const read = (spec: string, strip: boolean): Buffer => {
    if (!spec.startsWith('@')) return Buffer.from(spec);
    const file = spec.slice(1);
    let data: Buffer;
    try {
      data = file === '-' ? readFileSync(0) : readFileSync(file);
    } catch (err) {
      throw new ReadError(`cannot read data file ${file}: ${(err as Error).message}`, err, EXIT.read);
    }
    // curl's -d @file drops carriage returns and newlines; --data-binary keeps them.
    return strip ? Buffer.from(data.toString('latin1').replace(/[\r\n]/g, ''), 'latin1') : data;
  };
  for (const d of o.data) parts.push(read(d, true));
  for (const d of o.dataBinary) parts.push(read(d, false));
  const joined: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) joined.push(Buffer.from('&'));
    joined.push(p);
  });
  return Buffer.concat(joined);
}

/** Client and Transport options of the command line. */
function clientOptions(o: GetOptions): ConstructorParameters<typeof Client>[0] {
  const t: TransportOptions = {
    proxy: o.proxy === undefined ? 'env' : o.proxy === '' ? undefined : o.proxy,
  };
  if (o.connectTimeout !== undefined) t.dialTimeout = o.connectTimeout;
  if (o.tlsTimeout !== undefined) t.tlsHandshakeTimeout = o.tlsTimeout;
  if (o.headerTimeout !== undefined) t.responseHeaderTimeout = o.headerTimeout;
  if (o.readTimeout !== undefined) t.readIdleTimeout = o.readTimeout;
  if (o.minSpeed !== undefined) t.minThroughput = { bytesPerSecond: o.minSpeed, window: o.minSpeedWindow };
  const tlsOpts: tls.ConnectionOptions = {};
  if (o.cacert !== undefined) {
    try {
      tlsOpts.ca = readFileSync(o.cacert);
    } catch (err) {
      throw new ReadError(`cannot read CA file ${o.cacert}: ${(err as Error).message}`, err, EXIT.cacert);
    }
  }
  if (o.insecure) tlsOpts.rejectUnauthorized = false;
  if (Object.keys(tlsOpts).length > 0) t.tls = tlsOpts;
  return {
    transport: new Transport(t),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    maxRedirects: o.maxRedirects,
    followRedirects: o.location,
    retry: { limit: o.retry },
  };
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

function logRequest(
  log: (l: string) => void,
  method: string,
  url: string,
  headers: [string, string][],
  proxy: string | undefined,
): void {
  const u = new URL(url);
  log(`* ${method} ${redactUrl(u)}`);
  if (proxy !== undefined && proxy !== '') log(`* via proxy ${redactUrl(proxy)}`);
  if (u.username !== '' || u.password !== '')
    log('* credentials from the URL are sent as Basic authorization');
  log(`> ${method} ${u.pathname}${u.search} HTTP/1.1`);
  log(`> Host: ${u.host}`);
  for (const [k, v] of headers) log(`> ${k}: ${SECRET_HEADERS.has(k.toLowerCase()) ? '[redacted]' : v}`);
  log('>');
}

function logResponse(log: (l: string) => void, res: Response): void {
  for (const r of res.redirects) log(`* followed redirect to ${redactUrl(r)}`);
  log(`< HTTP/${res.httpVersion} ${res.status} ${res.statusText}`.trimEnd());
  for (let i = 0; i < res.rawHeaders.length; i += 2) log(`< ${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  log('<');
}

/** `Timings`-shaped JSON built from trace marks, for a request that failed without a response. */
function timingsFromMarks(m: Marks): Record<string, unknown> {
  const epoch = (t: number | undefined): number | undefined =>
    t === undefined ? undefined : Math.round(performance.timeOrigin + t);
  const t = new Timings(epoch(m.start)!, epoch(m.attempt ?? m.start));
  t.socket = epoch(m.dnsStart ?? m.connectStart ?? m.gotConn);
  t.lookup = epoch(m.dnsDone);
  t.connect = epoch(m.connectDone);
  t.secureConnect = epoch(m.tlsDone);
  t.upload = epoch(m.wroteRequest);
  t.response = epoch(m.firstByte);
  t.end = epoch(m.end);
  return t.toJSON();
}

let cachedVersion: string | undefined;
function version(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    cachedVersion = pkg.version ?? '0';
  } catch {
    cachedVersion = '0';
  }
  return cachedVersion;
}

export { version as cliVersion };
