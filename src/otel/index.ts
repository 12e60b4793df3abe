/**
 * hourglass/otel — OpenTelemetry spans and metrics for hourglass (SPEC §14), following
 * the stable HTTP client semantic conventions.
 *
 * Owns: {@link instrument} and what it subscribes: the `wire:*` and connection channels
 * (src/wire.ts) for one CLIENT span per request on the wire (each redirect hop,
 * retry and HTTP/2 replay), `traceparent` injection through the global propagator, and the metrics
 * `http.client.request.duration`, `http.client.open_connections`,
 * `hourglass.client.pool.wait.duration`, `hourglass.client.timeouts` (timeouts of
 * requests on the wire; not the call-level channels of SPEC §5, whose subscription
 * would make the client describe every request).
 *
 * Never: patches anything, or is imported by the main entry (`@opentelemetry/api` is an
 * optional peer dependency, needed by this entry alone); a handler never throws into
 * hourglass, and a span method that throws or rejects is contained (./contained.ts).
 * Attribute mapping lives in ./attributes.ts (pure).
 *
 * Invariants: while no instrumentation is enabled nothing is subscribed (hourglass then
 * builds no WireRequest); every span started is ended exactly once — on `wire:end`,
 * `wire:error`, or `disable()`; a connection is counted in `open_connections` only for
 * states this instrumentation saw it enter, so counts never go negative; a series of
 * `open_connections` stops being observed only after it was observed at 0 (after
 * `disable()`, at the next collection), so no reader keeps a stale count.
 */

import * as diagnostics from 'node:diagnostics_channel';
import {
  type Context,
  context,
  createNoopMeter,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  propagation,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  type ObservableResult,
  type ObservableUpDownCounter,
  type TracerProvider,
  ValueType,
} from '@opentelemetry/api';
import { redactText } from '../redact.js';
import { contain, ContainedSpan } from './contained.js';
import type { Response } from '../response.js';
import type { Timings } from '../timings.js';
import type { ConnectionInfo } from '../trace.js';
import type { WireRequest } from '../wire.js';
import {
  type Attrs,
  errorAttributes,
  isAbort,
  keyAttributes,
  pick,
  protocolVersion,
  requestAttributes,
  spanName,
  statusErrorType,
  timeoutPhase,
  unixSocketPath,
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
  /**
   * Unsubscribes everything; spans still in flight are ended with the attribute
   * `hourglass.instrumentation.disabled` true and no `http.client.request.duration`
   * point (their end was not seen). Every series of
   * `http.client.open_connections` is reported at 0 at the next collection, then no more
   * (a reader never keeps a stale count). Idempotent.
   */
  disable(): void;
}

/** Instrumentation scope name of the tracer and meter. */
const SCOPE = 'hourglass';
const SCOPE_VERSION = '0.1.0';

/** The convention's bucket boundaries for `http.client.request.duration` (seconds). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** One request on the wire while its span is open (one shape: fields, never added keys). */
class InFlight {
  /** performance.now() at start. */
  readonly t0 = performance.now();
  status = 0;
  version = '';
  errorType: string | undefined = undefined;
  /** Whether a connection was handed to it (its pool wait is then recorded). */
  connected = false;
  /** Whether the dial events of a fresh connection were added. */
  dialEvents = false;

  constructor(
    readonly span: ContainedSpan,
    /** The context the span was started in (a replay's span is started in it too). */
    readonly parent: Context,
    /** Whether the span records (a no-op provider's does not: its attributes are skipped). */
    readonly recording: boolean,
    readonly method: string,
    /** server.address, server.port, url.scheme: on every metric. */
    readonly server: Attrs,
  ) {}

  /** The attributes of `http.client.request.duration` (the convention's set). */
  metricAttributes(): Attrs {
    const a: Attrs = { 'http.request.method': this.method, ...this.server };
    if (this.version !== '') a['network.protocol.version'] = this.version;
    if (this.status !== 0) a['http.response.status_code'] = this.status;
    if (this.errorType !== undefined) a['error.type'] = this.errorType;
    return a;
  }
}

/** The constructor of the no-op API's histograms: a meter that makes these records nothing. */
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('noop').constructor;

/** A connection this instrumentation counts in `open_connections`. */
interface ConnState {
  state: 'active' | 'idle';
  /** The attribute sets of its two states, made once. */
  readonly active: Attrs;
  readonly idle: Attrs;
}

/** How many enabled instrumentations observe `open_connections` on each meter provider. */
const onMeter = new Map<MeterProvider, number>();

