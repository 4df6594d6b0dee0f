import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions } from "esbuild";

/**
 * The browser bundle of clients/browser/, as an app would build it: esbuild, platform browser, ESM,
 * minified, socket.io-client bundled in. Used by `npm run size` and by the tests (the headless-Chromium
 * page loads exactly this).
 */

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** How every browser bundle is built, in one file (scripts/build.mjs and server/http/share-page.ts read it too). */
const BUNDLE_OPTIONS: BuildOptions = JSON.parse(readFileSync(new URL("../clients/browser/bundle-options.json", import.meta.url), "utf8"));

/** The goal: the whole client (viewer, hub, terminal and socket.io-client) in at most 25 KB gzipped. */
export const GZIP_BUDGET_BYTES = 25 * 1024;

export const ENTRIES = {
  index: "clients/browser/index.ts",
  viewer: "clients/browser/viewer.ts",
  hub: "clients/browser/hub.ts",
  terminal: "clients/browser/terminal.ts",
  /** The page behind a shareUrl (server/http/share-page.ts; scripts/build.mjs bundles it into dist/). */
  sharePage: "clients/browser/share-page.ts",
} as const;

export type EntryName = keyof typeof ENTRIES;

export interface Bundle {
  entry: string;
  code: string;
  /** Bundled input files, relative to the repository root. */
  inputs: string[];
  rawBytes: number;
  gzipBytes: number;
}

export async function bundleBrowser(entry: string = ENTRIES.index, options: { minify?: boolean } = {}): Promise<Bundle> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: ROOT,
    entryPoints: [entry],
    minify: options.minify ?? BUNDLE_OPTIONS.minify,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  const code = output.text;
  return {
    entry,
    code,
    inputs: Object.keys(result.metafile.inputs),
    rawBytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
  };
}

/**
 * What must never reach a browser bundle: Node built-ins and the validation libraries of protocol/.
 * Returns the offending inputs and import specifiers (empty when clean).
 */
export function forbiddenContent(bundle: Bundle): string[] {
  const bad = bundle.inputs.filter((input) => /(^|\/)node_modules\/(zod|semver)\//.test(input) || input.startsWith("node:"));
  const imports = bundle.code.match(/(?:from|import)\s*\(?\s*["'](?:node:[^"']*|zod[^"']*|semver[^"']*)["']/g) ?? [];
  return [...bad, ...imports];
}
