import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectCli,
  connectRunner,
  connectTerminal,
  connectViewer,
  connected,
  Recorder,
  type CliSocket,
  type RunnerSocket,
  type TerminalSocket,
  type ViewerSocket,
  withoutPublishedAt,
} from "../../helpers/clients.js";
import { login, startRelay, type TestRelay } from "../../helpers/relay.js";

/**
 * Runner and terminal flows of legacy sections 4 and 5 (and the REST routes that drive them) against
 * one in-process relay in embedded mode. The runner is a scripted socket.io-client doing what the daemon
 * does; browsers and CLIs are real socket.io-clients too.
 */

const TRUSTED = "http://relay.test";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls a condition with a short real deadline (for server-side facts no client event announces). */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

type Closable = { disconnect(): unknown };
type Creds = { key: string } | { cookie: string } | Record<never, never>;

interface User {
  key: string;
  cookie: string;
}

interface Harness {
  node: TestRelay;
  alice: User;
  bob: User;
  track<T extends Closable>(s: T): T;
  closeAll(): void;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

function harness(env: Record<string, string>): Harness {
  const sockets: Closable[] = [];
  const h: Harness = {
    node: undefined as unknown as TestRelay,
    alice: { key: "", cookie: "" },
    bob: { key: "", cookie: "" },
    track<T extends Closable>(s: T): T {
      sockets.push(s);
      return s;
    },
    closeAll(): void {
      for (const s of sockets.splice(0)) s.disconnect();
    },
    async setup(): Promise<void> {
      h.node = await startRelay(env);
      for (const [user, userId, userName] of [[h.alice, "alice", "Alice"], [h.bob, "bob", "Bob"]] as const) {
        user.key = (await h.node.relay.ctx.state.keys.create({ userId, userName })).key;
        user.cookie = await login(h.node.url, user.key);
      }
    },
    async teardown(): Promise<void> {
      h.closeAll();
      await h.node?.stop();
    },
  };
  return h;
}

/** A REST call with an API key, a login cookie, or no credential at all. */
async function call(h: Harness, method: string, path: string, creds: Creds, body?: unknown): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = {};
  if ("key" in creds) headers["x-api-key"] = creds.key;
  if ("cookie" in creds) headers.cookie = creds.cookie;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${h.node.url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

type ListedRunner = { runnerId: string; name: string | null; roots: string[]; sessionCount: number; skills: Array<{ name: string; description: string; filePath: string }> };

async function listRunners(h: Harness, user: User): Promise<ListedRunner[]> {
  const { status, json } = await call(h, "GET", "/api/runners", { key: user.key });
  expect(status).toBe(200);
  return (json as { runners: ListedRunner[] }).runners;
}

/** A runner with a persistent identity (the current daemon generation), registered through an ack. */
async function runnerOf(h: Harness, user: User, register: Record<string, unknown> = {}): Promise<{ runner: RunnerSocket; rec: Recorder; runnerId: string }> {
  const runnerId = randomUUID();
  const runner = h.track(connectRunner(h.node.url, user.key));
  const rec = new Recorder(runner);
  await connected(runner);
  const reply = await runner.emitWithAck("register_runner", { runnerId, runnerSecret: randomBytes(32).toString("hex"), name: "devbox", ...register });
  expect(reply).toEqual({ ok: true, runnerId });
  return { runner, rec, runnerId };
}

async function cliOf(h: Harness, user: User, register: Record<string, unknown> = {}): Promise<{ cli: CliSocket; sessionId: string; token: string }> {
  const cli = h.track(connectCli(h.node.url, user.key));
  await connected(cli);
  const reply = await cli.emitWithAck("register", { cwd: "/home/alice/proj", sessionName: null, ...register });
  if (!reply.ok) throw new Error(reply.error.message);
  return { cli, sessionId: reply.sessionId, token: reply.token };
}

async function viewerOf(h: Harness, sessionId: string): Promise<{ viewer: ViewerSocket; rec: Recorder; lastSeq: number }> {
  const viewer = h.track(connectViewer(h.node.url, { cookie: h.alice.cookie, origin: TRUSTED }, sessionId));
  const rec = new Recorder(viewer);
  await connected(viewer);
  const [hello] = await rec.next<{ lastSeq: number }>("connected");
  return { viewer, rec, lastSeq: hello?.lastSeq ?? -1 };
}

async function publish(cli: CliSocket, token: string, event: unknown): Promise<number> {
  const reply = await cli.emitWithAck("event", { token, event });
  if (!reply.ok || reply.seq === undefined) throw new Error(`publish failed: ${JSON.stringify(reply)}`);
  return reply.seq;
}

async function terminalOf(h: Harness, runnerId: string): Promise<string> {
  const { status, json } = await call(h, "POST", "/api/runners/terminal", { cookie: h.alice.cookie }, { runnerId, cols: 120, rows: 30 });
  expect(status).toBe(200);
  return (json as { terminalId: string }).terminalId;
}

/** A browser attached to a terminal (it got `terminal_connected`). */
async function browserOf(h: Harness, terminalId: string): Promise<{ term: TerminalSocket; rec: Recorder }> {
  const term = h.track(connectTerminal(h.node.url, { cookie: h.alice.cookie, origin: TRUSTED }, terminalId));
  const rec = new Recorder(term);
  await connected(term);
  await rec.next("terminal_connected");
  return { term, rec };
}

/** Waits until the relay has processed a browser's disconnect (its server-side socket is gone). */
async function serverDropped(h: Harness, term: TerminalSocket): Promise<void> {
  const id = term.id;
  term.disconnect();
  if (id === undefined) throw new Error("socket had no id");
  await waitFor(() => !h.node.relay.ctx.terminal.sockets.has(id), "the relay to drop the browser");
}

/** Runner-side errors (dropped frames), as `{code}` only. */
const codes = (rec: Recorder) => rec.named<{ code: string }>("error").map((e) => e.code);

describe("runner flows", () => {
  const h = harness({
    PIZZAPI_RUNNER_RECONNECT_GRACE_MS: "100",
    PIZZAPI_SKILL_TIMEOUT_MS: "5000",
    PIZZAPI_TERMINAL_BUFFER_BYTES: "1024",
  });
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());
  afterEach(() => h.closeAll());

  describe("registration", () => {
    it("gives a runner without identity (older daemon generation) a fresh UUID per registration, as a runner_registered event without an ack", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const runner = h.track(connectRunner(h.node.url, h.alice.key));
        const rec = new Recorder(runner);
        await connected(runner);
        runner.emit("register_runner", {});
        const [registered] = await rec.next<{ runnerId: string }>("runner_registered");
        expect(registered?.runnerId).toMatch(UUID);
        ids.push(registered?.runnerId ?? "");
      }
      expect(ids[0]).not.toBe(ids[1]);

      // An id without a secret (here from the handshake) is no identity either: a fresh id again.
      const claimed = randomUUID();
      const half = h.track(connectRunner(h.node.url, h.alice.key, { runnerId: claimed }));
      await connected(half);
      const reply = await half.emitWithAck("register_runner", {});
      if (!reply.ok) throw new Error(reply.error.message);
      expect(reply.runnerId).toMatch(UUID);
      expect([claimed, ...ids]).not.toContain(reply.runnerId);

      const listed = await listRunners(h, h.alice);
      for (const id of ids) expect(listed.find((r) => r.runnerId === id)).toEqual({ runnerId: id, name: null, roots: [], sessionCount: 0, skills: [] });
    });

    it("registers under the id and secret of the handshake when register_runner omits them, and refuses that id with another secret", async () => {
      const runnerId = randomUUID();
      const runnerSecret = randomBytes(32).toString("hex");
      const runner = h.track(connectRunner(h.node.url, h.alice.key, { runnerId, runnerSecret }));
      await connected(runner);
      expect(await runner.emitWithAck("register_runner", { name: "x" })).toEqual({ ok: true, runnerId });
      expect((await listRunners(h, h.alice)).find((r) => r.runnerId === runnerId)).toMatchObject({ runnerId, name: "x" });

      const impostor = h.track(connectRunner(h.node.url, h.alice.key, { runnerId, runnerSecret: randomBytes(32).toString("hex") }));
      const irec = new Recorder(impostor);
      await connected(impostor);
      const refused = await impostor.emitWithAck("register_runner", { name: "y" });
      expect(refused).toEqual({ ok: false, error: { code: "forbidden", message: `Runner authentication failed: secret mismatch for runner ${runnerId}` } });
      await irec.next("$disconnect");
      expect((await listRunners(h, h.alice)).find((r) => r.runnerId === runnerId)).toMatchObject({ name: "x" });
    });

    it("normalises name, roots and skills as GET /api/runners shows them", async () => {
      const { runnerId } = await runnerOf(h, h.alice, {
        name: "  devbox  ",
        roots: ["C:\\Users\\alice\\src\\", "/home/alice/work/", "/srv/app"],
        skills: [
          { name: "release-notes", description: "Draft release notes", filePath: "/home/alice/.pizzapi/skills/release-notes/SKILL.md" },
          { name: "", description: "nameless", filePath: "/x" },
          { name: "lint" },
        ],
      });
      const { runnerId: blankId } = await runnerOf(h, h.alice, { name: "   " });
      const listed = await listRunners(h, h.alice);
      expect(listed.find((r) => r.runnerId === runnerId)).toEqual({
        runnerId,
        name: "devbox",
        roots: ["C:/Users/alice/src", "/home/alice/work", "/srv/app"],
        sessionCount: 0,
        skills: [
          { name: "release-notes", description: "Draft release notes", filePath: "/home/alice/.pizzapi/skills/release-notes/SKILL.md" },
          { name: "lint", description: "", filePath: "" },
        ],
      });
      expect(listed.find((r) => r.runnerId === blankId)?.name).toBeNull();
      // Another user's list never shows alice's runners.
      expect((await listRunners(h, h.bob)).map((r) => r.runnerId)).not.toContain(runnerId);
    });
  });

