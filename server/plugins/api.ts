import type { IncomingMessage } from "node:http";
import type { Hono } from "hono";
import { errorBody, failure, HandshakeError, isRetryable, type ErrorCode, type NamespaceName } from "../../protocol/index.js";
import { authenticate } from "../auth/authenticate.js";
import { authDeps } from "../auth/deps.js";
import type { UpgradeRouter } from "../http/upgrades.js";
import { socketAddress, wireOf } from "../observability/connections.js";
import { reportHandshakeRefusal, reportRefusal } from "../observability/refusals.js";
import { closeForRetry } from "../io/retry.js";
import { commonNamespace, direct, nodeSockets, type CommonSocket, type RelayIo } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import type { RedisCommandClient } from "../state/redis.js";
import type { ConnectionView, EventGate, EventGateVerdict, HandshakeGate, PluginApi } from "./types.js";

type ViewableSocket = Pick<CommonSocket, "id" | "conn" | "data">;

/** The view a plugin gets of one socket. */
export function viewOf(socket: ViewableSocket, namespace: NamespaceName): ConnectionView {
  const d = socket.data;
  return {
    id: socket.id,
    namespace,
    generation: d.clientGeneration,
    transport: socket.conn.transport.name,
    userId: d.userId,
    clientVersion: d.clientVersion,
    protocolVersion: d.protocolVersion,
    runnerId: namespace === "/runner" ? (d.runnerId ?? null) : null,
    sessionId: namespace === "/relay" ? (d.sessionId ?? null) : null,
    keyId: d.keyId,
  };
}

interface Internals {
  ctx: RelayContext;
  io: RelayIo;
  app: Hono;
  upgrades: UpgradeRouter;
  redis: RedisCommandClient | null;
  stopHooks: Array<() => void | Promise<void>>;
  clusterSize(): Promise<number | null>;
}

/**
 * Builds the API one plugin sees. Namespaces are reached through `io.of(name)` untyped here on purpose:
 * plugins see connections only through ConnectionView, never a namespace's typed events.
 */
export function createPluginApi(internals: Internals): PluginApi {
  const { ctx, io, app, upgrades } = internals;
  const nsp = (name: NamespaceName) => commonNamespace(io, name);
  return {
    config: ctx.config,
    log: ctx.log,
    redis: internals.redis,
    metrics: ctx.metrics,
    claimUpgrade: (prefix, handler) => upgrades.claim(prefix, handler),
    guardUpgrade: (prefix, guard) => upgrades.guard(prefix, guard),
    answerUnclaimed: (prefix, answer) => upgrades.answerUnclaimed(prefix, answer),
    route: (basePath, sub) => void app.route(basePath, sub),
    gateHandshakes: (namespace, gate) => {
      nsp(namespace).use(handshakeGate(ctx, namespace, gate));
      // Connection state recovery skips middlewares (skipMiddlewares): a recovered connection is gated
      // once it is back, or a retired generation would slip back in through a short disconnect.
      nsp(namespace).on("connection", (socket) => {
        if (socket.recovered) recheckRecovered(ctx, socket, namespace, gate);
      });
    },
    gateEvents: (namespace, events, gate) => nsp(namespace).on("connection", (socket) => socket.use(eventGate(ctx, socket, namespace, new Set(events), gate))),
    authenticate: (creds, accept) => authenticate(authDeps(ctx), creds, accept),
    adoptConnection: (transportName, req, onRefused) => {
      // engine.io's handshake() builds the Socket and emits "connection" exactly as for its own
      // transports; it is protected in engine.io's typings, public at runtime (pinned engine.io version,
      // covered by the bridge tests).
      const engine = io.engine as unknown as { handshake(name: string, req: IncomingMessage, close: (code?: number) => void): Promise<unknown> };
      return engine.handshake(transportName, req, onRefused);
    },
    connections: function* () {
      for (const [name, socket] of nodeSockets(io)) yield viewOf(socket, name);
    },
    disconnect: (id, namespace, code, message) => {
      const socket = nsp(namespace).sockets.get(id);
      if (!socket) return;
      // Directly: through the adapter (recovery on) the error would arrive after the disconnect.
      direct(socket).emit("error", errorBody(code, message));
      socket.disconnect(true);
    },
    sessionIsLive: async (sessionId, userId) => {
      const record = await ctx.state.sessions.get(sessionId);
      return record !== null && record.live && record.userId === userId;
    },
    clusterSize: () => internals.clusterSize(),
    isDraining: () => ctx.lifecycle.shuttingDown,
    onStop: (hook) => void internals.stopHooks.push(hook),
  };
}

