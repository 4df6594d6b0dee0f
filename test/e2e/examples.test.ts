import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

const ROOT = resolve(import.meta.dirname, "../..");

type Line = Record<string, unknown>;

/**
 * Runs an example as a reader of the README would (`npx tsx examples/…`). `whileRunning` sees its JSON
 * lines as they come and may act on them (then the example is stopped with SIGINT, as a user would).
 */
function runExample(
  file: string,
  args: string[],
  env: Record<string, string>,
  whileRunning?: (lines: Line[], changed: () => Promise<void>) => Promise<void>,
): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    const lines: Line[] = [];
    let buffer = "";
    let stderr = "";
    let wake: () => void = () => undefined;
    const changed = (): Promise<void> => new Promise((resolve) => (wake = resolve));
    child.stdout.on("data", (c: Buffer) => {
      buffer += c.toString("utf8");
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const l of parts) if (l) lines.push(JSON.parse(l) as Line);
      wake();
    });
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", fail);
    child.on("exit", (code) => {
      clearTimeout(timer);
      wake();
      done({ code, lines, stderr });
    });
    whileRunning?.(lines, changed).then(
      () => child.kill("SIGINT"),
      (err: unknown) => (child.kill("SIGKILL"), fail(err)),
    );
  });
}

async function until(lines: Line[], changed: () => Promise<void>, predicate: (l: Line) => boolean): Promise<Line> {
  for (;;) {
    const found = lines.find(predicate);
    if (found) return found;
    await changed();
  }
}

/** The README's client examples run as printed, against a real relay. */
describe("README examples", () => {
  let node: TestRelay;
  let key: string;

  beforeAll(async () => {
    ({ node, key } = await startRelayWithAlice());
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("examples/cli-client.ts publishes, flushes and ends its session", async () => {
    const { code, lines, stderr } = await runExample("examples/cli-client.ts", [node.url], { PIZZAPI_API_KEY: key });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const registered = lines.find((l) => "registered" in l)?.registered as string;
    expect(lines).toContainEqual({ stats: { published: 3, resent: 0, duplicates: 0, dropped: 0 } });
    const record = await node.relay.ctx.state.sessions.get(registered);
    expect(record?.live).toBe(false);
    expect(record?.seq).toBe(3);
  });

  it("examples/runner-client.ts registers and answers a REST spawn; SIGINT closes it", async () => {
    let spawned: unknown;
    const { code, lines, stderr } = await runExample("examples/runner-client.ts", [node.url], { PIZZAPI_API_KEY: key }, async (lines, changed) => {
      const runnerId = (await until(lines, changed, (l) => "registered" in l)).registered as string;
      const res = await fetch(`${node.url}/api/runners/spawn`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ runnerId, cwd: `${ROOT}/examples` }), // inside the example's root (its cwd)
      });
      spawned = { status: res.status, body: await res.json() };
      await until(lines, changed, (l) => "spawn" in l);
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(spawned).toMatchObject({ status: 200, body: { ok: true, pending: false } });
    const sessionId = (spawned as { body: { sessionId: string } }).body.sessionId;
    expect(lines).toContainEqual({ spawn: sessionId, cwd: `${ROOT}/examples` });
  });
});
