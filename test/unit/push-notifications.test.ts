import { describe, expect, it } from "vitest";
import { EXCERPT_CHARS, notificationFor, sessionLabel, wantsType } from "../../server/push/notifications.js";

/** Legacy 2.8: which session events notify, and the exact payloads. */

const ID = "0123456789abcdef-session";
const LABEL = "my project";
const long = "x".repeat(EXCERPT_CHARS) + "TAIL";

describe("sessionLabel", () => {
  it("is the session name, else the first 8 characters of the id", () => {
    expect(sessionLabel(ID, "my project")).toBe("my project");
    expect(sessionLabel(ID, null)).toBe("01234567");
    expect(sessionLabel(ID, undefined)).toBe("01234567");
    expect(sessionLabel("abc", null)).toBe("abc");
  });

  it("feeds the payload (the fallback label ends up in the body)", () => {
    expect(notificationFor({ type: "agent_end" }, sessionLabel(ID, null), ID)?.body).toBe('Your agent in "01234567" has finished its task.');
  });
});

describe("notificationFor", () => {
  const triggering: Array<[string, unknown, unknown]> = [
    [
      "agent_end → agent_finished (with the session id)",
      { type: "agent_end", messages: [] },
      { type: "agent_finished", title: "Agent finished", body: 'Your agent in "my project" has finished its task.', sessionId: ID },
    ],
    [
      "AskUserQuestion with a question → quoted",
      { type: "tool_execution_start", toolName: "AskUserQuestion", toolCallId: "t1", args: { question: "Deploy now?" } },
      { type: "agent_needs_input", title: "Input needed", body: 'Agent in "my project" asks: Deploy now?' },
    ],
    [
      "AskUserQuestion with a long question → first 120 characters",
      { type: "tool_execution_start", toolName: "AskUserQuestion", args: { question: long } },
      { type: "agent_needs_input", title: "Input needed", body: `Agent in "my project" asks: ${"x".repeat(120)}` },
    ],
    [
      "AskUserQuestion with exactly 120 characters → whole",
      { type: "tool_execution_start", toolName: "AskUserQuestion", args: { question: "q".repeat(120) } },
      { type: "agent_needs_input", title: "Input needed", body: `Agent in "my project" asks: ${"q".repeat(120)}` },
    ],
    [
      "AskUserQuestion without args → waiting",
      { type: "tool_execution_start", toolName: "AskUserQuestion" },
      { type: "agent_needs_input", title: "Input needed", body: 'Agent in "my project" is waiting for your input.' },
    ],
    [
      "AskUserQuestion with a non-string question → waiting",
      { type: "tool_execution_start", toolName: "AskUserQuestion", args: { question: { text: "hi" } } },
      { type: "agent_needs_input", title: "Input needed", body: 'Agent in "my project" is waiting for your input.' },
    ],
    [
      "AskUserQuestion with an empty question → waiting",
      { type: "tool_execution_start", toolName: "AskUserQuestion", args: { question: "" } },
      { type: "agent_needs_input", title: "Input needed", body: 'Agent in "my project" is waiting for your input.' },
    ],
    [
      "cli_error with a message → quoted",
      { type: "cli_error", message: "API key rejected" },
      { type: "agent_error", title: "Agent error", body: 'Error in "my project": API key rejected' },
    ],
    [
      "cli_error with a long message → first 120 characters",
      { type: "cli_error", message: long },
      { type: "agent_error", title: "Agent error", body: `Error in "my project": ${"x".repeat(120)}` },
    ],
    [
      "cli_error without a message → generic",
      { type: "cli_error" },
      { type: "agent_error", title: "Agent error", body: 'An error occurred in session "my project".' },
    ],
    [
      "cli_error with a non-string message → generic",
      { type: "cli_error", message: 42 },
      { type: "agent_error", title: "Agent error", body: 'An error occurred in session "my project".' },
    ],
  ];

  it.each(triggering)("%s", (_name, event, expected) => {
    expect(notificationFor(event, LABEL, ID)).toEqual(expected);
  });

  const quiet: Array<[string, unknown]> = [
    ["undefined", undefined],
    ["null", null],
    ["a string", "agent_end"],
    ["an array", [{ type: "agent_end" }]],
    ["no type", { toolName: "AskUserQuestion" }],
    ["agent_start", { type: "agent_start" }],
    ["turn_end", { type: "turn_end" }],
    ["message_update", { type: "message_update" }],
    ["heartbeat", { type: "heartbeat", active: false }],
    ["session_active", { type: "session_active", state: {} }],
    ["another tool starting", { type: "tool_execution_start", toolName: "Bash", args: { question: "?" } }],
    ["AskUserQuestion ending", { type: "tool_execution_end", toolName: "AskUserQuestion" }],
    ["a declared but never-sent type", { type: "session_started" }],
  ];

  it.each(quiet)("%s → null", (_name, event) => {
    expect(notificationFor(event, LABEL, ID)).toBeNull();
  });
});

describe("wantsType", () => {
  const cases: Array<[string, string, boolean]> = [
    ["*", "agent_finished", true],
    ["*", "agent_error", true],
    ["agent_finished", "agent_finished", true],
    ["agent_finished", "agent_error", false],
    ["agent_finished,agent_error", "agent_error", true],
    ["agent_finished, agent_error", "agent_error", true],
    [" agent_needs_input ,agent_error", "agent_needs_input", true],
    ["agent_finished,agent_error", "agent_needs_input", false],
    ["agent", "agent_finished", false],
    ["agent_finished_x", "agent_finished", false],
    ["", "agent_finished", false],
    [",,", "agent_finished", false],
  ];

  it.each(cases)("%j wants %s: %s", (enabled, type, expected) => {
    expect(wantsType(enabled, type)).toBe(expected);
  });
});
