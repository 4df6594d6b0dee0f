import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Whether dist/ (what bin/pizzapi-relay.js runs) is older than the sources it is built from. Tests and
 * benches spawn the bin: after an edit, they would otherwise run the previous build without a word.
 */

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What `npm run build` reads (tsconfig.build.json's include, its config and the copied assets). */
const INPUTS = ["index.ts", "protocol", "server", "bridge", "clients", "migration", "bin/composition.ts", "tsconfig.json", "tsconfig.build.json"];

/** The module the bin loads first; the build writes every file of dist/ after removing the old ones. */
const BUILT = "dist/server/cli/main.js";

function newestMtimeMs(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, name)));
  return newest;
}

/** Null when dist/ is up to date, else why it is not. */
export function staleBuild(root: string = ROOT): string | null {
  const built = join(root, BUILT);
  if (!existsSync(built)) return `${BUILT} is missing`;
  const builtAt = statSync(built).mtimeMs;
  for (const input of INPUTS) {
    const path = join(root, input);
    if (existsSync(path) && newestMtimeMs(path) > builtAt) return `${input} changed since the last build`;
  }
  return null;
}
