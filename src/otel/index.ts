/**
 * hourglass/otel — OpenTelemetry spans and metrics for hourglass (SPEC §14), following
 * the stable HTTP client semantic conventions.
 *
 * Owns: {@link instrument} and what it subscribes: the `wire:*` and connection channels
 * (src/wire.ts) for one CLIENT span per request on the wire (each redirect hop and
 * retry), `traceparent` injection through the global propagator, and the metrics
 * `http.client.request.duration`, `http.client.open_connections`,
 * `hourglass.client.pool.wait.duration`, `hourglass.client.timeouts`; the call-level
 * `request:error` channel (SPEC §5) only to count timeouts no wire request saw
 * (backoff, cookie jar).
 *
 * Never: patches anything, or is imported by the main entry (`@opentelemetry/api` is an
 * optional peer dependency, needed by this entry alone); a handler never throws into
 * hourglass. Attribute mapping lives in ./attributes.ts (pure).
 *
 * Invariants: while no instrumentation is enabled nothing is subscribed (hourglass then
 * builds no WireRequest); every span started is ended exactly once — on `wire:end`,
 * `wire:error`, or `disable()`; a connection is counted in `open_connections` only for
 * states this instrumentation saw it enter, so counts never go negative.
 */

import * as diagnostics from 'node:diagnostics_channel';
import {
  type Attributes,
  type Context,
  context,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type TracerProvider,
  type UpDownCounter,
  ValueType,
} from '@opentelemetry/api';
import type { Response } from '../response.js';
import type { Timings } from '../timings.js';
import type { ConnectionInfo } from '../trace.js';
import type { WireRequest } from '../wire.js';
import {
  type Attrs,
  DURATION_KEYS,
  errorAttributes,
  isAbort,
  keyAttributes,
  pick,
  protocolVersion,
  requestAttributes,
  spanName,
  statusErrorType,
  timeoutOf,
} from './attributes.js';

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
}

/** What {@link instrument} returns. */
export interface Instrumentation {
  /** Unsubscribes everything; spans still in flight are ended. Idempotent. */
  disable(): void;
}

/** Instrumentation scope name of the tracer and meter. */
const SCOPE = 'hourglass';
const SCOPE_VERSION = '0.1.0';

/** The convention's bucket boundaries for `http.client.request.duration` (seconds). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** One request on the wire while its span is open. */
interface InFlight {
  readonly span: Span;
  /** Attributes so far (the duration metric takes its subset). */
  readonly attrs: Attrs;
  /** performance.now() at start. */
  readonly t0: number;
}

/** A connection this instrumentation counts in `open_connections`. */
interface ConnState {
  state: 'active' | 'idle';
  readonly attrs: Attrs;
}

