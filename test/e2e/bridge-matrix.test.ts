import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectCli, connectHub, connectRunner, connectTerminal, connectViewer, connected, Recorder, seqs, withoutPublishedAt } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { ackedUpTo, legacyCli, legacyEventSeqs, legacyRunner, sendLegacyEvents, sleep } from "../helpers/legacy-flows.js";
import { login } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/**
 * The bridge's promise (docs/legacy-protocol.md section 14): a legacy client and a Socket.IO client of the
 * same role are interchangeable, on any node. Three `pizzapi-relay start` processes over one Redis
 * (redis-streams adapter); every party of a flow is on a different node wherever the flow allows it.
 */
describe("legacy and Socket.IO clients mixed across three nodes", () => {
  let redis: TestRedis;
  let A: NodeProcess, B: NodeProcess, C: NodeProcess;
  let aliceKey: string, aliceCookie: string, carolKey: string, carolCookie: string;
  let closeState: () => Promise<void>;
  const legacy: LegacyClient[] = [];
  let state: Awaited<ReturnType<typeof clusterState>>["state"];
  const sockets: Array<{ disconnect(): void }> = [];
  const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);
  const keep = <T extends { client: LegacyClient } | LegacyClient>(c: T): T => (legacy.push(c instanceof LegacyClient ? c : c.client), c);

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    const env = { PIZZAPI_CLI_RECONNECT_GRACE_MS: "300", PIZZAPI_RUNNER_RECONNECT_GRACE_MS: "300", PIZZAPI_SPAWN_TIMEOUT_MS: "3000" };
    [A, B, C] = (await Promise.all(["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess, NodeProcess];
    await awaitMesh([A, B, C]);
    const shared = await clusterState(redis.url, prefix);
    state = shared.state;
    closeState = shared.close;
    aliceKey = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    carolKey = (await shared.state.keys.create({ userId: "carol", userName: "Carol" })).key;
    aliceCookie = await login(A.url, aliceKey);
    carolCookie = await login(B.url, carolKey);
  });
  afterAll(async () => {
    for (const c of legacy) c.close();
    for (const s of sockets) s.disconnect();
    await Promise.all([A, B, C].filter(Boolean).map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  const post = (url: string, path: string, body: unknown, cookie: string) =>
    fetch(`${url}${path}`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify(body) });

  /** One CLI of either stack, seen through what the matrix needs from it. */
  interface AnyCli {
    sessionId: string;
    /** Publishes `events` back to back (pipelined); resolves once the relay acknowledged all of them. */
    publish(events: unknown[]): Promise<void>;
    /** Frames/events of `type` the CLI received (payloads, without `type`). */
    received(type: string): Promise<Array<Record<string, unknown>>>;
    execResult(result: Record<string, unknown>): void;
    end(): void;
  }

  async function cliOn(kind: "legacy" | "native", url: string): Promise<AnyCli> {
    if (kind === "legacy") {
      const cli = keep(await legacyCli(url, aliceKey));
      return {
        sessionId: cli.sessionId,
        publish: async (events) => {
          sendLegacyEvents(cli, events);
          await ackedUpTo(cli, events.length);
          // Cumulative acks, one per event, sent before processing (legacy 2.4).
          expect(cli.client.typed("event_ack")).toEqual(events.map((_, i) => ({ type: "event_ack", sessionId: cli.sessionId, seq: i + 1 })));
        },
        received: async (type) => (await cli.client.next(type)).map(({ type: _t, ...rest }) => rest),
        execResult: (result) => cli.client.send({ type: "exec_result", ...result }),
        end: () => cli.client.send({ type: "session_end", sessionId: cli.sessionId, token: cli.token }),
      };
    }
    const cli = track(connectCli(url, aliceKey));
    const rec = new Recorder(cli);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/home/alice/proj", collabMode: true, sessionName: null });
    if (!reg.ok) throw new Error(reg.error.message);
    return {
      sessionId: reg.sessionId,
      publish: async (events) => {
        const replies = await Promise.all(events.map((event, i) => cli.emitWithAck("event", { token: reg.token, seq: i + 1, event })));
        expect(replies).toEqual(events.map((_, i) => ({ ok: true, seq: i + 1 })));
      },
      received: (type) => rec.next(type),
      execResult: (result) => cli.emit("exec_result", result as { id: string; ok: boolean; command: string }),
      end: () => cli.emit("session_end", { token: reg.token }),
    };
  }

  it.each(["legacy", "native"] as const)(
    "a %s CLI on A streams every event once, in order, with seq 1..20, to legacy and Socket.IO viewers on A and on B alike",
    async (kind) => {
      const cli = await cliOn(kind, A.url);
      const { sessionId } = cli;
      const legacyA = keep(await LegacyClient.open(A.url, `/ws/sessions/${sessionId}`, { cookie: aliceCookie }));
      const legacyB = keep(await LegacyClient.open(B.url, `/ws/sessions/${sessionId}`, { cookie: aliceCookie }));
      const nativeA = track(connectViewer(A.url, { cookie: aliceCookie }, sessionId));
      const nativeB = track(connectViewer(B.url, { cookie: aliceCookie }, sessionId));
      const recA = new Recorder(nativeA);
      const recB = new Recorder(nativeB);
      const hello = { sessionId, lastSeq: 0, isActive: false, lastHeartbeatAt: null, sessionName: null };
      for (const v of [legacyA, legacyB]) expect((await v.next("connected"))[0]).toEqual({ type: "connected", ...hello });
      for (const r of [recA, recB]) expect((await r.next("connected"))[0]).toEqual(hello);

      // Viewer → CLI across stacks and nodes: the UI's `connected` and collab input (legacy 3.2).
      legacyB.send({ type: "connected" });
      expect(await cli.received("connected")).toEqual([{}]);
      legacyB.send({ type: "input", text: "Add a README", attachments: [{ attachmentId: "a1", size: 3 }], client: "web" });
      expect(await cli.received("input")).toEqual([{ text: "Add a README", attachments: [{ attachmentId: "a1" }], client: "web" }]);
      nativeB.emit("model_set", { provider: "anthropic", modelId: "claude-sonnet-4-5" });
      expect(await cli.received("model_set")).toEqual([{ provider: "anthropic", modelId: "claude-sonnet-4-5" }]);
      // A remote command from a legacy viewer on the CLI's node, verbatim; its result reaches every viewer.
      legacyA.send({ type: "exec", id: "e1", command: "set_thinking_level", level: "high" });
      expect(await cli.received("exec")).toEqual([{ id: "e1", command: "set_thinking_level", level: "high" }]);
      const result = { id: "e1", ok: true, command: "set_thinking_level", result: { level: "high" } };
      cli.execResult(result);
      for (const v of [legacyA, legacyB]) expect(await v.next("exec_result")).toEqual([{ type: "exec_result", ...result }]);
      for (const r of [recA, recB]) expect(await r.next("exec_result")).toEqual([result]);

      const events = Array.from({ length: 20 }, (_, i) => ({ type: "message_update", n: i + 1 }));
      await cli.publish(events);
      const expected = events.map((event, i) => ({ event, seq: i + 1 }));
      for (const v of [legacyA, legacyB]) {
        await v.next("event", 20);
        // Event frames follow the join frame, and carry exactly {type, event, seq}.
        expect(v.frames[0]?.type).toBe("connected");
        expect(v.typed("event")).toEqual(expected.map((e) => ({ type: "event", ...e })));
      }
      for (const r of [recA, recB]) {
        await r.next("event", 20);
        expect(r.named("event").map(withoutPublishedAt)).toEqual(expected);
      }
      // Legacy and native viewers of one session see the same seqs, whichever node they are on.
      expect(legacyEventSeqs(legacyA)).toEqual(seqs(recB));
      expect(legacyEventSeqs(legacyB)).toEqual(seqs(recA));

      // The CLI ends the session: every viewer is told, legacy ones closed 1000 "Session ended" (legacy 2.9).
      cli.end();
      for (const v of [legacyA, legacyB]) {
        expect(await v.closedWith()).toEqual({ code: 1000, reason: "Session ended" });
        expect(v.typed("disconnected")).toEqual([{ type: "disconnected", reason: "Session ended" }]);
        expect(v.typed("event")).toHaveLength(20); // nothing arrived twice
      }
      for (const r of [recA, recB]) {
        await r.next("$disconnect");
        expect(r.named("disconnected")).toEqual([{ reason: "Session ended" }]);
        expect(r.named("event")).toHaveLength(20);
      }
    },
  );

  /*
   * A legacy viewer joining while events stream gets the legacy join sequence (legacy 3.1): `connected
   * {lastSeq:N}`, the snapshot at seq N, then N+1, N+2, ... once each. The relay joins the room before it
   * reads the state, so live events overlap the snapshot; the bridge's ViewerJoinSequencer holds and
   * de-duplicates them, because the legacy UI re-applies anything not above its lastSeq.
   */
  it("gives a legacy viewer joining a streaming session on another node the legacy join sequence: connected, snapshot at lastSeq, then each later seq once, in order", async () => {
    const cli = keep(await legacyCli(A.url, aliceKey));
    sendLegacyEvents(cli, [{ type: "session_active", state: { messages: [] } }, { type: "heartbeat", active: true }]);
    await ackedUpTo(cli, 2);
    // A legacy `event_ack` comes before the event is stored: wait until both are (the snapshot exists).
    for (let i = 0; i < 100 && ((await state.sessions.get(cli.sessionId))?.seq ?? 0) < 2; i++) await sleep(20);
    let next = 3;
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        sendLegacyEvents(cli, Array.from({ length: 5 }, (_, i) => ({ type: "message_update", n: next + i })), next);
        next += 5;
        await sleep(1);
      }
    })();
    const violations: string[] = [];
    try {
      for (let attempt = 0; attempt < 20 && violations.length === 0; attempt++) {
        const viewer = keep(await LegacyClient.open(B.url, `/ws/sessions/${cli.sessionId}`, { cookie: aliceCookie }));
        await viewer.next("connected");
        await viewer.until(() => viewer.frames.length >= 12, "a few live events");
        viewer.close();
        const [hello, ...rest] = viewer.frames;
        const lastSeq = hello?.lastSeq as number;
        const got = rest.map((f) => `${f.type}:${(f.event as { type?: string } | undefined)?.type}@${f.seq}`);
        const expected = [`event:heartbeat@${lastSeq}`, `event:session_active@${lastSeq}`, ...rest.slice(2).map((_, i) => `event:message_update@${lastSeq + 1 + i}`)];
        if (JSON.stringify(got) !== JSON.stringify(expected)) violations.push(`connected{lastSeq:${lastSeq}} then ${got.slice(0, 6).join(", ")}, ...`);
      }
    } finally {
      pumping = false;
      await pump;
    }
    expect(violations).toEqual([]);
  });

  it("lists the same sessions to a legacy hub on A and a Socket.IO hub on B, and feeds both the changes made by legacy CLIs on C", async () => {
    const first = keep(await legacyCli(C.url, carolKey, { cwd: "/home/carol/web", sessionName: "Fix flaky login test" }));
    const legacyHub = keep(await LegacyClient.open(A.url, "/ws/hub", { cookie: carolCookie }));
    const nativeHub = track(connectHub(B.url, { cookie: carolCookie }));
    const hubRec = new Recorder(nativeHub);
    const [listFrame] = await legacyHub.next("sessions");
    const [listEvent] = await hubRec.next<{ sessions: unknown[] }>("sessions");
    expect(listFrame?.sessions).toEqual(listEvent?.sessions);
    expect(listEvent?.sessions).toEqual([
      expect.objectContaining({
        sessionId: first.sessionId,
        shareUrl: `http://relay.test/session/${first.sessionId}`,
        cwd: "/home/carol/web",
        viewerCount: 0,
        userId: "carol",
        userName: "Carol",
        sessionName: "Fix flaky login test",
        isEphemeral: true,
        isActive: false,
        model: null,
        runnerId: null,
        runnerName: null,
      }),
    ]);

    // A second session from another legacy CLI on C: session_added at both hubs, identical.
    // (A session_added of the first session may still arrive after the list, if its broadcast from C was
    // in flight when the hub joined: clients de-duplicate it by sessionId, docs/legacy-protocol.md 6.)
    const second = keep(await legacyCli(C.url, carolKey, { cwd: "/home/carol/api" }));
    await legacyHub.until(() => legacyHub.typed("session_added").some((f) => f.sessionId === second.sessionId), "session_added of the second session");
    await hubRec.until((events) => events.some((e) => e.name === "session_added" && (e.payload as { sessionId?: string }).sessionId === second.sessionId), "session_added of the second session");
    const addedFrame = legacyHub.typed("session_added").find((f) => f.sessionId === second.sessionId);
    const addedEvent = hubRec.named<{ sessionId: string }>("session_added").find((e) => e.sessionId === second.sessionId);
    expect(addedEvent).toMatchObject({ sessionId: second.sessionId, cwd: "/home/carol/api", userId: "carol", isActive: false, lastHeartbeatAt: null, model: null });
    expect(addedFrame).toEqual({ type: "session_added", ...addedEvent });

    // A heartbeat that makes it active: session_status at both.
    sendLegacyEvents(second, [{ type: "heartbeat", active: true, model: { provider: "anthropic", id: "claude-sonnet-4-5", name: "Claude Sonnet 4.5", reasoning: true }, sessionName: null }]);
    const [statusFrame] = await legacyHub.next("session_status");
    const [statusEvent] = await hubRec.next("session_status");
    expect(statusEvent).toMatchObject({ sessionId: second.sessionId, isActive: true, model: { provider: "anthropic", id: "claude-sonnet-4-5", name: "Claude Sonnet 4.5" } });
    expect(statusFrame).toEqual({ type: "session_status", ...statusEvent });

    // `session_end` removes the second at once; the first's socket closing removes it after the grace.
    second.client.send({ type: "session_end", sessionId: second.sessionId, token: second.token });
    expect(await legacyHub.next("session_removed")).toEqual([{ type: "session_removed", sessionId: second.sessionId }]);
    expect(await hubRec.next("session_removed")).toEqual([{ sessionId: second.sessionId }]);
    first.client.close();
    expect((await legacyHub.next("session_removed", 2)).map((f) => f.sessionId)).toEqual([second.sessionId, first.sessionId]);
    expect((await hubRec.next("session_removed", 2)).map((f) => f.sessionId)).toEqual([second.sessionId, first.sessionId]);
    expect(legacyHub.typed("session_added").filter((f) => f.sessionId === second.sessionId)).toHaveLength(1);
    expect(legacyHub.closed).toBeNull();
  });

  it("drives a legacy runner on A from REST spawns on B: new_session, session_ready → 200 pending:false, session_error → 400", async () => {
    const runnerId = "6051a0de-a3e4-4f86-8eb9-9fdaa7ed5b7f";
    const runner = keep(
      await legacyRunner(A.url, aliceKey, {
        runnerId,
        runnerSecret: "defdd5b1c9417e1e453c2797fae1ca0d7c38a81e88e31bd741287e79ce75e9b1",
        name: "alice-devbox",
        roots: ["/home/alice/src/"],
        skills: [{ name: "release-notes", description: "Draft release notes from git log", filePath: "/home/alice/.pizzapi/skills/release-notes/SKILL.md" }],
      }),
    );
    expect(runner.runnerId).toBe(runnerId);
    expect(runner.client.typed("runner_registered")).toEqual([{ type: "runner_registered", runnerId }]);

    const spawning = post(B.url, "/api/runners/spawn", { runnerId, cwd: "/home/alice/src/api" }, aliceCookie);
    const [order] = await runner.client.next("new_session");
    expect(order).toEqual({ type: "new_session", sessionId: expect.any(String), cwd: "/home/alice/src/api" });
    const sessionId = order?.sessionId as string;
    runner.client.send({ type: "session_ready", runnerId, sessionId });
    const spawned = await spawning;
    expect(spawned.status).toBe(200);
    expect(await spawned.json()).toEqual({ ok: true, runnerId, sessionId, pending: false });

    const failing = post(B.url, "/api/runners/spawn", { runnerId, cwd: "/home/alice/src/nope" }, aliceCookie);
    const [, second] = await runner.client.next("new_session", 2);
    runner.client.send({ type: "session_error", runnerId, sessionId: second?.sessionId, message: "cwd does not exist: /home/alice/src/nope" });
    const failed = await failing;
    expect(failed.status).toBe(400);
    expect(await failed.json()).toEqual({ error: "cwd does not exist: /home/alice/src/nope" });

    // The runner and its one live spawn are visible from the third node.
    const listed = (await (await fetch(`${C.url}/api/runners`, { headers: { cookie: aliceCookie } })).json()) as { runners: Array<Record<string, unknown>> };
    expect(listed.runners.find((r) => r.runnerId === runnerId)).toMatchObject({ name: "alice-devbox", roots: ["/home/alice/src"], sessionCount: 1 });
  });

  it("runs a legacy browser terminal on C against a Socket.IO runner on A (terminal created on B)", async () => {
    const runnerId = "9679a8e5-dfbb-41b3-a235-35ef7dcee564";
    const runner = track(connectRunner(A.url, aliceKey));
    const runnerRec = new Recorder(runner);
    await connected(runner);
    expect(await runner.emitWithAck("register_runner", { runnerId, runnerSecret: "b".repeat(64), name: "alice-devbox", roots: [], skills: [] })).toEqual({ ok: true, runnerId });
    const created = await post(B.url, "/api/runners/terminal", { runnerId, cols: 120, rows: 30 }, aliceCookie);
    expect(created.status).toBe(200);
    const { terminalId } = (await created.json()) as { terminalId: string };

    const term = keep(await LegacyClient.open(C.url, `/ws/terminal/${terminalId}`, { cookie: aliceCookie }));
    expect(await term.next("terminal_connected")).toEqual([{ type: "terminal_connected", terminalId }]);
    term.send({ type: "terminal_resize", cols: 132, rows: 38 });
    expect(await runnerRec.next("new_terminal")).toEqual([{ terminalId, cols: 132, rows: 38 }]);

    runner.emit("terminal_ready", { terminalId, runnerId });
    const chunks = ["YWxpY2VAZGV2Ym94On4kIA==", "bHMNCg==", "UkVBRE1FLm1kDQo="];
    for (const data of chunks) runner.emit("terminal_data", { terminalId, data, runnerId });
    await term.next("terminal_data", chunks.length);
    expect(term.typed("terminal_ready")).toEqual([{ type: "terminal_ready", terminalId, runnerId }]);
    // Opaque base64, in order, byte for byte.
    expect(term.typed("terminal_data")).toEqual(chunks.map((data) => ({ type: "terminal_data", terminalId, data, runnerId })));

    term.send({ type: "terminal_input", data: "bHMN" });
    expect(await runnerRec.next("terminal_input")).toEqual([{ data: "bHMN", terminalId }]);
    term.send({ type: "terminal_resize", cols: 100, rows: 38 });
    expect(await runnerRec.next("terminal_resize")).toEqual([{ cols: 100, rows: 38, terminalId }]);
    term.send({ type: "kill_terminal" });
    expect(await runnerRec.next("kill_terminal")).toEqual([{ terminalId }]);
    runner.emit("terminal_exit", { runnerId, terminalId, exitCode: -1 });
    expect(await term.next("terminal_exit")).toEqual([{ type: "terminal_exit", runnerId, terminalId, exitCode: -1 }]);
    expect(runnerRec.named("new_terminal")).toHaveLength(1);
  });

  it("runs a Socket.IO browser terminal on B against a legacy runner on A (terminal created on C)", async () => {
    const runnerId = "3f6a2b1c-0000-4000-8000-0000000000aa";
    const runner = keep(await legacyRunner(A.url, aliceKey, { runnerId, runnerSecret: "c".repeat(64), name: "alice-laptop", roots: [], skills: [] }));
    const created = await post(C.url, "/api/runners/terminal", { runnerId }, aliceCookie);
    expect(created.status).toBe(200);
    const { terminalId } = (await created.json()) as { terminalId: string };

    const term = track(connectTerminal(B.url, { cookie: aliceCookie }, terminalId));
    const trec = new Recorder(term);
    expect(await trec.next("terminal_connected")).toEqual([{ terminalId }]);
    term.emit("terminal_resize", { cols: 132, rows: 38 });
    expect(await runner.client.next("new_terminal")).toEqual([{ type: "new_terminal", terminalId, cols: 132, rows: 38 }]);

    runner.client.send({ type: "terminal_ready", terminalId, runnerId });
    const chunks = ["YWxpY2VAbGFwdG9wOn4kIA==", "b2sNCg==", "ZG9uZQ0K"];
    for (const data of chunks) runner.client.send({ type: "terminal_data", terminalId, data, runnerId });
    await trec.next("terminal_data", chunks.length);
    expect(trec.named("terminal_ready")).toEqual([{ terminalId, runnerId }]);
    expect(trec.named("terminal_data")).toEqual(chunks.map((data) => ({ terminalId, data, runnerId })));

    term.emit("terminal_input", { data: "bHMN" });
    expect(await runner.client.next("terminal_input")).toEqual([{ type: "terminal_input", data: "bHMN", terminalId }]);
    term.emit("terminal_resize", { cols: 100, rows: 38 });
    expect(await runner.client.next("terminal_resize")).toEqual([{ type: "terminal_resize", cols: 100, rows: 38, terminalId }]);
    term.emit("kill_terminal", {});
    expect(await runner.client.next("kill_terminal")).toEqual([{ type: "kill_terminal", terminalId }]);
    runner.client.send({ type: "terminal_exit", runnerId, terminalId, exitCode: -1 });
    expect(await trec.next("terminal_exit")).toEqual([{ runnerId, terminalId, exitCode: -1 }]);
    expect(runner.client.typed("new_terminal")).toHaveLength(1);
    expect(runner.client.typed("error")).toEqual([]);
  });
});
