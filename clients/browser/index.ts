/**
 * Browser clients of the relay's typed namespaces. Bundle-safe: socket.io-client and
 * @socket.io/component-emitter at runtime, nothing else (no Node built-ins, no zod, no semver).
 */
export { PROTOCOL_VERSION } from "../../protocol/constants.js";
export type { ConnectionStatus, StatusListener } from "../socketio/status.js";
export { DEFAULT_CLIENT_VERSION, RECONNECTION_DEFAULTS, RelayError, type BaseClientOptions, type ClientErrorInfo, type IoOptions } from "./shared.js";
export { ViewerClient, type ExecResult, type ViewerClientEvents, type ViewerClientOptions, type ViewerEvent, type ViewerSocket } from "./viewer.js";
export { HubClient, type HubClientEvents, type HubClientOptions, type HubSession, type HubSocket } from "./hub.js";
export { TerminalClient, type TerminalClientEvents, type TerminalClientOptions, type TerminalSocket } from "./terminal.js";
