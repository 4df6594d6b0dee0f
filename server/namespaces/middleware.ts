import type { ExtendedError } from "socket.io";
import type { z } from "zod";
import { checkProtocolVersion, HandshakeError, validate, type NamespaceName } from "../../protocol/index.js";
import { authenticateApiKey, authenticateBrowser } from "../auth/authenticate.js";
import type { TypedSocket } from "../io/typed.js";
import type { Identity } from "../state/types.js";
import type { RelayContext } from "../sessions/context.js";

type Next = (err?: ExtendedError) => void;

interface BaseAuth {
  apiKey?: string | undefined;
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
  mode: "api-key" | "browser",
  accept: (socket: TypedSocket<N>, result: HandshakeResult<z.output<S>>) => void,
): (socket: TypedSocket<N>, next: Next) => void {
  return (socket, next) => {
    const run = async (): Promise<void> => {
      const checked = validate(schema, socket.handshake.auth ?? {}, "handshake auth");
      if (!checked.ok) throw new HandshakeError("invalid_payload", checked.error.message);
      const auth = checked.value;
      let protocolVersion = "unknown";
      if (auth.protocolVersion !== undefined) {
        const version = checkProtocolVersion(auth.protocolVersion);
        if (!version.ok) throw new HandshakeError("unsupported_protocol", `Unsupported protocol version: ${auth.protocolVersion}`);
        protocolVersion = version.version;
      }
      const headers = socket.handshake.headers;
      const identity =
        mode === "api-key"
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
        next(refusal);
      },
    );
  };
}
