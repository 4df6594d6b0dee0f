import type { SessionEventFrame } from "../../protocol/index.js";
import { lastWords, rooms, type TypedSocket } from "../io/typed.js";
import type { SessionView, Snapshot } from "../state/types.js";
import { expiryFrom, sessionTtl, type RelayContext } from "../sessions/context.js";

/**
 * The viewer join sequence (legacy 3.1). The socket joins the session room before the state is read,
 * so no event published meanwhile can be missed; an event that is both live and in the replay is a
 * duplicate by `seq`, which clients drop (they keep the highest seq seen).
 */
export async function joinViewer(ctx: RelayContext, socket: TypedSocket<"/viewer">): Promise<void> {
  const { sessionId, lastSeq, userId } = socket.data;
  const room = rooms.session(sessionId);
  socket.join(room);
  let view: SessionView | null;
  try {
    view = await ctx.state.sessions.view(sessionId, lastSeq ?? undefined);
  } catch (err) {
    ctx.log.error({ err, sessionId }, "viewer join failed: shared state unavailable");
    lastWords(socket).emit("error", { code: "unavailable", message: "Failed to load session snapshot" });
    socket.disconnect(true);
    return;
  }
  // Another user's session answers exactly like an unknown one (no existence leak).
  if (!view || view.record.userId !== userId) return refuseUnknown(socket, sessionId);
  const { record, snapshot } = view;
  if (!record.live) return replayEnded(socket, sessionId, snapshot);

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
  const now = ctx.clock();
  ctx.state.sessions
    .touch(sessionId, expiryFrom(ctx.config, record.isEphemeral, now), sessionTtl(ctx.config, record.isEphemeral))
    .catch((err: unknown) => ctx.log.warn({ err, sessionId }, "could not refresh session expiry"));
}

/** Heartbeat then `session_active`, each under the current seq (legacy 3.1 steps 3-4, and `resync`). */
export function sendSnapshot(socket: TypedSocket<"/viewer">, snapshot: Snapshot, seq: number): void {
  if (snapshot.heartbeatJson !== undefined) socket.emit("event", frameOf(snapshot.heartbeatJson, seq));
  if (snapshot.hasState) socket.emit("event", { event: stateEvent(snapshot.stateJson), seq });
}

function refuseUnknown(socket: TypedSocket<"/viewer">, sessionId: string): void {
  socket.leave(rooms.session(sessionId));
  const to = lastWords(socket);
  to.emit("connected", { sessionId, replayOnly: true });
  to.emit("error", { code: "not_found", message: "Session not found" });
  socket.disconnect(true);
}

/** Legacy 3.1 case B: the session is no longer live; replay its last snapshot and say so. */
function replayEnded(socket: TypedSocket<"/viewer">, sessionId: string, snapshot: Snapshot): void {
  if (!snapshot.hasState) return refuseUnknown(socket, sessionId);
  socket.leave(rooms.session(sessionId));
  const to = lastWords(socket);
  to.emit("connected", { sessionId, replayOnly: true });
  to.emit("event", { event: stateEvent(snapshot.stateJson), replay: true });
  to.emit("disconnected", { reason: "Session is no longer live (snapshot replay)." });
  socket.disconnect(true);
}

function stateEvent(stateJson: string | undefined): Record<string, unknown> {
  return stateJson === undefined ? { type: "session_active" } : { type: "session_active", state: JSON.parse(stateJson) as unknown };
}

function frameOf(eventJson: string | undefined, seq: number): SessionEventFrame {
  return eventJson === undefined ? { seq } : { event: JSON.parse(eventJson) as unknown, seq };
}
