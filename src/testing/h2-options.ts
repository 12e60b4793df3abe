/**
 * h2-options — what a fault server's HTTP/2 connections do at connection level
 * (`FaultServer.start({ h2: {...} })`), read when each connection starts.
 *
 * Owns: {@link H2FaultOptions} only (types, no code).
 */

import type { H2Connection } from './h2-conn.js';

/** Connection-level HTTP/2 behaviour of a fault server (`FaultServer.start({ h2: {...} })`). */
export interface H2FaultOptions {
  /** Milliseconds before the server's SETTINGS go out, or `'never'`. Default 0 (with the preface reply). */
  settingsDelay?: number | 'never';
  /** SETTINGS_MAX_CONCURRENT_STREAMS to announce (none by default: unlimited). */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE to announce: the client's upload window per stream (default 65 535, not sent). */
  initialWindowSize?: number;
  /** More SETTINGS pairs `[id, value]`, sent as given (after the ones above). */
  settings?: readonly (readonly [number, number])[];
  /**
   * Which receive windows the server reopens as it consumes upload bytes: `'all'`
   * (default), `'streams'` (never the connection's), `'connection'` (never a
   * stream's) or `'none'` (a window that never opens).
   */
  windowUpdates?: 'all' | 'streams' | 'connection' | 'none';
  /** `true` (default) ACKs PINGs at once, a number after that many ms, `false` never. */
  pingAck?: boolean | number;
  /** Refuse (RST_STREAM REFUSED_STREAM) streams beyond `maxConcurrentStreams`. Default true. */
  enforceMaxConcurrentStreams?: boolean;
  /** Runs when a connection speaks HTTP/2 (after the preface): a per-connection script. */
  onConnection?: (conn: H2Connection) => void;
}
