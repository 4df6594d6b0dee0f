import type { Hono } from "hono";
import { routePath } from "hono/route";
import type { Logger } from "../logger.js";
import type { TrustProxy } from "./client-address.js";
import { requestAddress } from "./request-client.js";

/** Probes that load balancers call every few seconds: logged at debug, not to drown the access log. */
const PROBES = new Set(["/healthz", "/readyz"]);

/**
 * The REST access log (docs/operations.md, "Logs"): one line per request with the method, the matched
 * route pattern (never the raw path or query: ids and tokens stay out of the logs), the status, the
 * duration and the client address. Registered first, so it sees every route, plugins' included.
 */
export function accessLog(app: Hono, log: Logger, trust: TrustProxy): void {
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const matched = routePath(c, -1);
    const route = matched === "*" || matched === "/*" ? "(unmatched)" : matched;
    const line = {
      method: c.req.method,
      route,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      ip: requestAddress(c, trust),
    };
    if (PROBES.has(route)) log.debug(line, "http request");
    else log.info(line, "http request");
  });
}
