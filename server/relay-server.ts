import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Server } from "socket.io";
import { HandshakeError } from "../protocol/index.js";
import { connectWithin, createClusterAdapter, destroyQuietly, redisClient, supportsRecovery, type AdapterFactory, type RelayRedisClient } from "./adapters.js";
import type { RelayConfig } from "./config.js";
import { createHttpApp, type ReadinessCheck } from "./http/app.js";
import { commonNamespace, NAMESPACES, rooms, typedNamespace, type RelayIo } from "./io/typed.js";
import { buildWsFramesOnlyForWsClients } from "./io/ws-frames-on-demand.js";
import { createLogger, type Logger } from "./logger.js";
import { mountHubNamespace } from "./namespaces/hub.js";
import { mountRelayNamespace } from "./namespaces/relay.js";
import { mountViewerNamespace } from "./namespaces/viewer.js";
import { mountRunnerNamespace } from "./namespaces/runner.js";
import { mountTerminalNamespace } from "./namespaces/terminal.js";
import { mountRunnerRoutes } from "./http/runners.js";
import { mountSessionRoutes } from "./http/sessions.js";
import { PendingRequests } from "./runners/pending.js";
import { mountPushRoutes } from "./http/push.js";
import { createPushNotifier } from "./push/notifier.js";
import { countIn } from "./sessions/presence.js";
import type { RelayContext } from "./sessions/context.js";
import { startExpirySweep } from "./sessions/expiry.js";
import { recoverFromWipe } from "./sessions/wipe.js";
import { runSpread } from "./io/spread.js";
import { boundedRecoveryAdapter } from "./io/bounded-recovery.js";
import { moveClients } from "./sessions/move.js";
import { watchRedisLoss } from "./state/redis-loss.js";
import { redisPersistence, watchEpoch, type Persistence } from "./state/epoch.js";
import { startRevocationSweep } from "./auth/revocation.js";
import { createMemoryState } from "./state/memory.js";
import { createRedisState, type RedisCommandClient } from "./state/redis.js";
import { Deadlines, withTimeouts } from "./state/timeouts.js";
import { relayParser } from "./io/in-process-parser.js";
import { AckCoalescer } from "./sessions/ack-coalescer.js";
import { UpgradeRouter } from "./http/upgrades.js";
import { createPluginApi } from "./plugins/api.js";
import { observeConnections } from "./observability/connections.js";
import { mountMetrics, registerHealthGauges } from "./observability/endpoint.js";
import { createMetrics } from "./observability/metrics.js";
import { mountAdminUi } from "./observability/admin-ui.js";
import type { RelayPlugin } from "./plugins/types.js";
import type { SharedState } from "./state/types.js";

/** Where engine.io (Socket.IO) is served; every other upgrade goes through the relay's router. */
const ENGINE_PATH = "/socket.io/";

/** Legacy clients send multi-MB `session_active` states; the typed stack accepts the same. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface RelayServer {
  readonly config: RelayConfig;
  readonly http: HttpServer;
  readonly io: RelayIo;
  readonly ctx: RelayContext;
  readonly log: Logger;
  /** Listens on config.port (0: any free port) and resolves with the bound port. */
  start(): Promise<number>;
  /**
   * Graceful stop: not ready at once, serve for the drain delay (`PIZZAPI_DRAIN_DELAY_MS` unless given),
   * then refuse new work and close every connection so clients move; shared state is kept.
   */
  stop(options?: { drainDelayMs?: number }): Promise<void>;
  /** Runs one expiry sweep now (tests, operators); resolves with the number of sessions ended. */
  sweepExpired(): Promise<number>;
}

export type { RelayPlugin } from "./plugins/types.js";

export interface RelayServerOptions {
  plugins?: RelayPlugin[];
  logger?: Logger;
  /** Injected state (tests); by default memory (no Redis) or Redis (PIZZAPI_REDIS_URL). */
  state?: SharedState;
  /** The Redis client behind an injected state, for plugins' own keys (default: none). */
  redis?: RedisCommandClient;
  clock?: () => number;
}

