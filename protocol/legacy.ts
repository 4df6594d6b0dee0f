import type { HubServerToClient } from "./namespaces/hub.js";
import type { RelayClientToServer, RelayServerToClient } from "./namespaces/relay.js";
import type { RunnerClientToServer, RunnerServerToClient } from "./namespaces/runner.js";
import type { TerminalClientToServer, TerminalServerToClient } from "./namespaces/terminal.js";
import type { ViewerClientToServer, ViewerServerToClient } from "./namespaces/viewer.js";

/**
 * Legacy `{type, ...}` frame unions, derived from the typed maps: a legacy frame is the typed event's
 * payload plus its name as `type` (docs/legacy-protocol.md; docs/architecture.md section 3). Used by the bridge codecs.
 */
type FirstArg<F> = F extends (payload: infer P, ...rest: never[]) => unknown ? P : never;

export type FramesOf<M> = { [K in keyof M & string]: { type: K } & FirstArg<M[K]> }[keyof M & string];

/** `/ws/sessions` (CLI). */
export type LegacyCliInbound = FramesOf<RelayClientToServer>;
export type LegacyCliOutbound = FramesOf<RelayServerToClient>;
/** `/ws/sessions/:id` (browser viewer). */
export type LegacyViewerInbound = FramesOf<ViewerClientToServer>;
export type LegacyViewerOutbound = FramesOf<ViewerServerToClient>;
/** `/ws/runner`. */
export type LegacyRunnerInbound = FramesOf<RunnerClientToServer>;
export type LegacyRunnerOutbound = FramesOf<RunnerServerToClient>;
/** `/ws/terminal/:id`. */
export type LegacyTerminalInbound = FramesOf<TerminalClientToServer>;
export type LegacyTerminalOutbound = FramesOf<TerminalServerToClient>;
/** `/ws/hub` takes no frames. */
export type LegacyHubOutbound = FramesOf<HubServerToClient>;

/** The five legacy paths (docs/legacy-protocol.md section 0). */
export const LEGACY_PATHS = {
  /** Every legacy endpoint lives under it. */
  prefix: "/ws/",
  cli: "/ws/sessions",
  viewerPrefix: "/ws/sessions/",
  runner: "/ws/runner",
  terminalPrefix: "/ws/terminal/",
  hub: "/ws/hub",
} as const;

export type LegacyEndpointName = "cli" | "viewer" | "runner" | "terminal" | "hub";

/**
 * Which legacy endpoint a `/ws/...` pathname names (exact paths, or a prefix and the raw remainder as the
 * id: docs/legacy-protocol.md section 0), or null: the one classification the bridge routes by and the
 * migration policy admits by.
 */
export function legacyEndpointOf(path: string): { name: LegacyEndpointName; id?: string } | null {
  if (path === LEGACY_PATHS.cli) return { name: "cli" };
  if (path === LEGACY_PATHS.runner) return { name: "runner" };
  if (path === LEGACY_PATHS.hub) return { name: "hub" };
  if (path.startsWith(LEGACY_PATHS.viewerPrefix)) return { name: "viewer", id: path.slice(LEGACY_PATHS.viewerPrefix.length) };
  if (path.startsWith(LEGACY_PATHS.terminalPrefix)) return { name: "terminal", id: path.slice(LEGACY_PATHS.terminalPrefix.length) };
  return null;
}

/** engine.io transport name of connections bridged from the legacy `/ws/*` endpoints. */
export const LEGACY_TRANSPORT_NAME = "legacy-ws";

/** Legacy inbound frame limit (Bun's default maxPayloadLength); larger frames close with 1009. */
export const LEGACY_MAX_FRAME_BYTES = 16 * 1024 * 1024;
