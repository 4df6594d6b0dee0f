import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Hono } from "hono";
import { Gauge } from "prom-client";
import { safeEqual } from "../auth/secrets.js";
import type { RelayConfig } from "../config.js";
import { pathnameOf } from "../http/path.js";
import { requestAddress } from "../http/request-client.js";
import type { Logger } from "../logger.js";
import type { RelayMetrics } from "./metrics.js";
import { reportRefusal } from "./refusals.js";
import { ERRORS } from "../../protocol/index.js";

/**
 * Serves `/metrics` (Prometheus text format) only where the operator asked for it: on its own port,
 * and/or on the main port behind `Authorization: Bearer <PIZZAPI_METRICS_TOKEN>`. With neither set it is
 * not served: metrics are never public by accident (docs/operations.md, "Metrics").
 */
export function mountMetrics(app: Hono, metrics: RelayMetrics, config: RelayConfig, log: Logger): { start(): Promise<number | null>; stop(): Promise<void> } {
  const { token, port, host } = config.metrics;
  const scrape = async (): Promise<Response> =>
    new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
  if (token) {
    app.get("/metrics", async (c) => {
      const bearer = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      if (!bearer || !safeEqual(bearer, token)) {
        reportRefusal({ log, metrics }, "unauthorized", "http", { route: "/metrics", ip: requestAddress(c, config.trustProxy) }, "metrics scrape refused");
        return c.json({ error: "Unauthorized" }, ERRORS.unauthorized.http, { "www-authenticate": "Bearer" });
      }
      return scrape();
    });
  }
  let server: Server | null = null;
  return {
    start: async () => {
      if (port === null) {
        if (!token) log.info("metrics not served: set PIZZAPI_METRICS_PORT or PIZZAPI_METRICS_TOKEN");
        return null;
      }
      server = createServer((req, res) => {
        if (req.method !== "GET" || pathnameOf(req.url) !== "/metrics") {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "Not found" }));
          return;
        }
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
          (err: unknown) => {
            log.error({ err }, "metrics collection failed");
            res.writeHead(500).end();
          },
        );
      });
      const bound = await new Promise<number>((resolve, reject) => {
        server?.once("error", reject);
        server?.listen(port, host, () => resolve((server?.address() as AddressInfo).port));
      });
      log.info({ port: bound, host }, `metrics on port ${bound}`);
      return bound;
    },
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

/** Shared-state and adapter health as gauges: each Redis connection's readiness, and the cluster size. */
export function registerHealthGauges(metrics: RelayMetrics, redis: Array<{ role: string; client: { isReady: boolean } }>, clusterSize: () => Promise<number | null>): void {
  new Gauge({
    name: "pizzapi_redis_up",
    help: "1 when this node's Redis connection of the role is ready (state, adapter); absent in embedded mode",
    labelNames: ["role"],
    registers: [metrics.registry],
    collect() {
      for (const { role, client } of redis) this.set({ role }, client.isReady ? 1 : 0);
    },
  });
  new Gauge({
    name: "pizzapi_cluster_nodes",
    help: "Relay nodes this node's adapter knows of, itself included (0: unknown)",
    registers: [metrics.registry],
    async collect() {
      this.set((await clusterSize()) ?? 0);
    },
  });
}