/** Builds one relay node: REST + Socket.IO on one `node:http` server, over the configured shared state. */
export async function createRelayServer(config: RelayConfig, options: RelayServerOptions = {}): Promise<RelayServer> {
  const log = options.logger ?? createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const clock = options.clock ?? Date.now;
  const redisClients: RelayRedisClient[] = [];
  const redisRoles: Array<{ role: string; client: RelayRedisClient }> = [];
  const metrics = createMetrics(config.nodeId);
  const readiness: ReadinessCheck[] = [];

  let state = options.state;
  let redis: RedisCommandClient | null = options.redis ?? null;
  let adapter: AdapterFactory | undefined;
  if (config.redisUrl) {
    if (!state) {
      const client = redisClient(config.redisUrl, log, "state", { failFast: true });
      await connectWithin([client], config.redisConnectTimeoutMs, config.redisUrl);
      redisClients.push(client);
      redisRoles.push({ role: "state", client });
      state = createRedisState({ client, prefix: config.redisPrefix });
      redis = client;
    }
    const cluster = await createClusterAdapter(config.adapter, config.redisUrl, config.redisPrefix, log, config.streamMaxLen, config.redisConnectTimeoutMs);
    adapter = cluster.factory;
    redisClients.push(...cluster.clients);
    cluster.clients.forEach((client, i) => redisRoles.push({ role: cluster.clients.length === 1 ? "adapter" : ["adapter-pub", "adapter-sub"][i] ?? "adapter", client }));
    readiness.push({ name: "adapter", check: async () => cluster.clients.every((c) => c.isReady) });
  }
  state ??= createMemoryState({ dataDir: config.dataDir });
  const deadlines = new Deadlines(config.stateTimeoutMs);
  const sharedState = withTimeouts(state, deadlines);
  // Plugins' own Redis keys (the migration plane) are bounded the same way.
  const pluginRedis: RedisCommandClient | null = redis ? { sendCommand: (args, options) => deadlines.bound(redis.sendCommand(args, options)) } : null;
  readiness.push({ name: "state", check: () => sharedState.ping().then(() => true) });

  const lifecycle = { shuttingDown: false, closing: false };
  let clusterSize: (() => Promise<number>) | undefined;
  let persistence: Persistence | null = null;
  const app = createHttpApp({
    config,
    state: sharedState,
    log,
    metrics,
    readiness,
    isDraining: () => lifecycle.shuttingDown,
    clusterSize: () => clusterSize?.() ?? Promise.resolve(1),
    persistence: () => persistence,
  });
  const http = createServer(getRequestListener(app.fetch));
  const recovery = supportsRecovery(config.redisUrl ? config.adapter : "memory") && config.recoveryWindowMs > 0;
  // Embedded mode with recovery: the in-memory adapter, its recovery buffer bounded in bytes.
  if (!adapter && recovery) adapter = boundedRecoveryAdapter(config.recoveryBufferBytes);
  const io: RelayIo = new Server(http, {
    path: ENGINE_PATH,
    parser: relayParser,
    ...(adapter ? { adapter } : {}),
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: config.recoveryWindowMs, skipMiddlewares: true } } : {}),
    pingInterval: 30_000,
    pingTimeout: 60_000,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cors: { origin: config.trustedOrigins, credentials: true },
    // The relay answers every upgrade itself (UpgradeRouter): engine.io must not destroy the others.
    destroyUpgrade: false,
  });
  // The relay owns the `upgrade` event: engine.io's listener is replaced by the router, which hands
  // engine.io its own path and answers every other upgrade (a plugin's claim, or a refusal) at once.
  http.removeAllListeners("upgrade");
  // engine.io types its request with fields it adds itself (`_query`): the request it gets is the raw one.
  const engineUpgrade = io.engine.handleUpgrade.bind(io.engine) as unknown as (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  const upgrades = new UpgradeRouter({ log, metrics }, { path: ENGINE_PATH, handleUpgrade: engineUpgrade }, () => lifecycle.closing, config.trustProxy);
  http.on("upgrade", upgrades.handle);
  io.use((_socket, next) => next(new HandshakeError("forbidden", "Connect to a typed namespace: /relay, /viewer, /runner, /terminal or /hub")));
  buildWsFramesOnlyForWsClients(io, NAMESPACES.map((namespace) => commonNamespace(io, namespace).adapter));

  const ctx: RelayContext = {
    config,
    state: sharedState,
    log,
    clock,
    lifecycle,
    metrics,
    relay: typedNamespace(io, "/relay"),
    viewer: typedNamespace(io, "/viewer"),
    hub: typedNamespace(io, "/hub"),
    runner: typedNamespace(io, "/runner"),
    terminal: typedNamespace(io, "/terminal"),
    requests: new PendingRequests(),
    acks: new AckCoalescer(config.ackIntervalMs),
    // Presence is read lazily, when an event triggers a notification: `ctx` exists by then.
    push: createPushNotifier({ config, state: sharedState, log, viewerCount: (id) => countIn(ctx, ctx.viewer, rooms.session(id)) }),
  };
  clusterSize = () => ctx.viewer.adapter.serverCount();
  const clusterNodes = (): Promise<number | null> =>
    ctx.viewer.adapter.serverCount().then(
      (n) => n,
      () => null,
    );
  observeConnections(io, metrics, log, clock, config.trustProxy);
  // A handshake that was already under way when the node started closing completes after the close
  // loop ran (stop(), step 2): its client is sent on at once, like the others.
  const sendOnIfClosing = (socket: { conn: { close(): void } }): void => {
    if (lifecycle.closing) socket.conn.close();
  };
  ctx.relay.on("connection", sendOnIfClosing);
  ctx.viewer.on("connection", sendOnIfClosing);
  ctx.hub.on("connection", sendOnIfClosing);
  ctx.runner.on("connection", sendOnIfClosing);
  ctx.terminal.on("connection", sendOnIfClosing);
  registerHealthGauges(metrics, redisRoles, clusterNodes);
  const metricsEndpoint = mountMetrics(app, metrics, config, log);
  if (config.adminUi) mountAdminUi(ctx, io, app);
  mountRelayNamespace(ctx, { reconnectGraceMs: config.cliReconnectGraceMs });
  mountViewerNamespace(ctx);
  mountHubNamespace(ctx);
  mountRunnerNamespace(ctx);
  mountTerminalNamespace(ctx);
  mountRunnerRoutes(app, ctx);
  mountSessionRoutes(app, ctx);
  mountPushRoutes(app, ctx);
  const sweeper = startExpirySweep(ctx);
  // In a cluster: report whether Redis persists, and notice when it lost everything anyway.
  const epoch = pluginRedis ? watchEpoch({ redis: pluginRedis, prefix: config.redisPrefix, checkMs: config.epochCheckMs, log, onWipe: () => recoverFromWipe(ctx) }) : null;
  if (pluginRedis) {
    persistence = await redisPersistence(pluginRedis);
    if (persistence === "none") log.warn({ persistence }, "Redis runs without persistence: a Redis restart loses every API key, login and session (configure appendonly yes)");
    else log.info({ persistence }, "Redis persistence");
    await epoch?.ready;
  }
  const revocations = startRevocationSweep(ctx, io);
  // A node cut from Redis serves nobody: after a while, its clients are better off on another node.
  const redisLoss = watchRedisLoss({
    clients: redisClients,
    afterMs: config.redisLostMoveMs,
    log,
    onLost: () => {
      if (!lifecycle.shuttingDown) moveClients(ctx);
    },
  });

  const start = (): Promise<number> =>
    new Promise((resolve, reject) => {
      http.once("error", reject);
      http.listen(config.port, config.host, () => {
        http.off("error", reject);
        const port = (http.address() as AddressInfo).port;
        log.info({ port, host: config.host, mode: config.redisUrl ? `redis/${config.adapter}` : "embedded" }, `relay listening on port ${port}`);
        metricsEndpoint.start().then(
          () => resolve(port),
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
      });
    });

  const stopHooks: Array<() => void | Promise<void>> = [];
  let stopping: Promise<void> | null = null;
  const stop = (options: { drainDelayMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      // 1. Drain: /readyz answers 503 at once, everything else is served as before, so that the load
      //    balancer takes the node out before any client is told to move (docs/operations.md, "Rolling restarts and faults").
      lifecycle.shuttingDown = true;
      const drainDelayMs = options.drainDelayMs ?? config.drainDelayMs;
      log.info({ drainDelayMs }, "relay stopping: not ready, still serving during the drain delay");
      if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      // 2. Close: stop listening, refuse what still arrives (node_stopping, retryable), and close every
      //    connection so that its client moves to another node: Socket.IO clients see a lost transport and
      //    reconnect (recoverable), legacy ones get close code 1012. Shared state and Redis stay up meanwhile,
      //    for the handlers of those disconnects and for the sessions the adapter persists for recovery.
      lifecycle.closing = true;
      // Acks held back by the coalescer go out before the connections close: what was stored is said.
      ctx.acks.flush();
      sweeper.stop();
      epoch?.stop();
      revocations.stop();
      redisLoss.stop();
      ctx.requests.close();
      http.close();
      const open = io.engine.clientsCount;
      const closers = [ctx.relay, ctx.viewer, ctx.hub, ctx.runner, ctx.terminal].flatMap((nsp) => [...nsp.sockets.values()].map((socket) => () => socket.conn.close()));
      const spreadMs = Math.min(config.shutdownSpreadMs, config.shutdownGraceMs);
      await runSpread(closers, spreadMs);
      const gone = await waitUntil(() => io.engine.clientsCount === 0, config.shutdownGraceMs - spreadMs);
      log.info({ moved: open, left: io.engine.clientsCount, allGone: gone }, "relay stopping: connections closed, closing shared state");
      // 3. Release: the adapter and Socket.IO, plugins, then Redis last.
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      http.closeAllConnections?.();
      await metricsEndpoint.stop();
      await ctx.push.settled();
      for (const hook of stopHooks) {
        await Promise.resolve()
          .then(hook)
          .catch((err: unknown) => log.error({ err }, "plugin stop hook failed"));
      }
      await Promise.all(redisClients.map((c) => c.close().catch(() => destroyQuietly(c))));
      await sharedState.close();
      deadlines.stop();
      log.info("relay stopped");
    })();
    return stopping;
  };

  const relay: RelayServer = { config, http, io, ctx, log, start, stop, sweepExpired: () => sweeper.sweep() };
  for (const plugin of options.plugins ?? []) {
    await plugin.attach?.(createPluginApi({ ctx, io, app, upgrades, redis: pluginRedis, stopHooks, clusterSize: clusterNodes }));
  }
  return relay;
}

/** Resolves true once `done()` holds, false when `withinMs` passed first (polled every 20 ms). */
async function waitUntil(done: () => boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
