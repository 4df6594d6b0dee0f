import { parse as parseCookie } from "cookie";
import { HandshakeError } from "../../protocol/index.js";
import type { Logger } from "../logger.js";
import type { Identity, SharedState } from "../state/types.js";
import { isTrustedOrigin } from "./origin.js";

/** Name of the browser login cookie set by `POST /api/auth/session`. */
export const SESSION_COOKIE = "pizzapi_session";

export interface Credentials {
  apiKey?: string | undefined;
  cookieHeader?: string | undefined;
  origin?: string | undefined;
}

/**
 * Resolves an API key to its owner. A missing key and an unknown key are `unauthorized`; a failing
 * backend is `auth_unavailable` (the caller answers 503 / a typed connect_error, never a crash).
 */
export async function authenticateApiKey(state: SharedState, apiKey: string | undefined, log: Logger): Promise<Identity> {
  if (!apiKey) throw new HandshakeError("unauthorized", "Missing API key");
  let meta;
  try {
    meta = await state.keys.verify(apiKey);
  } catch (err) {
    log.error({ err }, "API key verification failed: auth backend unavailable");
    throw new HandshakeError("auth_unavailable");
  }
  if (!meta) throw new HandshakeError("unauthorized", "Invalid or expired API key");
  return { userId: meta.userId, userName: meta.userName };
}

/**
 * Browser-facing endpoints (viewer, hub, terminal): the login cookie, checked against the trusted
 * origins, or an API key for tools.
 */
export async function authenticateBrowser(
  state: SharedState,
  credentials: Credentials,
  trustedOrigins: readonly string[],
  log: Logger,
): Promise<Identity> {
  if (credentials.apiKey) return authenticateApiKey(state, credentials.apiKey, log);
  const token = credentials.cookieHeader ? parseCookie(credentials.cookieHeader)[SESSION_COOKIE] : undefined;
  if (!token) throw new HandshakeError("unauthorized", "Unauthorized");
  if (!isTrustedOrigin(credentials.origin, trustedOrigins)) {
    log.warn({ origin: credentials.origin }, "cookie handshake from an untrusted origin refused");
    throw new HandshakeError("untrusted_origin");
  }
  let identity: Identity | null;
  try {
    identity = await state.logins.verify(token);
  } catch (err) {
    log.error({ err }, "login verification failed: auth backend unavailable");
    throw new HandshakeError("auth_unavailable");
  }
  if (!identity) throw new HandshakeError("unauthorized", "Unauthorized");
  return identity;
}
