export { PROTOCOL_VERSION } from "./constants.js";

/** Client protocol versions this server accepts in the handshake `auth.protocolVersion`. */
export const ACCEPTED_PROTOCOL_RANGE = "^1.0.0";

/**
 * Legacy raw-WebSocket clients send no version at all (docs/legacy-protocol.md section 11): the path
 * identifies them, and they count as protocol 0.
 */
export const LEGACY_PROTOCOL_VERSION = "0.0.0";
