import type { Socket } from "socket.io-client";
import type { ErrorBody } from "../../protocol/errors.js";

/**
 * What a UI shows about a client's connection. Derived only from socket.io-client's own events, so the
 * status never disagrees with what the library is actually doing (it owns reconnection and backoff).
 */
export type ConnectionStatus =
  /** The first connection attempt is under way. */
  | { state: "connecting" }
  /** Connected; `transport` is "polling" or "websocket" and changes when the connection upgrades. */
  | { state: "connected"; transport: string; recovered: boolean }
  /** The connection was lost (or an attempt failed) and socket.io-client is retrying; `attempt` counts from 1. */
  | { state: "reconnecting"; attempt: number; reason: string }
  /** No more attempts will be made: the relay refused the handshake, or the retries ran out. */
  | { state: "failed"; reason: string; code?: ErrorBody["code"] }
  /** Closed on purpose, by `close()` or by the relay (e.g. the session ended). */
  | { state: "closed"; reason: string };

export type StatusListener = (status: ConnectionStatus) => void;

/** `connect_error` as socket.io-client delivers it: a relay refusal carries `{ code, message }` in `data`. */
interface ConnectError extends Error {
  data?: unknown;
}

function refusal(err: ConnectError): ErrorBody | undefined {
  const data = err.data;
  if (typeof data !== "object" || data === null) return undefined;
  const { code, message } = data as Record<string, unknown>;
  return typeof code === "string" && typeof message === "string" ? ({ code, message } as ErrorBody) : undefined;
}

/**
 * Reports every status change of `socket` to `listener`, starting with "connecting" if it is not
 * connected yet. Returns a function that stops watching.
 */
export function watchStatus(socket: Socket, listener: StatusListener): () => void {
  const manager = socket.io;
  let attempt = 0;
  let current: ConnectionStatus | null = null;
  const set = (status: ConnectionStatus): void => {
    if (current && JSON.stringify(current) === JSON.stringify(status)) return;
    current = status;
    listener(status);
  };

  const onUpgrade = (): void => {
    if (socket.connected) set({ state: "connected", transport: manager.engine.transport.name, recovered: socket.recovered === true });
  };
  const onConnect = (): void => {
    attempt = 0;
    set({ state: "connected", transport: manager.engine.transport.name, recovered: socket.recovered === true });
    manager.engine.once("upgrade", onUpgrade);
  };
  const onDisconnect = (reason: string): void => {
    // Socket.IO reconnects by itself except after an explicit disconnect by either side.
    if (reason === "io server disconnect" || reason === "io client disconnect") set({ state: "closed", reason });
    else set({ state: "reconnecting", attempt: Math.max(attempt, 1), reason });
  };
  const onConnectError = (err: ConnectError): void => {
    const body = refusal(err);
    // `active` is false when socket.io-client gave up: a middleware refusal is never retried.
    if (!socket.active) set({ state: "failed", reason: body?.message ?? err.message, ...(body ? { code: body.code } : {}) });
    else set({ state: "reconnecting", attempt: Math.max(attempt, 1), reason: body?.message ?? err.message });
  };
  const onAttempt = (n: number): void => {
    attempt = n;
    set({ state: "reconnecting", attempt: n, reason: current?.state === "reconnecting" ? current.reason : "connection lost" });
  };
  const onGaveUp = (): void => set({ state: "failed", reason: `gave up after ${attempt} reconnection attempts` });

  socket.on("connect", onConnect);
  socket.on("disconnect", onDisconnect);
  socket.on("connect_error", onConnectError);
  manager.on("reconnect_attempt", onAttempt);
  manager.on("reconnect_failed", onGaveUp);
  if (socket.connected) onConnect();
  else set({ state: "connecting" });

  return () => {
    socket.off("connect", onConnect);
    socket.off("disconnect", onDisconnect);
    socket.off("connect_error", onConnectError);
    manager.off("reconnect_attempt", onAttempt);
    manager.off("reconnect_failed", onGaveUp);
    manager.engine?.off("upgrade", onUpgrade);
  };
}
