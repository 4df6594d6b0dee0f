import semver from "semver";

export { PROTOCOL_VERSION } from "./constants.js";

/** Client protocol versions this server accepts in the handshake `auth.protocolVersion`. */
export const ACCEPTED_PROTOCOL_RANGE = "^1.0.0";

/**
 * Legacy raw-WebSocket clients send no version at all (legacy-protocol.md section 11): the path
 * identifies them, and they count as protocol 0.
 */
export const LEGACY_PROTOCOL_VERSION = "0.0.0";

export type VersionCheck =
  | { ok: true; version: string }
  | { ok: false; reason: "missing" | "malformed" | "unsupported"; version?: string };

/** Checks a handshake-declared protocol version against the accepted range. */
export function checkProtocolVersion(declared: unknown, range: string = ACCEPTED_PROTOCOL_RANGE): VersionCheck {
  if (declared === undefined || declared === null || declared === "") return { ok: false, reason: "missing" };
  if (typeof declared !== "string" || semver.valid(declared) === null) return { ok: false, reason: "malformed" };
  if (!semver.satisfies(declared, range)) return { ok: false, reason: "unsupported", version: declared };
  return { ok: true, version: declared };
}
