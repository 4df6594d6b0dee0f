import type { RelayPlugin } from "../server/plugins/types.js";
import { BridgeEnv, loadBridgeConfig } from "./config.js";
import { claimLegacyUpgrades } from "./upgrade.js";

export { LEGACY_TRANSPORT } from "./transport.js";
export type { BridgeConfig } from "./config.js";

/**
 * The legacy bridge as a relay plugin: the five `/ws/*` endpoints on the relay's port, each connection
 * a real Socket.IO socket of its namespace. Whether they are served is the migration policy's call
 * (its upgrade guard runs first). Retiring the legacy path for good = deleting `bridge/` and its line in
 * the composition root (bin/composition.ts); the relay then answers `/ws/*` with the retirement notice.
 */
export function legacyBridge(env: NodeJS.ProcessEnv = process.env): RelayPlugin {
  return {
    name: "legacy-bridge",
    settings: BridgeEnv,
    attach: (api) => {
      claimLegacyUpgrades(api, loadBridgeConfig(env));
      api.log.info({ prefix: "/ws/" }, "legacy /ws/* endpoints bridged");
    },
  };
}
