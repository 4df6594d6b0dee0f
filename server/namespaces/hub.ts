import { hubClientSchemas, HubAuthSchema } from "../../protocol/index.js";
import { bindHandlers, type HandlerTable } from "../io/handlers.js";
import { closeForRetry } from "../io/retry.js";
import { direct, rooms, type TypedSocket } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { toSessionInfo } from "../sessions/hub-feed.js";
import { viewerPresence } from "../sessions/presence.js";
import { handshake } from "./middleware.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";

/** `/hub`: the user's live session list (legacy `/ws/hub`, section 6). */
export function mountHubNamespace(ctx: RelayContext): void {
  const nsp = ctx.hub;
  nsp.use(
    handshake(ctx, "/hub", HubAuthSchema, "browser", (socket, { connection }) => {
      socket.data = { ...connection, listed: false };
    }),
  );
  const handlers: HandlerTable<"/hub"> = {};

  nsp.on("connection", (socket) => {
    bindHandlers(socket, hubClientSchemas, handlers, (error) => socket.emit("error", error), ctx, { maxJsonDepth: ctx.config.maxJsonDepth, eventsPerSecond: ctx.config.limits.eventsPerSecond });
    // Join first, then list: a session added meanwhile arrives as `session_added` (clients de-duplicate
    // by sessionId, as the legacy UI does).
    socket.join(rooms.hubUser(socket.data.userId));
    if (socket.recovered && socket.data.listed) return;
    sendHubList(ctx, socket).catch((err: unknown) => {
      ctx.log.error({ err }, "hub list failed: shared state unavailable");
      reportRefusal(ctx, "unavailable", wireOf(socket), { namespace: "/hub", socket: socket.id }, "hub list refused: shared state unavailable");
      direct(socket).emit("error", { code: "unavailable", message: "Could not load sessions" });
      // Without its list the hub is useless: a Socket.IO client reconnects (with backoff) and asks again;
      // a legacy hub keeps its connection, as with the legacy relay.
      closeForRetry(socket);
    });
  });
}

/**
 * The hub's list (docs/legacy-protocol.md section 6): the user's live sessions, at most the most
 * recently started PIZZAPI_HUB_MAX_SESSIONS (each item is bounded by the field limits, and so is the
 * list, whoever has how many sessions). Sent on join, and again when shared state was wiped.
 */
export async function sendHubList(ctx: RelayContext, socket: TypedSocket<"/hub">): Promise<void> {
  const records = (await ctx.state.sessions.listByUser(socket.data.userId))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.sessionId.localeCompare(b.sessionId))
    .slice(0, ctx.config.limits.hubSessions);
  const presence = await viewerPresence(ctx, records.map((r) => r.sessionId));
  const count = (id: string): number => (presence.known ? (presence.counts.get(rooms.session(id)) ?? 0) : 0);
  socket.emit("sessions", { sessions: records.map((r) => toSessionInfo(r, count(r.sessionId))) });
  socket.data.listed = true;
}
