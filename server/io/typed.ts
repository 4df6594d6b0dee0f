import type { Namespace, Server, Socket } from "socket.io";
import type { NamespaceMaps, NamespaceName } from "../../protocol/index.js";

/** The root server: the default namespace carries nothing, every feature lives in a typed namespace. */
export type RelayIo = Server<Record<never, never>, Record<never, never>, Record<never, never>, Record<never, never>>;

export type TypedNamespace<N extends NamespaceName> = Namespace<
  NamespaceMaps[N]["c2s"],
  NamespaceMaps[N]["s2c"],
  NamespaceMaps[N]["inter"],
  NamespaceMaps[N]["data"]
>;

export type TypedSocket<N extends NamespaceName> = Socket<
  NamespaceMaps[N]["c2s"],
  NamespaceMaps[N]["s2c"],
  NamespaceMaps[N]["inter"],
  NamespaceMaps[N]["data"]
>;

/**
 * Socket.IO types `io.of()` with the root server's generics; every namespace here has its own maps.
 * This is the one place where that is bridged: the name picks the maps, so a namespace can only be used
 * with the events its protocol module defines.
 */
export function typedNamespace<N extends NamespaceName>(io: RelayIo, name: N): TypedNamespace<N> {
  return io.of(name) as unknown as TypedNamespace<N>;
}

/** Room names: every party is addressed through a room, never a node-local socket map (design.md 6). */
export const rooms = {
  /** Viewers of a session (/viewer). */
  session: (sessionId: string) => `session:${sessionId}`,
  /** The CLI connection currently publishing a session (/relay). */
  cli: (sessionId: string) => `cli:${sessionId}`,
  /** A user's hub sockets (/hub). */
  hubUser: (userId: string) => `hub:user:${userId}`,
  runner: (runnerId: string) => `runner:${runnerId}`,
  terminal: (terminalId: string) => `terminal:${terminalId}`,
} as const;

/**
 * The emitter for a socket's last words before the server disconnects it. With connection state
 * recovery on, `socket.emit` first stores the packet through the adapter (an XADD with redis-streams)
 * and delivers it after that round trip, i.e. after an immediate `disconnect()`; a local emit to the
 * socket's own room is delivered at once, and there is nothing to recover after a refusal anyway.
 */
export function lastWords<S extends { id: string; nsp: { local: { to(room: string): unknown } } }>(socket: S): ReturnType<S["nsp"]["local"]["to"]> {
  return socket.nsp.local.to(socket.id) as ReturnType<S["nsp"]["local"]["to"]>;
}
