import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** The `pizzapi-relay` command as an operator runs it: exit codes and messages (README, "Commands"). */
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/pizzapi-relay.js");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the command with a clean environment (plus `env`), killed after 15 s: a start that works would not
 * end.
 */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), "pizzapi-cli-"));
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: home, PORT: "0", PIZZAPI_HOST: "127.0.0.1", PIZZAPI_DATA_DIR: join(home, "data"), PIZZAPI_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("exit", (code) => {
      clearTimeout(kill);
      done({ code, stdout, stderr });
    });
  });
}

describe("pizzapi-relay --version", () => {
  it("prints the package.json version and exits 0", async () => {
    const r = await run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });
});

describe("pizzapi-relay start --help", () => {
  it("lists the settings with their meaning, the plugins' included", async () => {
    const r = await run(["start", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}PORT +HTTP port/m);
    expect(r.stdout).toMatch(/^ {2}PIZZAPI_TRUST_PROXY +\S/m);
    expect(r.stdout).toMatch(/^ {2}PIZZAPI_DATA_DIR +\S/m);
    expect(r.stdout).toMatch(/^ {2}PIZZAPI_LEGACY_WS +\S/m);
    expect(r.stdout).toMatch(/^ {2}PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS +\S/m);
  });
});

describe("usage errors exit 2", () => {
  it("an unknown option", async () => {
    const r = await run(["keys", "list", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--bogus");
  });

  // Needs bin/composition.ts to parse --events and --timeout with integerIn (server/cli/options.ts).
  it("a numeric option out of range names the option", async () => {
    for (const args of [["--events", "-3"], ["--events", "two"], ["--timeout", "0"]]) {
      const r = await run(["legacy-cli", "--url", "http://127.0.0.1:9", "--api-key", "k", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(args[0]);
    }
  });
});

describe("configuration errors exit 2 and name the variable", () => {
  it.each([
    ["PORT", "70000"],
    ["PIZZAPI_REDIS_URL", "notaurl"],
    ["PIZZAPI_LEGACY_WS", "maybe"],
    ["PIZZAPI_TRUST_PROXY", "sometimes"],
    ["PIZZAPI_TRUSTED_ORIGINS", "relay.test"],
    ["PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS", "5"],
  ])("%s=%s", async (name, value) => {
    const r = await run(["start"], { [name]: value, PIZZAPI_LOG_LEVEL: "info" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(name);
    // Refused before anything started: no plugin reported itself attached.
    expect(r.stdout).not.toContain("legacy /ws/* endpoints bridged");
  });

  it("a port already in use: PORT/PIZZAPI_HOST and the address", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const r = await run(["start"], { PORT: String(port) });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("PORT/PIZZAPI_HOST");
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect(r.stderr).toContain("already in use");
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("a host name that does not resolve", async () => {
    const r = await run(["start"], { PIZZAPI_HOST: "no-such-host.invalid" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("PIZZAPI_HOST");
  });

  it("a data folder with a file in its place: PIZZAPI_DATA_DIR and the path, no stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pizzapi-datafile-"));
    const file = join(dir, "data");
    writeFileSync(file, "");
    for (const args of [["start"], ["keys", "create", "--user", "alice"]]) {
      const r = await run(args, { PIZZAPI_DATA_DIR: file });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("PIZZAPI_DATA_DIR");
      expect(r.stderr).toContain(file);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  // root writes anywhere: as root, the command runs as `nobody`, to whom the folder is read-only.
  it("a data folder it cannot create or write", async () => {
    // Root writes through any mode bits, and running the command as another user needs a checkout that
    // user can read (a fresh clone under a 0700 temporary folder is not): as root, use sysfs, where
    // nobody may create a folder; otherwise a folder without write permission.
    const asRoot = process.getuid?.() === 0;
    const parent = asRoot ? null : mkdtempSync(join(tmpdir(), "pizzapi-readonly-"));
    const dir = parent ? join(parent, "data") : "/sys/pizzapi-relay-test-data";
    if (parent) mkdirSync(dir, { mode: 0o555 });
    try {
      const r = await run(["start"], { PIZZAPI_DATA_DIR: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("PIZZAPI_DATA_DIR");
      expect(r.stderr).toContain(dir);
    } finally {
      if (parent) chmodSync(dir, 0o700);
    }
  });
});
