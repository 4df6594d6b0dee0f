import { failure, viewerClientSchemas, ViewerAuthSchema, type Ack } from "../../protocol/index.js";
import { bindHandlers, RequestError, type HandlerTable } from "../io/handlers.js";
import { emitCollectingAcks, rooms, type TypedSocket } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { normalizeAttachments, normalizeDeliverAs } from "../sessions/normalize.js";
import type { SessionRecord } from "../state/types.js";
import { handshake } from "./middleware.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";
import { frameOf, joinViewer, sendSnapshot } from "./viewer-join.js";

/** How long the relay waits for a socket-v1-acked CLI's `input` acknowledgement (it is only logged). */
const INPUT_ACK_TIMEOUT_MS = 10_000;

/** `/viewer`: a browser watching and driving one session (legacy `/ws/sessions/:id`, section 3). */
export function mountViewerNamespace(ctx: RelayContext): void {
  const nsp = ctx.viewer;
  nsp.use(
    handshake(ctx, "/viewer", ViewerAuthSchema, "browser", (socket, { auth, connection }) => {
      socket.data = { ...connection, sessionId: auth.sessionId, lastSeq: auth.lastSeq ?? null, joined: false };
    }),
  );

  /** The session this viewer may drive: live, the viewer's own, and (for input) in collab mode. */
  const liveSession = async (socket: TypedSocket<"/viewer">, collab: boolean): Promise<SessionRecord | null> => {
    const record = await ctx.state.sessions.get(socket.data.sessionId);
    if (!record || !record.live || record.userId !== socket.data.userId) return null;
    if (collab && !record.collabMode) throw new RequestError({ code: "forbidden", message: "Collab mode is off for this session" });
    return record;
  };
  const toCli = (socket: TypedSocket<"/viewer">) => ctx.relay.to(rooms.cli(socket.data.sessionId));
  /**
   * A command for a session that is no longer live is dropped (legacy: silently); a client that asked
   * for an ack learns it at once instead of waiting for an answer that cannot come.
   */
  const notLive = (socket: TypedSocket<"/viewer">, ack: Ack | undefined): void => {
    if (!ack) return;
    reportRefusal(ctx, "not_found", wireOf(socket), { namespace: "/viewer", sessionId: socket.data.sessionId }, "viewer command for a session not live refused");
    ack(failure("not_found", "The session is not live"));
  };

  const handlers: HandlerTable<"/viewer"> = {
    resync: async (socket, _payload, ack) => {
      const view = await ctx.state.sessions.view(socket.data.sessionId);
      if (view?.record.live && view.record.userId === socket.data.userId) sendSnapshot(socket, view.snapshot, view.record.seq);
      ack?.({ ok: true });
    },
    catch_up: async (socket, { afterSeq }, ack) => {
      const view = await ctx.state.sessions.view(socket.data.sessionId, afterSeq);
      if (!view || view.record.userId !== socket.data.userId || !view.log?.complete) return ack?.({ ok: true, events: [], complete: false });
      ack?.({ ok: true, events: view.log.events.map((e) => frameOf(e.eventJson, e.seq)), complete: true });
    },
    connected: async (socket, _payload, ack) => {
      if (await liveSession(socket, false)) toCli(socket).emit("connected", {});
      ack?.({ ok: true });
    },
    input: async (socket, payload, ack) => {
      if (!(await liveSession(socket, true))) return notLive(socket, ack);
      const client = typeof payload.client === "string" ? payload.client : undefined;
      const deliverAs = normalizeDeliverAs(payload.deliverAs);
      const input = {
        text: payload.text,
        attachments: normalizeAttachments(payload.attachments),
        ...(client !== undefined ? { client } : {}),
        ...(deliverAs !== undefined ? { deliverAs } : {}),
      };
      const sessionId = socket.data.sessionId;
      // Each CLI generation gets `input` the way it was built for (protocol/generations.ts): with an ack
      // for socket-v1-acked CLIs (without one they would take the recovery offset for their ack and
      // report a false error), as a plain recoverable event for everyone else.
      ctx.relay.to(rooms.cli(sessionId)).except(rooms.cliAcked(sessionId)).emit("input", input);
      emitCollectingAcks<"/relay", "input">(ctx.relay.to(rooms.cliAcked(sessionId)), INPUT_ACK_TIMEOUT_MS, "input", input, (err, delivered) => {
        if (err) ctx.log.info({ sessionId }, "an input acknowledgement did not come in time");
        else if (delivered.includes(false)) ctx.log.info({ sessionId }, "the CLI did not take an input");
      });
      ack?.({ ok: true });
    },
    model_set: async (socket, payload, ack) => {
      if (!(await liveSession(socket, true))) return notLive(socket, ack);
      toCli(socket).emit("model_set", { provider: payload.provider, modelId: payload.modelId });
      ack?.({ ok: true });
    },
    exec: async (socket, payload, ack) => {
      if (!(await liveSession(socket, true))) return notLive(socket, ack);
      toCli(socket).emit("exec", payload);
      ack?.({ ok: true });
    },
  };

  nsp.on("connection", (socket) => {
    bindHandlers(socket, viewerClientSchemas, handlers, (error) => socket.emit("error", error), ctx, { maxJsonDepth: ctx.config.maxJsonDepth, eventsPerSecond: ctx.config.limits.eventsPerSecond });
    if (socket.recovered && socket.data.joined) {
      ctx.log.debug({ socket: socket.id, sessionId: socket.data.sessionId }, "viewer recovered");
      return;
    }
    joinViewer(ctx, socket).catch((err: unknown) => ctx.log.error({ err }, "viewer join failed"));
  });
}
