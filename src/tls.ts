/**
 * tls — turns a connected TCP socket into a verified TLS socket speaking `http/1.1`
 * (SPEC §3 `tlsHandshakeTimeout`, §6 `tls`), plus the pool-key form of TLS options and
 * Docker's `certs.d` layout (`certsDir`).
 *
 * Owns: the handshake, its timeout (phase `tls`), the tlsHandshake trace hooks, the offer
 * of a kept session for resumption (tls-sessions.ts) and the keeping of new ones, and the
 * translation of OpenSSL failures into `ConnectError`s whose `code` is the OpenSSL code
 * and whose message names the host and the address. Never dials (see `dial/`), never
 * pools; the transport calls `upgradeToTls` right after `Dialer.dial`.
 *
 * Invariants: verification is on unless the caller passes `rejectUnauthorized: false`;
 * ALPN offers what the caller asks (`h2`, `http/1.1` when HTTP/2 is allowed), else only
 * `http/1.1`; on every failure path the socket is destroyed, the timer cleared and the
 * budget released. A TLS options object's key and secure context are made once and kept
 * while its values stay the same (walked into arrays and plain objects, not into
 * buffers): an object changed after use is keyed and built again, so a session or
 * connection made under its old values never stands for its new ones.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createRequire } from 'node:module';
import { type Budget, failPhaseAfter, type LongTimer, now, type PhaseExpiry, type PhaseOwner } from './deadline.js';
import { ConnectError, type HourglassError, invalidArg, redactUrl } from './errors.js';
import { bracket, hostPort, unbracket } from './host.js';
import { checkDuration, DEFAULTS } from './options.js';
import { sessionKey, type TlsSessionCache } from './tls-sessions.js';
import { emit, type TraceHooks } from './trace.js';

/** node:tls's exports object itself (not the ESM namespace): `tls.connect` reads `checkServerIdentity` from it at connect time. */
const tlsExports = createRequire(import.meta.url)('node:tls') as { checkServerIdentity: typeof tls.checkServerIdentity };

/** One TLS upgrade. */
export interface TlsUpgradeRequest {
  /** A connected TCP socket (from `Dialer.dial`). */
  socket: net.Socket;
  /** The URL's host: verified against the certificate; sent as SNI unless an IP literal. */
  servername: string;
  port: number;
  /** User TLS options (ca, cert, key, rejectUnauthorized, ...). */
  options?: tls.ConnectionOptions | undefined;
  /** Handshake budget in ms. Default 10 000; 0 or Infinity: none. */
  timeout?: number | undefined;
  /** Overall request budget, held during the handshake. */
  budget?: Budget | undefined;
  trace?: TraceHooks | undefined;
  /** Filled with the epoch ms of the handshake's end (`Timings` has this field). */
  timings?: { secureConnect: number | undefined } | undefined;
  method?: string | undefined;
  url?: string | undefined;
  /** ALPN protocols to offer, in order of preference. Default `['http/1.1']`. */
  alpn?: readonly string[] | undefined;
  /** The Unix socket path dialled (named `unix:/path` in errors), if any. */
  socketPath?: string | undefined;
  /** The transport's TLS sessions: one is offered for resumption, the server's new ones kept. */
  sessions?: TlsSessionCache | undefined;
  /**
   * What this handshake is for, part of its session key: `''` (default) a direct
   * connection, `'proxy'` an https proxy's own handshake, `'via <proxy origin>'` an origin
   * behind that proxy. Sessions never cross routes.
   */
  sessionRoute?: string | undefined;
}

const HTTP1_ONLY: readonly string[] = Object.freeze(['http/1.1']);

/** Error codes that mean "the certificate was not accepted" (curl exit 60), not "TLS failed" (35). */
export const CERT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** OpenSSL errors seen when the peer answers a ClientHello with plaintext. */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);
const NOT_TLS_MESSAGE = /wrong version number|packet length too long|unknown protocol/i;

/** Runs the TLS handshake on `req.socket`. Resolves the TLS socket; rejects with a
 * `ConnectError` (OpenSSL code), a `TimeoutError` phase `tls` or the budget's error. */
