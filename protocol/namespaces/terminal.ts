import { z } from "zod";
import type { ClientEventMap, NoInterServerEvents } from "../define.js";
import type { ErrorBody } from "../errors.js";
import { HandshakeVersionFields, type ConnectionData } from "../shared.js";

/** `/terminal`: a browser PTY view. Replaces legacy `/ws/terminal/:id` (docs/legacy-protocol.md section 5). */

export const TerminalAuthSchema = z.object({
  terminalId: z.string().min(1),
  apiKey: z.string().min(1).optional(),
  ...HandshakeVersionFields,
});

export const terminalClientSchemas = {
  /** The first resize of an unspawned terminal spawns the PTY (deferred spawn). */
  terminal_resize: z.object({ cols: z.number(), rows: z.number() }),
  /** Opaque base64; extra keys are forwarded to the runner as the legacy relay did. */
  terminal_input: z.looseObject({ data: z.string() }),
  kill_terminal: z.object({}),
} as const;

export type TerminalClientToServer = ClientEventMap<typeof terminalClientSchemas, Record<never, never>>;

interface TerminalFrame {
  terminalId: string;
  runnerId?: string;
}

export interface TerminalServerToClient {
  terminal_connected: (payload: { terminalId: string }) => void;
  terminal_ready: (payload: TerminalFrame) => void;
  terminal_data: (payload: TerminalFrame & { data: string }) => void;
  terminal_exit: (payload: TerminalFrame & { exitCode: number }) => void;
  terminal_error: (payload: TerminalFrame & { message: string }) => void;
  error: (payload: ErrorBody) => void;
}

export type TerminalInterServer = NoInterServerEvents;

export interface TerminalSocketData extends ConnectionData {
  terminalId: string;
}
