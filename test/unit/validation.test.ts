import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  nestedDeeperThan,
  relayClientSchemas,
  runnerClientSchemas,
  terminalClientSchemas,
  validate,
  viewerClientSchemas,
} from "../../protocol/index.js";

/**
 * The validator of every client event, as one table (graphql-ws `tests/common.test.ts` style): each row
 * is an invalid payload and the field its error must name. The handlers call
 * `validate(schema, payload, "<event> payload")`, which is what runs here.
 */

const tables = {
  "/relay": relayClientSchemas,
  "/viewer": viewerClientSchemas,
  "/runner": runnerClientSchemas,
  "/terminal": terminalClientSchemas,
} as const satisfies Record<string, Record<string, z.ZodType>>;

type Ns = keyof typeof tables;

function schemaOf(ns: Ns, event: string): z.ZodType {
  const schema = (tables[ns] as Record<string, z.ZodType>)[event];
  if (!schema) throw new Error(`no schema for ${ns} ${event}`);
  return schema;
}

const run = (ns: Ns, event: string, payload: unknown) => validate(schemaOf(ns, event), payload, `${event} payload`);

/** [namespace, event, payload, field the message must name] */
const invalid: Array<[Ns, string, unknown, string]> = [
  ["/relay", "register", { cwd: 5 }, "cwd"],
  ["/relay", "register", { sessionId: 12 }, "sessionId"],
  ["/relay", "register", { ephemeral: "yes" }, "ephemeral"],
  ["/relay", "register", { collabMode: 1 }, "collabMode"],
  ["/relay", "register", { sessionName: 7 }, "sessionName"],
  ["/relay", "register", "register me", "register payload"],
  ["/relay", "event", { seq: "1" }, "seq"],
  ["/relay", "event", { token: 42, event: {} }, "token"],
  ["/relay", "session_end", { token: ["t"] }, "token"],
  ["/relay", "exec_result", { ok: true, command: "abort" }, "id"],
  ["/relay", "exec_result", { id: "e1", ok: "true", command: "abort" }, "ok"],
  ["/relay", "exec_result", { id: "e1", ok: false, command: "abort", error: { message: "x" } }, "error"],
  ["/viewer", "input", {}, "text"],
  ["/viewer", "input", { text: 5 }, "text"],
  ["/viewer", "input", { text: "hi", attachments: "a1" }, "attachments"],
  ["/viewer", "model_set", { provider: "anthropic" }, "modelId"],
  ["/viewer", "model_set", { provider: 1, modelId: "claude" }, "provider"],
  ["/viewer", "exec", { command: "abort" }, "id"],
  ["/viewer", "exec", { id: "e1", command: 3 }, "command"],
  ["/viewer", "exec", null, "exec payload"],
  ["/runner", "register_runner", { roots: "/home" }, "roots"],
  ["/runner", "register_runner", { roots: ["/home", 2] }, "roots.1"],
  ["/runner", "register_runner", { skills: [{ description: "no name" }] }, "skills.0.name"],
  ["/runner", "session_ready", {}, "sessionId"],
  ["/runner", "session_error", { sessionId: "s", message: 500 }, "message"],
  ["/runner", "sessions_list", { sessions: "s1,s2" }, "sessions"],
  ["/runner", "skills_list", { skills: [{ name: "a", filePath: "/a" }] }, "skills.0.description"],
  ["/runner", "skill_result", { requestId: "r1" }, "ok"],
  ["/runner", "terminal_data", { terminalId: "t1" }, "data"],
  ["/runner", "terminal_exit", { terminalId: "t1", exitCode: "0" }, "exitCode"],
  ["/runner", "terminal_error", { message: "boom" }, "terminalId"],
  ["/terminal", "terminal_resize", { cols: 80 }, "rows"],
  ["/terminal", "terminal_resize", { cols: "80", rows: 24 }, "cols"],
  ["/terminal", "terminal_input", { data: 5 }, "data"],
];