  describe("control API", () => {
    it("POST /api/runners/restart delivers restart to the owner's runner only: 404 unknown, 403 foreign, 400 bad body, 401 no credential", async () => {
      const { rec, runnerId } = await runnerOf(h, h.alice);
      const bobs = await runnerOf(h, h.bob);

      expect(await call(h, "POST", "/api/runners/restart", { key: h.alice.key }, { runnerId })).toEqual({ status: 200, json: { ok: true } });
      expect(await rec.next("restart")).toEqual([{}]);
      expect(await call(h, "POST", "/api/runners/restart", { cookie: h.alice.cookie }, { runnerId })).toEqual({ status: 200, json: { ok: true } });
      expect(await rec.next("restart", 2)).toEqual([{}, {}]);

      expect(await call(h, "POST", "/api/runners/restart", { key: h.alice.key }, { runnerId: randomUUID() })).toEqual({ status: 404, json: { error: "Runner not found" } });
      expect(await call(h, "POST", "/api/runners/restart", { cookie: h.alice.cookie }, { runnerId: bobs.runnerId })).toEqual({ status: 403, json: { error: "Forbidden" } });
      for (const bad of [{}, { runnerId: "" }, { runnerId: 42 }, "not json"]) {
        const res = await call(h, "POST", "/api/runners/restart", { key: h.alice.key }, bad);
        expect(res.status).toBe(400);
        expect((res.json as { error: string }).error).toMatch(/^Invalid request/);
      }
      expect(await call(h, "POST", "/api/runners/restart", {}, { runnerId })).toEqual({ status: 401, json: { error: "Unauthorized" } });
      expect(await call(h, "POST", "/api/runners/restart", { key: "not-a-key" }, { runnerId })).toEqual({ status: 401, json: { error: "Unauthorized" } });

      // Bob's own restart reaches his runner, and it is the only one it ever got (frames to one socket
      // arrive in order, so a restart sent by alice's 403 request would have come first).
      expect((await call(h, "POST", "/api/runners/restart", { key: h.bob.key }, { runnerId: bobs.runnerId })).status).toBe(200);
      await bobs.rec.next("restart");
      expect(bobs.rec.named("restart")).toEqual([{}]);
      expect(rec.named("restart")).toHaveLength(2);
    });

    it("rejects a pending skill request with 502 Runner disconnected when its runner leaves for good", async () => {
      const { runner, rec, runnerId } = await runnerOf(h, h.alice);
      // The runner never answers get_skill: it goes away instead.
      runner.on("get_skill", () => runner.disconnect());
      const res = await call(h, "GET", `/api/runners/${runnerId}/skills/release-notes`, { key: h.alice.key });
      expect(rec.named("get_skill")).toEqual([{ name: "release-notes", requestId: expect.any(String) }]);
      expect(res).toEqual({ status: 502, json: { error: "Runner disconnected" } });
    });
  });

