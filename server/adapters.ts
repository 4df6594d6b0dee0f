import { createAdapter as createRedisAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import type { ServerOptions } from "socket.io";
import type { AdapterKind } from "./config.js";
import type { Logger } from "./logger.js";

/** What `new Server({ adapter })` takes. */
export type AdapterFactory = NonNullable<Partial<ServerOptions>["adapter"]>;

/**
 * Options every node-redis client of the relay (and of its tests) is created with, keeping node-redis
 * 4's behaviour under node-redis 6:
 * - `RESP: 2`: node-redis 6 speaks RESP3 by default, where raw `sendCommand` replies change shape
 *   (HGETALL and CONFIG GET come back as maps, not flat arrays). The shared state parses raw RESP2
 *   replies. RESP2 also keeps Redis Enterprise maintenance notifications off, as in node-redis 4.
 * - no command timeout: node-redis 6 rejects a command still unsent after 5 s by default (one in the
 *   offline queue while Redis is down); node-redis 4 kept it queued until Redis was back, and the
 *   adapters' clients keep doing so. The state client fails fast instead (`disableOfflineQueue`) and the
 *   relay bounds its calls itself (`PIZZAPI_STATE_TIMEOUT_MS`).
 * - TCP keepalive after 5 s of silence (node-redis 4's default; 6 waits 30 s).
 * `duplicate()` carries them over (the adapters' subscriber and stream reader clients).
 */
export const REDIS_CLIENT_OPTIONS = {
  RESP: 2,
  commandOptions: { timeout: undefined },
  socket: { keepAliveInitialDelay: 5_000 },
} as const;

/** Creates a client with `REDIS_CLIENT_OPTIONS` (`reconnectStrategy` and the like in `socket` merge in). */
export function createRedisClient(url: string, options: { socket?: { reconnectStrategy?: (retries: number) => number }; disableOfflineQueue?: boolean } = {}) {
  return createClient({
    url,
    ...REDIS_CLIENT_OPTIONS,
    socket: { ...REDIS_CLIENT_OPTIONS.socket, ...options.socket },
    disableOfflineQueue: options.disableOfflineQueue ?? false,
  });
}

/** The relay's node-redis client type (RESP2). */
export type RelayRedisClient = ReturnType<typeof createRedisClient>;

/**
 * A node-redis client that logs instead of crashing on connection errors (a Redis EPIPE must not kill a
 * node). `failFast`: commands fail at once while the connection is down instead of waiting in the
 * offline queue, to run whenever Redis is back (stale writes: a claim or a publish the caller already
 * answered "unavailable" for).
 */
export function redisClient(url: string, log: Logger, role: string, options: { failFast?: boolean } = {}): RelayRedisClient {
  const client = createRedisClient(url, {
    // Back within a second of Redis returning: a longer wait would outlast the outage it follows.
    socket: { reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1_000) },
    disableOfflineQueue: options.failFast === true,
  });
  let reported = false;
  client.on("error", (err: unknown) => {
    if (!reported) log.error({ err, role }, "redis connection error");
    reported = true;
  });
  client.on("ready", () => {
    if (reported) log.info({ role }, "redis connection restored");
    reported = false;
  });
  return client;
}

/**
 * The Socket.IO adapter for a cluster. `redis-streams` is the default: the only one that supports
 * connection state recovery across nodes (docs/architecture.md 4). `redis` and `redis-sharded` have no recovery.
 */
/**
 * Connects the clients, or gives up after `ms` with an error that names the Redis (host and port only:
 * never the password a URL may carry) and the setting: a node must not hang at start.
 */
export async function connectWithin(clients: RelayRedisClient[], ms: number, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${redisHost(url)} did not answer within ${ms} ms (PIZZAPI_REDIS_URL; PIZZAPI_REDIS_CONNECT_TIMEOUT_MS)`)), ms);
  });
  try {
    await Promise.race([Promise.all(clients.map((c) => c.connect())), timeout]);
  } catch (err) {
    clients.forEach(destroyQuietly);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Drops a client's connection at once (node-redis `destroy()`, which can throw on a client never opened). */
export function destroyQuietly(client: RelayRedisClient): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(unparsable PIZZAPI_REDIS_URL)";
  }
}

export async function createClusterAdapter(
  kind: AdapterKind,
  url: string,
  prefix: string,
  log: Logger,
  streamMaxLen = 100_000,
  connectTimeoutMs = 30_000,
): Promise<{ factory: AdapterFactory; clients: RelayRedisClient[] }> {
  if (kind === "redis-streams") {
    const client = redisClient(url, log, "adapter");
    await connectWithin([client], connectTimeoutMs, url);
    return { factory: createStreamsAdapter(client, { streamName: `${prefix}sio`, sessionKeyPrefix: `${prefix}sio:session:`, maxLen: streamMaxLen }), clients: [client] };
  }
  const pub = redisClient(url, log, "adapter-pub");
  const sub = pub.duplicate();
  sub.on("error", (err: unknown) => log.error({ err, role: "adapter-sub" }, "redis connection error"));
  await connectWithin([pub, sub], connectTimeoutMs, url);
  const factory =
    kind === "redis-sharded" ? createShardedAdapter(pub, sub, { channelPrefix: `${prefix}sio` }) : createRedisAdapter(pub, sub, { key: `${prefix}sio` });
  return { factory, clients: [pub, sub] };
}

export function supportsRecovery(kind: AdapterKind | "memory"): boolean {
  return kind === "memory" || kind === "redis-streams";
}
