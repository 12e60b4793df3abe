/**
 * cli/get — `hourglass get URL`: one curl-like transfer (SPEC §10, §11).
 *
 * Owns: turning {@link GetOptions} into a Client/Transport, the request body (`-d`),
 * default headers (`-H 'Name:'` removes one), where the response body goes (`-o`,
 * stdout, or nowhere with `--json`; the copy itself is `sink.ts`), `-i`/`-I`, `--fail`,
 * the `-v` transcript (hops in `hops.ts`), the `--json` line, and the exit code. Ranged, verified or
 * mirrored downloads (`--resume`, `--mirror`, `--sha256`) are handed to `download()`
 * (see `get-download.ts`). Never prints userinfo: every URL shown goes through
 * `redactUrl`, and credentials headers are masked in `-v`.
 */

import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type * as tls from 'node:tls';
import { Client, type ClientOptions } from '../client.js';
import { redactUrl } from '../errors.js';
import { Timings } from '../timings.js';
import { Transport, type TransportOptions } from '../transport.js';
import { UsageError } from './args.js';
import { cliMessage, EXIT, errorSummary, exitCodeFor, failedStatus, type GetResult, ReadError, WriteError } from './exit-codes.js';
import { HarRecorder } from './har-log.js';
import { HopLog, HopTransport } from './hops.js';
import { type GetOptions, getHelp, parseGetArgs } from './get-args.js';
import { runDownload } from './get-download.js';
import { ProgressBar, progressAllowed } from './progress.js';
import { copyBody } from './sink.js';
import { type Marks, renderWaterfall, TraceRecorder } from './waterfall.js';

export type { GetResult } from './exit-codes.js';

/** What the command may learn about its terminal; tests inject it. */
export interface GetEnv {
  /** Whether stdout is a terminal (a binary body is then refused unless `-o -`). */
  stdoutIsTTY: boolean;
}

