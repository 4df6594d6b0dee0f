import type { Hono } from "hono";
import { rooms } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { toSessionInfo } from "../sessions/hub-feed.js";
import { viewerPresence } from "../sessions/presence.js";
import { caller } from "./identity.js";

/**
 * `GET /api/sessions`: the caller's live sessions (the hub's list items) and their recently ended ones
 * (`persistedSessions`: ended sessions whose snapshot is still kept for replay).
 */
export function mountSessionRoutes(app: Hono, ctx: RelayContext): void {
  app.get("/api/sessions", async (c) => {
    const who = await caller(ctx, c);
    if (!who.ok) return c.json({ error: who.error }, who.status);
    const [live, ended] = await Promise.all([ctx.state.sessions.listByUser(who.identity.userId), ctx.state.sessions.listEnded(who.identity.userId)]);
    const presence = await viewerPresence(ctx, live.map((r) => r.sessionId));
    const count = (id: string): number => (presence.known ? (presence.counts.get(rooms.session(id)) ?? 0) : 0);
    return c.json({
      sessions: live.map((r) => toSessionInfo(r, count(r.sessionId))),
      persistedSessions: ended.map((r) => ({
        sessionId: r.sessionId,
        shareUrl: r.shareUrl,
        cwd: r.cwd,
        startedAt: r.startedAt,
        endedAt: r.endedAt,
        userId: r.userId,
        userName: r.userName,
        sessionName: r.sessionName,
        isEphemeral: r.isEphemeral,
        runnerId: r.runnerId,
        runnerName: r.runnerName,
      })),
    });
  });
}
