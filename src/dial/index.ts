/**
 * dial — the bottom of the stack: from `host:port` to a connected TCP socket.
 * The transport uses `Dialer`; `tls.ts` upgrades what it returns.
 */

export type { DialerOptions, DialMarks, DialRequest, ResolvedDialerOptions } from './dialer.js';
export { Dialer, interleave } from './dialer.js';
