import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import { DeferredCounts } from "./deferred-counts.js";

/**
 * The node's Prometheus metrics (docs/operations.md, "Metrics"), on one registry per relay node:
 * prom-client does the bookkeeping and the text format. Names follow Prometheus conventions
 * (`pizzapi_` prefix, base units, `_total` counters); every label has a bounded set of values. Plugins
 * add their own metrics to `registry` (the bridge: legacy frames; the migration plane: modes).
 */
export interface RelayMetrics {
  registry: Registry;
  handshakes: Counter<"namespace" | "generation" | "outcome">;
  refusals: Counter<"code" | "wire">;
  eventsDeduplicated: Counter;
  eventsDropped: Counter<"reason">;
  /**
   * The per-event series (`pizzapi_events_published_total`, `pizzapi_events_delivered_total`,
   * `pizzapi_publish_ack_seconds`, `pizzapi_publish_delivery_seconds`), one set per stack, labels bound
   * once. The two counters count in plain numbers until the registry is read (DeferredCounts): a
   * prom-client series hashes its labels object on every call, bound or not (docs/performance.md
   * "Counting per event"). They are reached only through here.
   */
  byStack: Record<Stack, StackSeries>;
}

/** The per-event metrics of one stack, labels bound. */
export interface StackSeries {
  published: { inc(): void };
  delivered: { inc(): void };
  ackSeconds: { observe(seconds: number): void };
  deliverySeconds: { observe(seconds: number): void };
}

/** Where a refusal was answered: a Socket.IO handshake or event, a legacy frame or upgrade, or REST. */
export type Wire = "socketio" | "legacy" | "http";

/** Which stack a client speaks, as a label: `legacy` for bridged connections, `socketio` otherwise. */
export type Stack = "legacy" | "socketio";

/** Latency buckets in seconds, from sub-millisecond loopback to multi-second stalls. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(nodeId: string): RelayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const published = new DeferredCounts<"stack">();
  const delivered = new DeferredCounts<"stack">();
  new Counter({
    name: "pizzapi_events_published_total",
    help: "Session events stored and broadcast by this node",
    labelNames: ["stack"],
    registers,
    collect() {
      published.flushInto(this);
    },
  });
  new Counter({
    name: "pizzapi_events_delivered_total",
    help: "Live session events this node delivered to its viewers",
    labelNames: ["stack"],
    registers,
    collect() {
      delivered.flushInto(this);
    },
  });
  const publishAckSeconds = new Histogram({
    name: "pizzapi_publish_ack_seconds",
    help: "From a session event's arrival to its acknowledgement (stored)",
    labelNames: ["stack"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const publishDeliverySeconds = new Histogram({
    name: "pizzapi_publish_delivery_seconds",
    help: "From a session event's storage (on any node) to its delivery to a viewer on this node",
    labelNames: ["stack"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const series = (stack: Stack): StackSeries => ({
    published: published.bind({ stack }),
    delivered: delivered.bind({ stack }),
    ackSeconds: publishAckSeconds.labels({ stack }),
    deliverySeconds: publishDeliverySeconds.labels({ stack }),
  });
  return {
    registry,
    byStack: { legacy: series("legacy"), socketio: series("socketio") },
    handshakes: new Counter({
      name: "pizzapi_handshakes_total",
      help: "Namespace handshakes by outcome: accepted, or the refusal's error code (legacy connections included)",
      labelNames: ["namespace", "generation", "outcome"],
      registers,
    }),
    refusals: new Counter({
      name: "pizzapi_refusals_total",
      help: "Refusals by error code and wire: handshakes, events, legacy frames and upgrades, REST calls",
      labelNames: ["code", "wire"],
      registers,
    }),
    eventsDeduplicated: new Counter({ name: "pizzapi_events_deduplicated_total", help: "Resent session events acknowledged as already stored (not published again)", registers }),
    eventsDropped: new Counter({ name: "pizzapi_events_dropped_total", help: "Frames not delivered to a client, by reason (backpressure: the client stopped reading)", labelNames: ["reason"], registers }),
  };
}
