/**
 * The package's root entry: the relay for embedding in another program (README, "Embedding").
 * `createRelayServer(loadConfig(), { plugins: relayPlugins() })` is what `pizzapi-relay start` runs.
 */
export { createRelayServer, MAX_MESSAGE_BYTES, type RelayPlugin, type RelayServer, type RelayServerOptions } from "./server/relay-server.js";
export { ConfigError, loadConfig, type RelayConfig } from "./server/config.js";
export { relayPlugins } from "./bin/composition.js";