  describe("sessions", () => {
    it("publishes runner_session_event for a session the runner spawned under the session's next seq", async () => {
      const { runner, runnerId } = await runnerOf(h, h.alice);
      runner.on("new_session", ({ sessionId }) => runner.emit("session_ready", { runnerId, sessionId }));
      const spawned = await call(h, "POST", "/api/runners/spawn", { key: h.alice.key }, { runnerId });
      expect(spawned.status).toBe(200);
      const { sessionId } = spawned.json as { sessionId: string };
      expect(spawned.json).toEqual({ ok: true, runnerId, sessionId, pending: false });

      // The worker's CLI registers the spawned id.
      const { cli, token, sessionId: registered } = await cliOf(h, h.alice, { sessionId });
      expect(registered).toBe(sessionId);
      const { rec: vrec, lastSeq } = await viewerOf(h, sessionId);
      expect(lastSeq).toBe(0);
      expect(await publish(cli, token, { type: "agent_start" })).toBe(1);
      runner.emit("runner_session_event", { sessionId, event: { type: "message_update", text: "from the runner" } });
      await vrec.next("event", 2);
      // The CLI's counter continues after the runner's event: both share one seq.
      expect(await publish(cli, token, { type: "agent_end" })).toBe(3);
      await vrec.next("event", 3);
      expect(vrec.named("event").map(withoutPublishedAt)).toEqual([
        { event: { type: "agent_start" }, seq: 1 },
        { event: { type: "message_update", text: "from the runner" }, seq: 2 },
        { event: { type: "agent_end" }, seq: 3 },
      ]);
    });

    it("refuses runner_session_event, session_ready, session_error and session_killed for a session the runner did not spawn", async () => {
      const { rec, runner, runnerId } = await runnerOf(h, h.alice);
      // A plain CLI session of the same user, watched by a viewer.
      const { cli, token, sessionId } = await cliOf(h, h.alice);
      const { rec: vrec } = await viewerOf(h, sessionId);

      runner.emit("runner_session_event", { sessionId, event: { type: "message_update", text: "injected" } });
      runner.emit("session_ready", { runnerId, sessionId });
      runner.emit("session_error", { runnerId, sessionId, message: "boom" });
      runner.emit("session_killed", { runnerId, sessionId });
      await rec.next("error", 4);
      expect(rec.named("error")).toEqual(Array.from({ length: 4 }, () => ({ code: "not_found", message: `Unknown session: ${sessionId}` })));

      // Nothing was published: the CLI's next event takes seq 1, and the viewer saw only that.
      expect(await publish(cli, token, { type: "agent_start" })).toBe(1);
      await vrec.next("event");
      expect(vrec.events.filter((e) => e.name !== "connected" && e.name !== "synced").map((e) => ({ ...e, payload: withoutPublishedAt(e.payload) }))).toEqual([
        { name: "event", payload: { event: { type: "agent_start" }, seq: 1 } },
      ]);
      // Nor was the session linked to the runner.
      const { json } = await call(h, "GET", "/api/sessions", { key: h.alice.key });
      expect((json as { sessions: Array<{ sessionId: string; runnerId: string | null }> }).sessions.find((s) => s.sessionId === sessionId)).toMatchObject({ runnerId: null });
      expect((await listRunners(h, h.alice)).find((r) => r.runnerId === runnerId)).toMatchObject({ sessionCount: 0 });
    });

    it("refuses runner_session_event from a runner connection that never registered, even for a session without a runner", async () => {
      const runner = h.track(connectRunner(h.node.url, h.alice.key));
      const rec = new Recorder(runner);
      await connected(runner);
      const { cli, token, sessionId } = await cliOf(h, h.alice);
      runner.emit("runner_session_event", { sessionId, event: { type: "message_update", text: "injected" } });
      await rec.next("error");
      expect(rec.named("error")).toEqual([{ code: "not_found", message: `Unknown session: ${sessionId}` }]);
      expect(await publish(cli, token, { type: "agent_start" })).toBe(1);
    });

    it("does not let another runner resolve a REST spawn waiting on its runner", async () => {
      const asked = await runnerOf(h, h.alice);
      const other = await runnerOf(h, h.alice);
      const pending = call(h, "POST", "/api/runners/spawn", { key: h.alice.key }, { runnerId: asked.runnerId });
      const [spawn] = await asked.rec.next<{ sessionId: string }>("new_session");
      const sessionId = spawn?.sessionId ?? "";

      other.runner.emit("session_ready", { runnerId: other.runnerId, sessionId });
      other.runner.emit("session_error", { runnerId: other.runnerId, sessionId, message: "hijacked" });
      await other.rec.next("error", 2);
      expect(codes(other.rec)).toEqual(["not_found", "not_found"]);

      // The spawn still waits: the asked runner's answer is the one that counts.
      asked.runner.emit("session_error", { runnerId: asked.runnerId, sessionId, message: "cwd vanished" });
      expect(await pending).toEqual({ status: 400, json: { error: "cwd vanished" } });
      expect(other.rec.named("new_session")).toEqual([]);
    });

    it("GET /api/sessions lists a live session, then the ended one in persistedSessions, never another user's", async () => {
      const mine = await cliOf(h, h.alice, { sessionName: "mine" });
      const theirs = await cliOf(h, h.bob, { sessionName: "theirs" });
      type Listing = { sessions: Array<{ sessionId: string }>; persistedSessions: Array<{ sessionId: string; endedAt: string | null; userId: string }> };
      const list = async (creds: Creds): Promise<Listing> => {
        const { status, json } = await call(h, "GET", "/api/sessions", creds);
        expect(status).toBe(200);
        return json as Listing;
      };

      const live = await list({ cookie: h.alice.cookie });
      expect(live.sessions.map((s) => s.sessionId)).toContain(mine.sessionId);
      expect(live.persistedSessions.map((s) => s.sessionId)).not.toContain(mine.sessionId);

      expect(await mine.cli.emitWithAck("session_end", { token: mine.token })).toEqual({ ok: true });
      expect(await theirs.cli.emitWithAck("session_end", { token: theirs.token })).toEqual({ ok: true });
      const ended = await list({ key: h.alice.key });
      expect(ended.sessions.map((s) => s.sessionId)).not.toContain(mine.sessionId);
      const persisted = ended.persistedSessions.find((s) => s.sessionId === mine.sessionId);
      expect(persisted).toMatchObject({ sessionId: mine.sessionId, userId: "alice", sessionName: "mine" });
      expect(Number.isNaN(Date.parse(persisted?.endedAt ?? ""))).toBe(false);

      for (const listing of [live, ended]) {
        expect(listing.sessions.map((s) => s.sessionId)).not.toContain(theirs.sessionId);
        expect(listing.persistedSessions.map((s) => s.sessionId)).not.toContain(theirs.sessionId);
        expect(listing.persistedSessions.every((s) => s.userId === "alice")).toBe(true);
      }
      expect((await list({ key: h.bob.key })).persistedSessions.map((s) => s.sessionId)).toContain(theirs.sessionId);
      expect((await call(h, "GET", "/api/sessions", {})).status).toBe(401);
    });
  });

