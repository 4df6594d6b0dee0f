import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, "../..");

/** One entry of `npm pack --json`. */
export interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

/**
 * `npm pack` of this repository into `dir`, without the lifecycle scripts: dist/ is already built (by
 * `npm test` or the global setup), and `prepare` would rebuild it under the feet of the other test files.
 */
export async function pack(dir: string, options: { dryRun?: boolean } = {}): Promise<PackResult> {
  const args = ["pack", "--json", "--ignore-scripts", "--pack-destination", dir, ...(options.dryRun ? ["--dry-run"] : [])];
  const { stdout } = await run("npm", args, { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const results = JSON.parse(stdout) as PackResult[];
  const result = results[0];
  if (!result) throw new Error(`npm pack printed no result: ${stdout}`);
  return { ...result, filename: join(dir, result.filename) };
}

/** A fresh ES-module project in `dir` with the tarball installed, as a user's project would have it. */
export async function installInFreshProject(dir: string, tarball: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "pizzapi-relay-consumer", private: true, type: "module" }, null, 2));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: dir,
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
}

/** Runs a program with a bound in time; resolves with its output, rejects with it on a non-zero exit. */
export async function runIn(dir: string, file: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run(file, args, { cwd: dir, timeout: 60_000, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
}
