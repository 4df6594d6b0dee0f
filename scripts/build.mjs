// `npm run build`: compiles the sources (tsconfig.build.json) and their assets into a fresh directory,
// then swaps it in for dist/ in one rename, so that a relay started meanwhile (another test run, a
// bench) never finds dist/ missing or half written, and nothing deleted from the sources lingers.
// Plain JavaScript: it runs under Node.js before anything is compiled, with no TypeScript loader.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { copyAssets } from "./copy-assets.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const next = join(ROOT, `.dist-next-${process.pid}`);
const old = join(ROOT, `.dist-old-${process.pid}`);
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
/** How every browser bundle is built (also read by scripts/browser-bundle.ts and server/http/share-page.ts). */
const bundleOptions = JSON.parse(readFileSync(join(ROOT, "clients/browser/bundle-options.json"), "utf8"));

try {
  execFileSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", next], { cwd: ROOT, stdio: "inherit" });
  const copied = copyAssets(ROOT, next);
  // The script of the page behind every shareUrl (server/http/share-page.ts reads it next to itself):
  // the browser clients bundled as scripts/browser-bundle.ts bundles them, here and not at runtime.
  await build({
    ...bundleOptions,
    absWorkingDir: ROOT,
    entryPoints: ["clients/browser/share-page.ts"],
    outfile: join(next, "server/http/share-page/share-page.js"),
    logLevel: "warning",
  });
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(next, DIST);
  console.log(`build: dist/ written (${copied} assets copied, the share page bundled)`);
} catch (err) {
  process.exitCode = 1;
  if (err instanceof Error && !("status" in err)) console.error(`build: ${err.message}`);
} finally {
  rmSync(next, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