/**
 * Starts tracing and measuring every hourglass request made after this call, from any
 * Client or Transport, until `disable()`. Each call subscribes anew (call it once).
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, SCOPE_VERSION);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, SCOPE_VERSION);
  const duration: Histogram = meter.createHistogram('http.client.request.duration', {
    description: 'Duration of HTTP client requests.',
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const poolWait: Histogram = meter.createHistogram('hourglass.client.pool.wait.duration', {
    description: 'Time a request waited for a connection (idle or newly dialed), before DNS/connect/TLS.',
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const open: UpDownCounter = meter.createUpDownCounter('http.client.open_connections', {
    description: 'Number of outbound HTTP connections that are currently active or idle on the client.',
    unit: '{connection}',
    valueType: ValueType.INT,
  });
  const timeouts: Counter = meter.createCounter('hourglass.client.timeouts', {
    description: 'Timeouts by the phase (named wait) that expired.',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });

  const inFlight = new Map<WireRequest, InFlight>();
  const conns = new WeakMap<ConnectionInfo, ConnState>();
  /** Timeout errors already counted (one error may reach both a wire and its call). */
  const counted = new WeakSet<object>();

  const countTimeout = (err: unknown, attrs: Attrs): void => {
    const t = timeoutOf(err);
    if (t === undefined || counted.has(t)) return;
    counted.add(t);
    timeouts.add(1, { 'hourglass.timeout.phase': t.phase, ...pick(attrs, SERVER_KEYS) });
  };

  const finish = (wire: WireRequest, f: InFlight): void => {
    inFlight.delete(wire);
    f.span.end();
    duration.record((performance.now() - f.t0) / 1000, pick(f.attrs, DURATION_KEYS));
  };

  const handlers: [string, (msg: unknown) => void][] = [
    [
      'hourglass:wire:start',
      (msg) => {
        const { wire } = msg as { wire: WireRequest };
        const attrs = requestAttributes(wire.method, wire.url, wire.attempt);
        const parent: Context = context.active();
        const span = tracer.startSpan(spanName(wire.method), { kind: SpanKind.CLIENT, attributes: attrs }, parent);
        inFlight.set(wire, { span, attrs, t0: performance.now() });
        propagation.inject(trace.setSpan(parent, span), wire, HEADER_SETTER);
      },
    ],
    [
      'hourglass:wire:connected',
      (msg) => {
        const m = msg as { wire: WireRequest; reused: boolean; protocol: string; connection: ConnectionInfo; timings: Timings };
        const f = inFlight.get(m.wire);
        if (f === undefined) return;
        const a: Attrs = { 'hourglass.connection.reused': m.reused, 'network.protocol.version': protocolVersion(m.protocol) };
        if (m.connection.remoteAddress !== undefined) a['network.peer.address'] = m.connection.remoteAddress;
        if (m.connection.remotePort !== undefined) a['network.peer.port'] = m.connection.remotePort;
        set(f, a);
        const t = m.timings;
        poolWait.record(Math.max(0, (t.socket ?? t.start) - t.start) / 1000, pick(f.attrs, SERVER_KEYS));
      },
    ],
    [
      'hourglass:wire:headers',
      (msg) => {
        const { wire, response } = msg as { wire: WireRequest; response: Response };
        const f = inFlight.get(wire);
        if (f === undefined) return;
        const a: Attrs = {
          'http.response.status_code': response.status,
          'network.protocol.version': protocolVersion(response.httpVersion),
        };
        const type = statusErrorType(response.status);
        if (type !== undefined) a['error.type'] = type;
        set(f, a);
        if (type !== undefined) f.span.setStatus({ code: SpanStatusCode.ERROR });
        addTimingEvents(f.span, response.timings, response.reused);
      },
    ],
    [
      'hourglass:wire:end',
      (msg) => {
        const { wire } = msg as { wire: WireRequest };
        const f = inFlight.get(wire);
        if (f !== undefined) finish(wire, f);
      },
    ],
    [
      'hourglass:wire:error',
      (msg) => {
        const { wire, error } = msg as { wire: WireRequest; error: unknown };
        const f = inFlight.get(wire);
        if (f === undefined) return;
        countTimeout(error, f.attrs);
        // An aborted request is not an error (as instrumentation-undici settled it).
        if (!isAbort(error)) {
          set(f, errorAttributes(error));
          if (error instanceof Error) f.span.recordException(error);
          f.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        }
        finish(wire, f);
      },
    ],
    [
      'hourglass:request:error',
      (msg) => {
        const { request, error } = msg as { request: { url?: string } | undefined; error: unknown };
        let attrs: Attrs = {};
        if (request?.url !== undefined && URL.canParse(request.url)) attrs = keyAttributes(new URL(request.url).origin);
        countTimeout(error, attrs);
      },
    ],
    [
      'hourglass:connection:open',
      (msg) => {
        const info = (msg as { connection: ConnectionInfo }).connection;
        const attrs = connectionAttributes(info);
        conns.set(info, { state: 'idle', attrs });
        open.add(1, { ...attrs, 'http.connection.state': 'idle' });
      },
    ],
    ['hourglass:connection:active', (msg) => moveConn((msg as { connection: ConnectionInfo }).connection, 'active')],
    ['hourglass:connection:idle', (msg) => moveConn((msg as { connection: ConnectionInfo }).connection, 'idle')],
    [
      'hourglass:connection:close',
      (msg) => {
        const info = (msg as { connection: ConnectionInfo }).connection;
        const c = conns.get(info);
        if (c === undefined) return;
        conns.delete(info);
        open.add(-1, { ...c.attrs, 'http.connection.state': c.state });
      },
    ],
  ];

  function moveConn(info: ConnectionInfo, to: 'active' | 'idle'): void {
    let c = conns.get(info);
    if (c === undefined) {
      // Opened before instrument(): counted from now on.
      c = { state: to, attrs: connectionAttributes(info) };
      conns.set(info, c);
    } else {
      if (c.state === to) return;
      open.add(-1, { ...c.attrs, 'http.connection.state': c.state });
      c.state = to;
    }
    open.add(1, { ...c.attrs, 'http.connection.state': to });
  }

  const wrapped = handlers.map(([name, fn]) => {
    const safe = (msg: unknown): void => {
      try {
        fn(msg);
      } catch {
        // Telemetry never breaks a request.
      }
    };
    diagnostics.subscribe(name, safe);
    return [name, safe] as const;
  });

  let enabled = true;
  return {
    disable(): void {
      if (!enabled) return;
      enabled = false;
      for (const [name, fn] of wrapped) diagnostics.unsubscribe(name, fn);
      for (const [wire, f] of [...inFlight]) finish(wire, f);
    },
  };
}

/** Server attributes kept on hourglass's own metrics. */
const SERVER_KEYS: readonly string[] = ['server.address', 'server.port', 'url.scheme'];

/** Sets `a` on the span and remembers them for the metrics. */
function set(f: InFlight, a: Attrs): void {
  Object.assign(f.attrs, a);
  f.span.setAttributes(a as Attributes);
}

/** What `propagation.inject` writes through: the request's headers, before the head is sent. */
const HEADER_SETTER = {
  set(carrier: WireRequest, key: string, value: string): void {
    carrier.setHeader(key, value);
  },
};

function connectionAttributes(info: ConnectionInfo): Attrs {
  const a = keyAttributes(info.key);
  if (info.remoteAddress !== undefined) a['network.peer.address'] = info.remoteAddress;
  return a;
}

/** Span events at the dial's marks (a fresh connection only) and at the first response byte. */
function addTimingEvents(span: Span, t: Timings, reused: boolean): void {
  if (!reused) {
    if (t.lookup !== undefined && t.socket !== undefined && t.lookup > t.socket) span.addEvent('hourglass.dns', t.lookup);
    if (t.connect !== undefined) span.addEvent('hourglass.connect', t.connect);
    if (t.secureConnect !== undefined) span.addEvent('hourglass.tls', t.secureConnect);
  }
  if (t.response !== undefined) span.addEvent('hourglass.first_byte', t.response);
}
