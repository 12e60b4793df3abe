/**
 * h2/response — the response heads of one HTTP/2 stream (SPEC §11, §13): interim (1xx) heads
 * (at most {@link MAX_INTERIM}, `got100Continue` / `got1xxResponse`), the final head (its
 * `:status` and fields checked, the write clocks stopped, the body channel and the Response
 * made and handed to the caller) and the trailers.
 *
 * Owns: what the stream does when a head arrives: its checks, the first-byte timing and trace
 * events, the response-phase switch to `body`. Functions over the stream, which owns the state
 * (h2/stream.ts); none of its own.
 *
 * Never: builds the Response's fields itself (h2/head.ts does), reads the body, retries.
 *
 * Invariants: a head that fails its checks fails the stream (RST_STREAM PROTOCOL_ERROR or
 * CANCEL) and is never handed on; the final head is handed on at most once, and only after
 * `wire:headers` is published; trailers that fail their checks are never exposed.
 */

import * as http2 from 'node:http2';
import { BodyChannel, watchUnread } from '../conn/body.js';
import { isDecodable } from '../decompress.js';
import { EXCHANGE_SLOT } from '../deadline.js';
import { ProtocolError } from '../errors.js';
import { emit } from '../trace.js';
import { wireHeaders } from '../wire.js';
import { makeResponse, readFields } from './head.js';
import type { H2Stream } from './stream.js';

const { WRITE, HEADERS, READ_IDLE, RATE, CONTINUE, WRITE_IDLE } = EXCHANGE_SLOT;
const { NGHTTP2_CANCEL, NGHTTP2_PROTOCOL_ERROR } = http2.constants;
/** Interim (1xx) heads allowed before the final one (SPEC §11, as HTTP/1.1). */
const MAX_INTERIM = 10;

function firstByte(hs: H2Stream): void {
  if (hs.req.timings.response !== undefined) return;
  hs.req.timings.response = Date.now();
  emit(hs.req.trace, 'gotFirstResponseByte');
}

export function onInterim(hs: H2Stream, h: http2.IncomingHttpHeaders, flat: readonly string[]): void {
  hs.session.touch('block');
  const status = Number(h[':status']);
  if (!(status >= 100 && status < 200) || hs.failed !== undefined) return;
  // As on HTTP/1.1 (SPEC §11): more than 10 interim heads fail the stream (issue #16 adv4 F3).
  if (++hs.interims > MAX_INTERIM) {
    hs.fail(new ProtocolError('too-many-1xx', `more than ${MAX_INTERIM} interim (1xx) responses`, { requestSent: hs.sent }));
    return;
  }
  // An interim head is checked as a final one is, as over HTTP/1.1 (thirteenth attack F2:
  // 1xx heads of any size went through to got1xxResponse).
  const fields = readFields(flat, [], { maxBytes: hs.session.maxHeaderBytes, trailers: false, requestSent: hs.sent });
  if (fields instanceof ProtocolError) {
    hs.fail(fields, fields.reason === 'h2-protocol-error' ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_CANCEL);
    return;
  }
  firstByte(hs);
  if (hs.clock.dueAt(READ_IDLE) !== Number.POSITIVE_INFINITY) hs.clock.after(READ_IDLE, hs.req.timeouts.readIdleTimeout);
  if (status === 100) emit(hs.req.trace, 'got100Continue');
  emit(hs.req.trace, 'got1xxResponse', { status, headers: fields });
}

export function onHead(hs: H2Stream, h: http2.IncomingHttpHeaders, flat: readonly string[]): void {
  if (hs.failed !== undefined) return;
  const req = hs.req;
  hs.session.touch('block');
  // RFC 9110 §15: a status is 100-599; nghttp2 takes any three digits and node hands them
  // over as a number, so `099` arrives as 99 (issue #16 adv4 F5).
  const status = Number(h[':status']);
  const rawHeaders: string[] = [];
  const fields = !(Number.isInteger(status) && status >= 100 && status <= 599)
    ? new ProtocolError('h2-protocol-error', `malformed HTTP/2 response: :status ${String(h[':status'])} is not 100-599`, { h2Code: 1, requestSent: hs.sent })
    : readFields(flat, rawHeaders, { maxBytes: hs.session.maxHeaderBytes, trailers: false, requestSent: hs.sent });
  if (fields instanceof ProtocolError) {
    hs.fail(fields, fields.reason === 'h2-protocol-error' ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_CANCEL);
    return;
  }
  hs.session.answered();
  firstByte(hs);
  hs.headSeen = true;
  hs.clock.unset(HEADERS);
  // SPEC §11: the final head stops both write clocks (an upload may go on: full duplex).
  hs.clock.unset(WRITE);
  hs.clock.unset(WRITE_IDLE);
  if (hs.waitingContinue) {
    hs.waitingContinue = false;
    hs.clock.unset(CONTINUE);
    hs.upload?.abandon();
  }
  const cl = h['content-length'];
  const noBody = req.method === 'HEAD' || status === 204 || status === 304;
  const length = noBody ? 0 : typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : -1;
  hs.rawLimit = req.decodes && isDecodable(h['content-encoding'] as string | undefined) ? Number.POSITIVE_INFINITY : req.maxResponseBytes;
  if (length > 0) {
    hs.recvMark = hs.session.recvData();
    hs.dataMark = hs.session.dataIn;
  }
  const channel = new BodyChannel(hs, length);
  hs.channel = channel;
  const res = makeResponse(
    { status, headers: fields, rawHeaders, url: req.url, method: req.method, reused: req.reused, timings: req.timings },
    channel,
  );
  watchUnread(res, channel);
  // Before anything can read (or settle) the body, so it always precedes wire:end.
  if (req.wire !== undefined) wireHeaders(req.wire, res);
  hs.reqPhase = 'body';
  if (req.timeouts.minThroughput !== undefined && !noBody) hs.clock.set(RATE, hs.meter.begin(0, req.timeouts.minThroughput));
  const resolve = hs.resolveHead!;
  hs.resolveHead = hs.rejectHead = undefined;
  resolve(res);
}

export function onTrailers(hs: H2Stream, flat: readonly string[]): void {
  if (hs.failed !== undefined) return;
  const fields = readFields(flat, [], { maxBytes: hs.session.maxHeaderBytes, trailers: true, requestSent: hs.sent });
  if (fields instanceof ProtocolError) {
    // Before 'end': the body fails and no trailer is exposed.
    hs.fail(fields, fields.reason === 'h2-protocol-error' ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_CANCEL);
    return;
  }
  const into = hs.channel?.trailers;
  if (into !== undefined) Object.assign(into, fields);
}
