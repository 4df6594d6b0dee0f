import type { TerminalServerToClient } from "../../protocol/index.js";
import { rooms, type TypedSocket } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";

type TerminalFrameName = "terminal_ready" | "terminal_data" | "terminal_exit" | "terminal_error";

/** After an exit, the entry lives 2 s with a browser attached, 30 s without (legacy 5.5). */
export const EXIT_GC_WITH_VIEWER_MS = 2_000;
export const EXIT_GC_WITHOUT_VIEWER_MS = 30_000;

/**
 * A terminal frame from a runner (legacy 4.3): accepted only for a terminal that runner owns, then
 * delivered to the browser's room if one is attached anywhere, or kept in the terminal's bounded buffer
 * until one attaches. `data` stays opaque base64. An exit (or an error for a terminal that never
 * spawned) schedules the entry's removal by TTL.
 */
export async function forwardTerminalFrame(
  ctx: RelayContext,
  socket: TypedSocket<"/runner">,
  name: TerminalFrameName,
  payload: { terminalId: string; runnerId?: string | undefined } & Record<string, unknown>,
): Promise<boolean> {
  const runnerId = socket.data.runnerId;
  const record = await ctx.state.terminals.get(payload.terminalId);
  if (!runnerId || !record || record.runnerId !== runnerId) {
    ctx.log.info({ runnerId, terminalId: payload.terminalId, frame: name }, "terminal frame for a terminal this runner does not own: dropped");
    return false;
  }
  const frame = { ...payload, runnerId: payload.runnerId ?? runnerId };
  const { live } = await ctx.state.terminals.frame(record.terminalId, JSON.stringify({ type: name, ...frame }), ctx.config.terminalBufferBytes);
  if (live) emitFrame(ctx.terminal.to(rooms.terminal(record.terminalId)), record.terminalId, name, frame);
  if (name === "terminal_exit" || (name === "terminal_error" && !record.spawned)) {
    await ctx.state.terminals.update(record.terminalId, { exited: true }, live ? EXIT_GC_WITH_VIEWER_MS : EXIT_GC_WITHOUT_VIEWER_MS);
  }
  return true;
}

/** What can send /terminal events: a browser socket, or a room of them. */
export interface TerminalEmitter {
  emit<E extends keyof TerminalServerToClient>(event: E, ...args: Parameters<TerminalServerToClient[E]>): unknown;
}

/** Sends a live or buffered runner frame to the browser side. */
export function emitFrame(to: TerminalEmitter, terminalId: string, name: string, frame: Record<string, unknown>): void {
  const { terminalId: id = terminalId } = frame as { terminalId?: string };
  switch (name) {
    case "terminal_ready":
      to.emit("terminal_ready", { ...frame, terminalId: id });
      return;
    case "terminal_data":
      to.emit("terminal_data", { ...frame, terminalId: id, data: String(frame.data ?? "") });
      return;
    case "terminal_exit":
      to.emit("terminal_exit", { ...frame, terminalId: id, exitCode: Number(frame.exitCode ?? -1) });
      return;
    case "terminal_error":
      to.emit("terminal_error", { ...frame, terminalId: id, message: String(frame.message ?? "") });
      return;
  }
}
