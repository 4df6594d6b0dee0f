import { parse as parseCookie } from "cookie";
import { HandshakeError } from "../../protocol/index.js";
import type { Logger } from "../logger.js";
import type { Identity, LoginIdentity, SharedState } from "../state/types.js";
import { isTrustedOrigin } from "./origin.js";
import { safeEqual } from "./secrets.js";

/** Name of the browser login cookie set by `POST /api/auth/session`. */
export const SESSION_COOKIE = "pizzapi_session";

/**
 * The credentials a caller presented, whatever the wire: Socket.IO handshake `auth` and headers, a
 * legacy upgrade's headers, a REST request's headers.
 */
export interface Credentials {
  apiKey?: string | undefined;
  cookieHeader?: string | undefined;
  origin?: string | undefined;
  /** The shared `PIZZAPI_RUNNER_TOKEN` of old runners (no user). */
  runnerToken?: string | undefined;
  /** The request's `Host`: a cookie request from a page the relay served itself (same origin) is trusted. */
  host?: string | undefined;
}

/** Which credentials an entry point takes: API keys always; the login cookie, or the runner token. */
export type CredentialKind = "api-key" | "cookie" | "runner-token";

export interface Authenticated extends Identity {
  via: CredentialKind;
  /** The API key's id (`keys list`); for a login cookie, the key it was minted with; null for the runner token. */
  keyId: string | null;
  /** An API key with the operator scope (`keys create --admin`), or a login minted with one. */
  admin: boolean;
}

export interface AuthDeps {
  state: SharedState;
  log: Logger;
  trustedOrigins: readonly string[];
  runnerToken: string | null;
}

/**
 * The one authentication of the relay (Socket.IO handshakes, legacy upgrades, REST): resolves the
 * caller or throws a HandshakeError whose code each wire turns into its answer (protocol/error-codes.ts):
 *
 * - an API key, when present, decides alone: unknown → `unauthorized` "Invalid or expired API key";
 * - else the runner token (where accepted): wrong or unset on the server → `unauthorized`;
 * - else the login cookie (where accepted), only from a trusted Origin (cross-site WebSocket hijacking
 *   and CSRF): missing or unknown → `unauthorized`, untrusted Origin → `untrusted_origin`;
 * - a backend that does not answer → `auth_unavailable`, never a crash.
 *
 * Old runners' token users own nothing: the empty user id (legacy section 1).
 */
export async function authenticate(deps: AuthDeps, creds: Credentials, accept: readonly CredentialKind[]): Promise<Authenticated> {
  if (creds.apiKey) {
    let meta;
    try {
      meta = await deps.state.keys.verify(creds.apiKey);
    } catch (err) {
      deps.log.error({ err }, "API key verification failed: auth backend unavailable");
      throw new HandshakeError("auth_unavailable");
    }
    if (!meta) throw new HandshakeError("unauthorized", "Invalid or expired API key");
    return { userId: meta.userId, userName: meta.userName, via: "api-key", keyId: meta.id, admin: meta.admin };
  }
  if (accept.includes("runner-token") && creds.runnerToken !== undefined) {
    const expected = deps.runnerToken;
    if (!expected || !creds.runnerToken || !safeEqual(creds.runnerToken, expected)) throw new HandshakeError("unauthorized", "Unauthorized");
    return { userId: "", userName: "", via: "runner-token", keyId: null, admin: false };
  }
  if (!accept.includes("cookie")) throw new HandshakeError("unauthorized", "Missing API key");
  const token = creds.cookieHeader ? parseCookie(creds.cookieHeader)[SESSION_COOKIE] : undefined;
  if (!token) throw new HandshakeError("unauthorized", "Unauthorized");
  if (!isTrustedOrigin(creds.origin, deps.trustedOrigins, creds.host)) {
    deps.log.warn({ origin: creds.origin }, "cookie request from an untrusted origin refused");
    throw new HandshakeError("untrusted_origin");
  }
  let login: LoginIdentity | null;
  try {
    login = await deps.state.logins.verify(token);
  } catch (err) {
    deps.log.error({ err }, "login verification failed: auth backend unavailable");
    throw new HandshakeError("auth_unavailable");
  }
  if (!login) throw new HandshakeError("unauthorized", "Unauthorized");
  // A login is only as good as the key it was minted with: revoking the key ends it (an admin session
  // above all). Logins from before keys were recorded carry none.
  if (login.keyId !== null && !(await keyExists(deps, login.keyId))) throw new HandshakeError("unauthorized", "Unauthorized");
  return { userId: login.userId, userName: login.userName, via: "cookie", keyId: login.keyId, admin: login.admin };
}

async function keyExists(deps: AuthDeps, keyId: string): Promise<boolean> {
  try {
    return await deps.state.keys.exists(keyId);
  } catch (err) {
    deps.log.error({ err }, "API key lookup failed: auth backend unavailable");
    throw new HandshakeError("auth_unavailable");
  }
}
