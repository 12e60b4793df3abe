/**
 * transport-head — what the transport adds to, or checks in, a request head before it is
 * written: Host, Content-Length / Transfer-Encoding, Accept-Encoding, Connection: close,
 * proxy credentials; the request-target form. Pure functions over flat header lists.
 *
 * Invariants: the caller's list is never mutated (a copy is returned); framing belongs
 * to hourglass (SPEC §11): a caller-set Content-Length must match the body's bytes
 * (a stream's is enforced by the writer), Content-Length or Transfer-Encoding without a
 * body, a Transfer-Encoding other than `chunked`, a repeated framing header and
 * `Upgrade` are HG_INVALID_ARG; no Accept-Encoding is added to HEAD or Range requests
 * or when the caller set one.
 */

import type { WritableBody } from './conn/writer.js';
import { invalidArg } from './errors.js';
import { parseContentLength, toWritable } from './request-init.js';
import { type OutgoingBody, PreparedOutgoingBody } from './round-tripper.js';

/** What the transport decided about one request's head. */
export interface RequestHead {
headers: string[];
/** Accept-Encoding was added: supported codings will be decoded. */
compress: boolean;
/** The connection closes after this exchange. */
closeAfter: boolean;
/** The body to write (a caller's `Transfer-Encoding: chunked` turns bytes into a chunked stream). */
body: WritableBody;
}

/** Adds Host, framing, Accept-Encoding and Connection headers; copies the caller's list. */
export function requestHead(
method: string,
url: URL,
given: string[],
givenBody: WritableBody,
policy: { disableKeepAlives: boolean; disableCompression: boolean },
): RequestHead {
  let hasHost = false;
  let hasAE = false;
  let hasRange = false;
  let hasLength = false;
  let lengthAt = -1;
  let hasTE = false;
  let closeAfter = policy.disableKeepAlives;
  let hasConnection = false;
  for (let i = 0; i < given.length; i += 2) {
    const n = given[i]!.toLowerCase();
    if (n === 'host') {
      // RFC 9112 §3.2: more than one Host line is an invalid request (servers disagree on it).
      if (hasHost) throw invalidArg('more than one host header');
      hasHost = true;
    }
    else if (n === 'accept-encoding') hasAE = true;
    else if (n === 'range') hasRange = true;
    else if (n === 'content-length') {
      if (hasLength) throw invalidArg('more than one content-length header');
      hasLength = true;
      lengthAt = i;
    } else if (n === 'transfer-encoding') {
      if (hasTE) throw invalidArg('more than one transfer-encoding header');
      hasTE = true;
      const te = given[i + 1]!.trim().toLowerCase();
      if (te !== 'chunked') throw invalidArg(`unsupported transfer-encoding ${JSON.stringify(te.slice(0, 40))} (only chunked)`);
    } else if (n === 'upgrade') {
      throw invalidArg('the upgrade header is not supported: hourglass does not switch protocols');
    } else if (n === 'connection') {
      hasConnection = true;
      if (/(^|,)\s*close\s*(,|$)/i.test(given[i + 1]!)) closeAfter = true;
    }
  }
  // What the transport adds after the caller's fields; the list is built once at its exact
  // size (a queued request keeps it: grown by push, its spare capacity would be ~140 B).
  const added: string[] = [];
  let body = givenBody;
  if (hasLength && hasTE) throw invalidArg('content-length and transfer-encoding must not both be set');
  if (body.kind === 'none' && (hasLength || hasTE)) {
    throw invalidArg(`${hasLength ? 'content-length' : 'transfer-encoding'} set on a request without a body`);
  }
  if (body.kind === 'buffer' && (hasLength || hasTE)) body = checkCallerFraming(given, body);
  else if (body.kind === 'stream' && (hasLength || hasTE)) {
    // The writer frames by `length`: make it agree with the header that goes out.
    const length = hasLength ? parseContentLength(given[lengthAt + 1]!) : -1;
    if (body.length !== length) body = { kind: 'stream', source: body.source, length };
  }
  if (!hasLength && !hasTE) {
    if (body.kind === 'buffer') {
      const len = typeof body.data === 'string' ? Buffer.byteLength(body.data) : body.data.byteLength;
      added.push('content-length', String(len));
    } else if (body.kind === 'stream') {
      if (body.length >= 0) added.push('content-length', String(body.length));
      else added.push('transfer-encoding', 'chunked');
    } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      added.push('content-length', '0');
    }
  }
  const compress = !policy.disableCompression && !hasAE && !hasRange && method !== 'HEAD';
  if (compress) added.push('accept-encoding', 'gzip, deflate, br');
  if (policy.disableKeepAlives && !hasConnection) added.push('connection', 'close');
  const headers = hasHost ? given.concat(added) : ['host', url.host].concat(given, added);
  return { headers, compress, closeAfter, body };
}

export function absoluteForm(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}

export function addProxyAuth(headers: string[], proxy: URL): void {
  if (proxy.username === '' && proxy.password === '') return;
  const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  headers.push('proxy-authorization', `Basic ${Buffer.from(cred).toString('base64')}`);
}

/**
 * A caller-set Content-Length must match a string/bytes body exactly (a mismatch would
 * hang the server or smuggle the surplus as a next request); a caller-set
 * `Transfer-Encoding: chunked` makes the bytes chunk-framed. Anything else is refused.
 */
export function checkCallerFraming(headers: string[], body: { kind: 'buffer'; data: string | Uint8Array }): WritableBody {
  const len = typeof body.data === 'string' ? Buffer.byteLength(body.data) : body.data.byteLength;
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!.toLowerCase();
    const v = headers[i + 1]!.trim();
    if (n === 'content-length' && v !== String(len)) {
      throw invalidArg(`content-length ${JSON.stringify(v)} does not match the body's ${len} bytes`);
    }
    if (n === 'transfer-encoding') {
      if (v.toLowerCase() !== 'chunked') throw invalidArg(`unsupported transfer-encoding ${JSON.stringify(v)}`);
      return { kind: 'stream', source: [typeof body.data === 'string' ? Buffer.from(body.data) : body.data], length: -1 };
    }
  }
  return body;
}

export function dropProxyAuth(headers: string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.length === 19 && headers[i]!.toLowerCase() === 'proxy-authorization') headers.splice(i, 2);
  }
}

export function hasExpectContinue(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 6 && headers[i]!.toLowerCase() === 'expect') {
      return headers[i + 1]!.trim().toLowerCase() === '100-continue';
    }
  }
  return false;
}

export function hasIdempotencyKey(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!.toLowerCase();
    if (n === 'idempotency-key' || n === 'x-idempotency-key') return true;
  }
  return false;
}


/** The body for one send (a stream's length from the caller's content-length). */
export function openBody(source: OutgoingBody | undefined, callerHeaders: string[]): WritableBody {
  if (source === undefined) return NO_BODY;
  if (source instanceof PreparedOutgoingBody) return source.writable(callerHeaders);
  return toWritable(source.open(), callerHeaders);
}

const NO_BODY: WritableBody = Object.freeze({ kind: 'none' });
