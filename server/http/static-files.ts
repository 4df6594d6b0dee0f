import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { Hono } from "hono";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
  ".json": "application/json",
};

export interface StaticSite {
  /** URL path (under the mount point, no leading slash) → file on disk. Nothing else is served. */
  files: ReadonlyMap<string, string>;
  /** Served for `/` (the mount point itself). */
  index: string;
  /** Rewrites of a file's text before it is served (e.g. dropping links to the internet). */
  rewrite?: Readonly<Record<string, (text: string) => string>>;
  /** Extra response headers (a Content-Security-Policy, for instance). */
  headers?: Readonly<Record<string, string>>;
}

/** Every file under `dir`, keyed by its path relative to `dir` with `/` separators. */
export function filesUnder(dir: string, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(prefix + relative(dir, path).split(sep).join("/"), path);
    }
  };
  walk(dir);
  return out;
}

/**
 * A small static site shipped with the relay (the operator page, the Socket.IO Admin UI): only the
 * listed files are served, so no request path reaches the file system; read on demand, cached by
 * nobody but the browser (`no-cache`: revalidated, the relay is upgraded in place).
 */
export function staticSite(site: StaticSite): Hono {
  const app = new Hono();
  app.get("*", async (c) => {
    const mount = c.req.routePath.replace(/\/?\*$/, "");
    // Relative asset URLs resolve against the directory: the mount point itself is served with a slash.
    if (c.req.path === mount) return c.redirect(`${mount}/`, 301);
    let path: string;
    try {
      path = decodeURIComponent(c.req.path.slice(mount.length).replace(/^\/+/, "")) || site.index;
    } catch {
      return c.json({ error: "Not found" }, 404);
    }
    const file = site.files.get(path);
    if (!file) return c.json({ error: "Not found" }, 404);
    const type = TYPES[extname(path)] ?? "application/octet-stream";
    const rewrite = site.rewrite?.[path];
    const body = rewrite ? rewrite(await readFile(file, "utf8")) : new Uint8Array(await readFile(file));
    return c.body(body, 200, { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff", ...site.headers });
  });
  return app;
}