/** Live instrumentations by their providers, with how many handles share each. */
const live = new Map<TracerProvider, Map<MeterProvider, { inst: Instrumentation; handles: number }>>();

/**
 * Starts tracing and measuring every hourglass request made after this call, from any
 * Client or Transport, until `disable()`. A call with the same providers as one still
 * enabled shares it (one span per request, not two): it returns a new handle, and the
 * instrumentation ends when every handle sharing it is disabled.
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  const given = options.tracerProvider ?? trace.getTracerProvider();
  const mp = options.meterProvider ?? metrics.getMeterProvider();
  // The global provider is a proxy for the SDK's: a call with the global and one with the
  // provider it stands for are the same providers. The proxy itself is what starts (an SDK
  // registered later is then still found through it).
  const tp = given instanceof ProxyTracerProvider ? given.getDelegate() : given;
  let byMeter = live.get(tp);
  let shared = byMeter?.get(mp);
  if (shared === undefined) {
    shared = { inst: start(given, mp), handles: 0 };
    if (byMeter === undefined) live.set(tp, (byMeter = new Map()));
    byMeter.set(mp, shared);
  }
  shared.handles++;
  const s = shared;
  const m = byMeter!;
  let on = true;
  return {
    disable(): void {
      if (!on) return;
      on = false;
      if (--s.handles > 0) return;
      if (m.get(mp) === s) m.delete(mp);
      if (m.size === 0 && live.get(tp) === m) live.delete(tp);
      s.inst.disable();
    },
  };
}

/** One instrumentation reporting to `tp` and `mp` (see {@link instrument}). */
function start(tp: TracerProvider, mp: MeterProvider): Instrumentation {
  const tracer = tp.getTracer(SCOPE, SCOPE_VERSION);
  const meter = mp.getMeter(SCOPE, SCOPE_VERSION);
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
  // Observed at collection from counts kept here: a connection changes state twice per
  // request, and four counter updates per request cost more than the request's span.
  const open: ObservableUpDownCounter = meter.createObservableUpDownCounter('http.client.open_connections', {
    description: 'Number of outbound HTTP connections that are currently active or idle on the client.',
    unit: '{connection}',
    valueType: ValueType.INT,
  });
  /** Connections per attribute set (the sets are shared: see `attrSets`). */
  const counts = new Map<Attrs, number>();
  const attrSets = new Map<string, { active: Attrs; idle: Attrs }>();
  const add = (a: Attrs, n: number): void => {
    counts.set(a, (counts.get(a) ?? 0) + n);
  };
  let enabled = true;
  // The SDK (sdk-metrics 2.x) goes on exporting a cumulative series it no longer observes
  // at its last observed value, so a series leaves `counts` only once it has been observed
  // at 0: one at 0 stays while enabled, unless many hosts came and went (bounded memory);
  // after disable() every series is observed at 0 once, then the callback removes itself.
  const observe = (result: ObservableResult): void => {
    for (const [a, n] of counts) {
      result.observe(n, a);
      if (n === 0 && (!enabled || counts.size > 512)) counts.delete(a);
    }
    // Not synchronously: the SDK is iterating over its callbacks.
    if (!enabled && counts.size === 0) queueMicrotask(() => open.removeCallback(observe));
  };
  open.addCallback(observe);
  onMeter.set(mp, (onMeter.get(mp) ?? 0) + 1);
  const timeouts: Counter = meter.createCounter('hourglass.client.timeouts', {
    description: 'Timeouts by the phase (named wait) that expired.',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });

  const inFlight = new Map<WireRequest, InFlight>();
  /**
   * The parent context of requests that ended in `wire:error`, for a replay of theirs
   * (`wire.replayOf`): its `wire:start` comes from the connection's async context, not
   * the caller's. Written on the error path only; entries go with their WireRequest.
   */
  const failedParents = new WeakMap<WireRequest, Context>();
  const conns = new WeakMap<ConnectionInfo, ConnState>();
  /** Whether the meter records at all (the API's no-op meter does not: nothing to track then). */
  const measuring = !(duration instanceof NOOP_HISTOGRAM);

  const finish = (wire: WireRequest, f: InFlight): void => {
    inFlight.delete(wire);
    f.span.end();
    contain(duration.record((performance.now() - f.t0) / 1000, f.metricAttributes()));
  };

  const handlers: [string, (msg: unknown) => void][] = [
    [
      'hourglass:wire:start',
      (msg) => {
        // disable() from an earlier subscriber of this same message: delivery goes on.
        if (!enabled) return;
        const { wire } = msg as { wire: WireRequest };
        const attrs = requestAttributes(wire.method, wire.url, wire.attempt);
        // A replay (SPEC §13) is a sibling of the request it replays, under the caller's context.
        const parent: Context = (wire.replayOf !== undefined ? failedParents.get(wire.replayOf) : undefined) ?? context.active();
        const span = tracer.startSpan(spanName(wire.method), { kind: SpanKind.CLIENT, attributes: attrs }, parent);
        if (!enabled) {
          // disable() from inside startSpan (a SpanProcessor's onStart): nobody will end it.
          const c = new ContainedSpan(span);
          c.setAttribute('hourglass.instrumentation.disabled', true);
          c.end();
          return;
        }
        const recording = span.isRecording();
        // Nothing records (no-op providers): only the context travels on.
        if (recording || measuring) {
          const method = attrs['http.request.method'] as string;
          inFlight.set(wire, new InFlight(new ContainedSpan(span), parent, recording, method, pick(attrs, SERVER_KEYS)));
        }
        const carrier = { wire, traceparent: false, tracestate: false };
        propagation.inject(trace.setSpan(parent, span), carrier, HEADER_SETTER);
        // tracestate belongs to the traceparent it came with: a caller's goes when ours replaces it.
        if (carrier.traceparent && !carrier.tracestate) wire.deleteHeader('tracestate');
      },
    ],
    [
      'hourglass:wire:connected',
      (msg) => {
        const m = msg as { wire: WireRequest; reused: boolean; protocol: string; connection: ConnectionInfo; timings: Timings };
        const f = inFlight.get(m.wire);
        if (f === undefined) return;
        f.version = protocolVersion(m.protocol);
        f.connected = true;
        if (f.recording) {
          f.span.setAttribute('network.protocol.version', f.version);
          f.span.setAttribute('hourglass.connection.reused', m.reused);
          const c = m.connection;
          const unix = unixSocketPath(c.key);
          if (unix !== undefined) {
            f.span.setAttribute('network.transport', 'unix');
            f.span.setAttribute('network.peer.address', unix);
          } else {
            if (c.remoteAddress !== undefined) f.span.setAttribute('network.peer.address', c.remoteAddress);
            if (c.remotePort !== undefined) f.span.setAttribute('network.peer.port', c.remotePort);
          }
          // The dial's marks are known now: a request that then fails before its head keeps them.
          if (!m.reused && !f.dialEvents) {
            f.dialEvents = true;
            addDialEvents(f, m.timings);
          }
        }
        const t = m.timings;
        contain(poolWait.record(Math.max(0, (t.socket ?? t.start) - t.start) / 1000, f.server));
      },
    ],
    [
      'hourglass:wire:headers',
      (msg) => {
        const { wire, response } = msg as { wire: WireRequest; response: Response };
        const f = inFlight.get(wire);
        if (f === undefined) return;
        f.status = response.status;
        f.version = protocolVersion(response.httpVersion);
        f.errorType = statusErrorType(response.status);
        if (!f.recording) return;
        f.span.setAttribute('http.response.status_code', f.status);
        f.span.setAttribute('network.protocol.version', f.version);
        if (f.errorType !== undefined) {
          f.span.setAttribute('error.type', f.errorType);
          f.span.setStatus({ code: SpanStatusCode.ERROR });
        }
        if (response.timings.response !== undefined) f.span.addEvent('hourglass.first_byte', eventTime(f, response.timings.response));
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
        failedParents.set(wire, f.parent);
        const phase = timeoutPhase(error);
        if (phase !== undefined) contain(timeouts.add(1, { ...f.server, 'hourglass.timeout.phase': phase }));
        // A wait that ended in a pool timeout is a pool wait too (the longest ones).
        if (phase === 'pool' && !f.connected) contain(poolWait.record((performance.now() - f.t0) / 1000, f.server));
        // An aborted request is not an error (as instrumentation-undici settled it).
        if (!isAbort(error)) {
          const a = errorAttributes(error);
          f.errorType = a['error.type'] as string | undefined;
          if (f.recording) f.span.setAttributes(a);
          // Through the redaction of `url.full` (a message quotes the URL, or a header line).
          if (error instanceof Error) f.span.recordException(redactedException(error));
          f.span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(error instanceof Error ? error.message : String(error)) });
        }
        finish(wire, f);
      },
    ],
    [
      'hourglass:connection:open',
      (msg) => {
        if (!measuring) return;
        const info = (msg as { connection: ConnectionInfo }).connection;
        const c = connState(info, 'idle', attrSets);
        conns.set(info, c);
        add(c.idle, 1);
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
        add(c[c.state], -1);
      },
    ],
  ];

  function moveConn(info: ConnectionInfo, to: 'active' | 'idle'): void {
    if (!measuring) return;
    let c = conns.get(info);
    if (c === undefined) {
      // Opened before instrument(): counted from now on.
      c = connState(info, to, attrSets);
      conns.set(info, c);
    } else {
      if (c.state === to) return;
      add(c[c.state], -1);
      c.state = to;
    }
    add(c[to], 1);
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

  return {
    disable(): void {
      if (!enabled) return;
      enabled = false;
      for (const [name, fn] of wrapped) diagnostics.unsubscribe(name, fn);
      const others = (onMeter.get(mp) ?? 1) - 1;
      if (others > 0) onMeter.set(mp, others);
      else onMeter.delete(mp);
      if (others > 0) {
        // Another instrumentation observes the same series on this meter: a 0 from this
        // one would overwrite its live counts. Just stop observing.
        counts.clear();
        open.removeCallback(observe);
      } else {
        // Reported at 0 at the next collection (see `observe`), then the callback goes.
        for (const a of counts.keys()) counts.set(a, 0);
        if (counts.size === 0) open.removeCallback(observe);
      }
      // Their end is not seen: the span ends marked so, and no duration is recorded (a
      // point would claim a request over, maybe a success, that may still fail).
      for (const [wire, f] of [...inFlight]) {
        inFlight.delete(wire);
        f.span.setAttribute('hourglass.instrumentation.disabled', true);
        f.span.end();
      }
    },
  };
}

