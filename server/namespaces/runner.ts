import { errorBody, failure, runnerClientSchemas, RunnerAuthSchema, type Ack, type RunnerSkill } from "../../protocol/index.js";
import { bindHandlers, type HandlerTable } from "../io/handlers.js";
import { direct, rooms, type TypedSocket } from "../io/typed.js";
import { handshakeIdentity, onRunnerDisconnect, registerRunner } from "../runners/lifecycle.js";
import { deliverReply, listenForRunnerReplies, replyKeys } from "../runners/replies.js";
import { forwardTerminalFrame } from "../runners/terminal-frames.js";
import type { RelayContext } from "../sessions/context.js";
import { hubStatus } from "../sessions/hub-feed.js";
import { publishForRunner } from "../sessions/publish.js";
import { handshake } from "./middleware.js";
import { stackOf, wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";
import { cutToBytes } from "../limits.js";

/** How much of an unknown id a refusal message repeats back. */
const MAX_ECHOED_ID_BYTES = 256;

/** `/runner`: runner daemons (legacy `/ws/runner`, section 4). Every inbound id is checked against what the runner owns. */
export function mountRunnerNamespace(ctx: RelayContext): void {
  const nsp = ctx.runner;
  nsp.use(
    handshake(ctx, "/runner", RunnerAuthSchema, "runner", (socket, { auth, connection }) => {
      socket.data = { ...connection, runnerId: null, generation: 0, skills: [] };
      handshakeIdentity.set(socket, { runnerId: auth.runnerId, runnerSecret: auth.runnerSecret });
    }),
  );
  listenForRunnerReplies(ctx);

  /** The session, if the runner spawned it (pending link) or it is linked to the runner. */
  const ownsSession = async (socket: TypedSocket<"/runner">, sessionId: string): Promise<boolean> => {
    const runnerId = socket.data.runnerId;
    if (!runnerId) return false;
    const [link, record] = await Promise.all([ctx.state.sessions.getPendingLink(sessionId), ctx.state.sessions.get(sessionId)]);
    return link?.runnerId === runnerId || (record !== null && record.userId === socket.data.userId && record.runnerId === runnerId);
  };

  /**
   * A frame naming an id the runner does not own is dropped. The refusal goes to the frame's ack when it
   * passed one (typed clients), else as an `error` event (the legacy `error` frame).
   */
  const refuse = (socket: TypedSocket<"/runner">, ack: Ack | undefined, what: string, id: string): void => {
    reportRefusal(ctx, "not_found", wireOf(socket), { runnerId: socket.data.runnerId, what, id }, "runner frame for an id it does not own: dropped");
    // The id is echoed as the legacy relay did, cut to a sane size (it may be megabytes long).
    const body = errorBody("not_found", `Unknown ${what}: ${cutToBytes(id, MAX_ECHOED_ID_BYTES)}`);
    if (ack) ack(failure(body.code, body.message));
    else socket.emit("error", body);
  };

  /** A skill frame from a connection that has not registered reaches no waiter: refused through its ack only (legacy: ignored). */
  const unregistered = (socket: TypedSocket<"/runner">, ack: Ack | undefined): void => {
    if (!ack) return;
    reportRefusal(ctx, "not_registered", wireOf(socket), { namespace: "/runner", socket: socket.id }, "runner frame before register_runner refused");
    ack(failure("not_registered", "The runner has not registered"));
  };

  const runnerName = async (runnerId: string): Promise<string | null> => (await ctx.state.runners.get(runnerId))?.name ?? null;

  const handlers: HandlerTable<"/runner"> = {
    register_runner: async (socket, payload, ack) => {
      const result = await registerRunner(ctx, socket, payload);
      if (!result.ok) {
        reportRefusal(ctx, "forbidden", wireOf(socket), { namespace: "/runner", runnerId: payload.runnerId }, "runner registration refused");
        if (ack) ack(failure("forbidden", result.message));
        else direct(socket).emit("error", errorBody("forbidden", result.message));
        socket.disconnect(true);
        return;
      }
      if (ack) ack({ ok: true, runnerId: result.runnerId });
      else socket.emit("runner_registered", { runnerId: result.runnerId });
    },
    session_ready: async (socket, { sessionId }, ack) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, ack, "session", sessionId);
      const link = { runnerId, runnerName: await runnerName(runnerId) };
      await ctx.state.runners.addSession(runnerId, sessionId);
      const linked = await ctx.state.sessions.linkRunner(sessionId, link);
      if (linked) {
        hubStatus(ctx, linked.userId, {
          sessionId,
          isActive: linked.isActive,
          lastHeartbeatAt: linked.lastHeartbeatAt,
          sessionName: linked.sessionName,
          model: linked.model,
          runnerId: link.runnerId,
          runnerName: link.runnerName,
        });
      }
      deliverReply(ctx, replyKeys.spawn(sessionId), runnerId, { kind: "spawn", ok: true });
      ctx.viewer.to(rooms.session(sessionId)).emit("session_ready", { runnerId, sessionId });
      ack?.({ ok: true });
    },
    session_error: async (socket, { sessionId, message }, ack) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, ack, "session", sessionId);
      const text = message ?? "Runner spawn failed";
      deliverReply(ctx, replyKeys.spawn(sessionId), runnerId, { kind: "spawn", ok: false, message: text });
      ctx.viewer.to(rooms.session(sessionId)).emit("session_error", { runnerId, sessionId, message: text });
      ack?.({ ok: true });
    },
    session_killed: async (socket, { sessionId }, ack) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, ack, "session", sessionId);
      await ctx.state.runners.removeSession(runnerId, sessionId);
      ctx.viewer.to(rooms.session(sessionId)).emit("session_killed", { runnerId, sessionId });
      ack?.({ ok: true });
    },
    // Answers to commands no REST route sends (legacy 4.2): accepted, nothing waits for them.
    sessions_list: (_socket, _payload, ack) => ack?.({ ok: true }),
    pong: (_socket, _payload, ack) => ack?.({ ok: true }),
    terminals_list: (_socket, _payload, ack) => ack?.({ ok: true }),
    skills_list: async (socket, { requestId, skills }, ack) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId) return unregistered(socket, ack);
      await updateSkills(socket, skills);
      if (requestId) deliverReply(ctx, replyKeys.skill(requestId), runnerId, { kind: "skills", ok: true, skills });
      ack?.({ ok: true });
    },
    skill_result: async (socket, payload, ack) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId) return unregistered(socket, ack);
      if (payload.skills) await updateSkills(socket, payload.skills);
      if (!payload.requestId) return ack?.({ ok: true });
      const reply = { kind: "skills" as const, ok: payload.ok === true };
      deliverReply(ctx, replyKeys.skill(payload.requestId), runnerId, {
        ...reply,
        ...(payload.message !== undefined ? { message: payload.message } : {}),
        ...(payload.skills !== undefined ? { skills: payload.skills } : {}),
        ...(payload.name !== undefined ? { name: payload.name } : {}),
        ...(payload.content !== undefined ? { content: payload.content } : {}),
      });
      ack?.({ ok: true });
    },
    runner_session_event: async (socket, { sessionId, event }, ack) => {
      const { userId, runnerId } = socket.data;
      // Not live, not this user's, or not linked to this runner (the append checks it: one round trip).
      const outcome = runnerId ? await publishForRunner(ctx, { userId, runnerId }, sessionId, event, stackOf(socket)) : undefined;
      if (!outcome?.ok) return refuse(socket, ack, "session", sessionId);
      ack?.({ ok: true });
    },
    terminal_ready: (socket, payload, ack) => terminalFrame(socket, "terminal_ready", payload, ack),
    terminal_data: (socket, payload, ack) => terminalFrame(socket, "terminal_data", payload, ack),
    terminal_exit: (socket, payload, ack) => terminalFrame(socket, "terminal_exit", payload, ack),
    terminal_error: (socket, payload, ack) => terminalFrame(socket, "terminal_error", payload, ack),
  };

  async function terminalFrame(
    socket: TypedSocket<"/runner">,
    name: Parameters<typeof forwardTerminalFrame>[2],
    payload: Parameters<typeof forwardTerminalFrame>[3],
    ack: Ack | undefined,
  ): Promise<void> {
    if (await forwardTerminalFrame(ctx, socket, name, payload)) ack?.({ ok: true });
    else refuse(socket, ack, "terminal", payload.terminalId);
  }

  const updateSkills = async (socket: TypedSocket<"/runner">, skills: RunnerSkill[]): Promise<void> => {
    if (!socket.data.runnerId) return;
    socket.data.skills = skills;
    await ctx.state.runners.setSkills(socket.data.runnerId, skills);
  };

  nsp.on("connection", (socket) => {
    // A runner's frames take effect in order (session_ready before the session's runner events, a
    // terminal's data before its exit), whatever round trips each handler needs.
    bindHandlers(socket, runnerClientSchemas, handlers, (error) => socket.emit("error", error), ctx, { sequential: true, maxJsonDepth: ctx.config.maxJsonDepth, eventsPerSecond: ctx.config.limits.eventsPerSecond });
    socket.on("disconnect", () => onRunnerDisconnect(ctx, socket));
    ctx.log.debug({ socket: socket.id, userId: socket.data.userId, transport: socket.conn.transport.name }, "runner connected");
  });
}
