import { Hono, type Context } from "hono";
import { z } from "zod";
import { ERRORS, HandshakeError, isGeneration, type ErrorCode, type Generation } from "../protocol/index.js";
import { requestCredentials } from "../server/http/identity.js";
import { requestAddress } from "../server/http/request-client.js";
import type { Authenticated } from "../server/auth/authenticate.js";
import { reportRefusal } from "../server/observability/refusals.js";
import type { PluginApi } from "../server/plugins/types.js";
import type { CensusCollector } from "./census/collector.js";
import type { CensusStore } from "./census/types.js";
import type { MigrationConfig } from "./config.js";
import type { ModeStore } from "./mode-store.js";
import type { ModeSync } from "./mode-sync.js";
import { MODES, RETIRABLE } from "./modes.js";
import { migrationStatus, parseDuration } from "./status.js";

export const ADMIN_BASE = "/api/admin/migration";

const ModeBody = z.object({
  mode: z.enum(MODES),
  /** The announced end of service: an ISO date or epoch ms. */
  sunset: z.union([z.string().min(1), z.number()]).nullable().optional(),
});

interface Deps {
  api: PluginApi;
  config: MigrationConfig;
  store: ModeStore;
  census: CensusStore;
  sync: ModeSync;
  collector: CensusCollector;
  clock: () => number;
}

type Env = { Variables: { admin: Authenticated } };

/**
 * The operator's REST API (docs/migration.md, "Admin API"), behind an API key with the admin scope:
 * `GET status`, `GET modes`, `PUT modes/:generation`, `DELETE modes/:generation`, `GET history`.
 */
export function migrationRoutes(deps: Deps): Hono<Env> {
  const { api, store, sync } = deps;
  const app = new Hono<Env>();

  app.use("*", async (c, next) => {
    let caller: Authenticated;
    try {
      caller = await api.authenticate(requestCredentials(c), ["api-key", "cookie"]);
    } catch (err) {
      if (!(err instanceof HandshakeError)) throw err;
      return refuse(c, err.data.code, err.message);
    }
    if (!caller.admin) {
      return refuse(c, "forbidden", "This route needs an API key with the admin scope (keys create --admin)", { userId: caller.userId });
    }
    c.set("admin", caller);
    await next();
  });

  app.get("/status", async (c) => {
    const windowText = c.req.query("window");
    const windowMs = windowText === undefined ? deps.config.windowMs : parseDuration(windowText);
    if (windowMs === null) return refuse(c, "invalid_payload", "window must be a duration: 7d, 12h, 30m, 90s or milliseconds");
    if (windowMs > deps.config.retentionMs) return refuse(c, "invalid_payload", `window exceeds the census retention (${deps.config.retentionMs} ms)`);
    return c.json(await migrationStatus({ census: deps.census, modes: sync.modes, stored: await store.read(), nodeId: api.config.nodeId, windowMs, now: deps.clock() }));
  });

  app.get("/modes", async (c) => c.json({ modes: sync.modes, stored: await store.read(), changes: await store.changes(50) }));

  app.put("/modes/:generation", async (c) => {
    const generation = retirable(c);
    if (!generation) return refuse(c, "invalid_payload", `generation must be one of ${RETIRABLE.join(", ")}`);
    const parsed = ModeBody.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return refuse(c, "invalid_payload", `body must be {mode: ${MODES.join("|")}, sunset?: date}`);
    const sunset = parsed.data.sunset === undefined || parsed.data.sunset === null ? null : new Date(parsed.data.sunset).getTime();
    if (sunset !== null && !Number.isFinite(sunset)) return refuse(c, "invalid_payload", "sunset must be an ISO date or epoch milliseconds");
    return apply(c, generation, { mode: parsed.data.mode, sunset });
  });

  app.delete("/modes/:generation", async (c) => {
    const generation = retirable(c);
    if (!generation) return refuse(c, "invalid_payload", `generation must be one of ${RETIRABLE.join(", ")}`);
    return apply(c, generation, null);
  });

  app.get("/history", async (c) => {
    const now = deps.clock();
    const from = Number(c.req.query("from") ?? now - 86_400_000);
    const to = Number(c.req.query("to") ?? now);
    if (!Number.isFinite(from) || !Number.isFinite(to) || to < from || to - from > deps.config.retentionMs) {
      return refuse(c, "invalid_payload", "from and to are epoch ms, from <= to, at most the retention period apart");
    }
    return c.json({ minutes: await deps.census.history(Math.floor(from / 60_000), Math.floor(to / 60_000)) });
  });

  /** A refused admin request: its status from the error table, logged and counted like every refusal. */
  function refuse(c: Context<Env>, code: ErrorCode, message: string, fields: Record<string, unknown> = {}) {
    reportRefusal(api, code, "http", { route: c.req.path, ...fields, ip: requestAddress(c, api.config.trustProxy) }, "admin request refused");
    return c.json({ error: message }, ERRORS[code].http);
  }

  /** Stores the setting (or clears it), applies it on this node at once, and reports it. */
  async function apply(c: Context<Env>, generation: Generation, setting: { mode: (typeof MODES)[number]; sunset: number | null } | null) {
    const admin = c.get("admin");
    const by = `${admin.userId} (key ${admin.keyId ?? "-"})`;
    const at = deps.clock();
    const change = await store.write(generation, setting ? { ...setting, at, by } : null, by, at);
    api.log.info({ generation, from: change.from, to: change.to, by }, "migration mode changed");
    await sync.refreshNow();
    await deps.collector.flushNow();
    return c.json({ ok: true, change, mode: sync.mode(generation) });
  }

  // What fails here is shared state (the mode store, the census): a retryable 503, never a bare 500.
  app.onError((err, c) => {
    api.log.error({ err, path: c.req.path }, "migration admin route failed: shared state unavailable");
    return c.json({ error: "The shared state is unavailable; try again" }, ERRORS.unavailable.http);
  });

  return app;
}

function retirable(c: Context<Env>): Generation | null {
  const generation = c.req.param("generation");
  return isGeneration(generation) && RETIRABLE.includes(generation) ? generation : null;
}