/** Server attributes kept on hourglass's own metrics. */
const SERVER_KEYS: readonly string[] = ['server.address', 'server.port', 'url.scheme'];

/** What `propagation.inject` writes through: the request's headers, before the head is sent. */
const HEADER_SETTER = {
  set(carrier: { wire: WireRequest; traceparent: boolean; tracestate: boolean }, key: string, value: unknown): void {
    // A propagator that hands a number, undefined or an array loses that header, not the request.
    if (typeof key !== 'string' || typeof value !== 'string') return;
    carrier.wire.setHeader(key, value);
    const lower = key.toLowerCase();
    if (lower === 'traceparent') carrier.traceparent = true;
    else if (lower === 'tracestate') carrier.tracestate = true;
  },
};

/**
 * A counted connection in `state`, with the attribute sets of both states — one pair per
 * pool key and peer address, shared by all its connections (`sets` caches them).
 */
function connState(info: ConnectionInfo, state: 'active' | 'idle', sets: Map<string, { active: Attrs; idle: Attrs }>): ConnState {
  const id = `${info.key} ${info.remoteAddress ?? ''}`;
  let pair = sets.get(id);
  if (pair === undefined) {
    const a = keyAttributes(info.key);
    if (info.remoteAddress !== undefined) a['network.peer.address'] = info.remoteAddress;
    pair = { active: { ...a, 'http.connection.state': 'active' }, idle: { ...a, 'http.connection.state': 'idle' } };
    sets.set(id, pair);
  }
  return { state, active: pair.active, idle: pair.idle };
}

