import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleBrowser, forbiddenContent } from "../../scripts/browser-bundle.js";
import { CONSUMER_TS, consumerTsconfig, ENTRIES, IMPORTS_MJS } from "../helpers/package-consumer.js";
import { installInFreshProject, pack, ROOT, runIn, type PackResult } from "../helpers/package-install.js";
import { freePort } from "../helpers/redis.js";

/**
 * The published package as a user gets it: `npm pack`, installed into a fresh project, then its bin,
 * every `exports` entry from plain Node.js and its types from a strict NodeNext TypeScript file.
 */
describe("the npm package", () => {
  const temp = mkdtempSync(join(tmpdir(), "pizzapi-package-"));
  const project = join(temp, "project");
  const bin = join(project, "node_modules/.bin/pizzapi-relay");
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  let packed: PackResult;

  beforeAll(async () => {
    packed = await pack(temp);
    await installInFreshProject(project, packed.filename);
  }, 300_000);

  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  it("holds dist/, bin/, docs/ and the assets the relay serves, and no tests, benches or CI", async () => {
    const listed = await pack(temp, { dryRun: true });
    const paths = listed.files.map((file) => file.path);
    expect(paths.filter((path) => /^(test|bench|\.ci|scripts|examples|node_modules)\//.test(path))).toEqual([]);
    expect(paths.filter((path) => /\.ts$/.test(path) && !path.endsWith(".d.ts"))).toEqual([]);
    for (const path of ["bin/pizzapi-relay.js", "dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/bin/composition.js", "dist/migration/admin-page/index.html", "dist/server/observability/admin-ui-defaults.js", "dist/server/http/share-page/index.html", "dist/server/http/share-page/share-page.js", "README.md", "CHANGELOG.md", "LICENSE", "package.json"]) {
      expect(paths, path).toContain(path);
    }
    expect(paths.some((path) => path.startsWith("docs/"))).toBe(true);
    expect(packed.files.map((file) => file.path).sort()).toEqual([...paths].sort());
  });

  it("runs its bin under Node.js with no TypeScript loader: --version, --help", async () => {
    expect((await runIn(project, bin, ["--version"])).stdout.trim()).toBe(version);
    const { stdout } = await runIn(project, bin, ["--help"]);
    expect(stdout).toContain("pizzapi-relay");
    expect(stdout).toContain("start");
  });

  it("creates a key and starts a relay that answers /healthz and serves its pages from dist/", async () => {
    const dataDir = join(temp, "data");
    const created = await runIn(project, bin, ["keys", "create", "--user", "alice", "--json"], { PIZZAPI_DATA_DIR: dataDir });
    expect((JSON.parse(created.stdout) as { userId: string; key: string }).userId).toBe("alice");

    const port = await freePort();
    const relay = spawn(bin, ["start"], {
      cwd: project,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? temp, PORT: String(port), PIZZAPI_HOST: "127.0.0.1", PIZZAPI_REDIS_URL: "off", PIZZAPI_DATA_DIR: dataDir, PIZZAPI_ADMIN_UI: "on", PIZZAPI_DRAIN_DELAY_MS: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: string[] = [];
    relay.stdout?.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")));
    relay.stderr?.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")));
    try {
      const base = `http://127.0.0.1:${port}`;
      await untilHealthy(`${base}/healthz`, relay, logs);
      for (const path of ["/admin/", "/admin/app.js", "/admin/vendor/uPlot.iife.min.js", "/admin/socketio/relay-defaults.js", "/session/some-id", "/share-page.js"]) {
        const res = await fetch(`${base}${path}`);
        expect(res.status, `${path}\n${logs.join("")}`).toBe(200);
        await res.arrayBuffer();
      }
    } finally {
      await stop(relay);
    }
  }, 60_000);

  it("imports every exports entry from plain Node.js", async () => {
    writeFileSync(join(project, "imports.mjs"), IMPORTS_MJS);
    const { stdout } = await runIn(project, process.execPath, ["imports.mjs"]);
    const found = JSON.parse(stdout) as Record<string, string[]>;
    for (const [specifier, names] of Object.entries(ENTRIES)) expect(found[specifier], specifier).toEqual(expect.arrayContaining(names));
  });

  it("ships a browser entry that bundles for the browser without Node built-ins, zod or semver", async () => {
    const bundle = await bundleBrowser(join(project, "node_modules/pizzapi-relay/dist/clients/browser/index.js"));
    expect(forbiddenContent(bundle)).toEqual([]);
    expect(bundle.code).not.toMatch(/\brequire\(/);
  });

  it("type-checks a consumer against the shipped declarations (strict, NodeNext)", async () => {
    writeFileSync(join(project, "consumer.ts"), CONSUMER_TS);
    writeFileSync(join(project, "tsconfig.json"), consumerTsconfig(join(ROOT, "node_modules/@types")));
    const tsc = join(ROOT, "node_modules/.bin/tsc");
    // tsc prints its diagnostics on stdout and exits non-zero: show them rather than the exit code.
    const output = await runIn(project, tsc, ["--noEmit", "-p", "tsconfig.json"]).then(
      ({ stdout }) => stdout,
      (err: { stdout?: string; message: string }) => err.stdout || err.message,
    );
    expect(output).toBe("");
  }, 60_000);
});

async function untilHealthy(url: string, relay: ChildProcess, logs: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (relay.exitCode !== null) throw new Error(`the relay exited (${relay.exitCode}):\n${logs.join("")}`);
    const ok = await fetch(url).then((res) => res.ok, () => false);
    if (ok) return;
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`no answer from ${url} within 30 s:\n${logs.join("")}`);
}

/** SIGTERM by PID, SIGKILL if it is still there after 10 s. */
async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((done) => proc.once("exit", () => done()));
  if (proc.pid !== undefined) process.kill(proc.pid, "SIGTERM");
  const timer = setTimeout(() => proc.pid !== undefined && proc.exitCode === null && process.kill(proc.pid, "SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
