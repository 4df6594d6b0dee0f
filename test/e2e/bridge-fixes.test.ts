import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { connectCli, connectRunner, connectViewer, connected, Recorder } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { ackedUpTo, legacyCli, legacyEventSeqs, legacyRunner, refusedUpgrade, sendLegacyEvents, sleep } from "../helpers/legacy-flows.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/**
 * What the bridge fixes (docs/legacy-protocol.md section 14), each test failing against the legacy relay's
 * behaviour (section 13), and the legacy answers it must keep (sections 0, 1 and 9) byte for byte.
 * In-process relays (embedded mode) where a node suffices; process nodes over Redis for the
 * cross-node stale close and the cross-node refused-viewer race.
 */

const TRUSTED_ORIGIN = "http://relay.test";
const RUNNER_TOKEN = "legacy-shared-runner-token-0123456789";

const legacy: LegacyClient[] = [];
const sockets: Array<{ disconnect(): void }> = [];
const keep = <T extends { client: LegacyClient } | LegacyClient>(c: T): T => (legacy.push(c instanceof LegacyClient ? c : c.client), c);
const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);
/** Closes every client opened so far (each describe's relays stop after their clients are gone). */
function closeClients(): void {
  for (const c of legacy.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.disconnect();
}

const post = (url: string, path: string, body: unknown, cookie: string) =>
  fetch(`${url}${path}`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify(body) });

