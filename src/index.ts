/**
 * hourglass — an HTTP/1.1 client for Node.js in which no request can hang forever
 * and every wait has a name. This is the public surface; everything not exported
 * here is internal (connections, the pool, the parser) and may change.
 */

import { Client, type RequestOptions } from './client.js';
import type { Response } from './response.js';

export { Client } from './client.js';
export type {
  ClientOptions,
  CookieJarLike,
  RedirectRequest,
  RedirectVia,
  RequestOptions,
} from './client.js';
export { Transport } from './transport.js';
export type { TlsOption, TransportOptions } from './transport.js';
export { Dialer } from './dial/index.js';
export type { DialerOptions } from './dial/index.js';
export { certsDir } from './tls.js';
export { fetch } from './fetch.js';
export { download, HttpStatusError } from './download.js';
export type { DownloadOptions, DownloadResult } from './download.js';
export type { FetchInit } from './fetch.js';
export { Response } from './response.js';
export type { ResponseBodyInit, ResponseFromInit, ResponseHeaders, ResponseHeadersInit } from './response.js';
export type { Timings, TimingPhases } from './timings.js';
export type { TraceHooks, GotConnInfo, DnsDoneInfo, WroteHeadersInfo, ConnectionInfo } from './trace.js';
export type { TransportTimeouts, MinThroughput } from './options.js';
export { DEFAULTS } from './options.js';
export type { SocketPathOption } from './options.js';
export type { RetryOptions } from './retry.js';
export type { HeadersInit, BodyInit, BodyOrFactory } from './request-init.js';
export { HeaderList, outgoingRequest } from './round-tripper.js';
export type {
  Interceptor,
  NextFn,
  OutgoingBody,
  OutgoingRequest,
  OutgoingRequestInit,
  RequestDeadline,
  RoundTripper,
} from './round-tripper.js';
export type { ProxyOption } from './proxy.js';
export { bearerAuth } from './interceptors/bearer-auth.js';
export type { BearerAuthOptions, BearerChallenge } from './interceptors/bearer-auth.js';
export { logger } from './interceptors/logger.js';
export type { LogEntry } from './interceptors/logger.js';
export {
  HourglassError,
  TimeoutError,
  AbortError,
  ConnectError,
  ProtocolError,
  RedirectError,
  isTimeout,
} from './errors.js';
export type {
  ActivePhase,
  DialAttempt,
  ErrorCode,
  HourglassErrorCode,
  ProtocolReason,
  SystemErrorCode,
  TimeoutPhase,
} from './errors.js';

let defaultClientInstance: Client | undefined;

/** The client behind `request()` and `fetch()`: default Transport, no overall timeout. */
export function defaultClient(): Client {
  defaultClientInstance ??= new Client();
  return defaultClientInstance;
}

/** `defaultClient().request(url, opts)`. */
export function request(url: string | URL, opts?: RequestOptions): Promise<Response> {
  return defaultClient().request(url, opts);
}