export function upgradeToTls(req: TlsUpgradeRequest): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const timeout = checkDuration('tlsHandshakeTimeout', req.timeout) ?? DEFAULTS.tlsHandshakeTimeout;
    new Handshake(req, timeout, resolve, reject).begin();
  });
}

/** A stable short string identifying TLS options, for pool keys ('' for none). */
export function tlsOptionsKey(opts: tls.ConnectionOptions | undefined): string {
  if (opts === undefined) return '';
  return derived(keyCache, opts, optionsKeyOf);
}

/**
 * Docker's `certs.d` layout: `<dir>/<host:port>/` or else `<dir>/<host>/` holding `*.crt`
 * (extra CAs, added to Node's root store), and `client.cert` + `client.key` (a client
 * certificate). Each directory is read once. Returns `{}` when no directory matches.
 */
export function certsDir(dir: string): (host: string, port: number) => tls.ConnectionOptions {
  const cache = new Map<string, tls.ConnectionOptions | null>();
  const load = (name: string): tls.ConnectionOptions | null => {
    let found = cache.get(name);
    if (found === undefined) {
      found = readCertsEntry(path.join(dir, name));
      cache.set(name, found);
    }
    return found;
  };
  return (host, port) => {
    const h = unbracket(host);
    const bare = bracket(h);
    return load(`${bare}:${port}`) ?? load(bare) ?? (bare !== h ? load(h) : null) ?? NO_OPTIONS;
  };
}

// Private implementation past this point.

/** What `certsDir` returns when no directory matches (shared, so its context is cached). */
const NO_OPTIONS: tls.ConnectionOptions = Object.freeze({});
/** What was derived from an options object, and the values it was derived from. */
interface Derived<T> {
  value: T;
  snapshot: unknown[];
}
const keyCache = new WeakMap<tls.ConnectionOptions, Derived<string>>();
const contextCache = new WeakMap<tls.ConnectionOptions, Derived<tls.SecureContext>>();

/**
 * `make(opts)`, computed once per options object — and again if the object was changed
 * since (a property set, added or deleted, an array in it changed): a key or secure
 * context made before a caller dropped `checkServerIdentity` or replaced `ca` must not
 * stand for the object after (a resumed session skips the identity check).
 */
function derived<T>(
  cache: WeakMap<tls.ConnectionOptions, Derived<T>>,
  opts: tls.ConnectionOptions,
  make: (opts: tls.ConnectionOptions) => T,
): T {
  const hit = cache.get(opts);
  if (hit !== undefined && walk(opts, hit.snapshot, 0, 0, false) === hit.snapshot.length) return hit.value;
  const value = make(opts);
  const snapshot: unknown[] = [];
  walk(opts, snapshot, 0, 0, true);
  cache.set(opts, { value, snapshot });
  return value;
}

/** How deep options are walked into arrays and plain objects; deeper ones count by identity (a cycle ends). */
const MAX_DEPTH = 4;

/** An array or plain object that the walk at `depth` goes into. */
function isContainer(v: unknown, depth: number): v is object {
  if (depth >= MAX_DEPTH) return false;
  return Array.isArray(v) || (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype);
}

/**
 * The values of an options object, in order, into arrays and plain objects (not into
 * buffers): written to `snap` from index `i` when `record`, else compared with what is
 * there, without allocating (it runs per request for the transport's own options).
 * Returns the index after `v`'s values, or -1 at the first difference.
 */
function walk(v: object, snap: unknown[], i: number, depth: number, record: boolean): number {
  if (Array.isArray(v)) {
    if (!step(snap, i++, v.length, record)) return -1;
    for (const e of v as unknown[]) {
      if (!step(snap, i++, e, record)) return -1;
      if (isContainer(e, depth) && (i = walk(e, snap, i, depth + 1, record)) < 0) return -1;
    }
    return i;
  }
  for (const k of Object.keys(v)) {
    const e = (v as Record<string, unknown>)[k];
    if (!step(snap, i++, k, record) || !step(snap, i++, e, record)) return -1;
    if (isContainer(e, depth) && (i = walk(e, snap, i, depth + 1, record)) < 0) return -1;
  }
  return i;
}

