import type { RelayPlugin } from "../server/plugins/types.js";
import { loadMigrationConfig } from "./config.js";
import { MemoryModeStore, RedisModeStore } from "./mode-store.js";
import { ModeSync } from "./mode-sync.js";
import { enforceModes, type DeprecationCounters } from "./policy.js";

/**
 * The migration control plane as a relay plugin (docs/migration.md): each client generation's mode,
 * applied cluster-wide at runtime and enforced at every door.
 */
export function migrationPlane(env: NodeJS.ProcessEnv = process.env): RelayPlugin {
  return {
    name: "migration",
    attach: async (api) => {
      const config = loadMigrationConfig(env);
      const store = api.redis ? new RedisModeStore(api.redis, api.config.redisPrefix) : new MemoryModeStore();
      const sync = new ModeSync(api, store, config);
      await sync.refresh();
      sync.start();
      api.onStop(() => sync.stop());
      const counters: DeprecationCounters = new Map();
      enforceModes(api, sync, counters);
      api.log.info({ modes: Object.fromEntries(Object.entries(sync.modes).map(([g, s]) => [g, s.mode])) }, "migration modes");
    },
  };
}