/** Runs `hourglass get` with the arguments after `get`; resolves the exit code. */
export async function runGet(
  argv: readonly string[],
  env: GetEnv = { stdoutIsTTY: process.stdout.isTTY === true },
): Promise<number> {
  let o: GetOptions;
  try {
    o = parseGetArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hourglass: (${err.exitCode}) ${err.message}\nTry 'hourglass get --help'.\n`);
    // --json promises one line for every run whose flags parsed (a bad URL included).
    if (err.json) {
      const line = { status: null, url: null, headers: null, bytes: 0, timings: null, error: errorSummary(err) };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return err.exitCode;
  }
  if (o.help) {
    process.stdout.write(`${getHelp()}\n`);
    return EXIT.ok;
  }
  stdoutMidLine = false;
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
  const downloading = o.resume || o.mirrors.length > 0 || o.sha256 !== undefined;
  // download() makes its own requests and reports them (get-download.ts); a plain
  // transfer reports each hop through the transport.
  // (With --har a download's requests go through a silent hop log, for the HAR only.)
  const hops = downloading
    ? o.har !== undefined
      ? new HopLog(undefined, false)
      : undefined
    : new HopLog(o.verbose ? log : undefined, o.include || o.head);
  const har = o.har !== undefined ? new HarRecorder() : undefined;
  let client: Client | undefined;
  let code: number = EXIT.ok;
  try {
    client = new Client(clientOptions(o, hops));
    if (har !== undefined) hops!.onResponse = (req, res) => har.record(req, res);
    if (downloading) {
      if (o.resume) bar?.setBase(await partSize(o.output!));
      await runDownload(o, client, result, { log: o.verbose ? log : undefined, bar });
    } else {
      await transfer(o, client, { rec, hops: hops!, result, log: o.verbose ? log : undefined, bar, env });
    }
    bar?.done();
  } catch (err) {
    bar?.clear();
    code = exitCodeFor(err);
    result.error = errorSummary(err);
    if (!o.silent || o.showError) process.stderr.write(`hourglass: (${code}) ${result.error.message}\n`);
  } finally {
    rec.finish();
    if (result.timings === null && rec.marks.attempt !== undefined)
      result.timings = timingsFromMarks(rec.marks);
    if (o.verbose && rec.marks.attempt !== undefined) for (const l of renderWaterfall(rec.marks)) log(l);
    await client?.close();
  }
  if (har !== undefined) {
    if (!downloading) {
      har.finalBytes = result.bytes;
      har.finalComplete = result.error === null;
    }
    try {
      har.write(o.har!, version());
    } catch (err) {
      if (code === EXIT.ok) code = exitCodeFor(err);
      if (!o.silent || o.showError) process.stderr.write(`hourglass: (${exitCodeFor(err)}) ${cliMessage(err)}\n`);
    }
  }
  // With `-o -` the body went to stdout too: the JSON line starts on a line of its own.
  if (o.json) process.stdout.write(`${stdoutMidLine ? '\n' : ''}${JSON.stringify(result)}\n`);
  return code;
}

// Private implementation past this point.

/** Whether the last byte this run wrote to stdout ended a line (for `--json -o -`). */
let stdoutMidLine = false;

/** Where {@link transfer} reports: the trace recorder, the hop log, the result, the verbose log and the bar. */
interface TransferReport {
  rec: TraceRecorder;
  hops: HopLog;
  result: GetResult;
  /** The verbose log (`-v`), if on. */
  log: ((line: string) => void) | undefined;
  bar: ProgressBar | undefined;
  env: GetEnv;
}

/** Sends the request and moves its body to the sink. */
async function transfer(o: GetOptions, client: Client, report: TransferReport): Promise<void> {
  const { rec, hops, result, log, bar, env } = report;
  const body = requestBody(o);
  const headers: [string, string][] = [...o.headers];
  const has = (n: string): boolean => headers.some(([k]) => k.toLowerCase() === n);
  // Defaults of the command; `-H 'Name:'` removes one (the transport's own Accept-Encoding
  // is removed through disableCompression, see clientOptions).
  const keep = (n: string): boolean => !has(n) && !o.removeHeaders.includes(n);
  if (body !== undefined && keep('content-type'))
    headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  if (keep('user-agent')) headers.push(['User-Agent', `hourglass/${version()}`]);
  const method = o.method ?? (o.head ? 'HEAD' : body !== undefined ? 'POST' : 'GET');
  if (log !== undefined) {
    if (o.proxy !== undefined && o.proxy !== '') log(`* via proxy ${redactUrl(o.proxy)}`);
    const u = new URL(o.url);
    if (u.username !== '' || u.password !== '') log('* credentials from the URL are sent as Basic authorization');
  }

  rec.begin();
  const res = await client.request(o.url, { method, headers, body, trace: rec.hooks });
  result.status = res.status;
  result.url = redactUrl(res.url) ?? res.url;
  result.headers = res.headers;
  if (o.fail && res.status >= 400) {
    // curl -fI still prints the head it asked for, then exits 22.
    if (o.head && (o.output === '-' || (o.output === undefined && !o.json)))
      for (const head of hops.takeHeads()) process.stdout.write(head);
    await res.dump();
    throw failedStatus(res.status, res.statusText, { method, url: res.url });
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
  // -i / -I: the response heads (each hop's with -L) go before the body, as curl writes them.
  for (const head of hops.takeHeads()) sink?.write(head);
  const length = Number(res.headers['content-length']);
  const total = Number.isFinite(length) ? length : undefined;
  const encoded = res.headers['content-encoding'] !== undefined;
  try {
    result.bytes = await copyBody(res.body, sink, {
      // curl refuses to write binary to a terminal unless told `-o -`.
      refuseBinary: sink === process.stdout && o.output !== '-' && env.stdoutIsTTY,
      expected: encoded ? undefined : total,
      progress: (n, chunk) => {
        result.bytes = n; // so far: a body cut short reports what arrived (--json, --har)
        bar?.update(n, total);
        if (sink === process.stdout) stdoutMidLine = chunk[chunk.length - 1] !== 0x0a;
      },
    });
  } finally {
    rec.finish();
    result.timings = timingsJson(res.timings);
  }
}

/** Bytes already in `FILE.part` (what `--resume` will not transfer again). */
async function partSize(dest: string): Promise<number> {
  try {
    return (await stat(`${dest}.part`)).size;
  } catch {
    return 0;
  }
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

/** Client and Transport options of the command line; with `hops`, every round trip is reported to it. */
function clientOptions(o: GetOptions, hops: HopLog | undefined): ClientOptions {
  const t: TransportOptions = {
    proxy: o.proxy === undefined ? 'env' : o.proxy === '' ? undefined : o.proxy,
  };
  if (o.unixSocket !== undefined) t.socketPath = o.unixSocket;
  if (o.connectTimeout !== undefined) t.dialTimeout = o.connectTimeout;
  // curl's --connect-timeout bounds the TLS handshake too; the library has no combined
  // budget, so the handshake gets the smaller of the two flags (each phase up to N).
  const tlsBound = Math.min(o.tlsTimeout ?? Infinity, o.connectTimeout ?? Infinity);
  if (tlsBound !== Infinity) t.tlsHandshakeTimeout = tlsBound;
  if (o.headerTimeout !== undefined) t.responseHeaderTimeout = o.headerTimeout;
  if (o.readTimeout !== undefined) t.readIdleTimeout = o.readTimeout;
  if (o.minSpeed !== undefined) t.minThroughput = { bytesPerSecond: o.minSpeed, window: o.minSpeedWindow };
  // `-H 'Accept-Encoding:'` removes the transport's default, as curl's `-H` removes its own.
  if (o.removeHeaders.includes('accept-encoding')) t.disableCompression = true;
  if (o.httpVersion === '1.1') t.allowH2 = false;
  if (o.httpVersion === '2-prior-knowledge') t.h2c = true;
  const tlsOpts: tls.ConnectionOptions = {};
  // curl reads --cacert only when TLS may happen: a plain http:// URL (no -L, no https
  // proxy) never opens the file, so a bad one is not exit 77 there.
  const mayTls = o.location || o.url.startsWith('https:') || (o.proxy ?? '').startsWith('https:');
  if (o.cacert !== undefined && mayTls) tlsOpts.ca = readCaFile(o.cacert);
  if (o.insecure) tlsOpts.rejectUnauthorized = false;
  if (Object.keys(tlsOpts).length > 0) t.tls = tlsOpts;
  return {
    transport: hops === undefined ? new Transport(t) : new HopTransport(t, hops),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    maxRedirects: o.maxRedirects,
    followRedirects: o.location,
    retry: { limit: o.retry },
  };
}

/** The PEM certificates of `--cacert FILE`; unreadable or none at all is curl's exit 77. */
function readCaFile(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new ReadError(`cannot read CA file ${file}: ${(err as Error).message}`, err, EXIT.cacert);
  }
  let certs = 0;
  for (const m of pem.toString('latin1').matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)) {
    try {
      new X509Certificate(m[0]);
      certs++;
    } catch {
      // not a certificate after all; curl skips such blocks too
    }
  }
  if (certs === 0) {
    const err = Object.assign(new Error('no PEM certificate in it'), { code: 'ENOCERT' });
    throw new ReadError(`CA file ${file} holds no certificate`, err, EXIT.cacert);
  }
  return pem;
}

/**
 * `res.timings` as `--json` prints it: with `requestStart`, so `phases.total = end -
 * requestStart`, and `phases.blocked = start - requestStart` (earlier redirect hops and
 * retries before this attempt), so the phases add up to the total.
 */
function timingsJson(t: Timings): Record<string, unknown> {
  const json = t.toJSON();
  const blocked = Math.max(0, t.start - t.requestStart);
  return { requestStart: t.requestStart, ...json, phases: { blocked, ...(json.phases as object) } };
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
  return timingsJson(t);
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
