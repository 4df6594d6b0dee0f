import { randomUUID } from "node:crypto";
import type { Socket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectCli,
  connectHub,
  connectViewer,
  connected,
  Recorder,
  type CliSocket,
  type HubSocket,
  type ViewerSocket,
  withoutPublishedAt,
} from "../../helpers/clients.js";
import { login, startRelay, type TestRelay } from "../../helpers/relay.js";

/**
 * Viewer-side flows of legacy section 3 (and the CLI side they drive) against one in-process relay in
 * embedded mode, plus ephemeral expiry and CLI disconnect handling (legacy 2.9).
 */

const TRUSTED = "http://relay.test";
const GRACE_MS = 300;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Frame = { event?: Record<string, unknown>; seq?: number; replay?: true };

/** Polls a condition with a short real deadline (for server-side facts no client event announces). */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Untyped view of a typed socket, to send payloads the protocol types forbid. */
const raw = (s: CliSocket | ViewerSocket): Socket => s as unknown as Socket;

interface Harness {
  node: TestRelay;
  key: string;
  cookie: string;
  track<T extends { disconnect(): unknown }>(s: T): T;
  closeAll(): void;
}

function harness(env: Record<string, string>): Harness & { setup(): Promise<void>; teardown(): Promise<void> } {
  const sockets: Array<{ disconnect(): unknown }> = [];
  const h = {
    node: undefined as unknown as TestRelay,
    key: "",
    cookie: "",
    track<T extends { disconnect(): unknown }>(s: T): T {
      sockets.push(s);
      return s;
    },
    closeAll(): void {
      for (const s of sockets.splice(0)) s.disconnect();
    },
    async setup(): Promise<void> {
      h.node = await startRelay(env);
      h.key = (await h.node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
      h.cookie = await login(h.node.url, h.key);
    },
    async teardown(): Promise<void> {
      h.closeAll();
      await h.node.stop();
    },
  };
  return h;
}

async function cliOf(h: Harness, register: Record<string, unknown> = {}): Promise<{ cli: CliSocket; rec: Recorder; sessionId: string; token: string }> {
  const cli = h.track(connectCli(h.node.url, h.key));
  const rec = new Recorder(cli);
  await connected(cli);
  const reply = await cli.emitWithAck("register", { cwd: "/home/alice/proj", sessionName: null, ...register });
  if (!reply.ok) throw new Error(reply.error.message);
  return { cli, rec, sessionId: reply.sessionId, token: reply.token };
}

/** A viewer that got its `connected` (and, for live sessions, whatever snapshot follows it). */
async function viewerOf(h: Harness, sessionId: string, lastSeq?: number): Promise<{ viewer: ViewerSocket; rec: Recorder }> {
  const viewer = h.track(connectViewer(h.node.url, { cookie: h.cookie, origin: TRUSTED }, sessionId, lastSeq));
  const rec = new Recorder(viewer);
  await connected(viewer);
  await rec.next("connected");
  return { viewer, rec };
}

async function hubOf(h: Harness): Promise<{ hub: HubSocket; rec: Recorder }> {
  const hub = h.track(connectHub(h.node.url, { cookie: h.cookie, origin: TRUSTED }));
  const rec = new Recorder(hub);
  await connected(hub);
  await rec.next("sessions");
  return { hub, rec };
}

async function publish(cli: CliSocket, token: string, event: unknown): Promise<number> {
  const reply = await cli.emitWithAck("event", { token, event });
  if (!reply.ok || reply.seq === undefined) throw new Error(`publish failed: ${JSON.stringify(reply)}`);
  return reply.seq;
}

const frames = (rec: Recorder): Frame[] => rec.named<Frame>("event").map(withoutPublishedAt);

/** Hub events about one session (an earlier test's teardown may still announce its own session). */
const about = (rec: Recorder, name: string, sessionId: string) => rec.named<{ sessionId: string }>(name).filter((p) => p.sessionId === sessionId);

const STATE = { messages: [{ role: "user", content: "hi" }], model: { provider: "anthropic", modelId: "claude" }, sessionName: null, cwd: "/w" };
const HEARTBEAT = { type: "heartbeat", active: true, model: { provider: "anthropic", id: "claude", name: "Claude", reasoning: true }, sessionName: null, ts: 1 };

describe("viewer flows", () => {
  const h = harness({ PIZZAPI_RELAY_EVENT_BUFFER_SIZE: "5", PIZZAPI_CLI_RECONNECT_GRACE_MS: String(GRACE_MS) });
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());
  afterEach(() => h.closeAll());

  it("resync re-sends the heartbeat and session_active under the current seq, to the requester only", async () => {
    const { cli, token, sessionId } = await cliOf(h);
    await publish(cli, token, { type: "session_active", state: STATE });
    await publish(cli, token, HEARTBEAT);
    const a = await viewerOf(h, sessionId);
    const b = await viewerOf(h, sessionId);
    await a.rec.next("event", 2);
    await b.rec.next("event", 2);
    const seq = await publish(cli, token, { type: "message_update", n: 1 });
    expect(seq).toBe(3);
    await a.rec.next("event", 3);
    await b.rec.next("event", 3);

    expect(await a.viewer.emitWithAck("resync", {})).toEqual({ ok: true });
    expect(frames(a.rec).slice(3)).toEqual([
      { event: HEARTBEAT, seq: 3, snapshot: true },
      { event: { type: "session_active", state: STATE }, seq: 3, snapshot: true },
    ]);

    // b gets the next live event and nothing before it.
    await publish(cli, token, { type: "marker" });
    await b.rec.next("event", 4);
    expect(frames(b.rec).slice(3)).toEqual([{ event: { type: "marker" }, seq: 4 }]);
  });

  it("resync of a session without a snapshot sends nothing, and still acks", async () => {
    const { cli, token, sessionId } = await cliOf(h);
    const v = await viewerOf(h, sessionId);
    expect(await v.viewer.emitWithAck("resync", {})).toEqual({ ok: true });
    await publish(cli, token, { type: "marker" });
    await v.rec.next("event");
    expect(frames(v.rec)).toEqual([{ event: { type: "marker" }, seq: 1 }]);
  });

  it("forwards a viewer's connected to the CLI as connected with an empty payload", async () => {
    const { rec, sessionId } = await cliOf(h);
    const v = await viewerOf(h, sessionId);
    expect(await v.viewer.emitWithAck("connected", {})).toEqual({ ok: true });
    const [hello] = await rec.next("connected");
    expect(hello).toEqual({});
  });

  it("relays exec to the CLI verbatim and the CLI's exec_result to every viewer verbatim", async () => {
    const { cli, rec, sessionId } = await cliOf(h, { collabMode: true });
    const a = await viewerOf(h, sessionId);
    const b = await viewerOf(h, sessionId);
    const exec = { id: "e1", command: "set_model", provider: "anthropic", modelId: "claude", options: { dryRun: true, list: [1, "x"] } };
    expect(await a.viewer.emitWithAck("exec", exec)).toEqual({ ok: true });
    const [received] = await rec.next("exec");
    expect(received).toEqual(exec);

    const result = { id: "e1", ok: true, command: "set_model", result: { provider: "anthropic" }, extra: "kept", n: 0 };
    expect(await cli.emitWithAck("exec_result", result)).toEqual({ ok: true });
    const [toA] = await a.rec.next("exec_result");
    const [toB] = await b.rec.next("exec_result");
    expect(toA).toEqual(result);
    expect(toB).toEqual(result);
  });

  it("answers a viewer's command for a session that is no longer live not_found, and forwards nothing", async () => {
    const { rec, sessionId } = await cliOf(h, { collabMode: true });
    const a = await viewerOf(h, sessionId);
    const record = await h.node.relay.ctx.state.sessions.get(sessionId);
    // Ended in shared state only (as by another node that has not broadcast yet): the viewer is still here.
    await h.node.relay.ctx.state.sessions.end(sessionId, record?.generation ?? 0, Date.now(), 60_000);
    const notLive = { ok: false, error: { code: "not_found", message: "The session is not live" } };
    expect(await a.viewer.emitWithAck("exec", { id: "e2", command: "abort" })).toEqual(notLive);
    expect(await a.viewer.emitWithAck("input", { text: "hi" })).toEqual(notLive);
    expect(await a.viewer.emitWithAck("model_set", { provider: "p", modelId: "m" })).toEqual(notLive);
    expect(rec.named("exec").length + rec.named("input").length + rec.named("model_set").length).toBe(0);
  });

  it("refuses exec_result from a CLI that has not registered", async () => {
    const cli = h.track(connectCli(h.node.url, h.key));
    await connected(cli);
    const reply = await cli.emitWithAck("exec_result", { id: "e1", ok: false, command: "abort", error: "x" });
    expect(reply).toMatchObject({ ok: false, error: { code: "not_registered" } });
  });

  it("replays an ended session's snapshot to a new viewer, then says so and disconnects it", async () => {
    const { cli, token, sessionId } = await cliOf(h);
    await publish(cli, token, { type: "session_active", state: STATE });
    await publish(cli, token, HEARTBEAT);
    expect(await cli.emitWithAck("session_end", { token })).toEqual({ ok: true });

    const viewer = h.track(connectViewer(h.node.url, { cookie: h.cookie, origin: TRUSTED }, sessionId));
    const rec = new Recorder(viewer);
    await rec.next("$disconnect");
    expect(rec.events).toEqual([
      { name: "connected", payload: { sessionId, replayOnly: true } },
      { name: "event", payload: { event: { type: "session_active", state: STATE }, replay: true } },
      { name: "disconnected", payload: { reason: "Session is no longer live (snapshot replay)." } },
      { name: "$disconnect", payload: "io server disconnect" },
    ]);
  });

  it("answers an ended session without a snapshot like an unknown one", async () => {
    const { cli, token, sessionId } = await cliOf(h);
    await publish(cli, token, HEARTBEAT);
    await cli.emitWithAck("session_end", { token });
    const viewer = h.track(connectViewer(h.node.url, { cookie: h.cookie, origin: TRUSTED }, sessionId));
    const rec = new Recorder(viewer);
    await rec.next("$disconnect");
    expect(rec.events.map((e) => e.name)).toEqual(["connected", "error", "$disconnect"]);
    expect(rec.named("connected")[0]).toEqual({ sessionId, replayOnly: true });
    expect(rec.named("error")[0]).toEqual({ code: "not_found", message: "Session not found" });
  });

  describe("resume by lastSeq (event buffer of 5)", () => {
    async function twentyEvents(): Promise<{ cli: CliSocket; token: string; sessionId: string }> {
      const s = await cliOf(h);
      await publish(s.cli, s.token, { type: "session_active", state: STATE });
      await publish(s.cli, s.token, HEARTBEAT);
      for (let i = 3; i <= 19; i++) s.cli.emit("event", { token: s.token, event: { type: "message_update", i } });
      expect(await publish(s.cli, s.token, { type: "message_update", i: 20 })).toBe(20);
      return s;
    }

    it("falls back to connected without resumedFrom and the snapshot when the log no longer reaches back", async () => {
      const { cli, token, sessionId } = await twentyEvents();
      const v = await viewerOf(h, sessionId, 2);
      const [hello] = v.rec.named("connected");
      expect(hello).toEqual({ sessionId, lastSeq: 20, isActive: true, lastHeartbeatAt: expect.any(String), sessionName: null });
      expect(hello).not.toHaveProperty("resumedFrom");
      await v.rec.next("event", 2);
      await publish(cli, token, { type: "marker" });
      await v.rec.next("event", 3);
      expect(frames(v.rec)).toEqual([
        { event: HEARTBEAT, seq: 20, snapshot: true },
        { event: { type: "session_active", state: STATE }, seq: 20, snapshot: true },
        { event: { type: "marker" }, seq: 21 },
      ]);
      // The join ends with `synced` at the seq the snapshot covers.
      expect(v.rec.named("synced")).toEqual([{ sessionId, lastSeq: 20 }]);
    });

    it("resumes with resumedFrom and exactly the missed events while the log still holds them", async () => {
      const { sessionId } = await twentyEvents();
      const v = await viewerOf(h, sessionId, 17);
      expect(v.rec.named("connected")[0]).toMatchObject({ sessionId, lastSeq: 20, resumedFrom: 17 });
      await v.rec.next("event", 3);
      expect(frames(v.rec)).toEqual([18, 19, 20].map((i) => ({ event: { type: "message_update", i }, seq: i })));
    });

    it("resuming at the current seq sends no events; a lastSeq from the future gets the snapshot", async () => {
      const { cli, token, sessionId } = await twentyEvents();
      const current = await viewerOf(h, sessionId, 20);
      expect(current.rec.named("connected")[0]).toMatchObject({ lastSeq: 20, resumedFrom: 20 });
      const future = await viewerOf(h, sessionId, 99);
      expect(future.rec.named("connected")[0]).not.toHaveProperty("resumedFrom");
      await future.rec.next("event", 2);
      await publish(cli, token, { type: "marker" });
      await current.rec.next("event");
      expect(frames(current.rec)).toEqual([{ event: { type: "marker" }, seq: 21 }]);
    });
  });

  it("stamps server-measured thinking durations on message_end and on the following turn_end", async () => {
    const { cli, token, sessionId } = await cliOf(h);
    const v = await viewerOf(h, sessionId);
    const content = [
      { type: "thinking", thinking: "let me think" },
      { type: "text", text: "answer" },
    ];
    await publish(cli, token, { type: "message_update", assistantMessageEvent: { type: "thinking_start", contentIndex: 0 } });
    await sleep(5); // a measurable interval on the server clock
    await publish(cli, token, { type: "message_update", assistantMessageEvent: { type: "thinking_end", contentIndex: 0 } });
    await publish(cli, token, { type: "message_end", message: { role: "assistant", content } });
    await publish(cli, token, { type: "turn_end", message: { role: "assistant", content }, toolResults: [] });
    await v.rec.next("event", 4);
    const [, , end, turn] = frames(v.rec) as Array<{ event: { message: { content: Array<Record<string, unknown>> } } }>;
    const endBlocks = end?.event.message.content ?? [];
    const turnBlocks = turn?.event.message.content ?? [];
    expect(Number.isInteger(endBlocks[0]?.durationSeconds)).toBe(true);
    expect(endBlocks[0]?.durationSeconds as number).toBeGreaterThanOrEqual(1);
    expect(turnBlocks[0]?.durationSeconds).toBe(endBlocks[0]?.durationSeconds);
    expect(endBlocks[1]).toEqual({ type: "text", text: "answer" });
    expect(turnBlocks[1]).toEqual({ type: "text", text: "answer" });
  });

  it("announces heartbeat changes of active flag, model and name to the hub, and only changes", async () => {
    const hub = await hubOf(h);
    const { cli, token, sessionId } = await cliOf(h);
    await hub.rec.until(() => about(hub.rec, "session_added", sessionId).length > 0, "session_added");
    const beat = (over: Record<string, unknown>) => publish(cli, token, { ...HEARTBEAT, ...over });
    const statuses = () => hub.rec.named<Record<string, unknown>>("session_status");

    await beat({ sessionName: "first" }); // active false→true, model null→claude, name null→first
    await hub.rec.next("session_status", 1);
    await beat({ sessionName: "first", ts: 2, tokenUsage: { input: 5 } }); // only volatile fields differ
    await beat({ sessionName: "first", model: { provider: "anthropic", id: "claude-2", name: "Claude 2" } });
    await hub.rec.next("session_status", 2);
    await beat({ sessionName: "first", model: { provider: "anthropic", id: "claude-2", name: "Renamed display" } }); // same provider/id
    await beat({ sessionName: "first", model: { provider: "anthropic", id: "claude-2" }, active: false });
    await hub.rec.next("session_status", 3);
    const { sessionName: _omit, ...withoutName } = HEARTBEAT;
    await publish(cli, token, { ...withoutName, active: false, model: { provider: "anthropic", id: "claude-2" } }); // no name key: name kept
    await beat({ sessionName: "  second  ", active: false, model: { provider: "anthropic", id: "claude-2" } });
    await hub.rec.next("session_status", 4);
    await beat({ sessionName: "second", active: false, model: { provider: "anthropic", id: "claude-2" } });
    await publish(cli, token, { type: "session_active", state: { ...STATE, sessionName: "third" } }); // state name change
    await hub.rec.next("session_status", 5);

    const seen = statuses();
    expect(seen).toHaveLength(5);
    for (const s of seen) {
      expect(s.sessionId).toBe(sessionId);
      expect(typeof s.lastHeartbeatAt).toBe("string");
    }
    expect(seen.map((s) => [s.isActive, s.model, s.sessionName])).toEqual([
      [true, { provider: "anthropic", id: "claude", name: "Claude" }, "first"],
      [true, { provider: "anthropic", id: "claude-2", name: "Claude 2" }, "first"],
      [false, { provider: "anthropic", id: "claude-2" }, "first"],
      [false, { provider: "anthropic", id: "claude-2" }, "second"],
      [false, { provider: "anthropic", id: "claude-2" }, "third"],
    ]);
  });

  describe("viewer commands and collab mode", () => {
    it("forwards input with normalised attachments, client and deliverAs, and model_set without extra keys", async () => {
      const { rec, sessionId } = await cliOf(h, { collabMode: true });
      const v = await viewerOf(h, sessionId);
      await v.viewer.emitWithAck("input", {
        text: "look at this",
        attachments: [{ attachmentId: "a1", mediaType: "image/png", size: 5 }, 7, { foo: 1 }],
        client: "web",
        deliverAs: "steer",
      });
      await v.viewer.emitWithAck("input", { text: "again", client: 5, deliverAs: "later" });
      await raw(v.viewer).emitWithAck("model_set", { provider: "openai", modelId: "gpt", extra: true });
      await rec.next("model_set");
      expect(rec.named("input")).toEqual([
        { text: "look at this", attachments: [{ attachmentId: "a1", mediaType: "image/png" }], client: "web", deliverAs: "steer" },
        { text: "again", attachments: [] },
      ]);
      expect(rec.named("model_set")).toEqual([{ provider: "openai", modelId: "gpt" }]);
    });

    it("with collabMode false at register: input, model_set and exec are refused as forbidden and not forwarded", async () => {
      const { rec, sessionId } = await cliOf(h, { collabMode: false });
      const v = await viewerOf(h, sessionId);
      const forbidden = { ok: false, error: { code: "forbidden", message: "Collab mode is off for this session" } };
      expect(await v.viewer.emitWithAck("input", { text: "hi" })).toEqual(forbidden);
      expect(await v.viewer.emitWithAck("model_set", { provider: "a", modelId: "b" })).toEqual(forbidden);
      expect(await v.viewer.emitWithAck("exec", { id: "e", command: "abort" })).toEqual(forbidden);
      // Without an ack the refusal arrives as an error event.
      v.viewer.emit("input", { text: "no ack" });
      const [err] = await v.rec.next("error");
      expect(err).toEqual(forbidden.error);
      // `connected` is not a collab command: it still reaches the CLI, after everything above.
      await v.viewer.emitWithAck("connected", {});
      await rec.next("connected");
      expect(rec.events.map((e) => e.name).filter((n) => ["input", "model_set", "exec"].includes(n))).toEqual([]);
    });
  });

  describe("invalid payloads", () => {
    it("are answered through the ack, or an error event without one; the socket stays connected", async () => {
      const { rec: cliRec, sessionId } = await cliOf(h);
      const v = await viewerOf(h, sessionId);
      const withAck = (await raw(v.viewer).emitWithAck("model_set", { provider: 1 })) as { ok: boolean; error: { code: string; message: string } };
      expect(withAck.ok).toBe(false);
      expect(withAck.error.code).toBe("invalid_payload");
      expect(withAck.error.message).toContain("provider");

      raw(v.viewer).emit("exec", { id: 7 });
      const [err] = await v.rec.next<{ code: string; message: string }>("error");
      expect(err?.code).toBe("invalid_payload");
      expect(err?.message).toContain("command");

      expect(v.viewer.connected).toBe(true);
      expect(await v.viewer.emitWithAck("connected", {})).toEqual({ ok: true });
      await cliRec.next("connected");
      expect(cliRec.named("exec")).toEqual([]);
      expect(cliRec.named("model_set")).toEqual([]);
    });

    it("on /relay too: a bad register without an ack gets an error event, and a good one still works", async () => {
      const cli = h.track(connectCli(h.node.url, h.key));
      const rec = new Recorder(cli);
      await connected(cli);
      raw(cli).emit("register", { cwd: 5, ephemeral: "no" });
      const [err] = await rec.next<{ code: string; message: string }>("error");
      expect(err?.code).toBe("invalid_payload");
      expect(err?.message).toContain("cwd");
      expect(err?.message).toContain("ephemeral");
      expect(rec.named("registered")).toEqual([]);
      const reply = await cli.emitWithAck("register", { cwd: "/ok" });
      expect(reply.ok).toBe(true);
    });
  });

  describe("CLI disconnects", () => {
    it("an explicit disconnect ends the session at once", async () => {
      const hub = await hubOf(h);
      const { cli, sessionId } = await cliOf(h);
      const v = await viewerOf(h, sessionId);
      cli.disconnect();
      const [bye] = await v.rec.next("disconnected");
      expect(bye).toEqual({ reason: "Session ended" });
      await v.rec.next("$disconnect");
      await hub.rec.until(() => about(hub.rec, "session_removed", sessionId).length > 0, "session_removed");
      expect(about(hub.rec, "session_removed", sessionId)).toEqual([{ sessionId }]);
      expect((await h.node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(false);
    });

    it(`a dropped transport ends the session only after the ${GRACE_MS} ms grace`, async () => {
      const hub = await hubOf(h);
      const { cli, sessionId } = await cliOf(h);
      const v = await viewerOf(h, sessionId);
      const id = cli.id ?? "";
      cli.io.engine.close();
      await waitFor(() => !h.node.relay.ctx.relay.sockets.has(id), "the server to see the transport close");
      // The server has seen the loss; the grace has just started.
      expect(v.rec.named("disconnected")).toEqual([]);
      expect(about(hub.rec, "session_removed", sessionId)).toEqual([]);
      expect((await h.node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(true);

      const [bye] = await v.rec.next("disconnected", 1, 3_000);
      expect(bye).toEqual({ reason: "Session ended" });
      await hub.rec.until(() => about(hub.rec, "session_removed", sessionId).length > 0, "session_removed");
      expect((await h.node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(false);
    });

    it("a dropped transport does not end the session if the CLI re-registered the same id meanwhile", async () => {
      const hub = await hubOf(h);
      const sessionId = `edge-${randomUUID()}`;
      const first = await cliOf(h, { sessionId });
      expect(first.sessionId).toBe(sessionId);
      await hub.rec.until(() => about(hub.rec, "session_added", sessionId).length > 0, "session_added");
      const v = await viewerOf(h, sessionId);
      const id = first.cli.id ?? "";
      first.cli.io.engine.close();
      await waitFor(() => !h.node.relay.ctx.relay.sockets.has(id), "the server to see the transport close");

      const second = await cliOf(h, { sessionId });
      expect(second.sessionId).toBe(sessionId);
      await sleep(GRACE_MS * 2); // the first connection's grace runs out meanwhile

      expect(v.rec.named("disconnected")).toEqual([]);
      expect(v.viewer.connected).toBe(true);
      expect(about(hub.rec, "session_removed", sessionId)).toEqual([]);
      expect(about(hub.rec, "session_added", sessionId)).toHaveLength(1); // a reconnect, not a new session
      expect((await h.node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(true);
      await publish(second.cli, second.token, { type: "after_reconnect" });
      const events = await v.rec.next("event");
      expect(events.at(-1)).toMatchObject({ event: { type: "after_reconnect" } });
    });
  });
});

describe("ephemeral expiry (short TTL, manual sweep)", () => {
  const TTL_MS = 300;
  const h = harness({ PIZZAPI_EPHEMERAL_TTL_MS: String(TTL_MS), PIZZAPI_EPHEMERAL_SWEEP_MS: "600000" });
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());
  afterEach(() => h.closeAll());

  // The session record's TTL equals the ephemeral TTL (sessionTtl() in server/sessions/context.ts), so
  // the record is dropped from shared state at the very moment it expires, and listExpired() can never
  // list it: the sweep ends nothing and nobody is told.
  it("an idle ephemeral session expires at the sweep: CLI session_expired, viewer disconnected, hub session_removed", async () => {
    const hub = await hubOf(h);
    const { rec: cliRec, sessionId } = await cliOf(h);
    const v = await viewerOf(h, sessionId);
    await sleep(TTL_MS + 100);

    expect(await h.node.relay.sweepExpired()).toBe(1);
    const [expired] = await cliRec.next("session_expired");
    expect(expired).toEqual({ sessionId });
    await cliRec.next("$disconnect");
    const [bye] = await v.rec.next("disconnected");
    expect(bye).toEqual({ reason: "Session expired" });
    await hub.rec.until(() => about(hub.rec, "session_removed", sessionId).length > 0, "session_removed");
  });

  it("a session that keeps publishing does not expire", async () => {
    const hub = await hubOf(h);
    const { cli, token, sessionId } = await cliOf(h);
    const v = await viewerOf(h, sessionId);
    for (let i = 0; i < 8; i++) {
      await publish(cli, token, { type: "heartbeat", active: true, i });
      await sleep(TTL_MS / 6);
    }
    // Well past the TTL since registration and since the viewer joined, but not since the last event.
    expect(await h.node.relay.sweepExpired()).toBe(0);
    const record = await h.node.relay.ctx.state.sessions.get(sessionId);
    expect(record?.live).toBe(true);
    expect(await publish(cli, token, { type: "still_here" })).toBe(9);
    await v.rec.next("event", 9);
    expect(v.rec.named("disconnected")).toEqual([]);
    expect(about(hub.rec, "session_removed", sessionId)).toEqual([]);
    const fresh = await hubOf(h);
    const [list] = fresh.rec.named<{ sessions: Array<{ sessionId: string; isEphemeral: boolean; expiresAt: string | null }> }>("sessions");
    const item = list?.sessions.find((s) => s.sessionId === sessionId);
    expect(item?.isEphemeral).toBe(true);
    expect(Date.parse(item?.expiresAt ?? "")).toBeGreaterThan(Date.now());
  });
});
