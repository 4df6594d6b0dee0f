import type { ExtendedError } from "socket.io";
import type { z } from "zod";
import { checkProtocolVersion, HandshakeError, LEGACY_PROTOCOL_VERSION, LEGACY_TRANSPORT_NAME, validate, type NamespaceName } from "../../protocol/index.js";
import { safeEqual } from "../auth/secrets.js";
import { authenticateApiKey, authenticateBrowser } from "../auth/authenticate.js";
import { closeForRetry, TRANSIENT_CODES } from "../io/retry.js";
import type { TypedSocket } from "../io/typed.js";
import type { Identity } from "../state/types.js";
import type { RelayContext } from "../sessions/context.js";

type Next = (err?: ExtendedError) => void;

interface BaseAuth {
  apiKey?: string | undefined;
  /** `/runner` only: the shared PIZZAPI_RUNNER_TOKEN of old runners (no user). */
  runnerToken?: string | undefined;
  protocolVersion?: string | undefined;
  clientVersion?: string | undefined;
}

export interface HandshakeResult<A> {
  auth: A;
  identity: Identity;
  protocolVersion: string;
  clientVersion: string | null;
}

/**
 * Builds a namespace middleware: validates the handshake `auth` against the namespace's schema, checks
 * the declared protocol version, authenticates, and hands the result to `accept` (which fills
 * `socket.data`). Every refusal is a typed `connect_error` ({code, message} in `err.data`).
 */
export function handshake<N extends NamespaceName, S extends z.ZodType<BaseAuth>>(
  ctx: RelayContext,
  namespace: N,
  schema: S,
  mode: "api-key" | "browser" | "runner",
  accept: (socket: TypedSocket<N>, result: HandshakeResult<z.output<S>>) => void,
): (socket: TypedSocket<N>, next: Next) => void {
  return (socket, next) => {
    const run = async (): Promise<void> => {
      const checked = validate(schema, socket.handshake.auth ?? {}, "handshake auth");
      if (!checked.ok) throw new HandshakeError("invalid_payload", checked.error.message);
      const auth = checked.value;
      // Legacy clients send no version: the transport identifies them as protocol 0.
      let protocolVersion = socket.conn.transport.name === LEGACY_TRANSPORT_NAME ? LEGACY_PROTOCOL_VERSION : "unknown";
      if (auth.protocolVersion !== undefined) {
        const version = checkProtocolVersion(auth.protocolVersion);
        if (!version.ok) throw new HandshakeError("unsupported_protocol", `Unsupported protocol version: ${auth.protocolVersion}`);
        protocolVersion = version.version;
      }
      const headers = socket.handshake.headers;
      const identity =
        mode === "runner" && !auth.apiKey && auth.runnerToken !== undefined
          ? runnerTokenIdentity(ctx, auth.runnerToken)
          : mode !== "browser"
          ? await authenticateApiKey(ctx.state, auth.apiKey, ctx.log)
          : await authenticateBrowser(
              ctx.state,
              { apiKey: auth.apiKey, cookieHeader: headers.cookie, origin: headers.origin },
              ctx.config.trustedOrigins,
              ctx.log,
            );
      accept(socket, { auth, identity, protocolVersion, clientVersion: auth.clientVersion ?? null });
    };
    run().then(
      () => next(),
      (err: unknown) => {
        const refusal = err instanceof HandshakeError ? err : new HandshakeError("internal");
        if (!(err instanceof HandshakeError)) ctx.log.error({ err, namespace }, "handshake failed");
        else ctx.log.info({ namespace, code: refusal.data.code, transport: socket.conn.transport.name }, "handshake refused");
        // A refusal is final for socket.io-client; a failure of ours is not the client's fault: close
        // the connection instead, so the client retries with its backoff (legacy ones get the refusal).
        // next() is still called: socket.io only releases the pending socket (Namespace._preConnectSockets)
        // there, and once the connection is no longer open it drops the refusal instead of sending it.
        if (TRANSIENT_CODES.has(refusal.data.code)) closeForRetry(socket);
        next(refusal);
      },
    );
  };
}

/**
 * Old runners authenticate with the server-wide PIZZAPI_RUNNER_TOKEN instead of an API key (legacy 1).
 * They belong to no user: the empty user id owns them, so no user can spawn on them or list them.
 */
function runnerTokenIdentity(ctx: RelayContext, token: string): { userId: string; userName: string } {
  const expected = ctx.config.runnerToken;
  if (!expected || !token || !safeEqual(token, expected)) throw new HandshakeError("unauthorized", "Unauthorized");
  return { userId: "", userName: "" };
}
