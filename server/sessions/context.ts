import type { AckCoalescer } from "./ack-coalescer.js";
import type { RelayConfig } from "../config.js";
import type { PendingRequests } from "../runners/pending.js";
import type { PushNotifier } from "../push/notifier.js";
import type { TypedNamespace } from "../io/typed.js";
import type { Logger } from "../logger.js";
import type { RelayMetrics } from "../observability/metrics.js";
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
  runner: TypedNamespace<"/runner">;
  terminal: TypedNamespace<"/terminal">;
  /** Runner requests this node waits on (REST spawn and skills). */
  requests: PendingRequests;
  /** Web Push for sessions nobody watches (legacy 2.8). */
  push: PushNotifier;
  /** This node's Prometheus metrics (docs/operations.md). */
  metrics: RelayMetrics;
  /** The CLIs' cumulative `event_ack`, folded per connection (`PIZZAPI_ACK_INTERVAL_MS`). */
  acks: AckCoalescer;
  /**
   * Graceful shutdown (docs/operations.md, "Rolling restarts and faults"). `shuttingDown` from SIGTERM on: `/readyz`
   * answers 503, disconnects are moves to another node, not session ends. `closing` once the drain delay
   * is over: the node no longer listens, refuses what still reaches it (`node_stopping`) and closes its
   * connections so that their clients move.
   */
  lifecycle: { shuttingDown: boolean; closing: boolean };
}

/**
 * Key TTL of a live session's records. An ephemeral session's records must outlive its expiry by more
 * than a sweep period: the sweep has to find the session to announce its end (session_expired to the
 * CLI, disconnected to viewers, session_removed to the hub) before Redis forgets it.
 */
export function sessionTtl(config: RelayConfig, isEphemeral: boolean): number {
  return isEphemeral ? config.ephemeralTtlMs + 2 * config.ephemeralSweepMs + 60_000 : config.eventTtlMs;
}

/** How long an ended session's snapshot stays available for replay (legacy: the ephemeral TTL). */
export function endedTtl(config: RelayConfig, isEphemeral: boolean): number {
  return isEphemeral ? config.ephemeralTtlMs : config.eventTtlMs;
}

export function expiryFrom(config: RelayConfig, isEphemeral: boolean, now: number): number | null {
  return isEphemeral ? now + config.ephemeralTtlMs : null;
}
