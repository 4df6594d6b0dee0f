/**
 * Which session events become Web Push notifications, and what they say (docs/legacy-protocol.md 2.8).
 * Pure functions: no I/O, no clock, so the table is tested on its own.
 */

/** The notification types the relay sends. (Legacy also declares `session_started`/`session_ended`, never sent.) */
export type NotificationType = "agent_finished" | "agent_needs_input" | "agent_error";

/** The JSON a subscriber's service worker receives. Only `agent_finished` carries the session id (as in legacy). */
export type PushPayload =
  | { type: "agent_finished"; title: "Agent finished"; body: string; sessionId: string }
  | { type: "agent_needs_input"; title: "Input needed"; body: string }
  | { type: "agent_error"; title: "Agent error"; body: string };

/** Longest excerpt of a question or error message put in a body. */
export const EXCERPT_CHARS = 120;

/** How a session is named in a notification: its name, else the first 8 characters of its id. */
export function sessionLabel(sessionId: string, sessionName: string | null | undefined): string {
  return sessionName ?? sessionId.slice(0, 8);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A non-empty string to quote, cut to EXCERPT_CHARS; anything else means "no text". */
function excerpt(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value.slice(0, EXCERPT_CHARS) : null;
}

/**
 * The notification an event of the session triggers, or null. `label` is `sessionLabel(...)`.
 *
 * - `agent_end` → agent_finished;
 * - `tool_execution_start` of the `AskUserQuestion` tool → agent_needs_input, quoting `args.question`;
 * - `cli_error` → agent_error, quoting `message`.
 */
export function notificationFor(event: unknown, label: string, sessionId: string): PushPayload | null {
  if (!isRecord(event)) return null;
  switch (event.type) {
    case "agent_end":
      return { type: "agent_finished", title: "Agent finished", body: `Your agent in "${label}" has finished its task.`, sessionId };
    case "tool_execution_start": {
      if (event.toolName !== "AskUserQuestion") return null;
      const question = excerpt(isRecord(event.args) ? event.args.question : undefined);
      const body = question !== null ? `Agent in "${label}" asks: ${question}` : `Agent in "${label}" is waiting for your input.`;
      return { type: "agent_needs_input", title: "Input needed", body };
    }
    case "cli_error": {
      const message = excerpt(event.message);
      const body = message !== null ? `Error in "${label}": ${message}` : `An error occurred in session "${label}".`;
      return { type: "agent_error", title: "Agent error", body };
    }
    default:
      return null;
  }
}

/** True when a subscription's `enabledEvents` ("*" or a comma list of types) asks for `type`. */
export function wantsType(enabledEvents: string, type: string): boolean {
  return enabledEvents
    .split(",")
    .map((entry) => entry.trim())
    .some((entry) => entry === "*" || entry === type);
}
