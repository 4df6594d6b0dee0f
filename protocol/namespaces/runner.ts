import { z } from "zod";
import type { ClientEventMap } from "../define.js";
import type { ErrorBody } from "../errors.js";
import { HandshakeVersionFields, RunnerSkillSchema, type RunnerSkill, type ConnectionData } from "../shared.js";

/**
 * `/runner`: the runner daemon's control channel. Replaces legacy `/ws/runner` (docs/legacy-protocol.md
 * section 4). Both runner generations are covered: `register_runner` with or without identity.
 */

export const RunnerAuthSchema = z.object({
  /** Optional in the schema so a missing key is answered `unauthorized`, not `invalid_payload`. */
  apiKey: z.string().optional(),
  /** Old runners: the server-wide PIZZAPI_RUNNER_TOKEN instead of an API key (they belong to no user). */
  runnerToken: z.string().optional(),
  runnerId: z.string().optional(),
  runnerSecret: z.string().optional(),
  ...HandshakeVersionFields,
});

export const RegisterRunnerSchema = z.object({
  runnerId: z.string().optional(),
  runnerSecret: z.string().optional(),
  name: z.string().nullable().optional(),
  roots: z.array(z.string()).optional(),
  skills: z.array(RunnerSkillSchema.partial({ description: true, filePath: true })).optional(),
});

const RunnerSession = z.object({ runnerId: z.string().optional(), sessionId: z.string() });
const TerminalFrame = z.object({ terminalId: z.string(), runnerId: z.string().optional() });

export const runnerClientSchemas = {
  register_runner: RegisterRunnerSchema,
  session_ready: RunnerSession,
  session_error: RunnerSession.extend({ message: z.string().optional() }),
  session_killed: RunnerSession,
  sessions_list: z.object({ runnerId: z.string().optional(), sessions: z.array(z.string()) }),
  skills_list: z.object({ runnerId: z.string().optional(), requestId: z.string().optional(), skills: z.array(RunnerSkillSchema) }),
  skill_result: z.object({
    runnerId: z.string().optional(),
    requestId: z.string().optional(),
    ok: z.boolean(),
    message: z.string().optional(),
    skills: z.array(RunnerSkillSchema).optional(),
    name: z.string().optional(),
    content: z.string().optional(),
  }),
  runner_session_event: z.object({ sessionId: z.string(), event: z.unknown().optional() }),
  pong: z.object({ runnerId: z.string().optional(), now: z.number().optional() }),
  terminals_list: z.object({ runnerId: z.string().optional(), terminals: z.array(z.string()) }),
  terminal_ready: TerminalFrame,
  /** `data` is opaque base64: the relay never decodes it. */
  terminal_data: TerminalFrame.extend({ data: z.string() }),
  terminal_exit: TerminalFrame.extend({ exitCode: z.number() }),
  terminal_error: TerminalFrame.extend({ message: z.string() }),
} as const;

interface RunnerReplies {
  register_runner: { runnerId: string };
}

export type RunnerClientToServer = ClientEventMap<typeof runnerClientSchemas, RunnerReplies>;

export interface RunnerServerToClient {
  runner_registered: (payload: { runnerId: string }) => void;
  error: (payload: ErrorBody) => void;
  new_session: (payload: { sessionId: string; cwd?: string }) => void;
  kill_session: (payload: { sessionId: string }) => void;
  restart: (payload: Record<never, never>) => void;
  list_sessions: (payload: Record<never, never>) => void;
  ping: (payload: Record<never, never>) => void;
  new_terminal: (payload: { terminalId: string; cwd?: string; shell?: string; cols: number; rows: number }) => void;
  terminal_input: (payload: { terminalId: string; data: string } & Record<string, unknown>) => void;
  terminal_resize: (payload: { terminalId: string; cols: number; rows: number }) => void;
  kill_terminal: (payload: { terminalId: string }) => void;
  list_terminals: (payload: Record<never, never>) => void;
  list_skills: (payload: { requestId?: string }) => void;
  get_skill: (payload: { name: string; requestId: string }) => void;
  create_skill: (payload: { name: string; content: string; requestId: string }) => void;
  update_skill: (payload: { name: string; content: string; requestId: string }) => void;
  delete_skill: (payload: { name: string; requestId: string }) => void;
}

/** A runner's answer to a request, routed to whichever node is waiting for it. */
export type RunnerReply =
  | { kind: "spawn"; ok: boolean; message?: string }
  | { kind: "skills"; ok: boolean; message?: string; skills?: RunnerSkill[]; name?: string; content?: string };

/**
 * Between relay nodes: a runner's reply reaches the node whose REST call waits for it (`key` is the
 * request's correlation id), and a runner's final departure rejects what still waits for it.
 */
export interface RunnerInterServer {
  runner_reply: (payload: { key: string; runnerId: string; reply: RunnerReply }) => void;
  runner_gone: (payload: { runnerId: string }) => void;
}

export interface RunnerSocketData extends ConnectionData {
  runnerId: string | null;
  /** Registration generation in shared state: only the current one may refresh or remove the record. */
  generation: number;
  skills: RunnerSkill[];
}