/** One value of {@link walk}: recorded at `i`, or compared with what is there. */
function step(snap: unknown[], i: number, x: unknown, record: boolean): boolean {
  if (record) {
    snap[i] = x;
    return true;
  }
  return same(snap[i], x);
}

/** `===`, and NaN is NaN (a NaN option must not make every look a change). */
function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

function optionsKeyOf(opts: tls.ConnectionOptions): string {
  const entries = Object.keys(opts)
    .filter((k) => k !== 'socket' && (opts as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${k}=${canonical((opts as Record<string, unknown>)[k])}`);
  return entries.length === 0 ? '' : createHash('sha1').update(entries.join('\n')).digest('hex').slice(0, 16);
}
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/** Canonical text of an option value; PEMs are hashed, opaque objects get an identity. */
function canonical(v: unknown, depth = 0): string {
  if (typeof v === 'string') return v.length > 64 ? `sha1:${sha1(v)}` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `sha1:${sha1(v)}`;
  if (isContainer(v, depth)) {
    if (Array.isArray(v)) return `[${v.map((e: unknown) => canonical(e, depth + 1)).join(',')}]`;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `{${keys.map((k) => `${k}:${canonical(o[k], depth + 1)}`).join(',')}}`;
  }
  if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
    let id = objectIds.get(v);
    if (id === undefined) objectIds.set(v, (id = nextObjectId++));
    return `#${id}`;
  }
  return typeof v;
}

function sha1(v: string | Uint8Array): string {
  if (typeof v !== 'string') return createHash('sha1').update(v).digest('hex');
  // The same PEMs come back in every options object a `tls` function makes: hash each once.
  let digest = stringDigests.get(v);
  if (digest === undefined) {
    digest = createHash('sha1').update(v).digest('hex');
    if (stringDigests.size >= 512) stringDigests.clear();
    stringDigests.set(v, digest);
  }
  return digest;
}

/** SHA-1 of the long option strings (PEMs) seen lately; bounded, cleared when full. */
const stringDigests = new Map<string, string>();

function readCertsEntry(entry: string): tls.ConnectionOptions | null {
  let names: string[];
  try {
    names = fs.readdirSync(entry).sort();
  } catch {
    return null;
  }
  const out: tls.ConnectionOptions = {};
  const cas = names
    .filter((n) => n.endsWith('.crt'))
    .map((n) => fs.readFileSync(path.join(entry, n), 'utf8'));
  if (cas.length > 0) out.ca = [...tls.rootCertificates, ...cas];
  const hasCert = names.includes('client.cert');
  const hasKey = names.includes('client.key');
  if (hasCert !== hasKey) {
    throw invalidArg(
      `certsDir: ${entry} has ${hasCert ? 'client.cert without client.key' : 'client.key without client.cert'}`,
    );
  }
  if (hasCert) {
    out.cert = fs.readFileSync(path.join(entry, 'client.cert'), 'utf8');
    out.key = fs.readFileSync(path.join(entry, 'client.key'), 'utf8');
  }
  return out;
}

/**
 * A `checkServerIdentity` (the caller's, or node:tls's own, which may have been replaced)
 * made safe to call from inside node:tls: a throw — from the check or from reading what
 * it returned (a throwing getter, a Proxy) — would be an uncaught exception there, or a
 * handshake left to its timeout; an error without a `code` would read as a connection
 * reset. Those become an {@link IdentityRejection} (code `CERT_REJECTED`, `cause` what the
 * check gave). An Error with a non-empty string `code` passes as it is; a falsy value
 * accepts, as node:tls reads it.
 */
function guardedIdentityCheck(check: IdentityCheck): IdentityCheck {
  return (host, cert) => {
    let verdict: unknown;
    try {
      verdict = check(host, cert);
      if (!verdict) return undefined;
      const code = verdict instanceof Error ? (verdict as NodeJS.ErrnoException).code : undefined;
      if (typeof code === 'string' && code !== '') return verdict as Error;
    } catch (err) {
      return new IdentityRejection(err);
    }
    return new IdentityRejection(verdict);
  };
}

type IdentityCheck = NonNullable<tls.ConnectionOptions['checkServerIdentity']>;

/** A certificate a `checkServerIdentity` refused without a code of its own. */
class IdentityRejection extends Error {
  readonly code = 'CERT_REJECTED';

  constructor(verdict: unknown) {
    super(`checkServerIdentity rejected the certificate: ${describeVerdict(verdict)}`, { cause: verdict });
  }
}

function describeVerdict(verdict: unknown): string {
  try {
    return verdict instanceof Error ? verdict.message : String(verdict);
  } catch {
    return 'a value that cannot be read';
  }
}

/** A secure context per user options object, so a CA bundle is parsed once, not per connection. */
function secureContextFor(opts: tls.ConnectionOptions | undefined): tls.SecureContext | undefined {
  if (opts === undefined || opts.secureContext !== undefined) return opts?.secureContext;
  return derived(contextCache, opts, (o) => tls.createSecureContext(o));
}

/** The state of one handshake; ends exactly once, in `done` or `fail`. */
class Handshake implements PhaseOwner {
  private readonly startedAt = now();
  private tlsSocket: tls.TLSSocket | undefined;
  private timer: LongTimer | undefined;
  private settled = false;
  private readonly hostPort: string;
  /** The peer, captured up front: a destroyed socket forgets it. */
  private readonly remote: { address: string | undefined; port: number | undefined };
  private readonly onError = (err: NodeJS.ErrnoException): void => this.fail(this.handshakeError(err));
  private readonly onClose = (): void => this.fail(this.handshakeError(closedError()));
  /** Where this handshake's session is kept, when the transport keeps sessions. */
  private sessionKey: string | undefined;

  constructor(
    private readonly req: TlsUpgradeRequest,
    private readonly timeout: number,
    private readonly resolve: (s: tls.TLSSocket) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.hostPort = hostPort(req.servername, req.port);
    this.remote = { address: req.socket.remoteAddress, port: req.socket.remotePort };
  }

  /** The phase this handshake reports while it holds the request's budget (and leaves behind). */
  readonly phase = 'tls';
  /** A handshake writes no request byte. */
  readonly requestSent = false;

  begin(): void {
    const { req } = this;
    emit(req.trace, 'tlsHandshakeStart');
    if (req.budget !== undefined) {
      req.budget.hold(this); // cancels at once if the budget already failed
      if (this.settled) return;
    }
    this.timer = failPhaseAfter(this.timeout, this, this.startedAt);
    const host = unbracket(req.servername);
    const user = req.options ?? {};
    const alpn = req.alpn ?? HTTP1_ONLY;
    const sessions = req.sessions;
    const ownCheck = user.checkServerIdentity;
    // node:tls reads its own check at connect time (it may have been replaced): guard that one too.
    const check = ownCheck ?? tlsExports.checkServerIdentity;
    // The caller's own `session` wins; else the one this transport kept for this handshake.
    if (sessions?.enabled === true && user.session === undefined) {
      this.sessionKey = sessionKey({
        route: req.sessionRoute ?? '',
        servername: req.servername,
        port: req.port,
        socketPath: req.socketPath,
        alpn,
        // Node's own check, when the caller has none, is read at connect time (it may be replaced).
        optionsKey: tlsOptionsKey(req.options) + (ownCheck === undefined ? canonical(check) : ''),
      });
    }
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        ...user,
        secureContext: secureContextFor(req.options),
        socket: req.socket,
        host,
        port: req.port,
        servername: user.servername ?? (net.isIP(host) === 0 ? host : undefined),
        ALPNProtocols: alpn as string[],
        checkServerIdentity: guardedIdentityCheck(check),
        ...(this.sessionKey !== undefined ? { session: sessions!.get(this.sessionKey) } : {}),
      });
    } catch (err) {
      this.fail(this.handshakeError(err as NodeJS.ErrnoException));
      return;
    }
    this.tlsSocket = socket;
    if (this.sessionKey !== undefined) {
      // TLS 1.3 servers send their tickets after the handshake, on the open connection.
      const key = this.sessionKey;
      socket.on('session', (s: Buffer) => sessions!.set(key, s));
    }
    socket.once('secureConnect', () => this.done());
    socket.once('error', this.onError);
    socket.once('close', this.onClose);
  }

  cancel(err: HourglassError): void {
    this.fail(err);
  }

  private done(): void {
    if (this.settled) return;
    const socket = this.tlsSocket!;
    this.cleanup();
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    if (this.req.timings !== undefined) this.req.timings.secureConnect = Date.now();
    emit(this.req.trace, 'tlsHandshakeDone', {
      protocol: socket.getProtocol(),
      alpnProtocol: socket.alpnProtocol,
      error: undefined,
    });
    this.resolve(socket);
  }

  /** The handshake's own timeout ran out: what to report (undefined: it already ended). */
  phaseExpiry(): PhaseExpiry | undefined {
    this.timer = undefined;
    if (this.settled) return undefined;
    const what = `handshake with ${this.hostPort} (${this.peer()})`;
    return { phase: 'tls', timeout: this.timeout, what, method: this.req.method, url: this.req.url };
  }

  private handshakeError(err: NodeJS.ErrnoException): ConnectError {
    const code = err.code ?? 'ECONNRESET';
    let why: string;
    if (NOT_TLS_CODES.has(code) || NOT_TLS_MESSAGE.test(err.message)) {
      why = 'server gave HTTP response to HTTPS client (the port does not speak TLS)';
    } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      why = `certificate verification failed: ${nameMismatch(err)}`;
    } else if (CERT_ERROR_CODES.has(code)) {
      why = `certificate verification failed: ${err.message}`;
    } else {
      why = err.message;
    }
    const url =
      this.req.url === undefined ? '' : ` for ${this.req.method ?? 'GET'} ${redactUrl(this.req.url)}`;
    const message = `TLS handshake with ${this.hostPort} (address ${this.peer()}) failed: ${why} [${code}]${url}`;
    return new ConnectError(message, code, {
      method: this.req.method,
      url: this.req.url,
      address: this.remote.address,
      port: this.remote.port ?? this.req.port,
      // A refusal by checkServerIdentity: the cause is what the check gave.
      cause: err instanceof IdentityRejection ? err.cause : err,
    });
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.cleanup();
    // Whatever was offered is not offered again: a server may refuse to resume it.
    if (this.sessionKey !== undefined) this.req.sessions?.delete(this.sessionKey);
    this.tlsSocket?.destroy();
    this.req.socket.destroy();
    emit(this.req.trace, 'tlsHandshakeDone', { protocol: null, alpnProtocol: null, error: err });
    this.reject(err);
  }

  private peer(): string {
    const { address, port } = this.remote;
    // A Unix domain socket has no remote address (the dialer reports its path).
    if (address === undefined) return this.req.socketPath !== undefined ? `unix:${this.req.socketPath}` : 'a Unix socket';
    return hostPort(address, port ?? 0);
  }

  private cleanup(): void {
    this.settled = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.req.budget?.release(this);
  }
}

function closedError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('socket closed before the TLS handshake completed');
  err.code = 'ECONNRESET';
  return err;
}

/**
 * The whole story of a name mismatch: the name asked for and every name the certificate
 * carries. Node's own message ends in an empty list for an IP when the certificate has no
 * IP entry ("is not in the cert's list: "); this one always names what the certificate has.
 */
function nameMismatch(err: NodeJS.ErrnoException): string {
  const e = err as NodeJS.ErrnoException & { host?: unknown; cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } } };
  const host = typeof e.host === 'string' ? e.host : undefined;
  const san = typeof e.cert?.subjectaltname === 'string' && e.cert.subjectaltname !== '' ? e.cert.subjectaltname : undefined;
  const cn = e.cert?.subject?.CN;
  const names = san !== undefined ? `its subjectAltName is ${san}` : typeof cn === 'string' ? `it has no subjectAltName; its subject CN is ${cn}` : 'it names no host';
  if (host === undefined) return `${err.message} (${names})`;
  const kind = net.isIP(host) === 0 ? 'host name' : 'IP address';
  return `the certificate does not match the ${kind} ${host}: ${names}`;
}
