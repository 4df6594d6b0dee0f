import { createRedisClient } from "../../server/adapters.js";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectCli, connectViewer, connected, Recorder, seqs, type CliSocket, type ViewerSocket } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

async function publish(cli: CliSocket, token: string, from: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await cli.emitWithAck("event", { token, seq: from + i, event: { type: "message_update", n: from + i } });
    if (!reply.ok) throw new Error(`publish failed: ${reply.error.message}`);
  }
}

describe("cluster resilience (redis-streams)", () => {
  let redis: TestRedis;
  let prefix: string;
  let shared: Awaited<ReturnType<typeof clusterState>>;
  let apiKey: string;
  const nodes: NodeProcess[] = [];
  const sockets: Array<{ disconnect(): void }> = [];
  const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);

  beforeAll(async () => {
    redis = await startRedis();
    prefix = uniquePrefix();
    shared = await clusterState(redis.url, prefix);
    apiKey = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    await shared?.close();
    await redis?.stop();
  });

  const node = async (name: string, env: Record<string, string> = {}): Promise<NodeProcess> => {
    const n = await startNode({ name, redisUrl: redis.url, prefix, env });
    nodes.push(n);
    return n;
  };

  it("SIGTERM moves clients without ending their sessions: shared state is intact and the CLI continues elsewhere", async () => {
    const [A, B] = await Promise.all([node("A"), node("B")]);
    const cookie = await login(B.url, apiKey);
    const cli = track(connectCli(A.url, apiKey));
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const viewer = track(connectViewer(B.url, { cookie }, reg.sessionId));
    const rec = new Recorder(viewer);
    await rec.next("connected");
    await publish(cli, reg.token, 1, 3);
    await rec.next("event", 3);

    await A.stop();
    expect(A.proc.exitCode).toBe(0);
    const record = await shared.state.sessions.get(reg.sessionId);
    expect(record).toMatchObject({ live: true, seq: 3, generation: 1 });

    const cli2 = track(connectCli(B.url, apiKey));
    await connected(cli2);
    const reg2 = await cli2.emitWithAck("register", { sessionId: reg.sessionId, cwd: "/p" });
    expect(reg2).toMatchObject({ ok: true, sessionId: reg.sessionId });
    if (!reg2.ok) return;
    await publish(cli2, reg2.token, 1, 2);
    await rec.next("event", 5);
    expect(seqs(rec)).toEqual([1, 2, 3, 4, 5]);
    expect(rec.named("disconnected")).toEqual([]);
  });

  it("recovers a viewer's connection state on another node after a network cut, when recovery is turned on: missed events arrive once, in order", async () => {
    // Recovery is off by default in a cluster (docs/operations.md, "Rolling restarts and faults").
    const recovery = { PIZZAPI_RECOVERY_WINDOW_MS: "120000" };
    const [B, C] = await Promise.all([node("B2", recovery), node("C2", recovery)]);
    const cookie = await login(B.url, apiKey);
    const cli = track(connectCli(B.url, apiKey));
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);

    const proxy = new TestProxy(B.port);
    const lb = await proxy.start();
    const viewer: ViewerSocket = track(
      io(`${lb}/viewer`, {
        transports: ["websocket"],
        reconnectionDelay: 50,
        reconnectionDelayMax: 100,
        extraHeaders: { cookie },
        auth: { sessionId: reg.sessionId, protocolVersion: PROTOCOL_VERSION },
      }),
    );
    const rec = new Recorder(viewer);
    await rec.next("connected");
    await publish(cli, reg.token, 1, 5);
    await rec.next("event", 5);

    // The "load balancer" loses every connection and sends the reconnect to node C.
    proxy.switchTo(C.port);
    proxy.dropAll();
    await rec.next("$disconnect");
    await publish(cli, reg.token, 6, 5);
    await new Promise<void>((resolve) => viewer.once("connect", () => resolve()));
    expect(viewer.recovered).toBe(true);
    await publish(cli, reg.token, 11, 2);
    await rec.next("event", 12);
    expect(seqs(rec)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // A recovered viewer gets no second join sequence.
    expect(rec.named("connected")).toHaveLength(1);
    await proxy.stop();
  });
});

describe("Redis outages (in-process node)", () => {
  let redis: TestRedis;
  let node: TestRelay;
  let apiKey: string;
  const sockets: Array<{ disconnect(): void }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    node = await startRelay({ PIZZAPI_REDIS_URL: redis.url, PIZZAPI_REDIS_PREFIX: uniquePrefix() });
    apiKey = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await node?.stop();
    await redis?.stop();
  });

  it("a stalled Redis delays events but loses none: they arrive in order once it answers again", async () => {
    const cookie = await login(node.url, apiKey);
    const cli = connectCli(node.url, apiKey);
    sockets.push(cli);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const viewer = connectViewer(node.url, { cookie }, reg.sessionId);
    sockets.push(viewer);
    const rec = new Recorder(viewer);
    await rec.next("connected");

    const admin = createRedisClient(redis.url);
    await admin.connect();
    await admin.sendCommand(["CLIENT", "PAUSE", "1500", "ALL"]);
    const ready = await fetch(`${node.url}/readyz`);
    expect(ready.status).toBe(503);
    for (let i = 1; i <= 10; i++) cli.emit("event", { token: reg.token, seq: i, event: { type: "message_update", n: i } });
    await rec.next("event", 10, 10_000);
    expect(seqs(rec)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    await admin.close();
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
  });

  it("a dead Redis makes the node not ready, never crashes it, and readiness returns with Redis", async () => {
    await redis.stop();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 503) status = (await fetch(`${node.url}/readyz`)).status;
    expect(status).toBe(503);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    await redis.restart();
    const until = Date.now() + 15_000;
    while (Date.now() < until && status !== 200) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await fetch(`${node.url}/readyz`)).status;
    }
    expect(status).toBe(200);
  });
});
