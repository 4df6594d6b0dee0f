import { terminalClientSchemas, TerminalAuthSchema } from "../../protocol/index.js";
import { bindHandlers, type HandlerTable } from "../io/handlers.js";
import { closeForRetry } from "../io/retry.js";
import { direct, rooms, type TypedSocket } from "../io/typed.js";
import { emitFrame, EXIT_GC_WITH_VIEWER_MS } from "../runners/terminal-frames.js";
import type { RelayContext } from "../sessions/context.js";
import type { TerminalRecord } from "../state/types.js";
import { handshake } from "./middleware.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";

/** An unspawned terminal is collected this long after its creation or its last attach (legacy 5.1). */
export const PENDING_TERMINAL_TTL_MS = 60_000;

/** `/terminal`: a browser's PTY view (legacy `/ws/terminal/:id`, section 5). */
export function mountTerminalNamespace(ctx: RelayContext): void {
  const nsp = ctx.terminal;
  nsp.use(
    handshake(ctx, "/terminal", TerminalAuthSchema, "browser", (socket, { auth, connection }) => {
      socket.data = { ...connection, terminalId: auth.terminalId };
    }),
  );

  /** The terminal, if it still exists and belongs to this browser's user. */
  const owned = async (socket: TypedSocket<"/terminal">): Promise<TerminalRecord | null> => {
    const record = await ctx.state.terminals.get(socket.data.terminalId);
    return record && record.userId === socket.data.userId ? record : null;
  };
  const toRunner = (record: TerminalRecord) => ctx.runner.to(rooms.runner(record.runnerId));

  const handlers: HandlerTable<"/terminal"> = {
    terminal_resize: async (socket, { cols, rows }, ack) => {
      const record = await owned(socket);
      if (!record || record.exited) return ack?.({ ok: true });
      if (!record.spawned) {
        // Deferred spawn: the first resize starts the PTY with the browser's real size.
        const size = { cols: cols > 0 ? cols : record.cols || 80, rows: rows > 0 ? rows : record.rows || 24 };
        await ctx.state.terminals.update(record.terminalId, { spawned: true, ...size }, ctx.config.runnerTtlMs);
        toRunner(record).emit("new_terminal", { terminalId: record.terminalId, ...(record.cwd ? { cwd: record.cwd } : {}), ...size });
      } else {
        toRunner(record).emit("terminal_resize", { cols, rows, terminalId: record.terminalId });
      }
      ack?.({ ok: true });
    },
    terminal_input: async (socket, payload, ack) => {
      const record = await owned(socket);
      if (record && !record.exited) toRunner(record).emit("terminal_input", { ...payload, terminalId: record.terminalId });
      ack?.({ ok: true });
    },
    kill_terminal: async (socket, _payload, ack) => {
      const record = await owned(socket);
      if (record && !record.exited) toRunner(record).emit("kill_terminal", { terminalId: record.terminalId });
      ack?.({ ok: true });
    },
  };

  nsp.on("connection", (socket) => {
    bindHandlers(socket, terminalClientSchemas, handlers, (error) => socket.emit("error", error), ctx, { maxJsonDepth: ctx.config.maxJsonDepth, eventsPerSecond: ctx.config.limits.eventsPerSecond });
    socket.on("disconnect", () => {
      const detach = async (): Promise<void> => {
        if (ctx.lifecycle.shuttingDown) return;
        const record = await ctx.state.terminals.detach(socket.data.terminalId, socket.id);
        if (record?.exited && record.viewer === null) await ctx.state.terminals.delete(record.terminalId);
      };
      detach().catch((err: unknown) => ctx.log.warn({ err }, "terminal detach failed"));
    });
    attach(ctx, socket).catch((err: unknown) => {
      ctx.log.error({ err }, "terminal attach failed");
      reportRefusal(ctx, "unavailable", wireOf(socket), { namespace: "/terminal", terminalId: socket.data.terminalId }, "terminal attach refused: shared state unavailable");
      direct(socket).emit("terminal_error", { terminalId: socket.data.terminalId, message: "Failed to attach terminal" });
      if (!closeForRetry(socket)) socket.disconnect(true);
    });
  });
}

/**
 * Legacy 5.2: unknown → `Terminal not found`, another user's → `Forbidden` (both close); otherwise the
 * browser replaces any previous one, gets the output buffered while none was attached, then
 * `terminal_connected`.
 */
async function attach(ctx: RelayContext, socket: TypedSocket<"/terminal">): Promise<void> {
  const terminalId = socket.data.terminalId;
  const record = await ctx.state.terminals.get(terminalId);
  if (!record || record.userId !== socket.data.userId) {
    reportRefusal(ctx, record ? "forbidden" : "not_found", wireOf(socket), { namespace: "/terminal", terminalId }, "terminal attach refused");
    direct(socket).emit("terminal_error", { terminalId, message: record ? "Forbidden" : "Terminal not found" });
    socket.disconnect(true);
    return;
  }
  const room = rooms.terminal(terminalId);
  // The previous browser is detached (no longer fed) but not closed, as in the legacy relay.
  ctx.terminal.in(room).except(socket.id).socketsLeave(room);
  socket.join(room);
  const attached = await ctx.state.terminals.attach(terminalId, socket.id);
  if (!attached) {
    reportRefusal(ctx, "not_found", wireOf(socket), { namespace: "/terminal", terminalId }, "terminal attach refused");
    direct(socket).emit("terminal_error", { terminalId, message: "Terminal not found" });
    socket.disconnect(true);
    return;
  }
  for (const text of attached.buffered) {
    const { type, ...frame } = JSON.parse(text) as { type: string } & Record<string, unknown>;
    emitFrame(socket, terminalId, type, frame);
  }
  if (attached.record.exited) await ctx.state.terminals.update(terminalId, {}, EXIT_GC_WITH_VIEWER_MS);
  else if (!attached.record.spawned) await ctx.state.terminals.update(terminalId, {}, PENDING_TERMINAL_TTL_MS);
  socket.emit("terminal_connected", { terminalId });
}
