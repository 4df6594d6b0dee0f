import { errorBody, failure, relayClientSchemas, RelayAuthSchema, type Ack, type ErrorCode } from "../../protocol/index.js";
import { bindHandlers, RequestError, type HandlerTable } from "../io/handlers.js";
import type { RelayContext } from "../sessions/context.js";
import { endByClient, onCliDisconnect, registerSession } from "../sessions/lifecycle.js";
import { holdAcks, publishFromCli, tokenMatches } from "../sessions/publish.js";
import { rooms, type TypedSocket } from "../io/typed.js";
import { attachConnection, getConnection } from "../sessions/connection.js";
import { handshake } from "./middleware.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";

/** `/relay`: the CLI side of a session (legacy `/ws/sessions`, section 2). */
export function mountRelayNamespace(ctx: RelayContext, options: { reconnectGraceMs: number }): void {
  const nsp = ctx.relay;
  nsp.use(
    handshake(ctx, "/relay", RelayAuthSchema, "api-key", (socket, { connection }) => {
      socket.data = { ...connection, sessionId: null, token: null, generation: 0, lastAckedSeq: 0, ackLimit: null, streamId: null, lastStreamSeq: null };
    }),
  );

  /** A refusal goes to the ack when the client passed one, else as an `error` event (legacy `error` frame). */
  const refuse = (socket: TypedSocket<"/relay">, ack: Ack<object> | undefined, code: ErrorCode): void => {
    reportRefusal(ctx, code, wireOf(socket), { namespace: "/relay", socket: socket.id, sessionId: socket.data.sessionId }, "cli frame refused");
    if (ack) ack(failure(code));
    else socket.emit("error", errorBody(code));
  };

  const handlers: HandlerTable<"/relay"> = {
    register: async (socket, payload, ack) => {
      let registered;
      try {
        registered = await registerSession(ctx, socket, payload);
      } catch (err) {
        if (err instanceof RequestError) throw err;
        ctx.log.error({ err }, "register failed: shared state unavailable");
        refuse(socket, ack, "unavailable");
        return;
      }
      if (ack) ack({ ok: true, ...registered });
      else socket.emit("registered", registered);
    },
    event: async (socket, payload, ack) => {
      const outcome = await publishFromCli(ctx, socket, payload);
      if (!outcome.ok) refuse(socket, ack, outcome.reason);
      else if ("duplicate" in outcome) ack?.({ ok: true, duplicate: true });
      else ack?.({ ok: true, seq: outcome.seq });
    },
    session_end: async (socket, payload, ack) => {
      if (!tokenMatches(socket, payload.token)) {
        refuse(socket, ack, "invalid_token");
        return;
      }
      await endByClient(ctx, socket);
      ack?.({ ok: true });
    },
    exec_result: (socket, payload, ack) => {
      const sessionId = socket.data.sessionId;
      if (!sessionId) {
        refuse(socket, ack, "not_registered");
        return;
      }
      ctx.viewer.to(rooms.session(sessionId)).emit("exec_result", payload);
      ack?.({ ok: true });
    },
  };

  nsp.on("connection", (socket) => {
    // Handlers first, before anything async (docs/architecture.md 6).
    bindHandlers(socket, relayClientSchemas, handlers, (error) => socket.emit("error", error), ctx, {
      maxJsonDepth: ctx.config.maxJsonDepth,
      eventsPerSecond: ctx.config.limits.eventsPerSecond,
      // A refused event of this registration (rate, size, shape) is not stored: acks stop short of it.
      onRefused: (event, payload) => {
        if (event !== "event" || typeof payload !== "object" || payload === null) return;
        const { token, seq } = payload as { token?: unknown; seq?: unknown };
        if (tokenMatches(socket, typeof token === "string" ? token : undefined) && typeof seq === "number") holdAcks(socket, seq);
      },
    });
    socket.on("disconnect", (reason) => onCliDisconnect(ctx, socket, reason, options.reconnectGraceMs));
    if (socket.recovered && socket.data.sessionId && !getConnection(socket)) {
      // Connection state recovery restored data and rooms; rebuild the node-local part.
      void ctx.state.sessions.get(socket.data.sessionId).then(
        (record) => {
          if (record && record.generation === socket.data.generation) attachConnection(socket, record, ctx.clock);
        },
        (err: unknown) => ctx.log.warn({ err }, "could not restore a recovered CLI connection"),
      );
    }
    ctx.log.debug({ socket: socket.id, userId: socket.data.userId, transport: socket.conn.transport.name, recovered: socket.recovered }, "cli connected");
  });
}
