import type { RelayConfig } from "../config.js";
import type { TypedNamespace } from "../io/typed.js";
import type { Logger } from "../logger.js";
import type { SharedState } from "../state/types.js";

/** Everything the session domain needs, passed explicitly (no module-level state). */
export interface RelayContext {
  config: RelayConfig;
  state: SharedState;
  log: Logger;
  clock: () => number;
  relay: TypedNamespace<"/relay">;
  viewer: TypedNamespace<"/viewer">;
  hub: TypedNamespace<"/hub">;
  /** Set during graceful shutdown: disconnects then are moves to another node, not session ends. */
  lifecycle: { shuttingDown: boolean };
}

/** Key TTL for a session's records: the ephemeral TTL for ephemeral sessions, the event TTL otherwise. */
export function sessionTtl(config: RelayConfig, isEphemeral: boolean): number {
  return isEphemeral ? config.ephemeralTtlMs : config.eventTtlMs;
}

export function expiryFrom(config: RelayConfig, isEphemeral: boolean, now: number): number | null {
  return isEphemeral ? now + config.ephemeralTtlMs : null;
}
