/**
 * cli/sink — moving a response body into where `hourglass get` writes it (a file, stdout,
 * or nowhere), with backpressure, curl's refusal to write binary to a terminal, and the
 * exit codes of a body that ended early.
 *
 * Owns: {@link copyBody}. Invariants: the listeners it puts on the sink are the same
 * three (`error`, `drain`, `close`) however large the body, and are removed when it
 * returns or throws; a sink failure is a {@link WriteError} (exit 23) and destroys the
 * body (closing its connection); a body cut short is a {@link BodyCutError} saying how
 * many bytes were missing (18) or which system error cut it (56).
 */

import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { BodyCutError, describeSystemError, EXIT, systemCode, WriteError } from './exit-codes.js';

/** How {@link copyBody} treats the body. */
export interface CopyOptions {
  /** Refuse a body holding a NUL byte (stdout is a terminal and `-o -` was not given). */
  refuseBinary: boolean;
  /** Bytes expected (the response's Content-Length of an unencoded body), for messages. */
  expected: number | undefined;
  /** Called after every chunk with the bytes so far and the chunk. */
  progress(received: number, chunk: Buffer): void;
}

/** What curl says, in our words, when it will not write binary to a terminal. */
export const BINARY_HINT =
  'the body is binary and would scramble the terminal: use "-o -" to make hourglass ' +
  'write it to the terminal anyway, or "-o FILE" to save it to a file';

/**
 * Streams `body` into `sink` (or counts and drops it when `sink` is undefined); resolves
 * the byte count once a file sink has flushed. `process.stdout` is never ended.
 */
export async function copyBody(
  body: Readable,
  sink: Writable | undefined,
  opts: CopyOptions,
): Promise<number> {
  let bytes = 0;
  let sinkError: Error | undefined;
  // One waiter for the sink's next `drain`/`close`/`error`: the listeners below stay put
  // for the whole copy instead of being added per full buffer (which leaked two per wait).
  let waiter: (() => void) | undefined;
  const wake = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  const onError = (err: Error): void => {
    sinkError ??= err;
    body.destroy();
    wake();
  };
  if (sink !== undefined) {
    sink.on('error', onError);
    sink.on('drain', wake);
    sink.on('close', wake);
  }
  const failed = (): WriteError => new WriteError(`failed writing the body: ${sinkError?.message}`, sinkError);
  try {
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        if (opts.refuseBinary && buf.includes(0)) {
          body.destroy();
          throw new WriteError(BINARY_HINT, Object.assign(new Error('binary output'), { code: 'EBINARY' }));
        }
        bytes += buf.length;
        opts.progress(bytes, buf);
        if (sink !== undefined && !sink.write(buf) && !sink.destroyed && sinkError === undefined) {
          await new Promise<void>((resolve) => {
            waiter = resolve;
          });
        }
        if (sinkError !== undefined) throw failed();
      }
    } catch (err) {
      if (sinkError !== undefined) throw failed();
      throw cutShort(err, bytes, opts.expected);
    }
    if (sink !== undefined && sink !== process.stdout) {
      // A file's last write and its close fail after end(): the callback gets that error
      // (possibly before the 'error' event fires), and 'close' comes last, so wait for it.
      await new Promise<void>((resolve) => {
        let closed = sink.closed;
        let ended = false;
        const settle = (): void => {
          if (!closed || !ended) return;
          sink.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          closed = true;
          settle();
        };
        sink.on('close', onClose);
        sink.end((err?: Error | null) => {
          if (err) sinkError ??= err;
          ended = true;
          settle();
        });
      });
    }
    if (sinkError !== undefined) throw failed();
    return bytes;
  } finally {
    if (sink !== undefined) {
      sink.off('error', onError);
      sink.off('drain', wake);
      sink.off('close', wake);
    }
  }
}

// Private implementation past this point.

/** A body that ended early, worded as curl does: how much was missing, or what cut it. */
function cutShort(err: unknown, received: number, expected: number | undefined): unknown {
  if (!(err instanceof ProtocolError) || err.reason !== 'truncated-body') return err;
  const sys = systemCode(err);
  if (sys !== undefined) {
    return new BodyCutError(
      `receiving the body failed after ${received} bytes: ${describeSystemError(sys)}`,
      err,
      EXIT.recv,
    );
  }
  const missing =
    expected !== undefined && expected > received
      ? `${expected - received} of ${expected} bytes missing`
      : `after ${received} bytes, before the body's end`;
  return new BodyCutError(`connection closed with the body cut short: ${missing}`, err, EXIT.truncated);
}
