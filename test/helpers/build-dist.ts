import { execFileSync } from "node:child_process";
import { ROOT, staleBuild } from "../../scripts/dist-freshness.js";

/**
 * vitest's global setup: tests spawn bin/pizzapi-relay.js, which runs dist/, so a stale dist/ is rebuilt
 * first (`npm test` builds anyway; this covers `npx vitest run <file>` after an edit).
 */
export default function setup(): void {
  const reason = staleBuild();
  if (reason === null) return;
  process.stdout.write(`dist/ is stale (${reason}): npm run build\n`);
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
}
