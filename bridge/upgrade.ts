import type { IncomingMessage } from "node:http";
import { WebSocketServer } from "ws";
import { HandshakeError, LEGACY_MAX_FRAME_BYTES, type ErrorCode } from "../protocol/index.js";
import type { CredentialKind, Credentials } from "../server/auth/authenticate.js";
import type { PluginApi, UpgradeRefusal } from "../server/plugins/types.js";
import type { BridgeConfig } from "./config.js";
import { FrameCounter, openLegacyConnection } from "./connection.js";
import { LEGACY_PREFIX, routeLegacyPath, type LegacyEndpoint } from "./endpoints.js";

type Verdict = { ok: true; auth: Record<string, unknown> } | { ok: false; refusal: UpgradeRefusal };

/**
 * The bridge's claim on `/ws/` (docs/architecture.md section 5): the relay's upgrade router hands it
 * every legacy upgrade after the migration policy's guard. Credentials are checked before the WebSocket
 * is accepted, with the legacy relay's exact refusals (docs/legacy-protocol.md section 1); ws caps
 * inbound frames at 16 MiB (close 1009) before anything is buffered for an unauthenticated client.
 */
export function claimLegacyUpgrades(api: PluginApi, config: BridgeConfig): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: LEGACY_MAX_FRAME_BYTES, perMessageDeflate: false });
  const frames = new FrameCounter(api.metrics.registry);
  // Headers the policy guards add to the 101 (Deprecation, Sunset), per request.
  const extraHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
  wss.on("headers", (headers: string[], req: IncomingMessage) => {
    for (const [name, value] of Object.entries(extraHeaders.get(req) ?? {})) headers.push(`${name}: ${value}`);
  });
  api.claimUpgrade(LEGACY_PREFIX, ({ req, socket, head, responseHeaders, refuse }) => {
    const endpoint = routeLegacyPath(req);
    if (!endpoint) return refuse({ code: "not_found", body: JSON.stringify({ error: "Not found" }), contentType: "application/json" });
    authorize(api, endpoint, req).then(
      (verdict) => {
        if (!verdict.ok) return refuse(verdict.refusal);
        extraHeaders.set(req, responseHeaders);
        wss.handleUpgrade(req, socket, head, (ws) => {
          openLegacyConnection(api, ws, req, endpoint.codec, { auth: verdict.auth, firstFrameTimeoutMs: config.firstFrameTimeoutMs, endpoint: endpoint.name, frames, socket }).catch((err: unknown) => {
            api.log.error({ err, endpoint: endpoint.name }, "legacy connection failed");
            ws.close(1011, "Internal error");
          });
        });
      },
      (err: unknown) => {
        api.log.error({ err, endpoint: endpoint.name }, "legacy upgrade failed");
        refuse({ code: "internal", body: "Internal error" });
      },
    );
  });
}

/**
 * Legacy section 1: which credential each endpoint takes, and the exact answer when it is missing or
 * wrong. The relay's one authentication decides; this only words its refusal as the legacy relay did.
 */
async function authorize(api: PluginApi, endpoint: LegacyEndpoint, req: IncomingMessage): Promise<Verdict> {
  const apiKey = header(req, "x-api-key");
  const creds: Credentials = { apiKey };
  let accept: readonly CredentialKind[];
  if (endpoint.credential === "api-key") {
    if (!apiKey) return refused("unauthorized", "Missing API key (x-api-key header)");
    accept = ["api-key"];
  } else if (endpoint.credential === "runner") {
    // An empty x-api-key counts as absent and falls through to the Bearer token (legacy section 1).
    creds.runnerToken = /^Bearer (.+)$/.exec(header(req, "authorization") ?? "")?.[1] ?? "";
    accept = ["api-key", "runner-token"];
  } else {
    Object.assign(creds, { cookieHeader: header(req, "cookie"), origin: header(req, "origin"), host: header(req, "host") });
    accept = ["api-key", "cookie"];
  }
  let auth: Record<string, unknown>;
  try {
    const caller = await api.authenticate(creds, accept);
    auth = caller.via === "api-key" ? { apiKey } : caller.via === "runner-token" ? { runnerToken: creds.runnerToken } : {};
  } catch (err) {
    if (!(err instanceof HandshakeError)) throw err;
    return { ok: false, refusal: legacyRefusal(endpoint, err.data.code, err.message) };
  }
  if (endpoint.id) {
    if (!endpoint.id.value) return refused("invalid_payload", endpoint.id.missing);
    auth[endpoint.id.authKey] = endpoint.id.value;
  }
  return { ok: true, auth };
}

/** The legacy relay's words for each refusal: the status comes from the code, the body per endpoint. */
function legacyRefusal(endpoint: LegacyEndpoint, code: ErrorCode, message: string): UpgradeRefusal {
  if (code === "auth_unavailable") return { code, body: "Authentication backend unavailable" };
  if (code === "untrusted_origin") return { code, body: "Forbidden: untrusted Origin" };
  const keyEndpoint = endpoint.credential === "api-key" || (endpoint.credential === "runner" && message === "Invalid or expired API key");
  if (code === "unauthorized") return { code, body: keyEndpoint ? message : "Unauthorized" };
  return { code: "internal", body: "Internal error" };
}

function refused(code: "invalid_payload" | "unauthorized", body: string): Verdict {
  return { ok: false, refusal: { code, body } };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.length > 0 ? first : undefined;
}
