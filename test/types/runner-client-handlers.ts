/**
 * Type-level test, checked by `tsc --noEmit`: the runner client's handler table follows the protocol's
 * RunnerServerToClient map (payloads are the commands' payloads, results are the replies the client can
 * turn into frames), and a handler for something that is not a command is refused.
 */
import type { CommandPayload, RunnerCommand, RunnerHandlers } from "../../clients/socketio/runner-client.js";
import type { RunnerServerToClient } from "../../protocol/index.js";

// Control: a handler for each kind of reply.
export const complete: RunnerHandlers = {
  new_session: async ({ sessionId, cwd }) => (cwd ? { ok: true } : { ok: false, message: `no cwd for ${sessionId}` }),
  kill_session: () => undefined,
  list_sessions: () => ["s1"],
  new_terminal: ({ terminalId, cols, rows }) => void [terminalId, cols, rows],
  get_skill: ({ name }) => ({ ok: true, content: `# ${name}` }),
  delete_skill: async () => ({ ok: false, message: "read-only" }),
};

// Every command of the protocol map, and nothing else, is a command (the two notifications are not).
export const commands: Exclude<keyof RunnerServerToClient, "runner_registered" | "error"> extends RunnerCommand ? true : false = true;
export const newSession: CommandPayload<"new_session"> = { sessionId: "s", cwd: "/srv" };

// @ts-expect-error `not_a_command` is not in the runner map.
export const extra: RunnerHandlers = { not_a_command: () => undefined };

// @ts-expect-error a failed spawn needs the message the REST caller gets.
export const noMessage: RunnerHandlers = { new_session: () => ({ ok: false }) };

// @ts-expect-error list_sessions answers session ids, not a count.
export const wrongList: RunnerHandlers = { list_sessions: () => 3 };

// @ts-expect-error runner_registered is a notification, not a command.
export const notification: RunnerHandlers = { runner_registered: () => undefined };