describe("one node: section 14 fixes and preserved legacy answers", () => {
  let node: TestRelay;
  let aliceKey: string, bobKey: string, aliceCookie: string, bobCookie: string;

  beforeAll(async () => {
    node = await startRelay({ PIZZAPI_RUNNER_TOKEN: RUNNER_TOKEN, PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS: "300" });
    aliceKey = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    bobKey = (await node.relay.ctx.state.keys.create({ userId: "bob", userName: "Bob" })).key;
    aliceCookie = await login(node.url, aliceKey);
    bobCookie = await login(node.url, bobKey);
  });
  afterAll(async () => {
    closeClients();
    await node?.stop();
  });

  describe("fixes", () => {
    it("answers another user's live session id exactly like an unknown id, and leaks none of its events", async () => {
      const alice = keep(await legacyCli(node.url, aliceKey));
      sendLegacyEvents(alice, [{ type: "session_active", state: { messages: [], sessionName: "secret plan" } }, { type: "heartbeat", active: true, sessionName: "secret plan" }]);
      const own = keep(await LegacyClient.open(node.url, `/ws/sessions/${alice.sessionId}`, { cookie: aliceCookie }));
      await own.next("event", 2); // alice's own viewer gets the snapshot: the session has content to leak

      const bobs = keep(await LegacyClient.open(node.url, `/ws/sessions/${alice.sessionId}`, { cookie: bobCookie }));
      // Alice keeps publishing while bob's viewer is being answered.
      sendLegacyEvents(alice, Array.from({ length: 5 }, (_, i) => ({ type: "message_update", n: i })), 3);
      const bobClose = await bobs.closedWith();
      const unknownId = "de6ec718-e553-4ae4-a3d0-17592c71989c";
      const unknown = keep(await LegacyClient.open(node.url, `/ws/sessions/${unknownId}`, { cookie: bobCookie }));
      const unknownClose = await unknown.closedWith();

      expect(unknown.frames).toEqual([
        { type: "connected", sessionId: unknownId, replayOnly: true },
        { type: "error", message: "Session not found" },
      ]);
      expect(unknownClose).toEqual({ code: 1008, reason: "Session not found" });
      expect(bobs.frames).toEqual([
        { type: "connected", sessionId: alice.sessionId, replayOnly: true },
        { type: "error", message: "Session not found" },
      ]);
      expect(bobClose).toEqual(unknownClose);
      // The events went out (alice's viewer has them), and none reached bob.
      await own.next("event", 7);
      expect(legacyEventSeqs(own).slice(2)).toEqual([3, 4, 5, 6, 7]);
      // Bob's hub does not list it either.
      const bobHub = keep(await LegacyClient.open(node.url, "/ws/hub", { cookie: bobCookie }));
      const [list] = await bobHub.next("sessions");
      expect((list?.sessions as Array<{ sessionId: string }>).map((s) => s.sessionId)).not.toContain(alice.sessionId);
    });

    it("gives another user's re-register of a live id a fresh id: the owner's viewers and hub see nothing happen", async () => {
      const aliceHub = keep(await LegacyClient.open(node.url, "/ws/hub", { cookie: aliceCookie }));
      await aliceHub.next("sessions");
      const alice = keep(await legacyCli(node.url, aliceKey));
      await aliceHub.until(() => aliceHub.typed("session_added").some((f) => f.sessionId === alice.sessionId), "session_added");
      const legacyViewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${alice.sessionId}`, { cookie: aliceCookie }));
      const nativeViewer = track(connectViewer(node.url, { cookie: aliceCookie }, alice.sessionId));
      const rec = new Recorder(nativeViewer);
      await legacyViewer.next("connected");
      await rec.next("connected");

      const bob = keep(await legacyCli(node.url, bobKey, { sessionId: alice.sessionId, cwd: "/home/bob" }));
      expect(bob.sessionId).not.toBe(alice.sessionId);
      const [registered] = bob.client.typed("registered");
      expect(registered).toEqual({
        type: "registered",
        sessionId: bob.sessionId,
        token: expect.stringMatching(/^[0-9a-f]{64}$/),
        shareUrl: `http://relay.test/session/${bob.sessionId}`,
        isEphemeral: true,
        collabMode: true,
      });

      // Bob's session is his own: events he publishes reach nobody of alice's.
      sendLegacyEvents(bob, [{ type: "message_update", from: "bob" }]);
      await ackedUpTo(bob, 1);
      // Alice's CLI keeps publishing under its token; her viewers get every event, nothing else.
      sendLegacyEvents(alice, [{ type: "agent_start" }, { type: "message_update", n: 1 }, { type: "agent_end", messages: [] }]);
      await ackedUpTo(alice, 3);
      await legacyViewer.next("event", 3);
      await rec.next("event", 3);
      expect(legacyViewer.typed("event").map((f) => [f.seq, (f.event as { type: string }).type])).toEqual([[1, "agent_start"], [2, "message_update"], [3, "agent_end"]]);
      expect(rec.named<{ seq: number }>("event").map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(alice.client.typed("error")).toEqual([]);
      expect(legacyViewer.typed("disconnected")).toEqual([]);
      expect(legacyViewer.closed).toBeNull();
      expect(rec.named("disconnected")).toEqual([]);
      expect(nativeViewer.connected).toBe(true);
      expect(aliceHub.typed("session_removed")).toEqual([]);
      expect(aliceHub.typed("session_added").map((f) => f.sessionId)).not.toContain(bob.sessionId);
    });

    it("refuses a cookie upgrade from an untrusted Origin with 403 before any WebSocket opens; the trusted origin and no Origin open", async () => {
      const alice = keep(await legacyCli(node.url, aliceKey));
      const runnerId = "0d6a5b7e-1111-4000-8000-00000000f00d";
      const runner = track(connectRunner(node.url, aliceKey));
      await connected(runner);
      await runner.emitWithAck("register_runner", { runnerId, runnerSecret: "e".repeat(64) });
      const created = await post(node.url, "/api/runners/terminal", { runnerId }, aliceCookie);
      const { terminalId } = (await created.json()) as { terminalId: string };

      const endpoints: Array<[string, string]> = [
        [`/ws/sessions/${alice.sessionId}`, "connected"],
        ["/ws/hub", "sessions"],
        [`/ws/terminal/${terminalId}`, "terminal_connected"],
      ];
      for (const [path] of endpoints) {
        expect(await refusedUpgrade(node.url, path, { cookie: aliceCookie, origin: "https://evil.example" })).toEqual({ status: 403, body: "Forbidden: untrusted Origin" });
      }
      for (const [path, first] of endpoints) {
        const accepted: Array<Record<string, string>> = [{ cookie: aliceCookie, origin: TRUSTED_ORIGIN }, { cookie: aliceCookie }];
        for (const headers of accepted) {
          const client = keep(await LegacyClient.open(node.url, path, headers));
          expect((await client.next(first))[0]).toBeDefined();
          client.close();
        }
      }
    });

    it("drops runner frames for ids the runner does not own, with an error to that runner", async () => {
      const ownerId = "11111111-aaaa-4000-8000-000000000001";
      const owner = track(connectRunner(node.url, aliceKey));
      const ownerRec = new Recorder(owner);
      await connected(owner);
      expect(await owner.emitWithAck("register_runner", { runnerId: ownerId, runnerSecret: "1".repeat(64), roots: [] })).toEqual({ ok: true, runnerId: ownerId });
      // Another runner of the same user, on the legacy endpoint.
      const intruder = keep(await legacyRunner(node.url, aliceKey, { runnerId: "22222222-bbbb-4000-8000-000000000002", runnerSecret: "2".repeat(64) }));
      const errors = () => intruder.client.typed("error");

      // 1. terminal_data / terminal_exit for the owner's terminal.
      const { terminalId } = (await (await post(node.url, "/api/runners/terminal", { runnerId: ownerId }, aliceCookie)).json()) as { terminalId: string };
      const term = keep(await LegacyClient.open(node.url, `/ws/terminal/${terminalId}`, { cookie: aliceCookie }));
      await term.next("terminal_connected");
      term.send({ type: "terminal_resize", cols: 80, rows: 24 });
      await ownerRec.next("new_terminal");
      intruder.client.send({ type: "terminal_data", terminalId, data: "cm0gLXJmIH4K", runnerId: intruder.runnerId });
      intruder.client.send({ type: "terminal_exit", terminalId, exitCode: 0, runnerId: intruder.runnerId });
      await intruder.client.next("error", 2);
      expect(errors()).toEqual([
        { type: "error", message: `Unknown terminal: ${terminalId}` },
        { type: "error", message: `Unknown terminal: ${terminalId}` },
      ]);
      owner.emit("terminal_data", { terminalId, data: "b2s=", runnerId: ownerId });
      await term.next("terminal_data");
      expect(term.typed("terminal_data")).toEqual([{ type: "terminal_data", terminalId, data: "b2s=", runnerId: ownerId }]);
      expect(term.typed("terminal_exit")).toEqual([]);

      // 2. session_ready for a session spawned on the owner: the REST waiter keeps waiting for the owner.
      let settled = false;
      const spawning = post(node.url, "/api/runners/spawn", { runnerId: ownerId }, aliceCookie).then((res) => ((settled = true), res));
      const [{ sessionId } = { sessionId: "" }] = await ownerRec.next<{ sessionId: string }>("new_session");
      intruder.client.send({ type: "session_ready", runnerId: intruder.runnerId, sessionId });
      await intruder.client.next("error", 3);
      expect(errors()[2]).toEqual({ type: "error", message: `Unknown session: ${sessionId}` });
      await sleep(150);
      expect(settled).toBe(false);
      owner.emit("session_ready", { runnerId: ownerId, sessionId });
      const spawned = await spawning;
      expect(await spawned.json()).toEqual({ ok: true, runnerId: ownerId, sessionId, pending: false });

      // 3. The spawned session goes live, linked to the owner; a viewer watches it.
      const worker = track(connectCli(node.url, aliceKey));
      await connected(worker);
      expect(await worker.emitWithAck("register", { sessionId, cwd: "/w" })).toMatchObject({ ok: true, sessionId });
      const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${sessionId}`, { cookie: aliceCookie }));
      await viewer.next("connected");
      intruder.client.send({ type: "runner_session_event", sessionId, event: { type: "session_started", model: { provider: "x", modelId: "y" } } });
      intruder.client.send({ type: "session_ready", runnerId: intruder.runnerId, sessionId });
      await intruder.client.next("error", 5);
      expect(errors().slice(3)).toEqual([
        { type: "error", message: `Unknown session: ${sessionId}` },
        { type: "error", message: `Unknown session: ${sessionId}` },
      ]);
      // The owner's frames do reach the viewer (a restarted worker's session_ready, an old-generation event).
      owner.emit("session_ready", { runnerId: ownerId, sessionId });
      await viewer.next("session_ready");
      owner.emit("runner_session_event", { sessionId, event: { type: "session_started", model: { provider: "anthropic", modelId: "claude" } } });
      await viewer.next("event");
      expect(viewer.frames.slice(1)).toEqual([
        { type: "session_ready", runnerId: ownerId, sessionId },
        { type: "event", event: { type: "session_started", model: { provider: "anthropic", modelId: "claude" } }, seq: 1 },
      ]);
      expect(intruder.client.closed).toBeNull();
    });
  });

  describe("legacy answers kept", () => {
    it("refuses upgrades with the legacy status codes and bodies", async () => {
      const cases: Array<[string, Record<string, string>, number, string]> = [
        ["/ws/sessions", {}, 401, "Missing API key (x-api-key header)"],
        ["/ws/sessions", { "x-api-key": "0".repeat(64) }, 401, "Invalid or expired API key"],
        ["/ws/sessions/", { cookie: aliceCookie }, 400, "Missing session ID"],
        ["/ws/terminal/", { cookie: aliceCookie }, 400, "Missing terminal ID"],
        // The auth check runs before the id check.
        ["/ws/sessions/", {}, 401, "Unauthorized"],
        ["/ws/sessions/some-id", {}, 401, "Unauthorized"],
        ["/ws/sessions/some-id", { cookie: "pizzapi_session=forged" }, 401, "Unauthorized"],
        ["/ws/terminal/some-id", {}, 401, "Unauthorized"],
        ["/ws/hub", {}, 401, "Unauthorized"],
        ["/ws/runner", {}, 401, "Unauthorized"],
        ["/ws/runner", { authorization: "Bearer not-the-token" }, 401, "Unauthorized"],
        ["/ws/runner", { "x-api-key": "0".repeat(64) }, 401, "Invalid or expired API key"],
        ["/ws/nope", { "x-api-key": aliceKey }, 404, JSON.stringify({ error: "Not found" })],
      ];
      for (const [path, headers, status, body] of cases) {
        expect({ path, headers, ...(await refusedUpgrade(node.url, path, headers)) }).toEqual({ path, headers, status, body });
      }
    });

    it("replays an ended session's snapshot to its owner's legacy viewer, then closes 1000 \"Snapshot replay complete\"", async () => {
      const cli = keep(await legacyCli(node.url, aliceKey));
      const state = { messages: [{ role: "user", content: "hello" }], sessionName: "done" };
      sendLegacyEvents(cli, [{ type: "session_active", state }]);
      await ackedUpTo(cli, 1);
      cli.client.send({ type: "session_end", sessionId: cli.sessionId, token: cli.token });
      const hub = keep(await LegacyClient.open(node.url, "/ws/hub", { cookie: aliceCookie }));
      await hub.until(() => {
        const list = hub.typed("sessions")[0]?.sessions as Array<{ sessionId: string }> | undefined;
        return list !== undefined && !list.some((s) => s.sessionId === cli.sessionId);
      }, "the ended session out of the hub list");
      const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { cookie: aliceCookie }));
      expect(await viewer.closedWith()).toEqual({ code: 1000, reason: "Snapshot replay complete" });
      expect(viewer.frames).toEqual([
        { type: "connected", sessionId: cli.sessionId, replayOnly: true },
        { type: "event", event: { type: "session_active", state }, replay: true },
        { type: "disconnected", reason: "Session is no longer live (snapshot replay)." },
      ]);
      // Bob gets the unknown-id answer for it, not the snapshot.
      const bobs = keep(await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { cookie: bobCookie }));
      expect(await bobs.closedWith()).toEqual({ code: 1008, reason: "Session not found" });
      expect(bobs.frames.map((f) => f.type)).toEqual(["connected", "error"]);
    });

    it("refuses a runner id with the wrong secret, or another user's, with the legacy error frame and close 1008", async () => {
      const runnerId = "33333333-cccc-4000-8000-000000000003";
      const secret = "3".repeat(64);
      keep(await legacyRunner(node.url, aliceKey, { runnerId, runnerSecret: secret, name: "alice-box" }));
      const message = `Runner authentication failed: secret mismatch for runner ${runnerId}`;
      for (const [apiKey, runnerSecret] of [[aliceKey, "4".repeat(64)], [bobKey, secret]] as const) {
        const thief = keep(await LegacyClient.open(node.url, "/ws/runner", { "x-api-key": apiKey }));
        thief.send({ type: "register_runner", runnerId, runnerSecret });
        expect(await thief.closedWith()).toEqual({ code: 1008, reason: message });
        expect(thief.frames).toEqual([{ type: "error", message }]);
      }
    });

    it("refuses another user's legacy terminal with terminal_error Forbidden and close 1008, leaving the owner's attached", async () => {
      const runnerId = "44444444-dddd-4000-8000-000000000004";
      const runner = track(connectRunner(node.url, aliceKey));
      await connected(runner);
      await runner.emitWithAck("register_runner", { runnerId, runnerSecret: "5".repeat(64) });
      const { terminalId } = (await (await post(node.url, "/api/runners/terminal", { runnerId }, aliceCookie)).json()) as { terminalId: string };
      const own = keep(await LegacyClient.open(node.url, `/ws/terminal/${terminalId}`, { cookie: aliceCookie }));
      await own.next("terminal_connected");
      const bobs = keep(await LegacyClient.open(node.url, `/ws/terminal/${terminalId}`, { cookie: bobCookie }));
      expect(await bobs.closedWith()).toEqual({ code: 1008, reason: "Forbidden" });
      expect(bobs.frames).toEqual([{ type: "terminal_error", terminalId, message: "Forbidden" }]);
      const unknown = keep(await LegacyClient.open(node.url, "/ws/terminal/no-such-terminal", { cookie: aliceCookie }));
      expect(await unknown.closedWith()).toEqual({ code: 1008, reason: "Terminal not found" });
      expect(unknown.frames).toEqual([{ type: "terminal_error", terminalId: "no-such-terminal", message: "Terminal not found" }]);
      runner.emit("terminal_data", { terminalId, data: "c3RpbGwgaGVyZQ==", runnerId });
      expect(await own.next("terminal_data")).toEqual([{ type: "terminal_data", terminalId, data: "c3RpbGwgaGVyZQ==", runnerId }]);
    });

    it("routes on the pathname only: the query string is ignored, the id suffix is raw (not decoded, may hold '/')", async () => {
      const cli = keep(await LegacyClient.open(node.url, "/ws/sessions?client=pizzapi&v=0.1.0", { "x-api-key": aliceKey }));
      cli.send({ type: "register", cwd: "/q" });
      expect((await cli.next("registered"))[0]).toMatchObject({ type: "registered", isEphemeral: true, collabMode: true });
      const hub = keep(await LegacyClient.open(node.url, "/ws/hub?reconnect=1", { cookie: aliceCookie }));
      await hub.next("sessions");
      for (const id of ["a%20b", "team/alpha"]) {
        const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${id}?x=1`, { cookie: aliceCookie }));
        await viewer.closedWith();
        expect(viewer.frames[0]).toEqual({ type: "connected", sessionId: id, replayOnly: true });
      }
    });

    it("accepts an old runner with the shared Bearer token: register_runner {} gets a fresh id, owned by no user", async () => {
      const runner = keep(await LegacyClient.open(node.url, "/ws/runner", { authorization: `Bearer ${RUNNER_TOKEN}` }));
      runner.send({ type: "register_runner" });
      const [registered] = await runner.next("runner_registered");
      expect(registered).toEqual({ type: "runner_registered", runnerId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      // An empty x-api-key counts as absent: the Bearer path applies (legacy 1).
      const again = keep(await LegacyClient.open(node.url, "/ws/runner", { "x-api-key": "", authorization: `Bearer ${RUNNER_TOKEN}` }));
      again.send({ type: "register_runner" });
      expect((await again.next("runner_registered"))[0]?.runnerId).not.toBe(registered?.runnerId);
      const spawn = await post(node.url, "/api/runners/spawn", { runnerId: registered?.runnerId }, aliceCookie);
      expect(spawn.status).toBe(403);
      expect(await spawn.json()).toEqual({ error: "Runner is not associated with a user" });
    });

    it("answers invalid JSON with an error frame and stays open; ignores unknown types; reads binary frames as text", async () => {
      const cli = keep(await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": aliceKey }));
      cli.send("{not json");
      expect(await cli.next("error")).toEqual([{ type: "error", message: "Invalid JSON" }]);
      cli.send({ type: "bogus", sessionId: "x" });
      cli.send({ type: "command", text: "ls" });
      cli.ws.send(Buffer.from(JSON.stringify({ type: "register", cwd: "/bin", collabMode: true, sessionName: null })), { binary: true });
      const [registered] = await cli.next("registered");
      expect(cli.frames.map((f) => f.type)).toEqual(["error", "registered"]);
      // Event before/with a wrong token: the legacy `Invalid token` error frame, still open.
      cli.send({ type: "event", sessionId: registered?.sessionId, token: "f".repeat(64), event: { type: "agent_start" }, seq: 1 });
      expect((await cli.next("error", 2))[1]).toEqual({ type: "error", message: "Invalid token" });
      expect(cli.closed).toBeNull();

      const hub = keep(await LegacyClient.open(node.url, "/ws/hub", { cookie: aliceCookie }));
      await hub.next("sessions");
      hub.send("]]");
      expect(await hub.next("error")).toEqual([{ type: "error", message: "Invalid JSON" }]);
      expect(hub.closed).toBeNull();
    });

    it("accepts multi-MiB frames and closes a frame over 16 MiB with 1009", async () => {
      const cli = keep(await legacyCli(node.url, aliceKey));
      const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { cookie: aliceCookie }));
      await viewer.next("connected");
      const big = "x".repeat(3 * 1024 * 1024);
      sendLegacyEvents(cli, [{ type: "session_active", state: { messages: [{ role: "user", content: big }] } }]);
      await ackedUpTo(cli, 1);
      const [frame] = await viewer.next("event");
      expect((frame?.event as { state: { messages: Array<{ content: string }> } }).state.messages[0]?.content).toHaveLength(big.length);

      cli.client.ws.on("error", () => undefined);
      cli.client.ws.send(Buffer.alloc(16 * 1024 * 1024 + 1, 0x20));
      expect((await cli.client.closedWith(10_000)).code).toBe(1009);
    });

    it("closes a /ws/sessions or /ws/runner client that sends nothing with 1008 after the first-frame timeout", async () => {
      const started = Date.now();
      const silentCli = keep(await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": aliceKey }));
      const silentRunner = keep(await LegacyClient.open(node.url, "/ws/runner", { "x-api-key": aliceKey }));
      expect((await silentCli.closedWith()).code).toBe(1008);
      expect((await silentRunner.closedWith()).code).toBe(1008);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      // A client that registers in time stays.
      const talker = keep(await legacyCli(node.url, aliceKey));
      await sleep(450);
      expect(talker.client.closed).toBeNull();
    });
  });
});

