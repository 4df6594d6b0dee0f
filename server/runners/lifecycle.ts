import { checkFieldSizes } from "../limits.js";
import { randomUUID } from "node:crypto";
import { rooms, type TypedSocket } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { countIn } from "../sessions/presence.js";
import { normalizeRoots, normalizeRunnerName, normalizeSkills } from "./normalize.js";
import { announceRunnerGone } from "./replies.js";

export interface RegisterRunnerInput {
  runnerId?: string | undefined;
  runnerSecret?: string | undefined;
  name?: unknown;
  roots?: unknown;
  skills?: unknown;
}

export type RegisterRunnerResult = { ok: true; runnerId: string } | { ok: false; message: string };

const refreshTimers = new WeakMap<TypedSocket<"/runner">, NodeJS.Timeout>();

/**
 * Identity a native runner declared in its handshake `auth`, used when its `register_runner` omits it.
 * Kept beside the socket, not in `socket.data`, so the secret is never serialised (recovery sessions).
 */
export const handshakeIdentity = new WeakMap<TypedSocket<"/runner">, { runnerId?: string | undefined; runnerSecret?: string | undefined }>();

/**
 * `register_runner` (legacy 4.1, with the section 14 fixes). With an id and a secret, the id is bound
 * to that secret and to the first user who presented it, in shared state, for good; without them (the
 * older daemon generation) the runner gets a fresh id. The runner joins `runner:{id}`, where every
 * command reaches it from any node; a previous connection of the same id is moved out of the room.
 */
export async function registerRunner(ctx: RelayContext, socket: TypedSocket<"/runner">, input: RegisterRunnerInput): Promise<RegisterRunnerResult> {
  checkFieldSizes({ runnerId: input.runnerId, name: input.name, roots: input.roots }, ctx.config.limits.fieldBytes);
  const fromHandshake = handshakeIdentity.get(socket);
  const id = (input.runnerId ?? fromHandshake?.runnerId ?? "").trim();
  const secret = (input.runnerSecret ?? fromHandshake?.runnerSecret ?? "").trim();
  let runnerId: string;
  if (id && secret) {
    const check = await ctx.state.runners.bindSecret(id, secret, socket.data.userId);
    if (!check.ok) {
      ctx.log.warn({ runnerId: id, userId: socket.data.userId, reason: check.reason }, "runner registration refused");
      return { ok: false, message: `Runner authentication failed: secret mismatch for runner ${id}` };
    }
    runnerId = id;
  } else {
    runnerId = randomUUID();
  }
  const previous = socket.data.runnerId;
  const record = await ctx.state.runners.register(
    {
      runnerId,
      userId: socket.data.userId,
      userName: socket.data.userName,
      name: normalizeRunnerName(input.name),
      roots: normalizeRoots(input.roots),
      skills: normalizeSkills(input.skills),
      nodeId: ctx.config.nodeId,
      connectedAt: new Date(ctx.clock()).toISOString(),
    },
    ctx.config.runnerTtlMs,
  );
  if (previous && previous !== runnerId) socket.leave(rooms.runner(previous));
  // `except`: cluster adapters apply the leave locally only after publishing it (after our join).
  ctx.runner.in(rooms.runner(runnerId)).except(socket.id).socketsLeave(rooms.runner(runnerId));
  socket.join(rooms.runner(runnerId));
  socket.data.runnerId = runnerId;
  socket.data.generation = record.generation;
  socket.data.skills = record.skills;
  startRefresh(ctx, socket);
  ctx.log.info({ runnerId, userId: record.userId, generation: record.generation, transport: socket.conn.transport.name }, "runner registered");
  return { ok: true, runnerId };
}

/** Keeps the runner's record (and its terminals) alive while its socket is; a dead node stops refreshing. */
function startRefresh(ctx: RelayContext, socket: TypedSocket<"/runner">): void {
  clearInterval(refreshTimers.get(socket));
  const timer = setInterval(() => {
    const { runnerId, generation } = socket.data;
    if (!runnerId) return;
    const refresh = async (): Promise<void> => {
      if (!(await ctx.state.runners.refresh(runnerId, generation, ctx.config.runnerTtlMs))) return;
      for (const terminal of await ctx.state.terminals.listByRunner(runnerId)) {
        if (terminal.spawned && !terminal.exited) await ctx.state.terminals.update(terminal.terminalId, {}, ctx.config.runnerTtlMs);
      }
    };
    refresh().catch((err: unknown) => ctx.log.warn({ err, runnerId }, "runner refresh failed"));
  }, Math.max(1_000, Math.floor(ctx.config.runnerTtlMs / 3)));
  timer.unref();
  refreshTimers.set(socket, timer);
}

/**
 * The runner's socket is gone. Its record and terminals wait `runnerReconnectGraceMs` for it to come
 * back (to any node); then, if this generation still owns the record and no connection of the runner
 * is present anywhere, the runner is removed: its terminals exit (-1, legacy 4.1) and whatever waits
 * on it is rejected. A replaced connection's late disconnect removes nothing.
 */
export function onRunnerDisconnect(ctx: RelayContext, socket: TypedSocket<"/runner">): void {
  clearInterval(refreshTimers.get(socket));
  refreshTimers.delete(socket);
  const { runnerId, generation } = socket.data;
  if (!runnerId || ctx.lifecycle.shuttingDown) return;
  const teardown = async (): Promise<void> => {
    if (ctx.lifecycle.shuttingDown) return;
    const present = await countIn(ctx, ctx.runner, rooms.runner(runnerId));
    if (present !== 0) return;
    if (!(await ctx.state.runners.remove(runnerId, generation))) return;
    for (const terminal of await ctx.state.terminals.listByRunner(runnerId)) {
      if (terminal.exited) continue;
      ctx.terminal.to(rooms.terminal(terminal.terminalId)).emit("terminal_exit", { terminalId: terminal.terminalId, exitCode: -1 });
      await ctx.state.terminals.update(terminal.terminalId, { exited: true }, terminal.viewer ? 2_000 : 30_000);
    }
    announceRunnerGone(ctx, runnerId);
    ctx.log.info({ runnerId, generation }, "runner removed");
  };
  const run = (): void => {
    teardown().catch((err: unknown) => ctx.log.error({ err, runnerId }, "runner teardown failed"));
  };
  if (ctx.config.runnerReconnectGraceMs === 0) run();
  else setTimeout(run, ctx.config.runnerReconnectGraceMs).unref();
}
