import { Gauge } from "prom-client";
import { LEGACY_TRANSPORT_NAME } from "../../protocol/index.js";
import { commonNamespace, NAMESPACES, nodeSockets, type CommonSocket, type RelayIo } from "../io/typed.js";
import { clientAddress, type TrustProxy } from "../http/client-address.js";
import type { Logger } from "../logger.js";
import type { RelayMetrics, Stack, Wire } from "./metrics.js";

export const stackOf = (socket: { conn: { transport: { name: string } } }): Stack => (socket.conn.transport.name === LEGACY_TRANSPORT_NAME ? "legacy" : "socketio");

/** The wire a socket's refusals are answered on (a metrics label). */
export const wireOf = (socket: { conn: { transport: { name: string } } }): Wire => stackOf(socket);

/**
 * Every connection of every namespace, both stacks, seen once (docs/operations.md, "Logs"): a log line
 * when it opens and when it closes (namespace, generation, client version, transport, user, client
 * address, duration, close reason; the node is in every line), the accepted-handshake count, the
 * live-connection gauge, and for viewers the delivery of live session events (count and
 * publish-to-delivery latency).
 */
export function observeConnections(io: RelayIo, metrics: RelayMetrics, log: Logger, clock: () => number, trust: TrustProxy): void {
  new Gauge({
    name: "pizzapi_connections",
    help: "Live connections on this node, by namespace, client generation and transport",
    labelNames: ["namespace", "generation", "transport"],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [namespace, socket] of nodeSockets(io)) {
        this.inc({ namespace, generation: socket.data.clientGeneration, transport: socket.conn.transport.name });
      }
    },
  });

  for (const namespace of NAMESPACES) {
    commonNamespace(io, namespace).on("connection", (socket) => {
      const opened = clock();
      const ip = socketAddress(socket, trust);
      const fields = (): Record<string, unknown> => ({
        namespace,
        generation: socket.data.clientGeneration,
        clientVersion: socket.data.clientVersion,
        transport: socket.conn.transport.name,
        userId: socket.data.userId,
        socket: socket.id,
        ip,
      });
      metrics.handshakes.inc({ namespace, generation: socket.data.clientGeneration, outcome: "accepted" });
      log.info({ ...fields(), recovered: socket.recovered }, "connection open");
      socket.on("disconnect", (reason) => log.info({ ...fields(), durationMs: clock() - opened, reason }, "connection close"));
      if (namespace === "/viewer") countDeliveries(socket, metrics, clock);
    });
  }
}

/** Live session events as they leave for this viewer: `publishedAt` is when the relay stored them. */
function countDeliveries(socket: CommonSocket, metrics: RelayMetrics, clock: () => number): void {
  socket.onAnyOutgoing((event: string, payload: unknown) => {
    if (event !== "event" || typeof payload !== "object" || payload === null || !("publishedAt" in payload) || typeof payload.publishedAt !== "number") return;
    const series = metrics.byStack[stackOf(socket)];
    series.delivered.inc();
    series.deliverySeconds.observe(Math.max(0, clock() - payload.publishedAt) / 1000);
  });
}

/** The client address of a Socket.IO connection (both stacks: the legacy bridge hands engine.io the real request). */
export function socketAddress(socket: { handshake: { address: string; headers: Readonly<Record<string, string | string[] | undefined>> } }, trust: TrustProxy): string | undefined {
  return clientAddress(trust, socket.handshake.address, socket.handshake.headers);
}
