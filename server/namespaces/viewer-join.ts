import type { SessionEventFrame } from "../../protocol/index.js";
import { closeForRetry } from "../io/retry.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";
import { direct, rooms, type TypedSocket } from "../io/typed.js";
import type { SessionView, Snapshot } from "../state/types.js";
import { expiryFrom, sessionTtl, type RelayContext } from "../sessions/context.js";

/**
 * The viewer join sequence (legacy 3.1): `connected`, then the snapshot (or, for a resume, the events
 * after the client's lastSeq), then `synced`. The socket joins the room before the state is read, so no
 * event published meanwhile is missed; one that is both live and covered by the join is a duplicate by
 * `seq`, which clients (and the legacy bridge) drop.
 */
export async function joinViewer(ctx: RelayContext, socket: TypedSocket<"/viewer">): Promise<void> {
  const { sessionId, lastSeq, userId } = socket.data;
  const room = rooms.session(sessionId);
  let view: SessionView | null;
  try {
    // Ownership first: another user's viewer must never be in the room, not even for a round trip.
    const owner = await ctx.state.sessions.get(sessionId);
    if (!owner || owner.userId !== userId) return refuseUnknown(ctx, socket, sessionId);
    // Then join, then read: no event published meanwhile can be missed (a duplicate is dropped by seq).
    socket.join(room);
    view = await ctx.state.sessions.view(sessionId, lastSeq ?? undefined);
  } catch (err) {
    ctx.log.error({ err, sessionId }, "viewer join failed: shared state unavailable");
    reportRefusal(ctx, "unavailable", wireOf(socket), { namespace: "/viewer", sessionId }, "viewer join refused: shared state unavailable");
    direct(socket).emit("error", { code: "unavailable", message: "Failed to load session snapshot" });
    if (!closeForRetry(socket)) socket.disconnect(true);
    return;
  }
  if (!view || view.record.userId !== userId) return refuseUnknown(ctx, socket, sessionId);
  const { record, snapshot } = view;
  if (!record.live) return replayEnded(ctx, socket, sessionId, snapshot);

  const connected: Parameters<typeof socket.emit<"connected">>[1] = {
    sessionId,
    lastSeq: record.seq,
    isActive: record.isActive,
    lastHeartbeatAt: record.lastHeartbeatAt,
    sessionName: record.sessionName,
  };
  if (view.log?.complete && lastSeq !== null) {
    connected.resumedFrom = lastSeq;
    socket.emit("connected", connected);
    for (const entry of view.log.events) socket.emit("event", frameOf(entry.eventJson, entry.seq));
  } else {
    socket.emit("connected", connected);
    sendSnapshot(socket, snapshot, record.seq);
  }
  socket.emit("synced", { sessionId, lastSeq: record.seq });
  socket.data.joined = true;
  const now = ctx.clock();
  ctx.state.sessions
    .touch(sessionId, expiryFrom(ctx.config, record.isEphemeral, now), sessionTtl(ctx.config, record.isEphemeral))
    .catch((err: unknown) => ctx.log.warn({ err, sessionId }, "could not refresh session expiry"));
}

/** Heartbeat then `session_active`, each under the current seq (legacy 3.1 steps 3-4, and `resync`). */
export function sendSnapshot(socket: TypedSocket<"/viewer">, snapshot: Snapshot, seq: number): void {
  if (snapshot.heartbeatJson !== undefined) socket.emit("event", { ...frameOf(snapshot.heartbeatJson, seq), snapshot: true });
  if (snapshot.hasState) socket.emit("event", { event: stateEvent(snapshot.stateJson), seq, snapshot: true });
}

function refuseUnknown(ctx: RelayContext, socket: TypedSocket<"/viewer">, sessionId: string): void {
  reportRefusal(ctx, "not_found", wireOf(socket), { namespace: "/viewer", sessionId }, "viewer of an unknown session refused");
  const to = direct(socket);
  to.emit("connected", { sessionId, replayOnly: true });
  to.emit("error", { code: "not_found", message: "Session not found" });
  socket.disconnect(true);
}

/** Legacy 3.1 case B: the session is no longer live; replay its last snapshot and say so. */
function replayEnded(ctx: RelayContext, socket: TypedSocket<"/viewer">, sessionId: string, snapshot: Snapshot): void {
  if (!snapshot.hasState) return refuseUnknown(ctx, socket, sessionId);
  socket.leave(rooms.session(sessionId));
  const to = direct(socket);
  to.emit("connected", { sessionId, replayOnly: true });
  to.emit("event", { event: stateEvent(snapshot.stateJson), replay: true });
  to.emit("disconnected", { reason: "Session is no longer live (snapshot replay)." });
  socket.disconnect(true);
}

function stateEvent(stateJson: string | undefined): Record<string, unknown> {
  return stateJson === undefined ? { type: "session_active" } : { type: "session_active", state: JSON.parse(stateJson) as unknown };
}

export function frameOf(eventJson: string | undefined, seq: number): SessionEventFrame {
  return eventJson === undefined ? { seq } : { event: JSON.parse(eventJson) as unknown, seq };
}
