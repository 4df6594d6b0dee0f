import { errorBody } from "../../protocol/index.js";
import { closeToReconnect } from "../io/retry.js";
import { direct } from "../io/typed.js";
import { sendHubList } from "../namespaces/hub.js";
import type { RelayContext } from "./context.js";

/**
 * What a node does when shared state was wiped (server/state/epoch.ts): the records its CLIs and
 * runners registered are gone, so they must register again. Each is closed for a retry: Socket.IO
 * clients reconnect at once and register on connect, legacy ones get an `unavailable` error (close
 * 1011) and reconnect with their backoff. Viewers keep their connections; when their session is
 * registered again it starts a fresh join for them (lifecycle.ts, restartViewers), so they reset their
 * position instead of dropping the new events as duplicates. Hubs get their list again.
 */
export function recoverFromWipe(ctx: RelayContext): void {
  let closed = 0;
  const body = errorBody("unavailable", "The relay lost its shared state: register again");
  for (const socket of ctx.relay.sockets.values()) {
    closeToReconnect(socket, () => direct(socket).emit("error", body));
    closed++;
  }
  for (const socket of ctx.runner.sockets.values()) {
    closeToReconnect(socket, () => direct(socket).emit("error", body));
    closed++;
  }
  for (const socket of ctx.hub.sockets.values()) {
    sendHubList(ctx, socket).catch((err: unknown) => ctx.log.warn({ err }, "hub list after a wipe failed"));
  }
  ctx.log.warn({ closed, hubs: ctx.hub.sockets.size }, "after a wipe: CLI and runner connections closed to register again, hub lists sent again");
}
