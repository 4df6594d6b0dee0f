import { hubClientSchemas, HubAuthSchema } from "../../protocol/index.js";
import { bindHandlers, type HandlerTable } from "../io/handlers.js";
import { rooms } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { toSessionInfo } from "../sessions/hub-feed.js";
import { viewerPresence } from "../sessions/presence.js";
import { handshake } from "./middleware.js";

/** `/hub`: the user's live session list (legacy `/ws/hub`, section 6). */
export function mountHubNamespace(ctx: RelayContext): void {
  const nsp = ctx.hub;
  nsp.use(
    handshake(ctx, "/hub", HubAuthSchema, "browser", (socket, { identity, protocolVersion, clientVersion }) => {
      socket.data = { ...identity, protocolVersion, clientVersion };
    }),
  );
  const handlers: HandlerTable<"/hub"> = {};

  nsp.on("connection", (socket) => {
    bindHandlers(socket, hubClientSchemas, handlers, (error) => socket.emit("error", error), ctx.log);
    // Join first, then list: a session added meanwhile arrives as `session_added` (clients de-duplicate
    // by sessionId, as the legacy UI does).
    socket.join(rooms.hubUser(socket.data.userId));
    if (socket.recovered) return;
    const send = async (): Promise<void> => {
      const records = await ctx.state.sessions.listByUser(socket.data.userId);
      const presence = await viewerPresence(ctx, records.map((r) => r.sessionId));
      const count = (id: string): number => (presence.known ? (presence.counts.get(rooms.session(id)) ?? 0) : 0);
      socket.emit("sessions", { sessions: records.map((r) => toSessionInfo(r, count(r.sessionId))) });
    };
    send().catch((err: unknown) => {
      ctx.log.error({ err }, "hub list failed: shared state unavailable");
      socket.emit("error", { code: "unavailable", message: "Could not load sessions" });
    });
  });
}
