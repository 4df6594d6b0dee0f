import type { RelayContext } from "./context.js";
import { rooms } from "../io/typed.js";
import { TimeoutError, withTimeout } from "../timeout.js";

/**
 * Cluster presence through the adapter (`fetchSockets`), with a timeout of our own: the adapter's can
 * hang for a whole Redis outage. The answer is tri-state: a count per room, or "unknown". Callers tear
 * down only on a confirmed zero.
 */
export type Presence = { known: true; counts: Map<string, number> } | { known: false };

async function countMembers(
  fetch: (roomNames: string[]) => Promise<Array<{ rooms: Set<string> }>>,
  roomNames: string[],
  ctx: RelayContext,
): Promise<Presence> {
  if (roomNames.length === 0) return { known: true, counts: new Map() };
  try {
    const sockets = await withTimeout(fetch(roomNames), ctx.config.presenceTimeoutMs);
    const counts = new Map<string, number>(roomNames.map((r) => [r, 0]));
    for (const socket of sockets) for (const room of socket.rooms) if (counts.has(room)) counts.set(room, (counts.get(room) ?? 0) + 1);
    return { known: true, counts };
  } catch (err) {
    if (err instanceof TimeoutError) ctx.log.warn({ rooms: roomNames.length }, "presence lookup timed out");
    else ctx.log.warn({ err }, "presence lookup failed");
    return { known: false };
  }
}

/** Members of one room of a namespace, cluster-wide: a count, or null when unknown. */
export async function countIn(
  ctx: RelayContext,
  nsp: { in(room: string): { fetchSockets(): Promise<Array<{ rooms: Set<string> }>> } },
  room: string,
): Promise<number | null> {
  const presence = await countMembers((r) => nsp.in(r[0] ?? room).fetchSockets(), [room], ctx);
  return presence.known ? (presence.counts.get(room) ?? 0) : null;
}

/** Viewers per session, cluster-wide. */
export function viewerPresence(ctx: RelayContext, sessionIds: string[]): Promise<Presence> {
  return countMembers((r) => ctx.viewer.in(r).fetchSockets(), sessionIds.map(rooms.session), ctx);
}

/** CLI connections holding a session, cluster-wide. */
export function cliPresence(ctx: RelayContext, sessionId: string): Promise<Presence> {
  return countMembers((r) => ctx.relay.in(r).fetchSockets(), [rooms.cli(sessionId)], ctx);
}
