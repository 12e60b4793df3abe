// Type test (SPEC §2, §4; issue 14 items 13–14): compiled, never run, by
// `tsc -p test/types/tsconfig.json` (strict, noUncheckedIndexedAccess off — a user's
// default `--strict`) from `npm run lint`, and by build:test. Every `@ts-expect-error`
// line must fail to compile, else tsc reports the directive as unused.
import {
  type ActivePhase,
  type ConnectionInfo,
  type ErrorCode,
  HourglassError,
  isTimeout,
  type ProtocolReason,
  type Response,
  type ResponseHeaders,
  type TimeoutPhase,
  TimeoutError,
} from '../../src/index.js';

declare const res: Response;

// 13. Response headers: known names are string | undefined; set-cookie string[] | undefined.
export const ct: string | undefined = res.headers['content-type'];
export const len: string | undefined = res.headers['content-length'];
export const loc: string | undefined = res.headers.location;
export const sc: string[] | undefined = res.headers['set-cookie'];
export const other: string | string[] | undefined = res.headers['x-anything'];
export const whole: ResponseHeaders = res.headers;
// @ts-expect-error — a header may be absent: it is not a plain string.
export const notString: string = res.headers['content-type'];
// @ts-expect-error — set-cookie is an array, never a string.
export const scString: string | undefined = res.headers['set-cookie'];
// @ts-expect-error — an unknown name may be an array (in principle): not string | undefined.
export const otherString: string | undefined = res.headers['x-anything'];

// 14. isTimeout is a type guard; phases and codes are string-literal unions.
export function phaseOf(e: unknown): TimeoutPhase | undefined {
  if (isTimeout(e)) {
    e.phase satisfies TimeoutPhase;
    e.code satisfies 'ETIMEDOUT';
    e.activePhase satisfies ActivePhase | undefined;
    e.requestSent satisfies boolean;
    return e.phase;
  }
  return undefined;
}

export const writeIdle: TimeoutPhase = 'write-idle';
export const headersPhase: TimeoutPhase = 'response-headers';
// @ts-expect-error — no such phase ('response-header' without the s).
export const badPhase: TimeoutPhase = 'response-header';
// @ts-expect-error — no such phase.
export const badPhase2: TimeoutPhase = 'read-timeout';
// @ts-expect-error — 'request' is the overall timeout, never an active phase.
export const badActive: ActivePhase = 'request';

export function codeChecks(e: HourglassError, t: TimeoutError): void {
  e.code satisfies ErrorCode;
  if (e.code === 'HG_INVALID_ARG') return;
  if (e.code === 'ECONNREFUSED') return;
  if (e.code === 'CERT_HAS_EXPIRED') return;
  // @ts-expect-error — a misspelt code is not comparable with ErrorCode.
  if (e.code === 'HG_INVALID_ARGS') return;
  // @ts-expect-error — a TimeoutError's code is exactly 'ETIMEDOUT'.
  if (t.code === 'ABORT_ERR') return;
  if (t.phase === 'write-idle') return;
  // @ts-expect-error — not a TimeoutPhase.
  if (t.phase === 'headers') return;
}

// @ts-expect-error — not a ProtocolReason.
export const badReason: ProtocolReason = 'bad-status';
// @ts-expect-error — not an ErrorCode.
export const badCode: ErrorCode = 'HG_NOPE';

// 15. The diagnostics connection payload is typed.
export function addresses(c: ConnectionInfo): [string | undefined, number | undefined] {
  return [c.remoteAddress, c.remotePort];
}
