/**
 * serializer — request heads and chunk framing for HTTP/1.1 requests, with no I/O.
 *
 * Owns: validating what the caller asks us to put on the wire (method, request
 * target, header names and values) and producing the request head as one string.
 * It never decides which headers a request carries (Host, Content-Length, Connection
 * are chosen by the connection/transport) and never writes to a socket.
 *
 * Invariants: every check runs before anything is produced, so an invalid request
 * throws `HG_INVALID_ARG` before a byte is sent; nothing this module returns can
 * contain CR, LF or NUL outside the framing it adds itself. The head may contain
 * non-ASCII header values: write it as UTF-8.
 */

import { invalidArg } from '../errors.js';
import { isToken } from './headers.js';

/** `"\r\n"`: ends a chunk's data. */
export const CRLF: Buffer = Buffer.from('\r\n', 'latin1');
/** `"0\r\n\r\n"`: the last chunk with no trailers. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');

/** Throws HG_INVALID_ARG unless `method` is an RFC 9110 token. */
export function validateMethod(method: string): void {
  if (typeof method !== 'string' || !isToken(method)) {
    throw invalidArg(`invalid HTTP method ${describe(method)}`);
  }
}

/** Throws HG_INVALID_ARG unless `name` is a non-empty RFC 9110 token. */
export function validateHeaderName(name: string): void {
  if (typeof name !== 'string' || !isToken(name)) {
    throw invalidArg(`invalid header name ${describe(name)}`);
  }
}

/**
 * Throws HG_INVALID_ARG if `value` holds a control character other than HTAB (CR, LF,
 * NUL, DEL included). Empty and non-ASCII values are allowed.
 */
export function validateHeaderValue(name: string, value: string): void {
  if (typeof value !== 'string' || INVALID_VALUE.test(value)) {
    throw invalidArg(`invalid value for header ${describe(name)}: ${describe(value)}`);
  }
}

/**
 * Builds `METHOD target HTTP/1.1\r\n` + one line per header + `\r\n`. `headers` is a
 * flat `[name, value, ...]` list sent in order (repeated names become repeated lines).
 */
export function serializeRequestHead(method: string, target: string, headers: readonly string[]): string {
  validateMethod(method);
  if (typeof target !== 'string' || !VALID_TARGET.test(target)) {
    throw invalidArg(`invalid request target ${describe(target)}`);
  }
  if (headers.length % 2 !== 0) throw invalidArg('headers must be a flat [name, value, ...] list');
  for (let i = 0; i < headers.length; i += 2) {
    validateHeaderName(headers[i]!);
    validateHeaderValue(headers[i]!, headers[i + 1]!);
  }
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** The size line of a non-empty chunk, e.g. `chunkHeader(31)` → `"1f\r\n"`. */
export function chunkHeader(byteLength: number): string {
  if (!Number.isSafeInteger(byteLength) || byteLength <= 0) {
    throw new RangeError(`chunk length must be a positive integer, got ${byteLength}`);
  }
  return `${byteLength.toString(16)}\r\n`;
}

// Private implementation past this point.

/** CTLs except HTAB, and DEL. */
const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** A request target is visible ASCII only (URLs arrive percent-encoded). */
const VALID_TARGET = /^[\x21-\x7e]+$/;

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
