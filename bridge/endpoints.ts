import type { IncomingMessage } from "node:http";
import { LEGACY_PATHS } from "../protocol/index.js";
import { cliCodec } from "./codecs/cli.js";
import { hubCodec } from "./codecs/hub.js";
import { runnerCodec } from "./codecs/runner.js";
import { terminalCodec } from "./codecs/terminal.js";
import type { EndpointCodec } from "./codecs/types.js";
import { viewerCodec } from "./codecs/viewer.js";

export const LEGACY_PREFIX = LEGACY_PATHS.prefix;

export type Credential = "api-key" | "browser" | "runner";

export interface LegacyEndpoint {
  name: "cli" | "viewer" | "runner" | "terminal" | "hub";
  codec: EndpointCodec;
  credential: Credential;
  /** The id the path carries (raw remainder, docs/legacy-protocol.md section 0), if the endpoint has one. */
  id?: { value: string; authKey: "sessionId" | "terminalId"; missing: string };
}

/** Routes a `/ws/...` pathname (query ignored) to its endpoint, or null (404). */
export function routeLegacyPath(req: IncomingMessage): LegacyEndpoint | null {
  const path = new URL(req.url ?? "/", "http://relay").pathname;
  if (path === LEGACY_PATHS.cli) return { name: "cli", codec: cliCodec, credential: "api-key" };
  if (path === LEGACY_PATHS.runner) return { name: "runner", codec: runnerCodec, credential: "runner" };
  if (path === LEGACY_PATHS.hub) return { name: "hub", codec: hubCodec, credential: "browser" };
  if (path.startsWith(LEGACY_PATHS.viewerPrefix)) {
    const value = path.slice(LEGACY_PATHS.viewerPrefix.length);
    return { name: "viewer", codec: viewerCodec, credential: "browser", id: { value, authKey: "sessionId", missing: "Missing session ID" } };
  }
  if (path.startsWith(LEGACY_PATHS.terminalPrefix)) {
    const value = path.slice(LEGACY_PATHS.terminalPrefix.length);
    return { name: "terminal", codec: terminalCodec, credential: "browser", id: { value, authKey: "terminalId", missing: "Missing terminal ID" } };
  }
  return null;
}
