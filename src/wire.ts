/**
 * wire — diagnostics channels for each request *on the wire* (every redirect hop, every
 * retry) and for connection state, below the per-call channels of SPEC §5. They exist
 * for `hourglass/otel` (one CLIENT span per request on the wire, `traceparent`
 * injection, `http.client.open_connections`) and for anyone else who wants the same.
 *
 * Owns: the channel objects, {@link WireRequest} (the identity that every `wire:*`
 * message of one request carries, and the one thing a subscriber may change: headers,
 * before the head is serialized) and the small publish helpers the transport and the
 * connection call. Nothing here runs unless `wire:start` has a subscriber: a request
 * started while nobody listened carries no WireRequest and publishes nothing else.
 *
 * Payloads (a second connection type, e.g. HTTP/2, publishes the same):
 *   - `hourglass:wire:start` `{ wire: WireRequest }` — once per request handed to the
 *     transport, synchronously in the caller's async context, before a connection is
 *     wanted; `wire.setHeader(name, value)` works only during this message. An HTTP/2
 *     stream the server did not process (REFUSED_STREAM, above a GOAWAY's last-stream-id)
 *     ends with `wire:error` (the refusal) and its replay is a request of its own: a new
 *     `wire:start` (`attempt` + 1, `replayOf` the refused one), published from the
 *     connection's context, not the caller's (a subscriber finds the caller's through
 *     `replayOf`).
 *   - `hourglass:wire:connected` `{ wire, reused: boolean, protocol: '1.1' | '2',
 *     connection: ConnectionInfo, timings: Timings }` — a connection was handed to it
 *     (again if the transport's stale-connection retry takes another one).
 *   - `hourglass:wire:headers` `{ wire, response: Response }` — the response head arrived.
 *   - `hourglass:wire:end` `{ wire, timings: Timings, complete: boolean }` — the body
 *     left the wire: read to the end (`complete`), or abandoned by its reader.
 *   - `hourglass:wire:error` `{ wire, error: Error }` — the request or its body failed
 *     (timeout, abort, network, protocol).
 *   Exactly one of `wire:end` / `wire:error` ends every request that had a `wire:start`:
 *   the first wins. A response the transport refuses after its head (more content
 *   codings than it decodes) ends with the `wire:end` of its dumped body, not with the
 *   caller's error: as for a body that fails to decode later, the exchange on the wire
 *   completed and the failure is the client's, above it.
 *   - `hourglass:connection:active` / `hourglass:connection:idle` `{ connection:
 *     ConnectionInfo }` — a connection took an exchange / went back to the idle pool. The
 *     `ConnectionInfo` object is the same for every message of one connection (including
 *     `connection:open` and `connection:close`), so it can key a WeakMap.
 *
 * Invariants: publishing never changes what is sent except through `setHeader` during
 * `wire:start`; every message is published synchronously from the layer that saw the
 * event. A subscriber that throws does not stop the request, but Node rethrows its error
 * on a later tick (an uncaught exception, as for any channel): subscribers must not throw.
 */

import * as diagnostics from 'node:diagnostics_channel';
import type { Response } from './response.js';
import type { Timings } from './timings.js';
import type { ConnectionInfo } from './trace.js';

/** Channels of requests on the wire and of connection state (see the header). */
export const wireChannels = {
  start: diagnostics.channel('hourglass:wire:start'),
  connected: diagnostics.channel('hourglass:wire:connected'),
  headers: diagnostics.channel('hourglass:wire:headers'),
  end: diagnostics.channel('hourglass:wire:end'),
  error: diagnostics.channel('hourglass:wire:error'),
  connActive: diagnostics.channel('hourglass:connection:active'),
  connIdle: diagnostics.channel('hourglass:connection:idle'),
};

/**
 * Fields `setHeader` refuses: they frame the message or route it (RFC 9112 §6, §7.6;
 * RFC 9110 §7.2, §7.6.1, §10.1.1; `http2-settings`, RFC 7540 §3.2.1, belongs to an h2c
 * upgrade), so a subscriber that set them could desync the connection. `proxy-*` is
 * refused by prefix.
 */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'upgrade', 'http2-settings', 'te', 'trailer', 'expect', 'keep-alive']);

/** One request on the wire, as `wire:*` messages show it. */
export class WireRequest {
  /** Whether `setHeader` may still change the head. */
  private open = true;
  /** Whether its terminal message (`wire:end` or `wire:error`) was published. */
  private ended = false;

  constructor(
    /** The method as sent. */
    readonly method: string,
    /** The request URL (no userinfo: the client moved it to `Authorization`). */
    readonly url: URL,
    /** 0 for the first request of a call, +1 for every redirect hop and retry. */
    readonly attempt: number,
    /** The head's field list, flat `[name, value, ...]`, as the transport will write it. */
    private readonly headers: string[],
    /**
     * The request on the wire this one replays — an HTTP/2 stream the server did not
     * process (REFUSED_STREAM, or above a GOAWAY's last-stream-id), which ended with
     * `wire:error` — or undefined. Its `attempt` is one less than this one's.
     */
    readonly replayOf: WireRequest | undefined = undefined,
  ) {}

