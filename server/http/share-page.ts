import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BuildOptions } from "esbuild";
import { Hono } from "hono";

/**
 * The page behind every `shareUrl` (`<PIZZAPI_BASE_URL>/session/<id>`, docs/protocol.md, `/relay`
 * `register`): a minimal viewer. share-page/index.html loads one script, the browser clients bundle with
 * the page's own module (clients/browser/share-page.ts), built by `npm run build` next to this module.
 * The page asks for an API key once, logs in (`POST /api/auth/session`, the cookie) and watches the
 * session with the browser ViewerClient.
 */

export const SHARE_PAGE_PATH = "/session";
/** The page's script, outside `/session/` so that no session id can shadow it. */
export const SHARE_SCRIPT_PATH = "/share-page.js";

const DIR = join(import.meta.dirname, "share-page");
/** Where `npm run build` writes the bundle (scripts/build.mjs). */
export const SHARE_BUNDLE_FILE = join(DIR, "share-page.js");
/** The bundle's entry, bundled on demand when running from the sources (tests, tsx). */
const SOURCE_ENTRY = join(import.meta.dirname, "../../clients/browser/share-page.ts");
/** How every browser bundle is built, in one file that `npm run build` and `npm run size` read too. */
const SOURCE_BUNDLE_OPTIONS = join(import.meta.dirname, "../../clients/browser/bundle-options.json");

const HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

/**
 * Where the page's script comes from, decided here only: the file `npm run build` wrote (dist/), else,
 * in the sources layout, esbuild (a devDependency, never loaded from dist/) bundles it as
 * scripts/browser-bundle.ts does for the browser example.
 */
export async function sharePageBundle(): Promise<string> {
  try {
    return await readFile(SHARE_BUNDLE_FILE, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const { build } = await import("esbuild");
  const options: BuildOptions = JSON.parse(await readFile(SOURCE_BUNDLE_OPTIONS, "utf8"));
  const result = await build({ ...options, entryPoints: [SOURCE_ENTRY], write: false, logLevel: "silent" });
  const output = result.outputFiles[0];
  if (!output) throw new Error("esbuild produced no share page bundle");
  return output.text;
}

/** `GET /session/:id` (the page) and its script; the bundle is read once, on first request. */
export function sharePage(bundle: () => Promise<string> = sharePageBundle): Hono {
  const app = new Hono();
  let script: Promise<string> | undefined;
  app.get(`${SHARE_PAGE_PATH}/:id`, async (c) => c.body(await readFile(join(DIR, "index.html"), "utf8"), 200, { "content-type": "text/html; charset=utf-8", ...HEADERS }));
  app.get(SHARE_SCRIPT_PATH, async (c) => {
    script ??= bundle().catch((err: unknown) => {
      script = undefined;
      throw err;
    });
    return c.body(await script, 200, { "content-type": "text/javascript; charset=utf-8", ...HEADERS });
  });
  return app;
}
