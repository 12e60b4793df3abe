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
 * Never: changes what is recorded; one wrapper per span, no closure per call.
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

type Method = 'setAttribute' | 'setAttributes' | 'addEvent' | 'setStatus' | 'recordException' | 'end';

/** A span whose every method call is contained: a throw is dropped, a rejection handled. */
export class ContainedSpan {
  constructor(readonly span: Span) {}

  setAttribute(key: string, value: AttributeValue): void {
    this.call('setAttribute', key, value);
  }

  setAttributes(attributes: Attributes): void {
    this.call('setAttributes', attributes);
  }

  addEvent(name: string, time: TimeInput): void {
    this.call('addEvent', name, time);
  }

  setStatus(status: SpanStatus): void {
    this.call('setStatus', status);
  }

  recordException(exception: Exception): void {
    this.call('recordException', exception);
  }

  end(): void {
    this.call('end');
  }

  private call(method: Method, ...args: unknown[]): void {
    try {
      const span = this.span;
      const r: unknown = (span[method] as (...a: unknown[]) => unknown).apply(span, args);
      if (r !== span) contain(r);
    } catch {
      // Telemetry never breaks a request.
    }
  }
}