  /** The value of a request header as it will be sent (first of its name), if any. */
  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i].toLowerCase() === lower) return h[i + 1];
    return undefined;
  }

  /**
   * Sets a request header (replacing any of that name). Only during `wire:start`;
   * later calls are ignored, and so are a name that is not a field token, a value that
   * is not a string or holds CR/LF/NUL, and the framing and routing fields that only the
   * client writes (`content-length`, `transfer-encoding`, `host`, `connection`,
   * `upgrade`, `http2-settings`, `te`, `trailer`, `expect`, `keep-alive`, `proxy-*`): propagation adds
   * ordinary headers, it never changes how the message is delimited or where it goes.
   */
  setHeader(name: string, value: string): void {
    if (!this.open || typeof name !== 'string' || typeof value !== 'string') return;
    if (!/^[!#$%&'*+.^`|~\w-]+$/.test(name) || /[\r\n\0]/.test(value)) return;
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith('proxy-')) return;
    const h = this.headers;
    for (let i = h.length - 2; i >= 0; i -= 2) if (h[i].toLowerCase() === lower) h.splice(i, 2);
    h.push(name, value);
  }

  /**
   * Removes a request header (every field of that name), under the same rules as
   * `setHeader`: only during `wire:start`, never a framing or routing field.
   */
  deleteHeader(name: string): void {
    if (!this.open || typeof name !== 'string') return;
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith('proxy-')) return;
    const h = this.headers;
    for (let i = h.length - 2; i >= 0; i -= 2) if (h[i].toLowerCase() === lower) h.splice(i, 2);
  }

  /** @internal */
  seal(): void {
    this.open = false;
  }

  /**
   * @internal Claims the one terminal message of this request: true the first time
   * only. Two layers can see a request end (the connection settling the body, the
   * transport rejecting the call after the head when it refuses the response and dumps
   * its body), and only the first may publish.
   */
  claimEnd(): boolean {
    if (this.ended) return false;
    this.ended = true;
    return true;
  }
}

/**
 * Publishes `wire:start` for a request (call only when it has subscribers) and returns
 * its WireRequest; `headers` is the list the head will be serialized from.
 */
export function startWire(method: string, url: URL, attempt: number, headers: string[]): WireRequest {
  const wire = new WireRequest(method, url, attempt, headers);
  wireChannels.start.publish({ wire });
  wire.seal();
  return wire;
}

/**
 * Publishes `wire:error` for the request on the wire `at` holds when the transport's
 * promise rejects before a response head (after one, the body's settling already ended
 * the request). Read when it rejects: a replay may have replaced it ({@link replayWire}).
 */
export function watchWire(at: { readonly wire: WireRequest | undefined }, p: Promise<Response>): Promise<Response> {
  return p.catch((error: unknown) => {
    if (at.wire !== undefined) failWire(at.wire, error);
    throw error;
  });
}

/**
 * An HTTP/2 stream the server did not process is replayed (SPEC §13): `wire` ends with
 * `wire:error` (the refusal, `error`), and the replay is a request on the wire of its own
 * — `wire:start` with `attempt` + 1 and `replayOf` set, `headers` the list its head is
 * serialized from. Returns its WireRequest, or undefined when `wire:start` has no
 * subscriber any more. Called on the replay path only.
 */
export function replayWire(wire: WireRequest, error: unknown, headers: string[]): WireRequest | undefined {
  failWire(wire, error);
  if (!wireChannels.start.hasSubscribers) return undefined;
  const next = new WireRequest(wire.method, wire.url, wire.attempt + 1, headers, wire);
  wireChannels.start.publish({ wire: next });
  next.seal();
  return next;
}

/** `wire:error` for `wire`, unless it already ended (the first terminal message wins). */
function failWire(wire: WireRequest, error: unknown): void {
  if (wire.claimEnd() && wireChannels.error.hasSubscribers) wireChannels.error.publish({ wire, error });
}

/**
 * The response head for `wire` arrived: `wire:headers`, published by the connection
 * before anything can read (or settle) the body, so it always precedes `wire:end`.
 */
export function wireHeaders(wire: WireRequest, response: Response): void {
  if (wireChannels.headers.hasSubscribers) wireChannels.headers.publish({ wire, response });
}

/** The body of `wire`'s response settled on its connection: `wire:end` or `wire:error`. */
export function endWire(wire: WireRequest, timings: Timings, complete: boolean, error: Error | undefined): void {
  if (error !== undefined) {
    failWire(wire, error);
  } else if (wire.claimEnd() && wireChannels.end.hasSubscribers) {
    wireChannels.end.publish({ wire, timings, complete });
  }
}

/** `connection:active` / `connection:idle` for a connection's info object. */
export function connectionState(info: ConnectionInfo, active: boolean): void {
  const ch = active ? wireChannels.connActive : wireChannels.connIdle;
  if (ch.hasSubscribers) ch.publish({ connection: info });
}
