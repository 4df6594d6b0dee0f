import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryState } from "../../server/state/memory.js";
import { Deadlines, StateUnavailableError, withTimeouts } from "../../server/state/timeouts.js";
import type { ApiKeyStore, SharedState } from "../../server/state/types.js";

/** Shared-state deadlines (server/state/timeouts.ts): what can wait on something outside the process is bounded. */
describe("withTimeouts", () => {
  const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
  const deadlines = new Deadlines(100);
  afterAll(() => deadlines.stop());
  const dataDir = (): string => mkdtempSync(join(tmpdir(), "pizzapi-timeouts-"));
  const hangingKeys: ApiKeyStore = { create: never, verify: never, list: never, revoke: never, exists: never, existing: never };

  it("refuses a call of a Redis-kind store that never answers, once its deadline has passed", async () => {
    const base = createMemoryState({ dataDir: dataDir() });
    const hanging = new Proxy(base.sessions, { get: (target, property) => (property === "listByUser" ? never : Reflect.get(target, property)) });
    const state: SharedState = { ...base, kind: "redis", sessions: hanging };
    const started = Date.now();
    await expect(withTimeouts(state, deadlines).sessions.listByUser("alice")).rejects.toBeInstanceOf(StateUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    // Calls that answer are passed through, with their value.
    await expect(withTimeouts(state, deadlines).sessions.get("nope")).resolves.toBeNull();
  });

  it("bounds the embedded state's API keys (files), and leaves its in-process stores as they are", async () => {
    const state = createMemoryState({ dataDir: dataDir(), keys: hangingKeys });
    const bounded = withTimeouts(state, deadlines);
    await expect(bounded.keys.verify("k")).rejects.toBeInstanceOf(StateUnavailableError);
    expect(bounded.sessions).toBe(state.sessions);
    expect(bounded.runners).toBe(state.runners);
    expect(bounded.terminals).toBe(state.terminals);
  });
});
