/**
 * http1 — HTTP/1.1 bytes ↔ messages, with no I/O. The connection module (`conn`) is
 * the main user: it feeds socket bytes to a {@link ResponseParser} and writes what the
 * serializer builds (the client builds its header records with `joinedFields`).
 * Nothing here is exported from the package index.
 */

export { headersObject, isToken, joinedFields, parseKeepAliveTimeout } from './headers.js';
export type { ParserEvents, ParserOptions, ResponseHead } from './parser.js';
export { ResponseParser } from './parser.js';
export {
  CRLF,
  chunkHeader,
  LAST_CHUNK,
  serializeRequestHead,
  validateHeaderName,
  validateHeaderValue,
  validateMethod,
} from './serializer.js';