type Next = (err?: Error) => void;

function handshakeGate(ctx: RelayContext, namespace: NamespaceName, gate: HandshakeGate) {
  return (socket: CommonSocket, next: Next): void => {
    Promise.resolve()
      .then(() => gate(viewOf(socket, namespace)))
      .then(
        (refusal) => {
          if (!refusal) return next();
          reportHandshakeRefusal(ctx, refusal.code, { namespace, generation: socket.data.clientGeneration, transport: socket.conn.transport.name, userId: socket.data.userId, by: "policy", ip: socketAddress(socket, ctx.config.trustProxy) });
          next(new HandshakeError(refusal.code, refusal.message));
        },
        (err: unknown) => {
          ctx.log.error({ err, namespace }, "handshake policy failed");
          closeForRetry(socket);
          next(new HandshakeError("internal"));
        },
      );
  };
}

function recheckRecovered(ctx: RelayContext, socket: CommonSocket, namespace: NamespaceName, gate: HandshakeGate): void {
  Promise.resolve()
    .then(() => gate(viewOf(socket, namespace)))
    .then(
      (refusal) => {
        if (!refusal) return;
        reportHandshakeRefusal(ctx, refusal.code, { namespace, generation: socket.data.clientGeneration, transport: socket.conn.transport.name, userId: socket.data.userId, by: "policy", recovered: true, ip: socketAddress(socket, ctx.config.trustProxy) });
        direct(socket).emit("error", refusal);
        socket.disconnect(true);
      },
      (err: unknown) => ctx.log.error({ err, namespace }, "handshake policy failed on a recovered connection"),
    );
}

type Packet = unknown[];

function eventGate(ctx: RelayContext, socket: CommonSocket, namespace: NamespaceName, events: ReadonlySet<string>, gate: EventGate) {
  // While an asynchronous verdict is pending, later events of the socket wait behind it: a gate must
  // not reorder a client's events (a register held while the events after it run would be refused).
  let inFlight: Promise<void> | null = null;
  const decide = (packet: Packet, next: Next): void => {
    if (!inFlight && !events.has(packet[0] as string)) return next();
    if (!inFlight) {
      void check(packet, next);
      return;
    }
    const waited: Promise<void> = inFlight.then(() => check(packet, next));
    inFlight = waited;
    void waited.then(() => {
      if (inFlight === waited) inFlight = null;
    });
  };
  const check = (packet: Packet, next: Next): Promise<void> | void => {
    const [event, payload] = packet;
    if (typeof event !== "string" || !events.has(event)) return void next();
    const last = packet[packet.length - 1];
    const ack = packet.length > 1 && typeof last === "function" ? (last as (reply: unknown) => void) : undefined;
    const refuse = (code: ErrorCode, message: string, disconnect: boolean): void => {
      if (ack) ack(failure(code, message));
      else if (disconnect) direct(socket).emit("error", errorBody(code, message));
      else socket.emit("error", errorBody(code, message));
      if (disconnect) {
        if (isRetryable(code)) closeForRetry(socket);
        socket.disconnect(true);
      }
    };
    const settle = (verdict: EventGateVerdict): void => {
      if (!verdict) return next();
      reportRefusal(ctx, verdict.refuse.code, wireOf(socket), { namespace, event, socket: socket.id, generation: socket.data.clientGeneration }, "event refused by policy");
      refuse(verdict.refuse.code, verdict.refuse.message, verdict.disconnect === true);
    };
    const fail = (err: unknown): void => {
      ctx.log.error({ err, namespace, event }, "event policy failed");
      refuse("internal", "Internal error", false);
    };
    // Most events are let through synchronously: no promise on the hot path unless the gate needs one.
    let verdict: EventGateVerdict | Promise<EventGateVerdict>;
    try {
      verdict = gate(viewOf(socket, namespace), event, payload === ack ? undefined : payload);
    } catch (err) {
      return void fail(err);
    }
    if (!(verdict instanceof Promise)) return settle(verdict);
    const settled = verdict.then(settle, fail);
    if (!inFlight) {
      inFlight = settled;
      void settled.then(() => {
        if (inFlight === settled) inFlight = null;
      });
    }
    return settled;
  };
  return decide;
}
