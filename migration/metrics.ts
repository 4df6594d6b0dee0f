import { Counter, Gauge } from "prom-client";
import { GENERATIONS } from "../protocol/index.js";
import type { PluginApi } from "../server/plugins/types.js";
import type { ModeSync } from "./mode-sync.js";
import { MODES } from "./modes.js";
import type { DeprecationCounters } from "./policy.js";

/**
 * The migration plane's metrics (docs/operations.md): each generation's mode on this node (one series
 * per mode, 1 for the current one, the Prometheus state-set pattern), when it was last changed, and the
 * deprecated connections this node admitted.
 */
export function registerMigrationMetrics(api: PluginApi, sync: ModeSync, deprecated: DeprecationCounters): void {
  const registers = [api.metrics.registry];
  new Gauge({
    name: "pizzapi_generation_mode",
    help: "The mode each client generation is in on this node: 1 for the current mode, 0 for the others",
    labelNames: ["generation", "mode"],
    registers,
    collect() {
      for (const generation of GENERATIONS) for (const mode of MODES) this.set({ generation, mode }, sync.mode(generation).mode === mode ? 1 : 0);
    },
  });
  new Gauge({
    name: "pizzapi_generation_mode_changed_timestamp_seconds",
    help: "When the generation's runtime mode was set (unix seconds); 0 while the boot default applies",
    labelNames: ["generation"],
    registers,
    collect() {
      for (const generation of GENERATIONS) this.set({ generation }, (sync.mode(generation).since ?? 0) / 1000);
    },
  });
  new Counter({
    name: "pizzapi_deprecated_connections_total",
    help: "Connections this node admitted while their generation was deprecated (warn, drain)",
    labelNames: ["generation"],
    registers,
    collect() {
      this.reset();
      for (const generation of GENERATIONS) this.inc({ generation }, deprecated.get(generation) ?? 0);
    },
  });
}