/**
 * What `recordException` gets for `err`: its name and code, message and stack passed
 * through {@link redactText} (the `exception` event would otherwise ship the secrets
 * `url.full` hides).
 */
function redactedException(err: Error): { name: string; message: string; stack?: string; code?: string } {
  const e: { name: string; message: string; stack?: string; code?: string } = { name: err.name, message: redactText(err.message) };
  if (typeof err.stack === 'string') e.stack = redactText(err.stack);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') e.code = code;
  return e;
}

/** Span events at the dial's marks of a fresh connection (added when it is handed over). */
function addDialEvents(f: InFlight, t: Timings): void {
  const span = f.span;
  if (t.lookup !== undefined && t.socket !== undefined && t.lookup > t.socket) span.addEvent('hourglass.dns', eventTime(f, t.lookup));
  if (t.connect !== undefined) span.addEvent('hourglass.connect', eventTime(f, t.connect));
  if (t.secureConnect !== undefined) span.addEvent('hourglass.tls', eventTime(f, t.secureConnect));
}

/**
 * A timings mark (epoch ms, whole: `Date.now()`) as an event time on the span's own
 * clock: a `performance.now()` timestamp, which the SDK places relative to the span's
 * start as it does the end (an epoch number would be taken as is, against a start the
 * SDK stamps with a whole-ms `Date.now()`, and could land after the end). Kept within
 * [the span's start, now], so an event never falls outside its span (it is added before
 * the end).
 */
function eventTime(f: InFlight, mark: number): number {
  return Math.min(Math.max(mark - performance.timeOrigin, f.t0), performance.now());
}
