/**
 * body-source — a response body that no connection produces (SPEC §12 `Response.from`):
 * a string, bytes or a stream fed into a {@link BodyChannel}, so such a Response reads
 * exactly like one off the wire (text/json/bytes/readInto/body/dump, `HG_BODY_USED`).
 *
 * Owns: the {@link BodyProducer} that pulls from the source on demand, and the input
 * type {@link ResponseBodyInit}.
 *
 * Never does: framing or decoding. Its one clock is the optional read-idle guard a
 * MockTransport asks for (SPEC §3 `readIdleTimeout`, as a wire body's): otherwise a stream
 * source's own pace is the body's pace; the caller's budget still ends when the body
 * settles (response.ts).
 *
 * Invariants: in-memory bodies are pushed whole at once (the channel settles at once, as
 * a body that arrived whole); a stream is read only while the consumer wants data, one
 * pull at a time; when the consumer abandons the body the stream is destroyed (or its
 * iterator returned) and nothing is pulled again. The read-idle clock counts only while
 * the consumer waits for bytes that have not come (the channel is `starving`), restarts
 * on every chunk and every new demand, and is disarmed once the body settles. A source
 * that ends short of a declared `content-length` fails as a truncated wire body.
 */

import { Readable } from 'node:stream';
import { LongTimer } from './deadline.js';
import { HourglassError, invalidArg } from './errors.js';
import { describeValue } from './options.js';
import { BodyChannel, type BodyProducer } from './conn/body.js';
import { asBytes } from './conn/body-error.js';

/**
 * A body for `Response.from`: a string (UTF-8), bytes, or a stream — a Node `Readable`,
 * a web `ReadableStream` or any async iterable of byte chunks (strings are UTF-8).
 */
export type ResponseBodyInit = string | Uint8Array | ArrayBuffer | AsyncIterable<Uint8Array | string>;

/** A body whose bytes are known now, or undefined for a stream. */
export function memoryBody(body: ResponseBodyInit | null | undefined): Buffer | undefined {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function') return undefined;
  throw invalidArg('Response.from: body must be a string, a Uint8Array, an ArrayBuffer or a stream');
}

/** A read-idle guard for a stream source: silence of `timeout` ms while read fails with `error()`. */
export interface SourceIdle {
  /** ms; 0 or Infinity: none. */
  readonly timeout: number;
  readonly error: () => Error;
}

/**
 * The body's declared length (a `content-length` the source must fill): a source that
 * ends short of it fails with `error()` — the error a wire body cut short gives.
 */
export interface DeclaredLength {
  readonly length: number;
  readonly error: () => Error;
}

/** Ends `ch`, or fails it when fewer bytes came than `declared` promised. */
function endOrShort(ch: BodyChannel, declared: DeclaredLength | undefined): void {
  if (declared !== undefined && ch.received < declared.length) ch.fail(declared.error());
  else ch.end();
}

/**
 * Makes the channel for a body and the function that starts feeding it; call `start`
 * once the Response holds the channel (its settlement must hear the end).
 */
export function sourceChannel(
  body: ResponseBodyInit | null | undefined,
  idle?: SourceIdle,
  declared?: DeclaredLength,
): {
  channel: BodyChannel;
  start: () => void;
  /** The body is a stream (pulled on demand). */
  stream: boolean;
} {
  let bytes = memoryBody(body);
  // Bytes past a declared content-length never reach the reader (the wire stops there).
  if (bytes !== undefined && declared !== undefined && bytes.length > declared.length) bytes = bytes.subarray(0, declared.length);
  if (bytes !== undefined) {
    const channel = new BodyChannel(IDLE_PRODUCER, bytes.length);
    return {
      channel,
      start: () => {
        if (bytes.length > 0) channel.push(bytes, true);
        endOrShort(channel, declared);
      },
      stream: false,
    };
  }
  const guard = idle === undefined || idle.timeout === 0 || idle.timeout === Number.POSITIVE_INFINITY ? undefined : idle;
  const producer = new StreamProducer(body as AsyncIterable<Uint8Array | string>, guard, declared);
  const channel = new BodyChannel(producer, -1);
  producer.channel = channel;
  return { channel, start: () => undefined, stream: true };
}

