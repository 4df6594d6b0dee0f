import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterState, startNode, type NodeProcess, type Runtime } from "../helpers/cluster.js";
import { connectCli, connectHub, connectViewer, connected, Recorder, seqs, type CliSocket } from "../helpers/clients.js";
import { login } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/**
 * The foundation's three-node scenario (issue 2): the CLI on node A, viewers on B and C, the hub on C,
 * all over one Redis with the given adapter. Nodes are real `pizzapi-relay start` processes, so one can
 * run under Bun and one can be killed.
 */
export function describeThreeNodes(adapter: string, runtimes: [Runtime, Runtime, Runtime] = ["node", "node", "node"]): void {
  describe(`three nodes over Redis (${adapter}; ${runtimes.join("/")})`, () => {
    let redis: TestRedis;
    let nodes: NodeProcess[];
    let A: NodeProcess, B: NodeProcess, C: NodeProcess;
    let apiKey: string;
    let cookie: string;
    let closeState: () => Promise<void>;
    const sockets: Array<{ disconnect(): void }> = [];
    const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);

    beforeAll(async () => {
      redis = await startRedis();
      const prefix = uniquePrefix();
      nodes = await Promise.all(
        (["A", "B", "C"] as const).map((name, i) =>
          startNode({ name, redisUrl: redis.url, prefix, adapter, runtime: runtimes[i], env: { PIZZAPI_CLI_RECONNECT_GRACE_MS: "300" } }),
        ),
      );
      [A, B, C] = nodes as [NodeProcess, NodeProcess, NodeProcess];
      const shared = await clusterState(redis.url, prefix);
      closeState = shared.close;
      apiKey = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
      // A login made on node A is a cookie every node accepts: logins live in shared state.
      cookie = await login(A.url, apiKey);
    });

    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await Promise.all((nodes ?? []).map((n) => n.stop()));
      await closeState?.();
      await redis?.stop();
    });

    async function publish(cli: CliSocket, token: string, from: number, count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const reply = await cli.emitWithAck("event", { token, seq: from + i, event: { type: "message_update", n: from + i } });
        if (!reply.ok) throw new Error(`publish failed: ${reply.error.message}`);
      }
    }

    it("runs each node on the runtime it was asked for", async () => {
      const reported = await Promise.all(nodes.map(async (n) => ((await (await fetch(`${n.url}/healthz`)).json()) as { runtime: string }).runtime));
      expect(reported).toEqual(runtimes);
    });

    it("delivers every event once, in order, across nodes; resumes a viewer by lastSeq; routes collab input; survives the CLI's node dying", async () => {
      const hub = track(connectHub(C.url, { cookie }));
      const hubRec = new Recorder(hub);
      await connected(hub);
      await hubRec.next("sessions");

      const cli = track(connectCli(A.url, apiKey));
      const cliRec = new Recorder(cli);
      await connected(cli);
      const reg = await cli.emitWithAck("register", { cwd: "/home/alice/proj", collabMode: true, sessionName: null });
      if (!reg.ok) throw new Error(reg.error.message);
      const { sessionId, token } = reg;
      const [added] = await hubRec.next<{ sessionId: string }>("session_added");
      expect(added?.sessionId).toBe(sessionId);

      const viewerB = track(connectViewer(B.url, { cookie }, sessionId));
      const viewerC = track(connectViewer(C.url, { cookie }, sessionId));
      const recB = new Recorder(viewerB);
      const recC = new Recorder(viewerC);
      await Promise.all([recB.next("connected"), recC.next("connected")]);

      // 1. Every event, once, in order, at both viewers on other nodes.
      await publish(cli, token, 1, 30);
      await Promise.all([recB.next("event", 30), recC.next("event", 30)]);
      const first = Array.from({ length: 30 }, (_, i) => i + 1);
      expect(seqs(recB)).toEqual(first);
      expect(seqs(recC)).toEqual(first);
      expect(recC.named<{ event: { n: number } }>("event").map((e) => e.event.n)).toEqual(first);

      // 2. Viewer B leaves, misses 10 events, comes back on node C with lastSeq: exactly the missed ones.
      viewerB.disconnect();
      await publish(cli, token, 31, 10);
      await recC.next("event", 40);
      const viewerB2 = track(connectViewer(C.url, { cookie }, sessionId, 30));
      const recB2 = new Recorder(viewerB2);
      const [hello] = await recB2.next<{ resumedFrom?: number; lastSeq: number }>("connected");
      expect(hello).toMatchObject({ resumedFrom: 30, lastSeq: 40 });
      await recB2.next("event", 10);
      await publish(cli, token, 41, 5);
      await Promise.all([recB2.next("event", 15), recC.next("event", 45)]);
      expect(seqs(recB2)).toEqual(Array.from({ length: 15 }, (_, i) => 31 + i));
      expect(seqs(recC)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));

      // 3. Collab input from a viewer on C reaches the CLI on A.
      viewerC.emit("input", { text: "Add a README", attachments: [{ attachmentId: "a1", size: 5 }, 7], client: "web" });
      const [input] = await cliRec.next("input");
      expect(input).toEqual({ text: "Add a README", attachments: [{ attachmentId: "a1" }], client: "web" });

      // 4. Node A dies; the CLI re-registers the same id on node B: same session, same viewers, seq goes on.
      await A.kill();
      const cli2 = track(connectCli(B.url, apiKey));
      await connected(cli2);
      const reg2 = await cli2.emitWithAck("register", { sessionId, cwd: "/home/alice/proj", collabMode: true, sessionName: null });
      expect(reg2).toMatchObject({ ok: true, sessionId });
      if (!reg2.ok) return;
      expect(reg2.token).not.toBe(token);
      await publish(cli2, reg2.token, 1, 3);
      await Promise.all([recB2.next("event", 18), recC.next("event", 48)]);
      expect(seqs(recC).slice(45)).toEqual([46, 47, 48]);
      expect(seqs(recB2).slice(15)).toEqual([46, 47, 48]);
      expect(recC.named("disconnected")).toEqual([]);
      expect(hubRec.named("session_removed")).toEqual([]);

      // Collab input now reaches the CLI on B.
      const cli2Rec = new Recorder(cli2);
      viewerB2.emit("model_set", { provider: "openai", modelId: "gpt-5" });
      expect((await cli2Rec.next("model_set"))[0]).toEqual({ provider: "openai", modelId: "gpt-5" });
    });

    it("ignores a replaced connection's late disconnect, whichever node it is on", async () => {
      const first = track(connectCli(B.url, apiKey));
      await connected(first);
      const reg = await first.emitWithAck("register", { cwd: "/x" });
      if (!reg.ok) throw new Error(reg.error.message);
      const viewer = track(connectViewer(C.url, { cookie }, reg.sessionId));
      const rec = new Recorder(viewer);
      await rec.next("connected");

      // The CLI reconnects on C while its old connection on B is still open.
      const second = track(connectCli(C.url, apiKey));
      await connected(second);
      const reg2 = await second.emitWithAck("register", { sessionId: reg.sessionId, cwd: "/x" });
      expect(reg2).toMatchObject({ ok: true, sessionId: reg.sessionId });
      if (!reg2.ok) return;
      // The stale connection's frames are refused, and its close (even an explicit session_end) ends nothing.
      const stale = await first.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "agent_start" } });
      expect(stale).toMatchObject({ ok: false, error: { code: "invalid_token" } });
      await first.emitWithAck("session_end", { token: reg.token });
      first.disconnect();
      await new Promise((r) => setTimeout(r, 600));
      const live = await second.emitWithAck("event", { token: reg2.token, seq: 1, event: { type: "agent_start" } });
      expect(live).toMatchObject({ ok: true, seq: 1 });
      await rec.next("event", 1);
      expect(rec.named("disconnected")).toEqual([]);
    });
  });
}
