/**
 * async-context — a kept-alive socket's callbacks run in the context of the request
 * they now serve, not of the one that opened the socket.
 *
 * Owns: the one place that touches a socket handle's async identity. Node runs a
 * handle's callbacks (reads, EOF, errors) in the async context current when the handle
 * was created; a connection opened under trace A and reused for request B would deliver
 * B's body events, trace hooks and channel messages inside A's context, so a request made
 * there carries A's `traceparent` (AsyncLocalStorage, OpenTelemetry's context manager).
 * Node's own http Agent gives a reused socket's handle a new async id for that reason
 * (`asyncReset`); this does the same when a reused connection takes a new exchange.
 *
 * What the handle does not run — the end of the turn shared by every socket (the
 * writer's uncork and the write callbacks it causes) and the connection's phase clock —
 * runs in an {@link ExchangeScope}, one per exchange.
 *
 * Never: allocates for the handle (it is its own resource, as when it was made), or
 * fails: a socket without a native handle (a custom Dialer's stream) keeps its context.
 *
 * Invariant: both are made synchronously from the request's own call path
 * (`roundTrip`), so the context they capture is that request's.
 */

import { AsyncResource } from 'node:async_hooks';
import type { Socket } from 'node:net';

/** The async context of one exchange, for the work no socket callback carries. */
export class ExchangeScope extends AsyncResource {
  constructor() {
    super('hourglass.exchange');
  }
}

/** The part of a socket's native handle this module uses (not in Node's public types). */
interface ResettableHandle {
  asyncReset?: (resource: object) => void;
}

/** Gives `socket`'s callbacks the caller's async context from now on. */
export function adoptCallerContext(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: ResettableHandle | null })._handle;
  if (handle != null && typeof handle.asyncReset === 'function') handle.asyncReset(handle);
}
