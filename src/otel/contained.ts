/**
 * contained — calls into the OpenTelemetry SDK that cannot break a request or the process.
 *
 * Owns: {@link ContainedSpan}, the span methods hourglass/otel calls, and
 * {@link contain}, for values the SDK hands back. The API types these methods as
 * returning the span or nothing, but a broken SDK may throw or return a promise that
 * rejects; a throw from one call must not skip the calls after it (a span left unended),
 * and a rejection nobody handles would, under Node's default `--unhandled-rejections=throw`,
 * end the process.
 *
 * Never: changes what is recorded, or allocates per call (no closures; one wrapper per span).
 */

import type { Attributes, AttributeValue, Exception, Span, SpanStatus, TimeInput } from '@opentelemetry/api';

const ignore = (): void => {};

/** Gives a thenable returned by the SDK a rejection handler (other values pass untouched). */
export function contain(value: unknown): void {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
  try {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') then.call(value, undefined, ignore);
  } catch {
    // A throwing `then` getter: nothing more to do.
  }
}

/** A span whose every method call is contained: a throw is dropped, a rejection handled. */
export class ContainedSpan {
  constructor(readonly span: Span) {}

  setAttribute(key: string, value: AttributeValue): void {
    try {
      const r: unknown = this.span.setAttribute(key, value);
      if (r !== this.span) contain(r);
    } catch {
      // Telemetry never breaks a request.
    }
  }

  setAttributes(attributes: Attributes): void {
    try {
      const r: unknown = this.span.setAttributes(attributes);
      if (r !== this.span) contain(r);
    } catch {
      // As above.
    }
  }

  addEvent(name: string, time: TimeInput): void {
    try {
      const r: unknown = this.span.addEvent(name, time);
      if (r !== this.span) contain(r);
    } catch {
      // As above.
    }
  }

  setStatus(status: SpanStatus): void {
    try {
      const r: unknown = this.span.setStatus(status);
      if (r !== this.span) contain(r);
    } catch {
      // As above.
    }
  }

  recordException(exception: Exception): void {
    try {
      contain(this.span.recordException(exception));
    } catch {
      // As above.
    }
  }

  end(): void {
    try {
      contain(this.span.end());
    } catch {
      // As above.
    }
  }
}