describe("ephemeral expiry (short TTL)", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  beforeAll(async () => {
    node = await startRelay({ PIZZAPI_EPHEMERAL_TTL_MS: "400", PIZZAPI_EPHEMERAL_SWEEP_MS: "100" });
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    cookie = await login(node.url, key);
  });
  afterAll(async () => {
    closeClients();
    await node?.stop();
  });

  it("sends an idle legacy CLI session_expired and closes it 1001; its legacy viewer gets disconnected and close 1000", async () => {
    const cli = keep(await legacyCli(node.url, key));
    const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { cookie }));
    await viewer.next("connected");
    expect(await cli.client.closedWith()).toEqual({ code: 1001, reason: "Session expired" });
    expect(cli.client.frames.map((f) => f.type)).toEqual(["registered", "session_expired"]);
    expect(cli.client.typed("session_expired")).toEqual([{ type: "session_expired", sessionId: cli.sessionId }]);
    expect(await viewer.closedWith()).toEqual({ code: 1000, reason: "Session expired" });
    expect(viewer.typed("disconnected")).toEqual([{ type: "disconnected", reason: "Session expired" }]);
  });
});

describe("PIZZAPI_LEGACY_WS=off", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  beforeAll(async () => {
    node = await startRelay({ PIZZAPI_LEGACY_WS: "off" });
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    cookie = await login(node.url, key);
  });
  afterAll(async () => {
    closeClients();
    await node?.stop();
  });

  it("answers every /ws/* upgrade 410 with a body telling the user to upgrade; Socket.IO still works", async () => {
    const headers = { "x-api-key": key, cookie };
    for (const path of ["/ws/sessions", "/ws/sessions/abc", "/ws/runner", "/ws/terminal/abc", "/ws/hub", "/ws/nope"]) {
      const answer = await refusedUpgrade(node.url, path, headers);
      expect(answer.status).toBe(410);
      expect(answer.body).toMatch(/upgrade/i);
      expect(answer.body).toMatch(/legacy \/ws\//);
    }
    const cli = track(connectCli(node.url, key));
    await connected(cli);
    expect(await cli.emitWithAck("register", { cwd: "/x" })).toMatchObject({ ok: true });
  });
});

