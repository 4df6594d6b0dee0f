import { errorBody } from "../../protocol/index.js";
import { closeForRetry, closeToReconnect } from "../io/retry.js";
import { direct } from "../io/typed.js";
import type { RelayContext } from "./context.js";

/**
 * Sends this node's clients to other nodes while it cannot serve them (it lost Redis:
 * server/state/redis-loss.ts). Every client that reconnects by itself is closed for that: Socket.IO
 * clients of every namespace (viewers resume by `seq`, hubs get their list again), legacy CLIs, runners
 * and hubs (an `unavailable` error, close 1011). Legacy viewers and terminals stay: they would not come
 * back by themselves, and the bridge fills a viewer's gap from the log once Redis answers again.
 */
export function moveClients(ctx: RelayContext): number {
  const body = errorBody("unavailable", "This relay node lost its shared state: reconnect");
  let moved = 0;
  for (const socket of ctx.relay.sockets.values()) {
    closeToReconnect(socket, () => direct(socket).emit("error", body));
    moved++;
  }
  for (const socket of ctx.runner.sockets.values()) {
    closeToReconnect(socket, () => direct(socket).emit("error", body));
    moved++;
  }
  for (const socket of ctx.hub.sockets.values()) {
    closeToReconnect(socket, () => direct(socket).emit("error", body));
    moved++;
  }
  for (const socket of ctx.viewer.sockets.values()) if (closeForRetry(socket)) moved++;
  for (const socket of ctx.terminal.sockets.values()) if (closeForRetry(socket)) moved++;
  ctx.log.warn({ moved }, "clients sent to other nodes: this node has no shared state");
  return moved;
}
