import type { SchemaTable } from "./define.js";
import { hubClientSchemas, type HubClientToServer, type HubInterServer, type HubServerToClient, type HubSocketData } from "./namespaces/hub.js";
import { relayClientSchemas, type RelayClientToServer, type RelayInterServer, type RelayServerToClient, type RelaySocketData } from "./namespaces/relay.js";
import { runnerClientSchemas, type RunnerClientToServer, type RunnerInterServer, type RunnerServerToClient, type RunnerSocketData } from "./namespaces/runner.js";
import { terminalClientSchemas, type TerminalClientToServer, type TerminalInterServer, type TerminalServerToClient, type TerminalSocketData } from "./namespaces/terminal.js";
import { viewerClientSchemas, type ViewerClientToServer, type ViewerInterServer, type ViewerServerToClient, type ViewerSocketData } from "./namespaces/viewer.js";

/** Every typed namespace with its four Socket.IO generics and its client-payload schemas. */
export interface NamespaceMaps {
  "/relay": { c2s: RelayClientToServer; s2c: RelayServerToClient; inter: RelayInterServer; data: RelaySocketData; schemas: typeof relayClientSchemas };
  "/viewer": { c2s: ViewerClientToServer; s2c: ViewerServerToClient; inter: ViewerInterServer; data: ViewerSocketData; schemas: typeof viewerClientSchemas };
  "/hub": { c2s: HubClientToServer; s2c: HubServerToClient; inter: HubInterServer; data: HubSocketData; schemas: typeof hubClientSchemas };
  "/runner": { c2s: RunnerClientToServer; s2c: RunnerServerToClient; inter: RunnerInterServer; data: RunnerSocketData; schemas: typeof runnerClientSchemas };
  "/terminal": { c2s: TerminalClientToServer; s2c: TerminalServerToClient; inter: TerminalInterServer; data: TerminalSocketData; schemas: typeof terminalClientSchemas };
}

export type NamespaceName = keyof NamespaceMaps;

export const CLIENT_SCHEMAS: { [N in NamespaceName]: NamespaceMaps[N]["schemas"] } & Record<NamespaceName, SchemaTable> = {
  "/relay": relayClientSchemas,
  "/viewer": viewerClientSchemas,
  "/hub": hubClientSchemas,
  "/runner": runnerClientSchemas,
  "/terminal": terminalClientSchemas,
};
