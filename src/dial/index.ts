/**
 * dial — the bottom of the stack: from `host:port` (or a Unix socket path) to a connected socket.
 * The transport uses `Dialer`; `tls.ts` upgrades what it returns.
 */

export type { DialerOptions, DialMarks, DialRequest, ResolvedDialerOptions } from './dialer.js';
export { Dialer, interleave } from './dialer.js';
