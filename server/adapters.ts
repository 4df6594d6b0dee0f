import { createAdapter as createRedisAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient, type RedisClientType } from "redis";
import type { ServerOptions } from "socket.io";
import type { AdapterKind } from "./config.js";
import type { Logger } from "./logger.js";

/** What `new Server({ adapter })` takes. */
export type AdapterFactory = NonNullable<Partial<ServerOptions>["adapter"]>;

/**
 * A node-redis client that logs instead of crashing on connection errors (a Redis EPIPE must not kill a
 * node). `failFast`: commands fail at once while the connection is down instead of waiting in the
 * offline queue, to run whenever Redis is back (stale writes: a claim or a publish the caller already
 * answered "unavailable" for).
 */
export function redisClient(url: string, log: Logger, role: string, options: { failFast?: boolean } = {}): RedisClientType {
  const client: RedisClientType = createClient({
    url,
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
export async function connectWithin(clients: RedisClientType[], ms: number, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${redisHost(url)} did not answer within ${ms} ms (PIZZAPI_REDIS_URL; PIZZAPI_REDIS_CONNECT_TIMEOUT_MS)`)), ms);
  });
  try {
    await Promise.race([Promise.all(clients.map((c) => c.connect())), timeout]);
  } catch (err) {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    throw err;
  } finally {
    clearTimeout(timer);
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
): Promise<{ factory: AdapterFactory; clients: RedisClientType[] }> {
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
