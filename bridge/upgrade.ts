import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { parse as parseCookie } from "cookie";
import { WebSocketServer } from "ws";
import { LEGACY_MAX_FRAME_BYTES } from "../protocol/index.js";
import { SESSION_COOKIE } from "../server/auth/authenticate.js";
import { isTrustedOrigin } from "../server/auth/origin.js";
import { safeEqual } from "../server/auth/secrets.js";
import type { RelayServer } from "../server/relay-server.js";
import type { BridgeConfig } from "./config.js";
import { openLegacyConnection } from "./connection.js";
import { routeLegacyPath, type LegacyEndpoint } from "./endpoints.js";
import { refuseUpgrade } from "./refuse.js";

export const GONE_BODY =
  "This relay no longer serves the legacy /ws/* protocol (pizzapi v0.1.x clients). " +
  "Upgrade the pizzapi CLI, runner and web UI to a release that speaks the Socket.IO protocol (>= 0.2.0), " +
  "or ask your operator to set PIZZAPI_LEGACY_WS=on.";

type Verdict = { ok: true; auth: Record<string, unknown> } | { ok: false; status: number; body: string };

/**
 * The one `upgrade` listener for `/ws/*` (design.md 5): engine.io keeps `/socket.io/` (its own listener,
 * with destroyUpgrade off so it leaves ours alone). Credentials are checked before the WebSocket is
 * accepted, with the legacy relay's exact refusals; ws caps inbound frames at 16 MiB (close 1009)
 * before anything is buffered for an unauthenticated client.
 */
export function attachLegacyUpgrades(relay: RelayServer, config: BridgeConfig): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: LEGACY_MAX_FRAME_BYTES, perMessageDeflate: false });
  relay.http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? "/", "http://relay").pathname;
    if (!path.startsWith("/ws/")) return;
    socket.on("error", () => socket.destroy());
    if (!config.enabled) return refuseUpgrade(socket, 410, GONE_BODY);
    const endpoint = routeLegacyPath(req);
    if (!endpoint) return refuseUpgrade(socket, 404, JSON.stringify({ error: "Not found" }), "application/json");
    authorize(relay, endpoint, req).then(
      (verdict) => {
        if (!verdict.ok) {
          relay.log.info({ endpoint: endpoint.name, status: verdict.status }, "legacy upgrade refused");
          return refuseUpgrade(socket, verdict.status, verdict.body);
        }
        if (relay.ctx.lifecycle.shuttingDown) return refuseUpgrade(socket, 503, "Relay is shutting down");
        wss.handleUpgrade(req, socket, head, (ws) => {
          openLegacyConnection(relay, ws, req, endpoint.codec, { auth: verdict.auth, firstFrameTimeoutMs: config.firstFrameTimeoutMs }).catch((err: unknown) => {
            relay.log.error({ err, endpoint: endpoint.name }, "legacy connection failed");
            ws.close(1011, "Internal error");
          });
        });
      },
      (err: unknown) => {
        // A broken auth backend is a clear 503, never the legacy relay's bare 500.
        relay.log.error({ err, endpoint: endpoint.name }, "legacy upgrade: auth backend unavailable");
        refuseUpgrade(socket, 503, "Authentication backend unavailable");
      },
    );
  });
}

/** Legacy section 1: which credential each endpoint takes, and the answer when it is missing or wrong. */
async function authorize(relay: RelayServer, endpoint: LegacyEndpoint, req: IncomingMessage): Promise<Verdict> {
  const { state, config } = relay.ctx;
  const apiKey = header(req, "x-api-key");
  if (endpoint.credential === "api-key" || (endpoint.credential === "runner" && apiKey)) {
    if (!apiKey) return { ok: false, status: 401, body: "Missing API key (x-api-key header)" };
    if (!(await state.keys.verify(apiKey))) return { ok: false, status: 401, body: "Invalid or expired API key" };
    return { ok: true, auth: { apiKey } };
  }
  if (endpoint.credential === "runner") {
    const bearer = /^Bearer (.+)$/.exec(header(req, "authorization") ?? "")?.[1] ?? "";
    if (!config.runnerToken || !bearer || !safeEqual(bearer, config.runnerToken)) return { ok: false, status: 401, body: "Unauthorized" };
    return { ok: true, auth: { runnerToken: bearer } };
  }
  // Browser endpoints: the login cookie (Origin-checked), or an API key for tools; auth runs first.
  let auth: Record<string, unknown>;
  if (apiKey) {
    if (!(await state.keys.verify(apiKey))) return { ok: false, status: 401, body: "Unauthorized" };
    auth = { apiKey };
  } else {
    const token = parseCookie(header(req, "cookie") ?? "")[SESSION_COOKIE];
    if (!token || !(await state.logins.verify(token))) return { ok: false, status: 401, body: "Unauthorized" };
    if (!isTrustedOrigin(header(req, "origin"), config.trustedOrigins)) return { ok: false, status: 403, body: "Forbidden: untrusted Origin" };
    auth = {};
  }
  if (endpoint.id) {
    if (!endpoint.id.value) return { ok: false, status: 400, body: endpoint.id.missing };
    auth[endpoint.id.authKey] = endpoint.id.value;
  }
  return { ok: true, auth };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.length > 0 ? first : undefined;
}
