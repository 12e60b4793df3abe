/**
 * turn — work deferred to the end of the current event-loop turn, for every connection
 * at once: one `setImmediate` per turn, however many sockets asked.
 *
 * Owns: the list of {@link TurnEnd} objects due at the end of this turn. Used by the
 * request writer (a socket corked in the turn is uncorked: its requests go out after
 * the turn's reads) and by the connection (a socket that went idle in the turn is
 * unref'd, unless a request took it again first: the usual keep-alive case then costs
 * neither `unref()` nor `ref()`).
 *
 * Never runs anything synchronously, never touches a socket itself.
 *
 * Invariants: every object passed to {@link atTurnEnd} gets exactly one `turnEnd()` call
 * per `atTurnEnd` call, in the order asked, in the check phase of the same loop
 * iteration (objects asking during that phase run in the next one).
 */

/** Something with work to do once the current turn's callbacks have run. */
export interface TurnEnd {
  turnEnd(): void;
}

let due: TurnEnd[] = [];

/** Calls `t.turnEnd()` at the end of this turn (one shared `setImmediate`). */
export function atTurnEnd(t: TurnEnd): void {
  due.push(t);
  if (due.length === 1) setImmediate(runTurnEnd);
}

function runTurnEnd(): void {
  const list = due;
  due = [];
  for (const t of list) t.turnEnd();
}
