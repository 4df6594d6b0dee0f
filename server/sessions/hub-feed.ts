import type { SessionAdded, SessionInfo, SessionStatus } from "../../protocol/index.js";
import { rooms } from "../io/typed.js";
import type { SessionRecord } from "../state/types.js";
import type { RelayContext } from "./context.js";

/** Hub payloads (docs/legacy-protocol.md section 6) built from a session record, and their delivery. */

export function toSessionAdded(r: SessionRecord): SessionAdded {
  return {
    sessionId: r.sessionId,
    shareUrl: r.shareUrl,
    cwd: r.cwd,
    startedAt: r.startedAt,
    userId: r.userId,
    userName: r.userName,
    sessionName: r.sessionName,
    isEphemeral: r.isEphemeral,
    isActive: false,
    lastHeartbeatAt: null,
    model: null,
    runnerId: r.runnerId,
    runnerName: r.runnerName,
  };
}

export function toSessionInfo(r: SessionRecord, viewerCount: number): SessionInfo {
  return {
    sessionId: r.sessionId,
    shareUrl: r.shareUrl,
    cwd: r.cwd,
    startedAt: r.startedAt,
    viewerCount,
    userId: r.userId,
    userName: r.userName,
    sessionName: r.sessionName,
    isEphemeral: r.isEphemeral,
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
    isActive: r.isActive,
    lastHeartbeatAt: r.lastHeartbeatAt,
    model: r.model,
    runnerId: r.runnerId,
    runnerName: r.runnerName,
  };
}

export function hubAdded(ctx: RelayContext, record: SessionRecord): void {
  ctx.hub.to(rooms.hubUser(record.userId)).emit("session_added", toSessionAdded(record));
}

export function hubRemoved(ctx: RelayContext, userId: string, sessionId: string): void {
  ctx.hub.to(rooms.hubUser(userId)).emit("session_removed", { sessionId });
}

export function hubStatus(ctx: RelayContext, userId: string, status: SessionStatus): void {
  ctx.hub.to(rooms.hubUser(userId)).emit("session_status", status);
}
