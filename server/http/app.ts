import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ERRORS, HandshakeError, isRetryable } from "../../protocol/index.js";
import { authenticate, SESSION_COOKIE } from "../auth/authenticate.js";
import { authDeps } from "../auth/deps.js";
import { accessLog } from "./access-log.js";
import { corsForTrustedOrigins } from "./cors.js";
import { requestAddress, requestProtocol } from "./request-client.js";
import { StateUnavailableError } from "../state/timeouts.js";
import { requestCredentials } from "./identity.js";
import { sharePage } from "./share-page.js";
import type { RelayMetrics } from "../observability/metrics.js";
import { reportRefusal } from "../observability/refusals.js";
import type { RelayConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { SharedState } from "../state/types.js";
import { withTimeout } from "../timeout.js";

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/**
 * The REST side of the relay (hono: a small, well-kept router that runs on Node's and Bun's
 * `node:http` alike). Health, readiness, the browser login that issues the session cookie, and the
 * page behind every shareUrl.
 */
export function createHttpApp(deps: {
  config: RelayConfig;
  state: SharedState;
  log: Logger;
  metrics: RelayMetrics;
  readiness: ReadinessCheck[];
  isDraining: () => boolean;
  /** Relay nodes this node currently knows of, itself included (cluster membership as the adapter sees it). */
  clusterSize?: () => Promise<number>;
  /** Whether the cluster's Redis persists its data (null in embedded mode). */
  persistence?: () => string | null;
}): Hono {
  const { config, state, log } = deps;
  const app = new Hono();
  accessLog(app, log, config.trustProxy);
  corsForTrustedOrigins(app, config.trustedOrigins);
  // The login cookie is Secure when the UI is served over https, or the client came over https through
  // a trusted proxy (PIZZAPI_TRUST_PROXY).
  const secureCookie = (c: Context): boolean => config.baseUrl.startsWith("https:") || requestProtocol(c, config.trustProxy) === "https";

  app.get("/healthz", (c) => c.json({ ok: true, node: config.nodeId, runtime: process.versions.bun ? "bun" : "node" }));

  app.get("/readyz", async (c) => {
    const results: Record<string, boolean> = {};
    await Promise.all(
      deps.readiness.map(async ({ name, check }) => {
        results[name] = await withTimeout(check(), 1_000).catch(() => false);
      }),
    );
    const draining = deps.isDraining();
    const ok = !draining && Object.values(results).every(Boolean);
    const nodes = deps.clusterSize ? await withTimeout(deps.clusterSize(), 1_000).catch(() => null) : 1;
    const persistence = deps.persistence?.() ?? null;
    return c.json({ ok, draining, nodes, checks: results, ...(persistence !== null ? { persistence } : {}) }, ok ? 200 : 503);
  });

  app.post("/api/auth/session", async (c) => {
    const key = c.req.header("x-api-key");
    if (!key) {
      reportRefusal(deps, "unauthorized", "http", { route: "/api/auth/session", ip: requestAddress(c, config.trustProxy) }, "login refused: no API key");
      return c.json({ error: "Missing API key (x-api-key header)" }, 401);
    }
    try {
      const caller = await authenticate(authDeps(deps), { apiKey: key }, ["api-key"]);
      const identity = { userId: caller.userId, userName: caller.userName };
      const token = await state.logins.create({ ...identity, admin: caller.admin, keyId: caller.keyId }, config.loginTtlMs);
      setCookie(c, SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: "Lax",
        secure: secureCookie(c),
        path: "/",
        maxAge: Math.floor(config.loginTtlMs / 1000),
      });
      log.info({ userId: identity.userId, admin: caller.admin }, "browser login");
      return c.json({ ok: true, ...identity, admin: caller.admin });
    } catch (err) {
      if (err instanceof HandshakeError) reportRefusal(deps, err.data.code, "http", { route: "/api/auth/session", ip: requestAddress(c, config.trustProxy) }, "login refused");
      if (err instanceof HandshakeError && !isRetryable(err.data.code)) return c.json({ error: err.message }, ERRORS[err.data.code].http);
      if (!(err instanceof HandshakeError)) log.error({ err }, "login failed: auth backend unavailable");
      return c.json({ error: "Authentication backend unavailable" }, 503);
    }
  });

  app.get("/api/auth/session", async (c) => {
    try {
      const who = await authenticate(authDeps(deps), { ...requestCredentials(c), apiKey: undefined }, ["cookie"]);
      return c.json({ ok: true, userId: who.userId, userName: who.userName, admin: who.admin });
    } catch (err) {
      if (err instanceof HandshakeError && !isRetryable(err.data.code)) return c.json({ error: "Unauthorized" }, ERRORS[err.data.code].http);
      if (!(err instanceof HandshakeError)) log.error({ err }, "session lookup failed");
      return c.json({ error: "Authentication backend unavailable" }, 503);
    }
  });

  app.delete("/api/auth/session", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    try {
      if (token) await state.logins.delete(token);
    } catch (err) {
      log.error({ err }, "logout failed: auth backend unavailable");
      return c.json({ error: "Authentication backend unavailable" }, 503);
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secureCookie(c) });
    return c.json({ ok: true });
  });

  // The page behind every shareUrl (its script comes from sharePageBundle).
  app.route("/", sharePage());

  app.notFound((c) => c.json({ error: "Not found" }, 404));
  app.onError((err, c) => {
    if (err instanceof StateUnavailableError) {
      log.warn({ err: err.message, path: c.req.path }, "request failed: shared state unavailable");
      return c.json({ error: "The shared state is unavailable; try again" }, ERRORS.unavailable.http);
    }
    log.error({ err, path: c.req.path }, "request failed");
    return c.json({ error: "Internal error" }, ERRORS.internal.http);
  });
  return app;
}
