import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectRunner, connected, Recorder, type RunnerSocket } from "../helpers/clients.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/**
 * Runner liveness across nodes (README, PIZZAPI_RUNNER_TTL_MS): a runner's record lives its TTL unless
 * the node holding its socket refreshes it, so a connected runner outlives its TTL, and a runner whose
 * node dies without a word (SIGKILL: no disconnect handler, no teardown) vanishes from every other node
 * once the TTL runs out.
 */

const TTL_MS = 1_500;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("a runner whose node dies", () => {
  let redis: TestRedis;
  let A: NodeProcess, B: NodeProcess;
  let key: string;
  let closeState: () => Promise<void>;
  let runner: RunnerSocket | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    const env = { PIZZAPI_RUNNER_TTL_MS: String(TTL_MS) };
    [A, B] = (await Promise.all(["A", "B"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess];
    await awaitMesh([A, B]);
    const shared = await clusterState(redis.url, prefix);
    closeState = shared.close;
    key = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  });
  afterAll(async () => {
    runner?.disconnect();
    await Promise.all([A, B].filter(Boolean).map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  const listedOnB = async (): Promise<string[]> => {
    const res = await fetch(`${B.url}/api/runners`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { runners: Array<{ runnerId: string }> }).runners.map((r) => r.runnerId);
  };

  it("stays listed past its TTL while its node lives, and disappears from the other node's list once its node is killed", async () => {
    const runnerId = randomUUID();
    runner = connectRunner(A.url, key);
    const rec = new Recorder(runner);
    await connected(runner);
    expect(await runner.emitWithAck("register_runner", { runnerId, runnerSecret: randomBytes(32).toString("hex"), name: "devbox" })).toEqual({ ok: true, runnerId });
    expect(await listedOnB()).toContain(runnerId);

    // Longer than the TTL: only node A's refreshes keep the record.
    await sleep(TTL_MS + 1_000);
    expect(await listedOnB()).toContain(runnerId);

    await A.kill();
    await rec.next("$disconnect");
    const deadline = Date.now() + 5_000;
    let listed = await listedOnB();
    while (listed.includes(runnerId) && Date.now() < deadline) {
      await sleep(100);
      listed = await listedOnB();
    }
    expect(listed).not.toContain(runnerId);
    // Gone everywhere it is looked up, not only from the list.
    const skills = await fetch(`${B.url}/api/runners/${runnerId}/skills`, { headers: { "x-api-key": key } });
    expect(skills.status).toBe(404);
  });
});
