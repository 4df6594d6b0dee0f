import { RedisApiKeyStore, RedisLoginStore } from "./redis-keys.js";
import { RedisPushStore } from "./redis-push.js";
import { RedisRunnerStore } from "./redis-runners.js";
import { ScriptRunner, type RedisCommandClient } from "./redis-scripts.js";
import { RedisSessionStore } from "./redis-sessions.js";
import { RedisTerminalStore } from "./redis-terminals.js";
import type { SharedState } from "./types.js";

export type { RedisCommandClient } from "./redis-scripts.js";
export const DEFAULT_REDIS_PREFIX = "pizzapi:relay:";

export interface RedisStateOptions {
  /** A connected node-redis client speaking RESP2 (`REDIS_CLIENT_OPTIONS`), owned by the caller: close() leaves it open. */
  client: RedisCommandClient;
  /** Prepended to every key; default "pizzapi:relay:". */
  prefix?: string;
}

/**
 * The cluster state: API keys, logins, sessions, runners, terminals and push subscriptions in Redis,
 * with the same semantics as the memory state (held to one contract by test/contract/state.contract.ts).
 * Multi-key updates run as Lua scripts, so they are atomic across relay nodes.
 */
export function createRedisState(options: RedisStateOptions): SharedState {
  const { client } = options;
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  const scripts = new ScriptRunner(client);
  return {
    kind: "redis",
    keys: new RedisApiKeyStore(client, scripts, prefix),
    logins: new RedisLoginStore(client, prefix),
    sessions: new RedisSessionStore(client, scripts, prefix),
    runners: new RedisRunnerStore(client, scripts, prefix),
    terminals: new RedisTerminalStore(client, scripts, prefix),
    push: new RedisPushStore(client, prefix),
    ping: async () => {
      await client.sendCommand(["PING"]);
    },
    close: async () => undefined,
  };
}
