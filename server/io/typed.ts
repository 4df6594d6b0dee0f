import type { Namespace, Server, Socket } from "socket.io";
import type { ConnectionData, ErrorBody, NamespaceMaps, NamespaceName } from "../../protocol/index.js";

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

/** Any namespace, seen only through what all of them share: ConnectionData and the `error` event. */
export type CommonNamespace = Namespace<
  Record<never, never>,
  { error: (body: ErrorBody) => void },
  Record<never, never>,
  ConnectionData & { runnerId?: string | null; sessionId?: string | null }
>;
export type CommonSocket = Socket<
  Record<never, never>,
  { error: (body: ErrorBody) => void },
  Record<never, never>,
  ConnectionData & { runnerId?: string | null; sessionId?: string | null }
>;

/** Every namespace's socket.data extends ConnectionData (protocol/shared.ts): the cast is sound. */
export function commonNamespace(io: RelayIo, name: NamespaceName): CommonNamespace {
  return io.of(name) as unknown as CommonNamespace;
}

type AckOf<F> = F extends (payload: never, ack?: (reply: infer R) => void) => void ? R : never;
type PayloadOf<F> = F extends (payload: infer P, ...rest: never[]) => void ? P : never;

/**
 * Emits `event` to a room with a timeout and collects the acknowledgements. The event maps type an ack
 * as optional where only some client generations send one (`/relay` `input`), and socket.io's typings
 * only decorate required ones; this restores the `(err, replies[])` callback, typed from the map.
 */
export function emitCollectingAcks<N extends NamespaceName, E extends keyof NamespaceMaps[N]["s2c"] & string>(
  target: ReturnType<TypedNamespace<N>["to"]>,
  timeoutMs: number,
  event: E,
  payload: PayloadOf<NamespaceMaps[N]["s2c"][E]>,
  done: (err: Error | null, replies: Array<AckOf<NamespaceMaps[N]["s2c"][E]>>) => void,
): void {
  const untyped = target.timeout(timeoutMs) as unknown as { emit(event: string, payload: unknown, done: (err: Error | null, replies: unknown[]) => void): void };
  untyped.emit(event, payload, done as (err: Error | null, replies: unknown[]) => void);
}

/** The typed namespaces, in one list (plugins and observability walk them). */
export const NAMESPACES: readonly NamespaceName[] = ["/relay", "/viewer", "/hub", "/runner", "/terminal"];

/** Every socket of this node, all namespaces, each with its namespace's name. */
export function* nodeSockets(io: RelayIo): Generator<[NamespaceName, CommonSocket]> {
  for (const namespace of NAMESPACES) for (const socket of commonNamespace(io, namespace).sockets.values()) yield [namespace, socket];
}

/** Room names: every party is addressed through a room, never a node-local socket map (docs/architecture.md 6). */
export const rooms = {
  /** Viewers of a session (/viewer). */
  session: (sessionId: string) => `session:${sessionId}`,
  /** The CLI connection currently publishing a session (/relay). */
  cli: (sessionId: string) => `cli:${sessionId}`,
  /** The subset of `cli:` whose client acknowledges `input` (the socket-v1-acked generation). */
  cliAcked: (sessionId: string) => `cli-acked:${sessionId}`,
  /** A user's hub sockets (/hub). */
  hubUser: (userId: string) => `hub:user:${userId}`,
  runner: (runnerId: string) => `runner:${runnerId}`,
  terminal: (terminalId: string) => `terminal:${terminalId}`,
} as const;

/**
 * An emitter that delivers to the socket at once, bypassing the adapter. With connection state recovery
 * on, `socket.emit` first stores the packet through the adapter (an XADD with redis-streams, read back by
 * every node) and delivers it after that round trip. Two kinds of packet are not worth that: a socket's
 * last words before the server disconnects it (they would arrive after the disconnect, and there is
 * nothing to recover after a refusal) and cumulative acks (re-sent with the next one anyway). Without
 * recovery (the default) the socket's own `emit` already delivers at once, and is cheaper than a
 * broadcast operator walking the adapter's room of one (docs/performance.md): only `emit` is offered.
 */
export function direct<S extends { id: string; nsp: { local: { to(room: string): { emit: unknown } }; server: { _opts: { connectionStateRecovery?: unknown } } } }>(
  socket: S,
): Pick<ReturnType<S["nsp"]["local"]["to"]>, "emit"> {
  if (!socket.nsp.server._opts.connectionStateRecovery) return socket as unknown as Pick<ReturnType<S["nsp"]["local"]["to"]>, "emit">;
  return socket.nsp.local.to(socket.id) as ReturnType<S["nsp"]["local"]["to"]>;
}
