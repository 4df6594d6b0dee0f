// Part of `npm run build` (scripts/build.mjs): tsc emits only JavaScript, so this copies every other
// file under the source directories (the operator page, the Admin UI presets, ...) to the same place
// under the output directory, where the built modules find them next to themselves, as the sources do
// (import.meta.dirname).
import { cpSync, existsSync, readdirSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";

const SOURCE_DIRS = ["protocol", "server", "bridge", "clients", "migration"];

function* assetsUnder(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* assetsUnder(path);
    else if (extname(name) !== ".ts") yield path;
  }
}

/** Copies the non-TypeScript files of `root`'s source directories into `outDir`; returns how many. */
export function copyAssets(root, outDir) {
  let copied = 0;
  for (const source of SOURCE_DIRS) {
    const dir = join(root, source);
    if (!existsSync(dir)) continue;
    for (const file of assetsUnder(dir)) {
      cpSync(file, join(outDir, relative(root, file)));
      copied++;
    }
  }
  return copied;
}