describe("validate(): invalid client payloads", () => {
  it.each(invalid)("%s %s %j → invalid_payload naming %s", (ns, event, payload, field) => {
    const result = run(ns, event, payload);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("invalid_payload");
    const prefix = `Invalid ${event} payload: `;
    expect(result.error.message.startsWith(prefix)).toBe(true);
    const issues = result.error.message.slice(prefix.length).split("; ");
    expect(issues.some((issue) => issue.startsWith(`${field}: `))).toBe(true);
  });

  it("names every offending field (up to five), not only the first", () => {
    const result = run("/terminal", "terminal_resize", { cols: "80", rows: "24" });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toContain("cols: ");
      expect(result.error.message).toContain("rows: ");
    }
    const many = run("/runner", "skills_list", { skills: Array.from({ length: 8 }, () => ({})) });
    if (many.ok) throw new Error("expected a failure");
    expect(many.error.message.split("; ")).toHaveLength(5);
  });

  it("never throws, whatever the input", () => {
    for (const raw of [undefined, null, 0, "", [], Symbol("x"), () => 1, new Date(), Object.create(null)]) {
      expect(() => run("/viewer", "model_set", raw)).not.toThrow();
      expect(run("/viewer", "model_set", raw).ok).toBe(false);
    }
  });
});

describe("validate(): valid client payloads", () => {
  it("viewer exec keeps its command-specific arguments (forwarded verbatim to the CLI)", () => {
    const payload = { id: "e1", command: "set_model", provider: "anthropic", modelId: "claude", nested: { a: [1, 2] } };
    const result = run("/viewer", "exec", payload);
    expect(result).toEqual({ ok: true, value: payload });
  });

  it("relay exec_result keeps unknown keys (forwarded verbatim to viewers)", () => {
    const payload = { id: "e1", ok: true, command: "get_commands", result: { commands: ["/a"] }, extra: "kept", n: 1 };
    expect(run("/relay", "exec_result", payload)).toEqual({ ok: true, value: payload });
  });

  it("terminal_input keeps extra keys for the runner", () => {
    const payload = { data: "aGk=", encoding: "base64" };
    expect(run("/terminal", "terminal_input", payload)).toEqual({ ok: true, value: payload });
  });

  it("register accepts an empty payload and a null sessionName, and strips unknown keys", () => {
    expect(run("/relay", "register", {})).toEqual({ ok: true, value: {} });
    expect(run("/relay", "register", { sessionId: "s1", sessionName: null, extra: 1 })).toEqual({
      ok: true,
      value: { sessionId: "s1", sessionName: null },
    });
  });

  it("event accepts any opaque event, and no event at all", () => {
    const payload = { token: "t", seq: 3, event: { type: "message_update", deep: { x: [null] } } };
    expect(run("/relay", "event", payload)).toEqual({ ok: true, value: payload });
    expect(run("/relay", "event", { event: "a string event" }).ok).toBe(true);
    expect(run("/relay", "event", {}).ok).toBe(true);
  });

  it("input leaves attachments, client and deliverAs to the relay's normalisation", () => {
    const payload = { text: "hi", attachments: [7, { foo: 1 }], client: 5, deliverAs: "sideways" };
    expect(run("/viewer", "input", payload)).toEqual({ ok: true, value: payload });
  });

  it("runner register_runner accepts skills without description or filePath", () => {
    expect(run("/runner", "register_runner", { name: null, roots: ["/w"], skills: [{ name: "s" }] }).ok).toBe(true);
  });
});

describe("nestedDeeperThan(): the depth limit on client JSON", () => {
  const nest = (levels: number): unknown => JSON.parse("[".repeat(levels) + "1" + "]".repeat(levels));

  it("counts scalars as depth 0 and each array or object as one level", () => {
    expect(nestedDeeperThan("x", 0)).toBe(false);
    expect(nestedDeeperThan({}, 0)).toBe(true);
    expect(nestedDeeperThan({}, 1)).toBe(false);
    expect(nestedDeeperThan({ a: [{ b: 1 }] }, 2)).toBe(true);
    expect(nestedDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
  });

  it("finds the deep branch beside shallow ones, in arrays and objects", () => {
    expect(nestedDeeperThan({ wide: Array.from({ length: 100 }, () => ({})), deep: nest(70) }, 64)).toBe(true);
    expect(nestedDeeperThan([1, "a", null, nest(63)], 64)).toBe(false);
  });

  it("walks 100,000 levels without overflowing the stack", () => {
    expect(nestedDeeperThan(nest(100_000), 64)).toBe(true);
  });
});
