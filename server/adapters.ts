import { createAdapter as createRedisAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient, type RedisClientType } from "redis";
import type { ServerOptions } from "socket.io";
import type { AdapterKind } from "./config.js";
import type { Logger } from "./logger.js";

/** What `new Server({ adapter })` takes. */
export type AdapterFactory = NonNullable<Partial<ServerOptions>["adapter"]>;

/** A node-redis client that logs instead of crashing on connection errors (a Redis EPIPE must not kill a node). */
export function redisClient(url: string, log: Logger, role: string): RedisClientType {
  const client: RedisClientType = createClient({
    url,
    socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5_000) },
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
export async function createClusterAdapter(
  kind: AdapterKind,
  url: string,
  prefix: string,
  log: Logger,
  streamMaxLen = 100_000,
): Promise<{ factory: AdapterFactory; clients: RedisClientType[] }> {
  if (kind === "redis-streams") {
    const client = redisClient(url, log, "adapter");
    await client.connect();
    return { factory: createStreamsAdapter(client, { streamName: `${prefix}sio`, sessionKeyPrefix: `${prefix}sio:session:`, maxLen: streamMaxLen }), clients: [client] };
  }
  const pub = redisClient(url, log, "adapter-pub");
  const sub = pub.duplicate();
  sub.on("error", (err: unknown) => log.error({ err, role: "adapter-sub" }, "redis connection error"));
  await Promise.all([pub.connect(), sub.connect()]);
  const factory =
    kind === "redis-sharded" ? createShardedAdapter(pub, sub, { channelPrefix: `${prefix}sio` }) : createRedisAdapter(pub, sub, { key: `${prefix}sio` });
  return { factory, clients: [pub, sub] };
}

export function supportsRecovery(kind: AdapterKind | "memory"): boolean {
  return kind === "memory" || kind === "redis-streams";
}
