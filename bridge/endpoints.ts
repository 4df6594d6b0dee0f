import type { IncomingMessage } from "node:http";
import { LEGACY_PATHS, legacyEndpointOf, type LegacyEndpointName } from "../protocol/index.js";
import { pathnameOf } from "../server/http/path.js";
import { cliCodec } from "./codecs/cli.js";
import { hubCodec } from "./codecs/hub.js";
import { runnerCodec } from "./codecs/runner.js";
import { terminalCodec } from "./codecs/terminal.js";
import type { EndpointCodec } from "./codecs/types.js";
import { viewerCodec } from "./codecs/viewer.js";

export const LEGACY_PREFIX = LEGACY_PATHS.prefix;

export type Credential = "api-key" | "browser" | "runner";

export interface LegacyEndpoint {
  name: LegacyEndpointName;
  codec: EndpointCodec;
  credential: Credential;
  /** The id the path carries (raw remainder, docs/legacy-protocol.md section 0), if the endpoint has one. */
  id?: { value: string; authKey: "sessionId" | "terminalId"; missing: string };
}

/** Routes a `/ws/...` request (query ignored) to its endpoint, or null (404). */
export function routeLegacyPath(req: IncomingMessage): LegacyEndpoint | null {
  const endpoint = legacyEndpointOf(pathnameOf(req.url));
  switch (endpoint?.name) {
    case "cli":
      return { name: "cli", codec: cliCodec, credential: "api-key" };
    case "runner":
      return { name: "runner", codec: runnerCodec, credential: "runner" };
    case "hub":
      return { name: "hub", codec: hubCodec, credential: "browser" };
    case "viewer":
      return { name: "viewer", codec: viewerCodec, credential: "browser", id: { value: endpoint.id ?? "", authKey: "sessionId", missing: "Missing session ID" } };
    case "terminal":
      return { name: "terminal", codec: terminalCodec, credential: "browser", id: { value: endpoint.id ?? "", authKey: "terminalId", missing: "Missing terminal ID" } };
    default:
      return null;
  }
}
