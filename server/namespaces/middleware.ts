import type { ExtendedError } from "socket.io";
import type { z } from "zod";
import { HandshakeError, isRetryable, routeGeneration, validate, type ConnectionData, type NamespaceName } from "../../protocol/index.js";
import { authenticate, type CredentialKind } from "../auth/authenticate.js";
import { authDeps } from "../auth/deps.js";
import { closeForRetry } from "../io/retry.js";
import { socketAddress } from "../observability/connections.js";
import { reportHandshakeRefusal } from "../observability/refusals.js";
import type { TypedSocket } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";

type Next = (err?: ExtendedError) => void;

interface BaseAuth {
  apiKey?: string | undefined;
  /** `/runner` only: the shared PIZZAPI_RUNNER_TOKEN of old runners (no user). */
  runnerToken?: string | undefined;
  protocolVersion?: string | number | undefined;
  clientVersion?: string | undefined;
}

export interface HandshakeResult<A> {
  auth: A;
  /** The base of `socket.data`: identity, versions, generation. */
  connection: ConnectionData;
}

/**
 * Builds a namespace middleware: validates the handshake `auth` against the namespace's schema, routes
 * the connection to its client generation (protocol/generations.ts; none: `unsupported_protocol`),
 * authenticates, and hands the result to `accept` (which fills `socket.data`). Every refusal is a typed
 * `connect_error` ({code, message} in `err.data`).
 */
export function handshake<N extends NamespaceName, S extends z.ZodType<BaseAuth>>(
  ctx: RelayContext,
  namespace: N,
  schema: S,
  mode: "api-key" | "browser" | "runner",
  accept: (socket: TypedSocket<N>, result: HandshakeResult<z.output<S>>) => void,
): (socket: TypedSocket<N>, next: Next) => void {
  return (socket, next) => {
    let generation = "unknown";
    const run = async (): Promise<void> => {
      const checked = validate(schema, socket.handshake.auth ?? {}, "handshake auth");
      if (!checked.ok) throw new HandshakeError("invalid_payload", checked.error.message);
      const auth = checked.value;
      const routed = routeGeneration({ transport: socket.conn.transport.name, namespace, protocolVersion: auth.protocolVersion, clientVersion: auth.clientVersion });
      if (!routed.ok) throw new HandshakeError("unsupported_protocol", routed.message);
      generation = routed.generation;
      const headers = socket.handshake.headers;
      const caller = await authenticate(
        authDeps(ctx),
        { apiKey: auth.apiKey, runnerToken: auth.runnerToken, cookieHeader: headers.cookie, origin: headers.origin, host: headers.host },
        ACCEPTED[mode],
      );
      accept(socket, {
        auth,
        connection: {
          userId: caller.userId,
          userName: caller.userName,
          protocolVersion: routed.protocolVersion,
          clientVersion: auth.clientVersion ?? null,
          clientGeneration: routed.generation,
          keyId: caller.keyId,
        },
      });
    };
    run().then(
      () => next(),
      (err: unknown) => {
        const refusal = err instanceof HandshakeError ? err : new HandshakeError("internal");
        if (!(err instanceof HandshakeError)) ctx.log.error({ err, namespace }, "handshake failed");
        reportHandshakeRefusal(ctx, refusal.data.code, { namespace, generation, transport: socket.conn.transport.name, ip: socketAddress(socket, ctx.config.trustProxy) });
        // A refusal is final for socket.io-client; a failure of ours is not the client's fault: close
        // the connection instead, so the client retries with its backoff (legacy ones get the refusal).
        // next() is still called: socket.io only releases the pending socket (Namespace._preConnectSockets)
        // there, and once the connection is no longer open it drops the refusal instead of sending it.
        if (isRetryable(refusal.data.code)) closeForRetry(socket);
        next(refusal);
      },
    );
  };
}

/** The credentials each kind of namespace takes (browsers: the login cookie; old runners: the token). */
const ACCEPTED: Record<"api-key" | "browser" | "runner", readonly CredentialKind[]> = {
  "api-key": ["api-key"],
  browser: ["api-key", "cookie"],
  runner: ["api-key", "runner-token"],
};
