import type { RelayPlugin } from "../server/relay-server.js";
import { loadBridgeConfig, type BridgeConfig } from "./config.js";
import { attachLegacyUpgrades } from "./upgrade.js";

export { LEGACY_TRANSPORT } from "./transport.js";
export type { BridgeConfig } from "./config.js";

/**
 * The legacy bridge as a relay plugin: the five `/ws/*` endpoints on the relay's port, each connection
 * a real Socket.IO socket of its namespace. Retiring the legacy path for good = deleting `bridge/` and
 * the line in bin/ that adds this plugin.
 */
export function legacyBridge(config: BridgeConfig = loadBridgeConfig()): RelayPlugin {
  return (relay) => {
    attachLegacyUpgrades(relay, config);
    relay.log.info({ legacyWs: config.enabled ? "on" : "off" }, "legacy /ws/* endpoints " + (config.enabled ? "served" : "answer 410 Gone"));
  };
}
