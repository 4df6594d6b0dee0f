import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import type { ConnectionStatus } from "../../clients/socketio/status.js";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectViewer, Recorder } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { login } from "../helpers/relay.js";

/**
 * Issue 5, done-when: against a three-node cluster, a CLI client whose node is killed mid-stream
 * reconnects to another node, and every event it produced, before and during the outage, reaches the
 * viewers exactly once, in order.
 */
describe("RelayClient across a node death (three nodes over Redis)", () => {
  let redis: TestRedis;
  let nodes: NodeProcess[] = [];
  let A: NodeProcess, B: NodeProcess, C: NodeProcess;
  let apiKey: string;
  let cookie: string;
  let closeState: () => Promise<void>;
  let inspect: Awaited<ReturnType<typeof clusterState>>;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    nodes = await Promise.all(
      (["A", "B", "C"] as const).map((name) => startNode({ name, redisUrl: redis.url, prefix, env: { PIZZAPI_CLI_RECONNECT_GRACE_MS: "10000" } })),
    );
    [A, B, C] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await awaitMesh(nodes);
    inspect = await clusterState(redis.url, prefix);
    closeState = inspect.close;
    apiKey = (await inspect.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    cookie = await login(C.url, apiKey);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  it("delivers every event exactly once, in order, when the CLI's node is killed mid-stream", async () => {
    const TOTAL = 600;
    const KILL_AT = 200;
    /** Events A stores and broadcasts whose acks never reach the CLI: resent to B, which must drop them. */
    const UNACKED = 50;
    // The load balancer: the CLI reaches node A through it; after A dies, new connections go to B.
    const lb = new TestProxy(A.port);
    const lbUrl = await lb.start();
    const cli = new RelayClient({
      url: lbUrl,
      apiKey,
      clientVersion: "cluster-test",
      session: { cwd: "/home/alice/proj" },
      ioOptions: { reconnectionDelay: 100, reconnectionDelayMax: 500 },
    });
    const statuses: ConnectionStatus[] = [];
    cli.on("status", (s) => statuses.push(s));
    const registrations: string[] = [];
    const firstRegistration = new Promise<string>((resolve) => cli.on("registered", (r) => (registrations.push(r.sessionId), resolve(r.sessionId))));
    cli.start();
    const sessionId = await firstRegistration;

    // The viewer watches from node C, which stays up.
    const viewerSocket = connectViewer(C.url, { cookie }, sessionId);
    const viewer = new Recorder(viewerSocket);
    await viewer.next("synced");

    const received = (): number[] =>
      viewer
        .named<{ event?: { n?: number }; snapshot?: boolean }>("event")
        .filter((e) => !e.snapshot && typeof e.event?.n === "number")
        .map((e) => e.event?.n as number);

    try {
      let n = 0;
      while (n < TOTAL) {
        for (let i = 0; i < 20 && n < TOTAL; i++) cli.publish({ type: "message_update", n: ++n });
        if (n === KILL_AT) {
          // Deterministic lost acks: A keeps working, but its answers are stuck in the network; once
          // viewers have the next events (so A stored them), A dies. Publishing goes on meanwhile.
          await cli.flushed();
          lb.holdReplies();
          for (let i = 0; i < UNACKED; i++) cli.publish({ type: "message_update", n: ++n });
          await viewer.until(() => received().includes(n), `event ${n} through node A`);
          expect(cli.unacknowledged).toBe(UNACKED);
          lb.switchTo(B.port);
          await A.kill();
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await cli.flushed();

      await viewer.until(() => received().includes(TOTAL), `event ${TOTAL}`, 20_000);
      expect(received()).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      // The stored log agrees: each event once, in order, under consecutive seqs.
      const view = await inspect.state.sessions.view(sessionId, 0);
      const log = view?.log?.complete ? view.log.events : [];
      expect(log.map((e) => (JSON.parse(e.eventJson ?? "{}") as { n: number }).n)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      // It really moved: a reconnection, the same session registered again (on B, the only way left).
      expect(statuses.some((s) => s.state === "reconnecting")).toBe(true);
      expect(cli.stats).toMatchObject({ published: TOTAL, duplicates: UNACKED, dropped: 0 });
      expect(cli.stats.resent).toBeGreaterThanOrEqual(UNACKED);
      expect(registrations.length).toBeGreaterThanOrEqual(2);
      expect(new Set(registrations)).toEqual(new Set([sessionId]));
      expect(B.logs.some((l) => l.includes("session registered") && l.includes('"outcome":"reconnected"'))).toBe(true);
    } finally {
      viewerSocket.disconnect();
      cli.close();
      await lb.stop();
    }
  }, 60_000);
});