describe("three nodes over Redis", () => {
  let redis: TestRedis;
  let A: NodeProcess, B: NodeProcess, C: NodeProcess;
  let key: string, cookie: string, bobCookie: string;
  let closeState: () => Promise<void>;
  const GRACE_MS = 300;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    [A, B, C] = (await Promise.all(
      ["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env: { PIZZAPI_CLI_RECONNECT_GRACE_MS: String(GRACE_MS) } })),
    )) as [NodeProcess, NodeProcess, NodeProcess];
    await awaitMesh([A, B, C]);
    const shared = await clusterState(redis.url, prefix);
    closeState = shared.close;
    key = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    cookie = await login(C.url, key);
    bobCookie = await login(B.url, (await shared.state.keys.create({ userId: "bob", userName: "Bob" })).key);
  });
  afterAll(async () => {
    closeClients();
    await Promise.all([A, B, C].filter(Boolean).map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  it.each([
    ["closes", false, "legacy"],
    ["sends session_end with its old token, then closes", true, "legacy"],
    ["sends session_end with its old token, then closes (successor on Socket.IO)", true, "native"],
  ] as const)("a replaced connection's late end or close never tears down its successor: the old legacy connection on A %s after the CLI re-registered on B", async (_what, endFirst, successor) => {
    const old = keep(await legacyCli(A.url, key));
    const { sessionId } = old;
    const hub = keep(await LegacyClient.open(C.url, "/ws/hub", { cookie }));
    await hub.next("sessions");
    const viewer = keep(await LegacyClient.open(C.url, `/ws/sessions/${sessionId}`, { cookie }));
    await viewer.next("connected");

    // The CLI comes back on B while its connection on A is still open: a reconnect, same session.
    let publish: (n: number) => Promise<void>;
    if (successor === "legacy") {
      const next = keep(await legacyCli(B.url, key, { sessionId }));
      expect(next.sessionId).toBe(sessionId);
      expect(next.token).not.toBe(old.token);
      publish = async (n) => {
        sendLegacyEvents(next, Array.from({ length: n }, (_, i) => ({ type: "message_update", n: i + 1 })));
        await ackedUpTo(next, n);
      };
    } else {
      const next = track(connectCli(B.url, key));
      await connected(next);
      const reg = await next.emitWithAck("register", { sessionId, cwd: "/home/alice/proj" });
      expect(reg).toMatchObject({ ok: true, sessionId });
      if (!reg.ok) return;
      publish = async (n) => {
        for (let i = 0; i < n; i++) expect(await next.emitWithAck("event", { token: reg.token, seq: i + 1, event: { type: "message_update", n: i + 1 } })).toMatchObject({ ok: true });
      };
    }

    // The replaced connection's frames are refused (legacy: `Invalid token`, which the CLI ignores).
    sendLegacyEvents(old, [{ type: "agent_start" }]);
    expect(await old.client.next("error")).toEqual([{ type: "error", message: "Invalid token" }]);
    if (endFirst) old.client.send({ type: "session_end", sessionId, token: old.token });
    old.client.close();
    await old.client.closedWith();
    await sleep(GRACE_MS + 400);

    await publish(3);
    await viewer.next("event", 3);
    expect(legacyEventSeqs(viewer)).toEqual([1, 2, 3]);
    expect(viewer.typed("event").map((f) => (f.event as { n: number }).n)).toEqual([1, 2, 3]);
    expect(viewer.typed("disconnected")).toEqual([]);
    expect(viewer.closed).toBeNull();
    expect(hub.typed("session_removed")).toEqual([]);
    const listed = (await (await fetch(`${A.url}/api/sessions`, { headers: { cookie } })).json()) as { sessions: Array<{ sessionId: string }> };
    expect(listed.sessions.map((s) => s.sessionId)).toContain(sessionId);
  });

  /*
   * BUG (server/namespaces/viewer-join.ts, joinViewer): the viewer socket joins `session:{id}` BEFORE the
   * ownership check (`view.record.userId !== userId`), which needs a Redis round trip. Every event the
   * session's CLI publishes during that round trip reaches the other user's viewer: a legacy viewer gets
   * them as `event` frames between `connected {replayOnly:true}` and `error "Session not found"` (the
   * bridge holds them until `connected`, then flushes them), a Socket.IO viewer gets them before
   * `connected`. Existence and content leak (docs/legacy-protocol.md 14: "anyone else gets the same answer as
   * for an unknown id"). In embedded mode the in-memory view resolves in a microtask, so only a cluster
   * shows it. Fix: read the record and check its owner before `socket.join(room)` (then join, then read
   * the view), or join only after the check and re-read.
   */
  it("never delivers another user's events to a refused viewer, even while its session is publishing (legacy and Socket.IO viewers on another node)", async () => {
    const alice = keep(await legacyCli(A.url, key));
    let pumping = true;
    let next = 1;
    const pump = (async () => {
      while (pumping) {
        sendLegacyEvents(alice, Array.from({ length: 5 }, (_, i) => ({ type: "message_update", secret: `alice-${next + i}` })), next);
        next += 5;
        await sleep(1);
      }
    })();
    const leaks: unknown[] = [];
    try {
      // Each refused join is a fresh chance to hit the window; stop at the first leak.
      for (let attempt = 0; attempt < 40 && leaks.length === 0; attempt++) {
        const bobs = keep(await LegacyClient.open(B.url, `/ws/sessions/${alice.sessionId}`, { cookie: bobCookie }));
        await bobs.closedWith();
        expect(bobs.frames.at(0)).toEqual({ type: "connected", sessionId: alice.sessionId, replayOnly: true });
        expect(bobs.frames.at(-1)).toEqual({ type: "error", message: "Session not found" });
        leaks.push(...bobs.typed("event"));
        const native = track(connectViewer(B.url, { cookie: bobCookie }, alice.sessionId));
        const rec = new Recorder(native);
        await rec.next("$disconnect");
        leaks.push(...rec.named("event"));
      }
    } finally {
      pumping = false;
      await pump;
    }
    expect(leaks).toEqual([]);
    expect(next).toBeGreaterThan(50); // alice did publish meanwhile
  });
});
