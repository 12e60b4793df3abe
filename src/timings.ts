/**
 * timings — where the time of one request went (SPEC §5): epoch-ms marks filled in by
 * the layers as they pass, and phases derived from them on demand (got's shape).
 *
 * Invariants: marks are set once per attempt by the layer that owns them (transport:
 * start/socket; dialer: lookup/connect — through a proxy the connector moves `connect` to
 * the end of the proxy's TLS and CONNECT tunnel, which are part of connecting; tls:
 * secureConnect; conn: upload/response/end). A phase that did not happen is 0. On a
 * reused connection `lookup`/`connect` (and over TLS `secureConnect`) equal `socket`
 * (`reuse()`).
 */

/** Durations derived from the marks, in ms. */
export interface TimingPhases {
  /** Waiting for a connection (pool wait, dial queueing). */
  wait: number;
  dns: number;
  tcp: number;
  tls: number;
  /** Writing the request. */
  request: number;
  /** From request written to the first response byte. */
  firstByte: number;
  /** Reading the body. */
  download: number;
  /** From request() called to the end of the body. */
  total: number;
}

/** Epoch-ms marks of one request (the final attempt), plus derived phases. */
export class Timings {
  start: number;
  socket: number | undefined;
  lookup: number | undefined;
  connect: number | undefined;
  secureConnect: number | undefined;
  upload: number | undefined;
  response: number | undefined;
  end: number | undefined;
  /** Epoch ms when the overall request began (first attempt). */
  requestStart: number;

  constructor(requestStart: number, start: number = Date.now()) {
    this.requestStart = requestStart;
    this.start = start;
    this.socket = undefined;
    this.lookup = undefined;
    this.connect = undefined;
    this.secureConnect = undefined;
    this.upload = undefined;
    this.response = undefined;
    this.end = undefined;
  }

  /**
   * Marks for a request on a connection that was already open (SPEC §11, as got):
   * `lookup` and `connect` — and over TLS `secureConnect` — equal `socket`, so the
   * dns/tcp/tls phases are 0 and every mark is a number.
   */
  reuse(tls: boolean): void {
    const at = this.socket ?? this.start;
    this.socket = at;
    this.lookup = at;
    this.connect = at;
    this.secureConnect = tls ? at : undefined;
  }

  /** Phases of SPEC §5, computed from the marks. */
  get phases(): TimingPhases {
    const socket = this.socket ?? this.start;
    const connected = this.secureConnect ?? this.connect ?? socket;
    const dnsEnd = this.lookup;
    const tcpEnd = this.connect;
    return {
      wait: Math.max(0, socket - this.start),
      dns: dnsEnd !== undefined ? Math.max(0, dnsEnd - socket) : 0,
      tcp: tcpEnd !== undefined ? Math.max(0, tcpEnd - (dnsEnd ?? socket)) : 0,
      tls: this.secureConnect !== undefined && tcpEnd !== undefined ? Math.max(0, this.secureConnect - tcpEnd) : 0,
      request: this.upload !== undefined ? Math.max(0, this.upload - connected) : 0,
      firstByte:
        this.response !== undefined && this.upload !== undefined ? Math.max(0, this.response - this.upload) : 0,
      download: this.end !== undefined && this.response !== undefined ? Math.max(0, this.end - this.response) : 0,
      total: this.end !== undefined ? Math.max(0, this.end - this.requestStart) : 0,
    };
  }

  toJSON(): Record<string, unknown> {
    return {
      start: this.start,
      socket: this.socket,
      lookup: this.lookup,
      connect: this.connect,
      secureConnect: this.secureConnect,
      upload: this.upload,
      response: this.response,
      end: this.end,
      phases: this.phases,
    };
  }
}
