/**
 * cli/get-download — `hourglass get -o FILE` with `--resume`, `--mirror` or `--sha256`:
 * the transfer is handed to the library's `download()` (SPEC §8), which writes
 * `FILE.part`, resumes with `Range`/`If-Range`, falls back to mirrors and verifies the
 * digest before renaming into place.
 *
 * Owns: the mapping of flags onto `download()` options, discarding a stale `.part`
 * when `--resume` was not asked for (curl without `-C` starts over; with `--resume` a
 * `FILE.part` without a sidecar is continued from its size with `Range` alone, as curl
 * `-C -` — `download()` does that), and filling the
 * `--json` result from the last response of this download (`download()`'s
 * `onResponse`; nothing process-wide is observed).
 */

import { rm } from 'node:fs/promises';
import type { Client } from '../client.js';
import { type DownloadOptions, download } from '../download.js';
import { redactUrl } from '../errors.js';
import type { Response } from '../response.js';
import type { GetResult } from './exit-codes.js';
import type { GetOptions } from './get-args.js';
import type { ProgressBar } from './progress.js';

/** Runs the download and fills `result`; throws what `download()` throws. */
export async function runDownload(
  o: GetOptions,
  client: Client,
  result: GetResult,
  ui: { log: ((line: string) => void) | undefined; bar: ProgressBar | undefined },
): Promise<void> {
  const dest = o.output!;
  if (!o.resume) {
    await rm(`${dest}.part`, { force: true });
    await rm(`${dest}.part.json`, { force: true });
  }
  let last: Response | undefined;
  const onResponse = (res: Response, info: { url: string; attempt: number }): void => {
    last = res;
    if (ui.log === undefined) return;
    ui.log(`* GET ${redactUrl(info.url) ?? ''} -> ${res.status} (request ${info.attempt})`);
    for (let i = 0; i < res.rawHeaders.length; i += 2) ui.log(`< ${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  };
  try {
    const opts: DownloadOptions = {
      client,
      onProgress: (p) => ui.bar?.update(p.received, p.total),
      onResponse,
    };
    if (o.sha256 !== undefined) opts.sha256 = o.sha256;
    if (o.retry > 0) opts.retry = { limit: o.retry };
    if (o.timeout !== undefined) opts.timeout = o.timeout;
    const r = await download([o.url, ...o.mirrors], dest, opts);
    result.bytes = r.bytes;
    result.download = { path: r.path, sha256: r.sha256, resumed: r.resumed, attempts: r.attempts };
    ui.log?.(
      `* saved ${r.bytes} bytes to ${r.path} (sha256 ${r.sha256}, resumed ${r.resumed}, ${r.attempts} attempts)`,
    );
  } finally {
    if (last !== undefined) {
      result.status = last.status;
      result.url = redactUrl(last.url) ?? last.url;
      result.headers = last.headers;
      result.timings = last.timings.toJSON();
    }
  }
}
