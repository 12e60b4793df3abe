/**
 * hourglass/testing — the fault server, the test PKI (SPEC §9) and MockTransport, an
 * in-process RoundTripper for users' tests (SPEC §12), shipped to users.
 *
 * Exports values and types separately. Left unexported on purpose: the request
 * reader, the connection state (`Conn`) and the route-table internals; the route
 * catalogue is reachable as `FaultServer.routes`, the malformed bytes as
 * `FaultServer.malformed` / `.malformedCases` / `.edgeCases`.
 */

export type { ServerCertName } from './certs.js';
export {
  CA_CERT,
  CLIENT_CERT,
  CLIENT_KEY,
  EXPIRED_CERT,
  EXPIRED_KEY,
  SERVER_CERT,
  SERVER_CERTS,
  SERVER_KEY,
  WRONG_NAME_CERT,
  WRONG_NAME_KEY,
  writeCertsDir,
} from './certs.js';
export type { ConnectionInfo } from './conn.js';
export type { Bytes, HeaderInit, RecordedRequest } from './exchange.js';
export { Exchange, formatHead } from './exchange.js';

export type { FaultServerOptions, FaultServerTlsOptions } from './fault-server.js';
export { FaultServer } from './fault-server.js';
export type { H2ClientError, H2Connection } from './h2-conn.js';
export type { H2ClientRecord } from './h2-record.js';
export type { H2FaultOptions } from './h2-options.js';
export type { H2MalformedCase } from './h2-malformed.js';
export type { H2Stats } from './h2-server.js';
export type { H2RecordedRequest, H2Route, H2RouteHandler, H2Stream } from './h2-stream.js';
export type { Frame as H2Frame } from './h2-wire.js';
export { Flag as H2Flag, FrameType as H2FrameType, H2Code, Setting as H2Setting } from './h2-wire.js';
export type { MalformedCase, MalformedExpectation } from './malformed.js';
export type { RouteHandler, RouteOptions } from './route-kit.js';
export { POISON } from './routes.js';
export { MockTransport } from './mock-transport.js';
export type {
  MockRoute,
  MockCall,
  MockReply,
  MockReplyBody,
  MockReplyRequest,
  MockTransportOptions,
  MockUrlPattern,
} from './mock-transport.js';
