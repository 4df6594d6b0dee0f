import type { Hono } from "hono";
import { cors } from "hono/cors";
import { isTrustedOrigin } from "../auth/origin.js";

/**
 * CORS for the REST routes (README, "REST"): a page on a trusted origin (`PIZZAPI_TRUSTED_ORIGINS`) may
 * call them with its login cookie; its preflight is answered `204` with the Access-Control-* headers.
 * Any other origin gets no CORS header at all, so browsers keep its scripts from reading the answers.
 * hono's `cors` middleware writes the headers (Vary, preflight, credentials); the origin decision uses
 * the list and normalisation of the cookie's Origin check (server/auth/origin.ts).
 */
export function corsForTrustedOrigins(app: Hono, trustedOrigins: readonly string[]): void {
  const trusted = (origin: string | undefined): origin is string => origin !== undefined && origin !== "" && isTrustedOrigin(origin, trustedOrigins);
  const handler = cors({
    origin: (origin) => (trusted(origin) ? origin : null),
    credentials: true,
    allowMethods: ["GET", "POST", "PUT", "DELETE"],
    allowHeaders: ["Content-Type", "X-API-Key"],
    maxAge: 600,
  });
  app.use("/api/*", async (c, next) => {
    if (trusted(c.req.header("origin"))) return handler(c, next);
    // Without an Origin there is nothing to allow; an untrusted one gets no CORS header at all (hono's
    // middleware alone would still send it the credentials and methods headers). The answer depends on
    // the Origin all the same: caches must not hand it to another one.
    await next();
    c.header("Vary", "Origin", { append: true });
  });
}
