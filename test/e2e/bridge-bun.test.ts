import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { LegacyClient } from "../helpers/legacy.js";
import { login } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/** The bridge under Bun: legacy clients on a Bun node and a Node.js node share a session both ways. */
describe("legacy endpoints on a Bun node", () => {
  let redis: TestRedis;
  let bunNode: NodeProcess, nodeNode: NodeProcess;
  let key: string, cookie: string;
  let closeState: () => Promise<void>;
  const clients: LegacyClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    [bunNode, nodeNode] = await Promise.all([
      startNode({ name: "bun", redisUrl: redis.url, prefix, runtime: "bun" }),
      startNode({ name: "node", redisUrl: redis.url, prefix, runtime: "node" }),
    ]);
    await awaitMesh([bunNode, nodeNode]);
    const shared = await clusterState(redis.url, prefix);
    closeState = shared.close;
    key = (await shared.state.keys.create({ userId: "alice", userName: "alice" })).key;
    cookie = await login(bunNode.url, key);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([bunNode, nodeNode].filter(Boolean).map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  it.each([
    ["CLI on Bun, viewer on Node.js", () => bunNode, () => nodeNode],
    ["CLI on Node.js, viewer on Bun", () => nodeNode, () => bunNode],
  ])("%s: every event once, in order", async (_name, cliNode, viewerNode) => {
    const cli = await LegacyClient.open(cliNode().url, "/ws/sessions", { "x-api-key": key });
    clients.push(cli);
    cli.send({ type: "register", cwd: "/p", collabMode: true, sessionName: null });
    const [registered] = await cli.next("registered");
    const viewer = await LegacyClient.open(viewerNode().url, `/ws/sessions/${String(registered?.sessionId)}`, { cookie });
    clients.push(viewer);
    await viewer.next("connected");
    for (let seq = 1; seq <= 10; seq++) cli.send({ type: "event", sessionId: registered?.sessionId, token: registered?.token, event: { type: "message_update", n: seq }, seq });
    await viewer.next("event", 10);
    expect(viewer.typed("event").map((f) => f.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await cli.next("event_ack", 10);
    viewer.send({ type: "input", text: "hello", attachments: [] });
    expect((await cli.next("input"))[0]).toEqual({ type: "input", text: "hello", attachments: [] });
    // Refusals keep their legacy form on both runtimes.
    await expect(LegacyClient.open(viewerNode().url, "/ws/sessions", {})).rejects.toMatchObject({ status: 401, body: "Missing API key (x-api-key header)" });
  });
});
