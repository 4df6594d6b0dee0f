import { errorBody, type ErrorBody, type Generation } from "../protocol/index.js";
import type { UpgradeRefusal } from "../server/plugins/types.js";
import type { ModeSetting } from "./modes.js";

/** The body of a refused legacy upgrade (410 Gone): what the user of an old client should do. */
export const LEGACY_RETIRED_BODY =
  "This relay no longer serves the legacy /ws/* protocol (pizzapi v0.1.x clients). " +
  "Upgrade the pizzapi CLI, runner and web UI to a release that speaks the Socket.IO protocol (>= 0.2.0), " +
  "or ask your operator to turn the legacy generation back on.";

/**
 * `Deprecation` (RFC 9745: `@` and the epoch seconds it was deprecated) and `Sunset` (RFC 8594: the
 * HTTP date service ends) for a generation being retired.
 */
export function deprecationHeaders(setting: ModeSetting, now: number): Record<string, string> {
  const headers: Record<string, string> = { Deprecation: `@${Math.floor((setting.since ?? now) / 1000)}` };
  if (setting.sunset !== null) headers.Sunset = new Date(setting.sunset).toUTCString();
  return headers;
}

export function legacyGone(setting: ModeSetting | null, now: number): UpgradeRefusal {
  return { code: "protocol_retired", body: LEGACY_RETIRED_BODY, ...(setting ? { headers: deprecationHeaders(setting, now) } : {}) };
}

/** The typed refusal of a retired generation's connection or new session. */
export function retired(generation: Generation, what: "connections" | "new sessions" | "new connections of this kind"): ErrorBody {
  return errorBody("protocol_retired", `Client generation ${generation} is retired on this relay (${what} refused): upgrade the pizzapi client`);
}
