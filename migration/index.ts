import { NAMESPACES } from "../server/io/typed.js";
import type { RelayPlugin } from "../server/plugins/types.js";
import { CensusCollector } from "./census/collector.js";
import { MemoryCensusStore } from "./census/memory-store.js";
import { RedisCensusStore } from "./census/redis-store.js";
import { registerMigrationCommands } from "./cli.js";
import { loadMigrationConfig, MigrationEnv } from "./config.js";
import { MemoryModeStore, RedisModeStore } from "./mode-store.js";
import { ModeSync } from "./mode-sync.js";
import { registerMigrationMetrics } from "./metrics.js";
import { enforceModes, type DeprecationCounters } from "./policy.js";
import { ADMIN_BASE, migrationRoutes } from "./routes.js";
import { OPERATOR_PAGE_PATH, operatorPage, rootRedirect } from "./operator-page.js";

/**
 * The migration control plane as a relay plugin (docs/migration.md): each client generation's mode,
 * applied cluster-wide at runtime and enforced at every door; the census of who speaks what; the status
 * and its verdict, for operators (admin REST routes) and release pipelines (`pizzapi-relay migration`).
 */
export function migrationPlane(env: NodeJS.ProcessEnv = process.env): RelayPlugin {
  return {
    name: "migration",
    settings: MigrationEnv,
    attach: async (api) => {
      const config = loadMigrationConfig(env);
      const clock = Date.now;
      const store = api.redis ? new RedisModeStore(api.redis, api.config.redisPrefix) : new MemoryModeStore();
      const census = api.redis ? new RedisCensusStore(api.redis, api.config.redisPrefix) : new MemoryCensusStore();
      const sync = new ModeSync(api, store, config, clock);
      const deprecated: DeprecationCounters = new Map();
      const collector = new CensusCollector(api, census, sync, deprecated, config, clock);
      sync.onApplied = () => void collector.flush();
      await sync.refresh();
      enforceModes(api, sync, deprecated, clock);
      registerMigrationMetrics(api, sync, deprecated);
      // After the policy's gates: only admitted connections are counted.
      for (const namespace of NAMESPACES) {
        api.gateHandshakes(namespace, (conn) => {
          collector.observe(conn);
          return undefined;
        });
      }
      api.route(ADMIN_BASE, migrationRoutes({ api, config, store, census, sync, collector, clock }));
      api.route(OPERATOR_PAGE_PATH, operatorPage());
      api.route("/", rootRedirect());
      sync.start();
      collector.start();
      void collector.flush();
      api.onStop(async () => {
        sync.stop();
        await collector.stop();
      });
      api.log.info({ modes: Object.fromEntries(Object.entries(sync.modes).map(([g, s]) => [g, s.mode])) }, "migration modes");
    },
    commands: (program, env2) => registerMigrationCommands(program, env2),
  };
}
