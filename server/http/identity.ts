import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { SESSION_COOKIE } from "../auth/authenticate.js";
import { isTrustedOrigin } from "../auth/origin.js";
import type { RelayContext } from "../sessions/context.js";
import type { Identity } from "../state/types.js";

export type CallerResult = { ok: true; identity: Identity } | { ok: false; status: 401 | 403 | 503; error: string };

/**
 * The caller of a control-API route: an `x-api-key` (tools, the CLI) or the browser login cookie. A
 * cookie-authenticated request must not come from an untrusted Origin (CSRF on state-changing routes).
 */
export async function caller(ctx: RelayContext, c: Context): Promise<CallerResult> {
  try {
    const key = c.req.header("x-api-key");
    if (key) {
      const meta = await ctx.state.keys.verify(key);
      return meta ? { ok: true, identity: { userId: meta.userId, userName: meta.userName } } : { ok: false, status: 401, error: "Unauthorized" };
    }
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) return { ok: false, status: 401, error: "Unauthorized" };
    if (!isTrustedOrigin(c.req.header("origin"), ctx.config.trustedOrigins)) return { ok: false, status: 403, error: "Untrusted origin" };
    const identity = await ctx.state.logins.verify(token);
    return identity ? { ok: true, identity } : { ok: false, status: 401, error: "Unauthorized" };
  } catch (err) {
    ctx.log.error({ err }, "caller authentication failed: auth backend unavailable");
    return { ok: false, status: 503, error: "Authentication backend unavailable" };
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
