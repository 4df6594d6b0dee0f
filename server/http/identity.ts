import type { Context } from "hono";
import { ERRORS, HandshakeError, type ErrorCode, type HttpErrorStatus } from "../../protocol/index.js";
import { authenticate, type Authenticated, type Credentials } from "../auth/authenticate.js";
import { authDeps } from "../auth/deps.js";
import { reportRefusal } from "../observability/refusals.js";
import type { RelayContext } from "../sessions/context.js";
import { requestAddress } from "./request-client.js";

export type CallerResult = { ok: true; identity: Authenticated } | { ok: false; status: HttpErrorStatus; error: string };

/** REST bodies of refused callers, as the legacy REST routes answered them (statuses: error-codes.ts). */
const REST_BODIES: Partial<Record<ErrorCode, string>> = {
  unauthorized: "Unauthorized",
  untrusted_origin: "Untrusted origin",
  auth_unavailable: "Authentication backend unavailable",
};

/** The credentials a REST request presents (an API key header, or the login cookie from an Origin). */
export function requestCredentials(c: Context): Credentials {
  return { apiKey: c.req.header("x-api-key"), cookieHeader: c.req.header("cookie"), origin: c.req.header("origin"), host: c.req.header("host") };
}

/**
 * The caller of a control-API route: an `x-api-key` (tools, the CLI) or the browser login cookie. A
 * cookie-authenticated request must not come from an untrusted Origin (CSRF on state-changing routes).
 */
export async function caller(ctx: Pick<RelayContext, "state" | "log" | "config" | "metrics">, c: Context): Promise<CallerResult> {
  try {
    const identity = await authenticate(authDeps(ctx), requestCredentials(c), ["api-key", "cookie"]);
    return { ok: true, identity };
  } catch (err) {
    const code: ErrorCode = err instanceof HandshakeError ? err.data.code : "internal";
    if (!(err instanceof HandshakeError)) ctx.log.error({ err }, "caller authentication failed");
    reportRefusal(ctx, code, "http", { method: c.req.method, ip: requestAddress(c, ctx.config.trustProxy) }, "request refused: caller not authenticated");
    return { ok: false, status: ERRORS[code].http, error: REST_BODIES[code] ?? ERRORS[code].message };
  }
}

/** Reads a JSON body, or null when it is absent or not an object. */
export async function jsonBody(c: Context): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await c.req.json();
    return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
