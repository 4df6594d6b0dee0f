import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** Runs an example as a reader of the README would (`npx tsx examples/…`), and returns its JSON lines. */
function runExample(file: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", fail);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const lines = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      done({ code, lines, stderr });
    });
  });
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
});
