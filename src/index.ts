/**
 * hourglass — an HTTP/1.1 client for Node.js in which no request can hang forever
 * and every wait has a name. This is the public surface; everything not exported
 * here is internal (connections, the pool, the parser) and may change.
 */

export { Client } from './client.js';
export type {
  CheckRedirect,
  ClientOptions,
  CookieJarLike,
  RedirectRequest,
  RedirectVia,
  RequestOptions,
} from './client.js';
export { Transport } from './transport.js';
export type { HostStats, TlsOption, TransportOptions, TransportStats } from './transport.js';
export type { H2Options } from './h2/options.js';
export { Dialer } from './dial/index.js';
export type { DialerOptions, DialMarks, DialRequest, ResolvedDialerOptions } from './dial/index.js';
export { certsDir } from './tls.js';
export { fetch } from './fetch.js';
export { download, HttpStatusError } from './download.js';
export type { DownloadOptions, DownloadResponseInfo, DownloadResult, DownloadRetryOptions } from './download.js';
export type { FetchInit } from './fetch.js';
export { Response } from './response.js';
export { harLog, toHarEntry } from './har.js';
export type { HarEntry, HarLog, HarNameValue, HarRequestInfo, HarTimings } from './har.js';
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
  ConnectInfo,
  DialAttempt,
  ErrorCode,
  ErrorContext,
  HourglassErrorCode,
  ProtocolReason,
  SystemErrorCode,
  TimeoutInfo,
  TimeoutPhase,
} from './errors.js';

export { defaultClient, request } from './default-client.js';
