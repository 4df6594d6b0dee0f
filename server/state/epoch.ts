import { randomHex } from "../auth/secrets.js";
import type { Logger } from "../logger.js";
import type { RedisCommandClient } from "./redis-scripts.js";

/**
 * Notices that shared state was wiped (docs/operations.md, "Redis persistence"): a Redis restarted
 * without persistence, a FLUSHALL. The cluster keeps an epoch key (a random id, no TTL); each node
 * remembers the one it saw, and checks it every `checkMs`. A missing key is re-created (the first node
 * to notice wins, SET NX), and a different id than the remembered one means the state this node relied
 * on is gone: `onWipe` runs once per wipe, on every node.
 */
export function watchEpoch(options: {
  redis: RedisCommandClient;
  prefix: string;
  checkMs: number;
  log: Logger;
  onWipe: () => void;
}): { ready: Promise<void>; stop(): void } {
  const key = `${options.prefix}epoch`;
  let known: string | null = null;
  const read = async (): Promise<string> => {
    await options.redis.sendCommand(["SET", key, `${new Date().toISOString()}/${randomHex(8)}`, "NX"]);
    const value = await options.redis.sendCommand(["GET", key]);
    return String(value);
  };
  const check = async (): Promise<void> => {
    const epoch = await read();
    if (known !== null && epoch !== known) {
      options.log.error({ epoch, previous: known }, "shared state was wiped (the Redis epoch key changed): clients are made to register again");
      known = epoch;
      options.onWipe();
      return;
    }
    known = epoch;
  };
  const ready = check().catch((err: unknown) => options.log.warn({ err }, "could not read the Redis epoch"));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    check()
      .catch(() => undefined) // Redis unreachable: readiness and the state timeouts report it
      .finally(() => (running = false));
  }, options.checkMs);
  timer.unref();
  return { ready, stop: () => clearInterval(timer) };
}

export type Persistence = "aof" | "rdb" | "none" | "unknown";

/**
 * Whether the cluster's Redis keeps its data across a restart. A managed Redis that forbids CONFIG
 * answers "unknown". Without persistence, a Redis restart loses the API keys, logins and sessions.
 */
export async function redisPersistence(redis: RedisCommandClient): Promise<Persistence> {
  try {
    const aof = await redis.sendCommand(["CONFIG", "GET", "appendonly"]);
    if (Array.isArray(aof) && String(aof[1]) === "yes") return "aof";
    const save = await redis.sendCommand(["CONFIG", "GET", "save"]);
    return Array.isArray(save) && String(save[1] ?? "").trim() !== "" ? "rdb" : "none";
  } catch {
    return "unknown";
  }
}
