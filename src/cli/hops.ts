/**
 * cli/hops — what `-v` and `-i` show of each request on the wire, in the order it
 * happens: every redirect hop and every retry, with the request head exactly as written
 * (from the `wroteHeaders` trace hook: every header the transport added, absolute-form
 * through a proxy) and each response head (3xx and retried 5xx included).
 *
 * Owns: {@link HopTransport} (a Transport that reports each `roundTrip` to a
 * {@link HopLog}) and the text of the head lines. Request heads are shown exactly as
 * sent, credential headers included (SPEC §11, as curl -v); the `* ...` lines it writes
 * itself redact the userinfo of URLs.
 */

import { performance } from 'node:perf_hooks';
import { redactUrl } from '../errors.js';
import type { Response } from '../response.js';
import type { OutgoingRequest } from '../round-tripper.js';
import { Transport, type TransportOptions } from '../transport.js';
import { cliMessage } from './exit-codes.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The lines of a request head exactly as written, each prefixed `> `. */
export function requestHeadLines(head: string): string[] {
  const lines = head.split('\r\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => `> ${line}`);
}

/** `HTTP/1.1 200 OK`; `HTTP/2 200` over HTTP/2, which has no reason phrase (as curl prints it). */
export function statusLine(res: Response): string {
  if (res.httpVersion === '2') return `HTTP/2 ${res.status}`;
  return `HTTP/${res.httpVersion} ${res.status} ${res.statusText}`.trimEnd();
}

/** A response head as curl's `-i` writes it: status line, fields, blank line (CRLF). */
export function responseHeadText(res: Response): string {
  let text = `${statusLine(res)}\r\n`;
  for (let i = 0; i < res.rawHeaders.length; i += 2) text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/** Follows the hops of one command and says, before each new one, why it happens. */
export class HopLog {
  /** Response heads in arrival order (for `-i`); taken by {@link takeHeads}. */
  private heads: string[] = [];
  private previous: { status: number; statusText: string; at: number } | { error: unknown; at: number } | undefined;
  private hops = 0;
  /** Told of every response head with its request (`--har`). */
  onResponse: ((req: OutgoingRequest, res: Response) => void) | undefined;

  /** @param log `-v` output (undefined: quiet); @param keepHeads collect heads for `-i`. */
  constructor(
    private readonly log: ((line: string) => void) | undefined,
    private readonly keepHeads: boolean,
  ) {}

  /** A request is about to go out (a transport round trip begins). */
  starting(method: string, url: URL): void {
    this.hops++;
    const p = this.previous;
    if (this.log === undefined) return;
    if (p !== undefined) {
      const waited = Math.round(performance.now() - p.at);
      if ('status' in p && REDIRECT_STATUSES.has(p.status)) {
        this.log(`* following the ${p.status} redirect to ${redactUrl(url)}`);
      } else if ('status' in p) {
        this.log(`* retrying after ${`${p.status} ${p.statusText}`.trimEnd()} (waited ${waited} ms)`);
      } else {
        const e = p.error as { code?: unknown; name?: unknown } | null;
        const what = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'an error';
        this.log(`* retrying after ${what} (waited ${waited} ms)`);
      }
    }
    this.log(`* request ${this.hops}: ${method} ${redactUrl(url)}`);
  }

  /** A response head arrived. */
  responded(res: Response): void {
    this.previous = { status: res.status, statusText: res.statusText, at: performance.now() };
    if (this.keepHeads) this.heads.push(responseHeadText(res));
    if (this.log === undefined) return;
    this.log(`< ${statusLine(res)}`);
    for (let i = 0; i < res.rawHeaders.length; i += 2) this.log(`< ${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
    this.log('<');
  }

  /** The round trip failed. */
  failed(err: unknown): void {
    this.previous = { error: err, at: performance.now() };
    this.log?.(`* request ${this.hops} failed: ${cliMessage(err)}`);
  }

  /** The response heads collected so far, in order; clears them. */
  takeHeads(): string[] {
    const h = this.heads;
    this.heads = [];
    return h;
  }
}

/** A Transport that tells a {@link HopLog} about every round trip (each hop and retry). */
export class HopTransport extends Transport {
  constructor(
    options: TransportOptions,
    private readonly hopLog: HopLog,
  ) {
    super(options);
  }

  override roundTrip(req: OutgoingRequest): Promise<Response> {
    this.hopLog.starting(req.method, req.url);
    return super.roundTrip(req).then(
      (res) => {
        this.hopLog.responded(res);
        this.hopLog.onResponse?.(req, res);
        return res;
      },
      (err: unknown) => {
        this.hopLog.failed(err);
        throw err;
      },
    );
  }
}
