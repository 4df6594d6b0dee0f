import { errorBody, failure, runnerClientSchemas, RunnerAuthSchema, type RunnerSkill } from "../../protocol/index.js";
import { bindHandlers, type HandlerTable } from "../io/handlers.js";
import { direct, rooms, type TypedSocket } from "../io/typed.js";
import { handshakeIdentity, onRunnerDisconnect, registerRunner } from "../runners/lifecycle.js";
import { deliverReply, listenForRunnerReplies, replyKeys } from "../runners/replies.js";
import { forwardTerminalFrame } from "../runners/terminal-frames.js";
import type { RelayContext } from "../sessions/context.js";
import { hubStatus } from "../sessions/hub-feed.js";
import { publishForRunner } from "../sessions/publish.js";
import { handshake } from "./middleware.js";

/** `/runner`: runner daemons (legacy `/ws/runner`, section 4). Every inbound id is checked against what the runner owns. */
export function mountRunnerNamespace(ctx: RelayContext): void {
  const nsp = ctx.runner;
  nsp.use(
    handshake(ctx, "/runner", RunnerAuthSchema, "runner", (socket, { auth, identity, protocolVersion, clientVersion }) => {
      socket.data = { ...identity, protocolVersion, clientVersion, runnerId: null, generation: 0, skills: [] };
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

  const refuse = (socket: TypedSocket<"/runner">, what: string, id: string): void => {
    ctx.log.info({ runnerId: socket.data.runnerId, what, id }, "runner frame for an id it does not own: dropped");
    socket.emit("error", errorBody("not_found", `Unknown ${what}: ${id}`));
  };

  const runnerName = async (runnerId: string): Promise<string | null> => (await ctx.state.runners.get(runnerId))?.name ?? null;

  const handlers: HandlerTable<"/runner"> = {
    register_runner: async (socket, payload, ack) => {
      const result = await registerRunner(ctx, socket, payload);
      if (!result.ok) {
        if (ack) ack(failure("forbidden", result.message));
        else direct(socket).emit("error", errorBody("forbidden", result.message));
        socket.disconnect(true);
        return;
      }
      if (ack) ack({ ok: true, runnerId: result.runnerId });
      else socket.emit("runner_registered", { runnerId: result.runnerId });
    },
    session_ready: async (socket, { sessionId }) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, "session", sessionId);
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
    },
    session_error: async (socket, { sessionId, message }) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, "session", sessionId);
      const text = message ?? "Runner spawn failed";
      deliverReply(ctx, replyKeys.spawn(sessionId), runnerId, { kind: "spawn", ok: false, message: text });
      ctx.viewer.to(rooms.session(sessionId)).emit("session_error", { runnerId, sessionId, message: text });
    },
    session_killed: async (socket, { sessionId }) => {
      const runnerId = socket.data.runnerId;
      if (!runnerId || !(await ownsSession(socket, sessionId))) return refuse(socket, "session", sessionId);
      await ctx.state.runners.removeSession(runnerId, sessionId);
      ctx.viewer.to(rooms.session(sessionId)).emit("session_killed", { runnerId, sessionId });
    },
    // Answers to commands no REST route sends (legacy 4.2): accepted, nothing waits for them.
    sessions_list: () => undefined,
    pong: () => undefined,
    terminals_list: () => undefined,
    skills_list: async (socket, { requestId, skills }) => {
      await updateSkills(socket, skills);
      const runnerId = socket.data.runnerId;
      if (runnerId && requestId) deliverReply(ctx, replyKeys.skill(requestId), runnerId, { kind: "skills", ok: true, skills });
    },
    skill_result: async (socket, payload) => {
      if (payload.skills) await updateSkills(socket, payload.skills);
      const runnerId = socket.data.runnerId;
      if (!runnerId || !payload.requestId) return;
      const reply = { kind: "skills" as const, ok: payload.ok === true };
      deliverReply(ctx, replyKeys.skill(payload.requestId), runnerId, {
        ...reply,
        ...(payload.message !== undefined ? { message: payload.message } : {}),
        ...(payload.skills !== undefined ? { skills: payload.skills } : {}),
        ...(payload.name !== undefined ? { name: payload.name } : {}),
        ...(payload.content !== undefined ? { content: payload.content } : {}),
      });
    },
    runner_session_event: async (socket, { sessionId, event }) => {
      const record = await ctx.state.sessions.get(sessionId);
      if (!record?.live || record.userId !== socket.data.userId || record.runnerId !== socket.data.runnerId) return refuse(socket, "session", sessionId);
      await publishForRunner(ctx, sessionId, record.generation, record.isEphemeral, event);
    },
    terminal_ready: async (socket, payload) => void ((await forwardTerminalFrame(ctx, socket, "terminal_ready", payload)) || refuse(socket, "terminal", payload.terminalId)),
    terminal_data: async (socket, payload) => void ((await forwardTerminalFrame(ctx, socket, "terminal_data", payload)) || refuse(socket, "terminal", payload.terminalId)),
    terminal_exit: async (socket, payload) => void ((await forwardTerminalFrame(ctx, socket, "terminal_exit", payload)) || refuse(socket, "terminal", payload.terminalId)),
    terminal_error: async (socket, payload) => void ((await forwardTerminalFrame(ctx, socket, "terminal_error", payload)) || refuse(socket, "terminal", payload.terminalId)),
  };

  const updateSkills = async (socket: TypedSocket<"/runner">, skills: RunnerSkill[]): Promise<void> => {
    if (!socket.data.runnerId) return;
    socket.data.skills = skills;
    await ctx.state.runners.setSkills(socket.data.runnerId, skills);
  };

  nsp.on("connection", (socket) => {
    // A runner's frames take effect in order (session_ready before the session's runner events, a
    // terminal's data before its exit), whatever round trips each handler needs.
    bindHandlers(socket, runnerClientSchemas, handlers, (error) => socket.emit("error", error), ctx.log, { sequential: true });
    socket.on("disconnect", () => onRunnerDisconnect(ctx, socket));
    ctx.log.debug({ socket: socket.id, userId: socket.data.userId, transport: socket.conn.transport.name }, "runner connected");
  });
}
