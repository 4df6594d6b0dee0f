import { errorBody } from "../../protocol/index.js";
import { inSlices } from "../io/slices.js";
import { direct, nodeSockets, type CommonSocket, type RelayIo } from "../io/typed.js";
import { wireOf } from "../observability/connections.js";
import { reportRefusal } from "../observability/refusals.js";
import type { RelayContext } from "../sessions/context.js";

const REVOKED = "The API key of this connection was revoked";

/**
 * Revoking a key revokes its connections (docs/operations.md, "Revoking a key"): every
 * `PIZZAPI_REVOCATION_CHECK_MS` each node asks, in one round trip, which API keys of its live
 * connections still exist (connections by cookie carry the key their login was minted with), and
 * closes those whose key is gone with a final `unauthorized`: an `error` first, then a server-side
 * disconnect (Socket.IO clients do not reconnect; legacy ones get close 1008). `keys revoke` may run
 * anywhere: it only deletes the key, and every node notices within one check.
 */
export function startRevocationSweep(ctx: RelayContext, io: RelayIo): { stop(): void } {
  let running = false;
  const sweep = async (): Promise<void> => {
    const byKey = new Map<string, CommonSocket[]>();
    for await (const [, socket] of inSlices(nodeSockets(io))) {
      const keyId = socket.data.keyId;
      if (!keyId) continue;
      // One list per key, appended to: copying it per socket was quadratic in one user's connections.
      const list = byKey.get(keyId);
      if (list) list.push(socket);
      else byKey.set(keyId, [socket]);
    }
    if (byKey.size === 0) return;
    const existing = await ctx.state.keys.existing([...byKey.keys()]);
    for (const [keyId, sockets] of byKey) {
      if (existing.has(keyId)) continue;
      for (const socket of sockets) {
        if (!socket.connected) continue;
        reportRefusal(ctx, "unauthorized", wireOf(socket), { keyId, userId: socket.data.userId, namespace: socket.nsp.name }, "connection closed: API key revoked");
        direct(socket).emit("error", errorBody("unauthorized", REVOKED));
        socket.disconnect(true);
      }
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweep()
      .catch((err: unknown) => ctx.log.warn({ err }, "revocation check failed: shared state unavailable"))
      .finally(() => (running = false));
  }, ctx.config.revocationCheckMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
