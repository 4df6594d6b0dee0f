import type { IncomingMessage } from "node:http";
import { LEGACY_PATHS, legacyEndpointOf, type Generation, type NamespaceName } from "../protocol/index.js";
import { pathnameOf } from "../server/http/path.js";
import { NAMESPACES } from "../server/io/typed.js";
import type { ConnectionView, PluginApi, UpgradeVerdict } from "../server/plugins/types.js";
import type { ModeSync } from "./mode-sync.js";
import { admission, KIND_OF_NAMESPACE } from "./modes.js";
import { deprecationHeaders, legacyGone, retired } from "./retirement.js";

/** Deprecated connections this node admitted (warn, drain), per generation, since it started. */
export type DeprecationCounters = Map<Generation, number>;

/**
 * Enforces each generation's mode (migration/modes.ts, the admission table) at every door:
 *
 * - legacy upgrades, in the relay's upgrade router before the bridge sees them: 410 with the retirement
 *   notice when refused, `Deprecation`/`Sunset` headers when deprecated; and the answer to `/ws/*` when
 *   no bridge is installed at all (the legacy path deleted): always the retirement notice;
 * - every namespace's handshake, for every generation: `protocol_retired` when refused; a log line and a
 *   count per deprecated connection;
 * - `/relay` `register` where only live sessions are kept (drain): a new session is refused and the
 *   connection closed.
 */
export function enforceModes(api: PluginApi, sync: ModeSync, counters: DeprecationCounters, clock: () => number = Date.now): void {
  api.guardUpgrade(LEGACY_PATHS.prefix, (req) => legacyUpgradeVerdict(sync, req, clock()));
  api.answerUnclaimed(LEGACY_PATHS.prefix, () => legacyGone(null, clock()));

  for (const namespace of NAMESPACES) {
    api.gateHandshakes(namespace, (conn) => {
      const verdict = admission(sync.mode(conn.generation).mode, KIND_OF_NAMESPACE[namespace]);
      if (verdict === "refuse") return retired(conn.generation, "connections");
      if (verdict === "serve") return undefined;
      counters.set(conn.generation, (counters.get(conn.generation) ?? 0) + 1);
      api.log.info(connectionFields(conn, namespace), "deprecated client generation connected");
      return undefined;
    });
  }

  api.gateEvents("/relay", ["register"], (conn, _event, payload) => {
    const verdict = admission(sync.mode(conn.generation).mode, "cli");
    if (verdict === "refuse") return { refuse: retired(conn.generation, "connections"), disconnect: true };
    if (verdict !== "live-session-only") return undefined;
    const sessionId = typeof payload === "object" && payload !== null && "sessionId" in payload && typeof payload.sessionId === "string" ? payload.sessionId.trim() : "";
    const refusal = { refuse: retired(conn.generation, "new sessions"), disconnect: true };
    if (!sessionId) return refusal;
    return api.sessionIsLive(sessionId, conn.userId).then((live) => (live ? undefined : refusal));
  });
}

function legacyUpgradeVerdict(sync: ModeSync, req: IncomingMessage, now: number): UpgradeVerdict {
  const setting = sync.mode("legacy");
  const kind = legacyEndpointOf(pathnameOf(req.url))?.name ?? null;
  const verdict = kind ? admission(setting.mode, kind) : setting.mode === "off" ? "refuse" : "serve";
  if (verdict === "serve") return undefined;
  if (verdict === "refuse") return { refuse: legacyGone(setting, now) };
  return { headers: deprecationHeaders(setting, now) };
}

function connectionFields(conn: ConnectionView, namespace: NamespaceName): Record<string, unknown> {
  return { namespace, generation: conn.generation, clientVersion: conn.clientVersion, transport: conn.transport, userId: conn.userId };
}
