import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Hono } from "hono";
import { filesUnder, staticSite } from "../server/http/static-files.js";

export const OPERATOR_PAGE_PATH = "/admin";

/**
 * The operator page (docs/migration.md, "The operator page"): plain HTML, CSS and JavaScript from
 * migration/admin-page/, and uPlot (a small chart library, served from its npm package) for the share
 * over time. The page is a shell: everything it shows comes from the admin API, behind the admin
 * credential.
 */
/** The relay's root leads operators to their page. */
export function rootRedirect(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.redirect(`${OPERATOR_PAGE_PATH}/`, 302));
  return app;
}

export function operatorPage(): Hono {
  const files = filesUnder(join(import.meta.dirname, "admin-page"));
  const uplot = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");
  files.set("vendor/uPlot.iife.min.js", join(uplot, "uPlot.iife.min.js"));
  files.set("vendor/uPlot.min.css", join(uplot, "uPlot.min.css"));
  return staticSite({
    files,
    index: "index.html",
    headers: { "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'", "x-frame-options": "DENY" },
  });
}
