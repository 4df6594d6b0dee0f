import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import webpush from "web-push";
import type { SharedState } from "../../server/state/types.js";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "./cluster.js";
import { startPushService, type PushService } from "./push-service.js";
import { startRedis, uniquePrefix, type TestRedis } from "./redis.js";

export interface PushCluster {
  redis: TestRedis;
  pushService: PushService;
  A: NodeProcess;
  B: NodeProcess;
  vapid: { publicKey: string; privateKey: string };
  state: SharedState;
  stop(): Promise<void>;
}

/**
 * Two relay processes over a throwaway Redis with push on (fresh VAPID keys, subject
 * mailto:ops@relay.test), trusting the stand-in push service's self-signed certificate, meshed.
 */
export async function startPushCluster(): Promise<PushCluster> {
  const vapid = webpush.generateVAPIDKeys();
  const redis = await startRedis();
  const pushService = await startPushService();
  const caFile = join(await mkdtemp(join(tmpdir(), "pizzapi-push-")), "push-ca.pem");
  await writeFile(caFile, pushService.certificatePem);
  const prefix = uniquePrefix();
  const env = {
    PIZZAPI_VAPID_PUBLIC_KEY: vapid.publicKey,
    PIZZAPI_VAPID_PRIVATE_KEY: vapid.privateKey,
    PIZZAPI_VAPID_SUBJECT: "mailto:ops@relay.test",
    // The relay process trusts the stand-in push service's self-signed certificate.
    NODE_EXTRA_CA_CERTS: caFile,
  };
  const [A, B] = (await Promise.all(["A", "B"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess];
  await awaitMesh([A, B]);
  const shared = await clusterState(redis.url, prefix);
  return {
    redis,
    pushService,
    A,
    B,
    vapid,
    state: shared.state,
    stop: async () => {
      await Promise.all([A.stop(), B.stop()]);
      await shared.close();
      await pushService.close();
      await redis.stop();
    },
  };
}
