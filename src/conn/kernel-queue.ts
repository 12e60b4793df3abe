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
 * Owns: nothing; reads only, never on the hot path (only when the write-idle clock
 * comes due while bytes wait). Never throws: anything unknown is `-1` ("cannot tell"),
 * on other systems always.
 */

import { readFileSync, readlinkSync } from 'node:fs';

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
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    const n = findTxQueue(table, inode);
    if (n !== -1) return n;
  }
  return -1;
}