  describe("terminals", () => {
    /** A terminal spawned on the runner by a first browser's resize, that browser still attached. */
    async function spawnedTerminal(runner: { rec: Recorder; runnerId: string }) {
      const terminalId = await terminalOf(h, runner.runnerId);
      const first = await browserOf(h, terminalId);
      first.term.emit("terminal_resize", { cols: 100, rows: 40 });
      expect((await runner.rec.next("new_terminal"))[0]).toEqual({ terminalId, cols: 100, rows: 40 });
      return { terminalId, first };
    }

    /** Sends frames, then a refused frame whose `error` tells the runner every earlier frame was handled. */
    async function sendFrames(r: { runner: RunnerSocket; rec: Recorder; runnerId: string }, terminalId: string, data: string[]): Promise<void> {
      const before = codes(r.rec).length;
      for (const d of data) r.runner.emit("terminal_data", { terminalId, data: d, runnerId: r.runnerId });
      r.runner.emit("terminal_data", { terminalId: randomUUID(), data: "eA==", runnerId: r.runnerId });
      await r.rec.next("error", before + 1);
    }

    it("replays output buffered while no browser was attached, in order, before terminal_connected", async () => {
      const r = await runnerOf(h, h.alice);
      const { terminalId, first } = await spawnedTerminal(r);
      await serverDropped(h, first.term);
      const data = ["b25l", "dHdv", "dGhyZWU="];
      await sendFrames(r, terminalId, data);

      const second = h.track(connectTerminal(h.node.url, { cookie: h.alice.cookie, origin: TRUSTED }, terminalId));
      const rec = new Recorder(second);
      await rec.next("terminal_connected");
      expect(rec.events).toEqual([
        ...data.map((d) => ({ name: "terminal_data", payload: { terminalId, data: d, runnerId: r.runnerId } })),
        { name: "terminal_connected", payload: { terminalId } },
      ]);
      expect(first.rec.named("terminal_data")).toEqual([]);
    });

    it("keeps only the newest buffered frames that fit PIZZAPI_TERMINAL_BUFFER_BYTES (1024), dropping the oldest", async () => {
      const r = await runnerOf(h, h.alice);
      const { terminalId, first } = await spawnedTerminal(r);
      await serverDropped(h, first.term);
      // 350 bytes of base64 each: two frames fit in 1024 bytes (with their JSON envelope), three do not
      // (not even their data alone).
      const data = ["A", "B", "C"].map((c) => c.repeat(350));
      await sendFrames(r, terminalId, data);

      const second = h.track(connectTerminal(h.node.url, { cookie: h.alice.cookie, origin: TRUSTED }, terminalId));
      const rec = new Recorder(second);
      await rec.next("terminal_connected");
      expect(rec.events.map((e) => e.name)).toEqual(["terminal_data", "terminal_data", "terminal_connected"]);
      expect(rec.named<{ data: string }>("terminal_data").map((f) => f.data)).toEqual([data[1], data[2]]);
    });

    it("a second browser replaces the first: the first stops receiving output but stays connected", async () => {
      const r = await runnerOf(h, h.alice);
      const { terminalId, first } = await spawnedTerminal(r);
      await sendFrames(r, terminalId, ["Zmlyc3Q="]);
      expect((await first.rec.next("terminal_data"))[0]).toMatchObject({ data: "Zmlyc3Q=" });

      const second = await browserOf(h, terminalId);
      await sendFrames(r, terminalId, ["c2Vjb25k"]);
      expect((await second.rec.next("terminal_data"))[0]).toEqual({ terminalId, data: "c2Vjb25k", runnerId: r.runnerId });
      // An acknowledged request of the first browser: anything sent to it before the ack arrived first.
      expect(await first.term.emitWithAck("terminal_input", { data: "" })).toEqual({ ok: true });
      expect(first.rec.named<{ data: string }>("terminal_data").map((f) => f.data)).toEqual(["Zmlyc3Q="]);
      expect(first.term.connected).toBe(true);
      expect(first.rec.named("$disconnect")).toEqual([]);

      // The replaced browser leaving does not detach the current one: output stays live for it.
      await serverDropped(h, first.term);
      await sendFrames(r, terminalId, ["dGhpcmQ="]);
      await second.rec.next("terminal_data", 2);
      expect(second.rec.named<{ data: string }>("terminal_data").map((f) => f.data)).toEqual(["c2Vjb25k", "dGhpcmQ="]);
    });

    it("sends terminal_exit -1 to an attached browser when its runner is gone for good, and unlists the runner", async () => {
      const r = await runnerOf(h, h.alice);
      const { terminalId, first } = await spawnedTerminal(r);
      expect((await listRunners(h, h.alice)).map((x) => x.runnerId)).toContain(r.runnerId);
      r.runner.disconnect();
      expect((await first.rec.next("terminal_exit"))[0]).toEqual({ terminalId, exitCode: -1 });
      expect((await listRunners(h, h.alice)).map((x) => x.runnerId)).not.toContain(r.runnerId);
      expect((await call(h, "GET", `/api/runners/${r.runnerId}/skills`, { key: h.alice.key })).status).toBe(404);
    });

    it("deletes an exited terminal as soon as its browser leaves", async () => {
      const r = await runnerOf(h, h.alice);
      const { terminalId, first } = await spawnedTerminal(r);
      r.runner.emit("terminal_exit", { terminalId, exitCode: 0, runnerId: r.runnerId });
      expect((await first.rec.next("terminal_exit"))[0]).toEqual({ terminalId, exitCode: 0, runnerId: r.runnerId });
      // Left attached, the exited entry would live 2 s more; the browser leaving deletes it now.
      await serverDropped(h, first.term);

      const late = h.track(connectTerminal(h.node.url, { cookie: h.alice.cookie, origin: TRUSTED }, terminalId));
      const rec = new Recorder(late);
      await rec.next("$disconnect");
      expect(rec.named("terminal_error")).toEqual([{ terminalId, message: "Terminal not found" }]);
      expect(rec.named("terminal_connected")).toEqual([]);
    });
  });
});

describe("spawn timeout", () => {
  const h = harness({ PIZZAPI_SPAWN_TIMEOUT_MS: "300" });
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());

  it("answers 200 pending:true when the runner never answers new_session, and links the session when its CLI registers later", async () => {
    const { rec, runnerId } = await runnerOf(h, h.alice, { name: "slowbox" });
    const res = await call(h, "POST", "/api/runners/spawn", { cookie: h.alice.cookie }, { runnerId });
    expect(res.status).toBe(200);
    const { sessionId } = res.json as { sessionId: string };
    expect(res.json).toEqual({ ok: true, runnerId, sessionId, pending: true });
    expect(rec.named("new_session")).toEqual([{ sessionId }]);
    expect((await listRunners(h, h.alice)).find((r) => r.runnerId === runnerId)).toMatchObject({ sessionCount: 1 });

    // The session may still come: when its CLI registers, it is the runner's.
    await cliOf(h, h.alice, { sessionId });
    const { json } = await call(h, "GET", "/api/sessions", { key: h.alice.key });
    expect((json as { sessions: Array<{ sessionId: string }> }).sessions.find((s) => s.sessionId === sessionId)).toMatchObject({ runnerId, runnerName: "slowbox" });
  });
});
