import { createRedisClient, type RelayRedisClient } from "../../server/adapters.js";
import { afterAll, beforeAll } from "vitest";
import { RedisCensusStore } from "../../migration/census/redis-store.js";
import { RedisModeStore } from "../../migration/mode-store.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { sleep } from "../helpers/wait.js";
import { describeMigrationContract } from "./migration.contract.js";

let redis: TestRedis;
let client: RelayRedisClient;

beforeAll(async () => {
  redis = await startRedis();
  client = createRedisClient(redis.url);
  client.on("error", () => undefined);
  await client.connect();
}, 15_000);

afterAll(async () => {
  await client?.close();
  await redis?.stop();
});

describeMigrationContract("redis", async () => {
  const prefix = uniquePrefix();
  return {
    census: new RedisCensusStore(client, prefix),
    modes: new RedisModeStore(client, prefix),
    advance: (ms) => sleep(ms),
    now: () => Date.now(),
  };
});
