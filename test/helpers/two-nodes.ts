import { awaitMesh, clusterState, startNode, type NodeProcess } from "./cluster.js";
import { startRedis, uniquePrefix, type TestRedis } from "./redis.js";

/** Two relay processes over a throwaway Redis that know each other, and the test's handle on their shared state. */
export interface TwoNodes {
  redis: TestRedis;
  prefix: string;
  A: NodeProcess;
  B: NodeProcess;
  shared: Awaited<ReturnType<typeof clusterState>>;
  /** Stops both nodes (SIGTERM), the shared-state handle and Redis. */
  stop(): Promise<void>;
}

/** Starts nodes A and B (each with its own extra environment) on one Redis and waits for their mesh. */
export async function startTwoNodes(env: { A?: Record<string, string>; B?: Record<string, string> } = {}): Promise<TwoNodes> {
  const redis = await startRedis();
  const prefix = uniquePrefix();
  const [A, B] = await Promise.all([startNode({ name: "A", redisUrl: redis.url, prefix, env: env.A ?? {} }), startNode({ name: "B", redisUrl: redis.url, prefix, env: env.B ?? {} })]);
  await awaitMesh([A, B]);
  const shared = await clusterState(redis.url, prefix);
  return {
    redis,
    prefix,
    A,
    B,
    shared,
    stop: async () => {
      await Promise.all([A, B].map((n) => n.stop()));
      await shared.close();
      await redis.stop();
    },
  };
}
