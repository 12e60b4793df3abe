/**
 * kernel-queue — how many bytes a TCP socket's kernel send queue still holds (sent or not,
 * not yet acknowledged by the peer), read from Linux's /proc/net/tcp{,6} by the socket's
 * inode.
 *
 * Why: the kernel's send and the peer's receive buffers hold megabytes, and the kernel
 * says "writable" again only once a third of the send buffer has drained, so a peer
 * that reads slowly but steadily (100 KB/s) shows no progress to libuv for many
 * seconds. The acknowledged-bytes count in the kernel moves every time the peer reads
 * a segment's worth; the write-idle clock (SPEC §11) reads it when it suspects a stall.
 *
 * Owns: the process's last reading of the tables. The tables list every TCP socket of the
 * host, TIME_WAIT ones included, so on a busy host one reading costs milliseconds: it is
 * shared by every socket of the process for {@link FRESH_MS}, and for ten times what it
 * cost up to {@link MAX_STALE_MS} (reading them takes a bounded share of the event loop,
 * however many connections look at once). Reads only, never on the hot path (only when the write-idle
 * clock comes due while bytes wait). Never throws: anything unknown is `-1` ("cannot
 * tell"), on other systems always.
 */

import { readFileSync, readlinkSync } from 'node:fs';
import { now } from '../deadline.js';

/** One reading of the tables serves every socket for at least this long (ms)... */
const FRESH_MS = 5;
/** ...and for this many times what reading them took, up to {@link MAX_STALE_MS}. */
const COST_FACTOR = 10;
/** The most a reading serves (ms): a write-idle judgement must still see a slow peer's progress. */
const MAX_STALE_MS = 50;
const FILES = ['/proc/net/tcp', '/proc/net/tcp6'];
/** The last reading, held weakly (it may be megabytes): the GC may drop it, which costs a new reading. */
let last: WeakRef<{ tables: string[] }> | undefined;
let freshUntil = Number.NEGATIVE_INFINITY;
let reads = 0;

/** How many times the tables were read (for tests). @internal */
export function kernelQueueReads(): number {
  return reads;
}

function readTables(): string[] {
  const t = now();
  const held = t < freshUntil ? last?.deref() : undefined;
  if (held !== undefined) return held.tables;
  const tables: string[] = [];
  for (const file of FILES) {
    try {
      tables.push(readFileSync(file, 'latin1'));
    } catch {
      // not there (no IPv6, no /proc): the other may be
    }
  }
  reads++;
  const done = now();
  last = new WeakRef({ tables });
  freshUntil = done + Math.max(FRESH_MS, Math.min(COST_FACTOR * (done - t), MAX_STALE_MS));
  return tables;
}

interface HandleInternals {
  _handle?: { fd?: unknown } | null;
  _parent?: HandleInternals | null;
}

const supported = process.platform === 'linux';
const inodes = new WeakMap<object, string>();

/** The socket's inode as /proc/net/tcp prints it, or '' when it cannot be known. */
function inodeOf(socket: object): string {
  const known = inodes.get(socket);
  if (known !== undefined) return known;
  let inode = '';
  let s: HandleInternals | null | undefined = socket as HandleInternals;
  for (let depth = 0; s != null && depth < 4; depth++, s = s._parent) {
    const fd = s._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (m !== null) inode = m[1]!;
      } catch {
        // no /proc: cannot tell
      }
      break;
    }
  }
  if (inode !== '') inodes.set(socket, inode);
  return inode;
}

function findTxQueue(table: string, inode: string): number {
  const needle = ` ${inode} `;
  const at = table.indexOf(needle);
  if (at === -1) return -1;
  const lineStart = table.lastIndexOf('\n', at) + 1;
  const fields = table.slice(lineStart, at).trim().split(/\s+/);
  // sl local rem st tx_queue:rx_queue ...
  const queues = fields[4];
  if (queues === undefined) return -1;
  const tx = Number.parseInt(queues.split(':')[0]!, 16);
  return Number.isFinite(tx) ? tx : -1;
}

/**
 * Bytes in the kernel's send queue of `socket` (or of the TCP socket under a TLS socket),
 * or -1 when that cannot be told (not Linux, no /proc, a Unix socket).
 */
export function kernelSendQueue(socket: object): number {
  if (!supported) return -1;
  const inode = inodeOf(socket);
  if (inode === '') return -1;
  for (const table of readTables()) {
    const n = findTxQueue(table, inode);
    if (n !== -1) return n;
  }
  return -1;
}
