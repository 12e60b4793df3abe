/**
 * cli/har-log — `hourglass get --har FILE`: a HAR 1.2 log of every request the command
 * put on the wire (each redirect hop and retry that got a response), written when the
 * command ends.
 *
 * Owns: {@link HarRecorder}, which the hop transport tells of each response, and the
 * writing of the file. Entries are built at the end, when every body has settled (the
 * hops' were dumped, the final one copied), so each entry's `receive` is known, and a
 * body cut mid-way (a download then resumes) reports the bytes that arrived, not its
 * Content-Length.
 *
 * Never: records a request that failed without a response (HAR has no place for it:
 * the command's error message and exit code tell that), or reads a body. Secrets are
 * masked by `toHarEntry` (src/redact.ts: one list for HAR and `url.full`).
 */

import { writeFileSync } from 'node:fs';
import { harLog, type HarEntry, toHarEntry } from '../har.js';
import type { Response } from '../response.js';
import { headerFlat, type OutgoingRequest } from '../round-tripper.js';
import { WriteError } from './exit-codes.js';

/** Collects (request, response) pairs of one command. */
export class HarRecorder {
  private readonly exchanges: { req: OutgoingRequest; res: Response; bodySize: number }[] = [];
  /** Decoded bytes of the final body, as the command copied them (so far, if it failed). */
  finalBytes: number | undefined;
  /** Whether the final body arrived whole (false: `bodySize` is what arrived, not Content-Length). */
  finalComplete = true;

  /** A response head arrived for `req` (a hop, a retry, or the final response). */
  record(req: OutgoingRequest, res: Response): void {
    this.exchanges.push({ req, res, bodySize: bodySizeOf(req) });
  }

  /** The entries, oldest first; the last one gets the final body's size. */
  entries(): HarEntry[] {
    return this.exchanges.map(({ req, res, bodySize }, i) => {
      const flat = headerFlat(req.headers);
      const headers: [string, string][] = [['Host', req.url.host]];
      for (let j = 0; j + 1 < flat.length; j += 2) {
        headers.push([flat[j], flat[j + 1]]);
      }
      const last = i === this.exchanges.length - 1;
      const entry = toHarEntry(res, {
        headers,
        bodySize,
        ...(last && this.finalBytes !== undefined ? { contentSize: this.finalBytes } : {}),
      });
      const encoded = res.headers['content-encoding'] !== undefined;
      if (last && this.finalBytes !== undefined) {
        // A body cut short: the bytes that arrived; unknown on the wire when it was encoded.
        if (!this.finalComplete) entry.response.bodySize = encoded ? -1 : this.finalBytes;
      } else {
        // A request whose body nobody here copied (a hop, or any request of a download)
        // and that was cut mid-body: the bytes that arrived, not Content-Length; its
        // decoded size is unknown (-1) when it was encoded.
        const got = res.failedBodyBytes;
        if (got !== undefined) {
          entry.response.bodySize = got;
          entry.response.content.size = encoded ? -1 : got;
        }
      }
      return entry;
    });
  }

  /** Writes the log to `file` (exit 23 when it cannot). */
  write(file: string, version: string): void {
    const text = `${JSON.stringify(harLog(this.entries(), { name: 'hourglass', version }), null, 2)}\n`;
    try {
      writeFileSync(file, text);
    } catch (err) {
      throw new WriteError(`cannot write HAR file ${file}: ${(err as Error).message}`, err);
    }
  }
}

/** Bytes of a replayable (in-memory) request body; 0 without one, -1 for a stream. */
function bodySizeOf(req: OutgoingRequest): number {
  if (req.body === undefined) return 0;
  if (!req.body.replayable) return -1;
  const content = req.body.open();
  if (typeof content === 'string') return Buffer.byteLength(content);
  return content instanceof Uint8Array ? content.length : -1;
}
