/**
 * h2-record — the fault server's record of what an HTTP/2 client sent on one connection
 * (the counters and lists tests assert on), split from ./h2-conn.ts, which fills it.
 *
 * Owns: the record's shape. Never: reads the socket or judges the client.
 * Invariant: only grows while the connection lives (counters never go down).
 */

/** A frame the client sent that RFC 9113 forbids, as the server noticed it. */
export interface H2ClientError {
  readonly stream: number;
  readonly message: string;
}

/**
 * What the client sent on one connection, as tests assert on it: counters per frame
 * type, its SETTINGS, the RST_STREAMs and GOAWAYs it sent, and the RFC 9113 violations
 * the server noticed. Filled by the frame loop of ./h2-conn.ts.
 */
export class H2ClientRecord {
  /** HEADERS that opened a stream, GOAWAY-ignored ones included. */
  streams = 0;
  /** Highest stream id the client opened. */
  lastStreamId = 0;
  /** PINGs received (not ACKs), and PING ACKs received for the server's own PINGs. */
  pingsReceived = 0;
  pingAcksReceived = 0;
  /** SETTINGS frames (not ACKs) received, and ACKs of the server's SETTINGS. */
  settingsReceived = 0;
  settingsAcksReceived = 0;
  windowUpdatesReceived = 0;
  /** Flow-controlled bytes of DATA received (padding included). */
  dataBytesReceived = 0;
  /** The client's SETTINGS, last value per id. */
  readonly clientSettings = new Map<number, number>();
  readonly resetsReceived: { stream: number; code: number }[] = [];
  readonly goawaysReceived: { lastStreamId: number; code: number; debug: string }[] = [];
  readonly errors: H2ClientError[] = [];
}
