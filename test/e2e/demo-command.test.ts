import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type TestRelay } from "../helpers/relay.js";

/** `pizzapi-relay demo` as a person runs it (README, "First session in five commands"): the real bin. */
const BIN = join(resolve(import.meta.dirname, "../.."), "bin/pizzapi-relay.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the bin; killed by its PID after 15 s (a demo without --count would not end). `interruptAfter`:
 * sends SIGINT (Ctrl-C) by PID once stdout contains it.
 */
function run(args: string[], interruptAfter?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let interrupted = false;
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (interruptAfter !== undefined && !interrupted && stdout.includes(interruptAfter) && child.pid !== undefined) {
        interrupted = true;
        process.kill(child.pid, "SIGINT");
      }
    });
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const kill = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 15_000);
    child.on("exit", (code) => {
      clearTimeout(kill);
      done({ code, stdout, stderr });
    });
  });
}

describe("pizzapi-relay demo", () => {
  let node: TestRelay;
  let key: string;

  beforeAll(async () => {
    node = await startRelay({ PIZZAPI_BASE_URL: "http://watch.test" });
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("--count 3: prints the shareUrl, publishes three events, ends the session and exits 0", async () => {
    const r = await run(["demo", "--url", node.url, "--api-key", key, "--count", "3", "--interval", "50"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const sessionId = /^watch at http:\/\/watch\.test\/session\/(\S+)$/.exec(lines[0] ?? "")?.[1];
    expect(sessionId).toBeDefined();
    expect(lines.slice(1)).toEqual(["published 1/3", "published 2/3", "published 3/3", "session ended"]);
    expect(r.stdout).not.toContain(key);
    const record = await node.relay.ctx.state.sessions.get(sessionId ?? "");
    expect(record).toMatchObject({ live: false, seq: 3, userId: "alice" });
  });

  it("without --count, runs until Ctrl-C, then ends the session and exits 0", async () => {
    const r = await run(["demo", "--url", node.url, "--api-key", key, "--interval", "50"], "published 2\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^watch at http:\/\/watch\.test\/session\/\S+\npublished 1\npublished 2\n/);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("session ended");
  });

  it("a refused key exits 1 with the relay's reason; --count out of range is a usage error", async () => {
    const refused = await run(["demo", "--url", node.url, "--api-key", "0".repeat(64), "--count", "1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^demo: the relay refused the connection: /);
    for (const count of ["0", "two"]) {
      const r = await run(["demo", "--url", node.url, "--api-key", key, "--count", count]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--count");
    }
  });
});