/**
 * A stream chunk's bytes: a string (UTF-8), any ArrayBufferView or an ArrayBuffer. Any
 * other value fails the body with `HourglassError` `HG_BAD_RESPONSE` (cause: a
 * TypeError), not a raw error from Buffer (SPEC §4).
 */
function chunkBytes(v: unknown): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  const bytes = asBytes(v);
  if (bytes !== undefined) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const what = describeValue(v);
  throw new HourglassError(`a response body stream yielded ${what}, not a string or bytes`, 'HG_BAD_RESPONSE', {
    cause: new TypeError(`a body chunk must be a string, an ArrayBufferView or an ArrayBuffer, got ${what}`),
  });
}

/** In-memory bodies are complete before anyone asks. */
const IDLE_PRODUCER: BodyProducer = {
  onDemand(): void {},
  onSettled(): void {},
};

/** Pulls a stream into its channel while the consumer wants data. */
class StreamProducer implements BodyProducer {
  channel: BodyChannel | undefined;
  private iterator: AsyncIterator<Uint8Array | string> | undefined;
  private pulling = false;
  private wanted = false;
  private done = false;
  private readonly idleTimer: LongTimer | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array | string>,
    private readonly idle: SourceIdle | undefined,
    private readonly declared: DeclaredLength | undefined,
  ) {
    if (idle !== undefined) this.idleTimer = new LongTimer(() => this.idleDue());
  }

  onDemand(): void {
    this.wanted = true;
    // The consumer waits from now on: the read-idle clock restarts (as a connection's does).
    if (!this.done) this.idleTimer?.start(this.idle!.timeout);
    if (!this.pulling && !this.done) void this.pump();
  }

  onSettled(complete: boolean): void {
    this.idleTimer?.cancel();
    if (this.done) return;
    this.done = true;
    if (complete) return;
    // Abandoned: the source stops producing.
    this.stop();
  }

  /** The read-idle clock ran out: a failure only if the consumer was waiting for bytes. */
  private idleDue(): void {
    const ch = this.channel;
    if (this.done || ch === undefined || !ch.starving) return;
    this.done = true;
    ch.fail(this.idle!.error());
    // The channel settles and tells onSettled(false), which stops the source; if it was
    // already settled (nobody reading), stop it here.
    this.stop();
  }

  /** Stops the source: a Readable is destroyed, an iterator returned (now or after its pending pull). */
  private stop(): void {
    if (this.source instanceof Readable) this.source.destroy();
    else if (!this.pulling) void this.iterator?.return?.()?.catch(() => undefined);
  }

  private async pump(): Promise<void> {
    const ch = this.channel!;
    this.pulling = true;
    try {
      this.iterator ??= this.source[Symbol.asyncIterator]();
      while (this.wanted && !this.done) {
        const r = await this.iterator.next();
        if (this.done) break;
        if (r.done === true) {
          this.done = true;
          this.idleTimer?.cancel();
          endOrShort(ch, this.declared);
          return;
        }
        const chunk = chunkBytes(r.value);
        if (chunk.length === 0) continue;
        const room = this.declared === undefined ? Number.POSITIVE_INFINITY : this.declared.length - ch.received;
        if (chunk.length >= room) {
          // The declared length is filled: the body ends there, as on the wire; the rest
          // of the source is never read.
          if (room > 0) ch.push(chunk.subarray(0, room), true);
          this.done = true;
          this.idleTimer?.cancel();
          ch.end();
          if (this.source instanceof Readable) this.source.destroy();
          break; // an iterator is returned below
        }
        this.idleTimer?.start(this.idle!.timeout); // bytes came: the silence starts again
        if (!ch.push(chunk, true)) this.wanted = false;
      }
    } catch (err) {
      if (!this.done) {
        this.done = true;
        this.idleTimer?.cancel();
        ch.fail(err instanceof Error ? err : new Error(String(err)));
      }
      return;
    } finally {
      this.pulling = false;
    }
    if (this.done && !(this.source instanceof Readable)) {
      // Abandoned while a pull was pending: let the iterator clean up.
      void this.iterator?.return?.()?.catch(() => undefined);
    }
  }
}
