import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import {
  connectCli,
  connectHub,
  connectRunner,
  connectTerminal,
  connectViewer,
  connected,
  Recorder,
  type RunnerSocket,
} from "../helpers/clients.js";
import { login } from "../helpers/relay.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";

/**
 * Issue 3 on three nodes over Redis: runners, the REST control API, terminals and skills, each party on a
 * different node. The runner here is a scripted socket.io-client doing what the daemon does.
 */
describe("runners, terminals and the control API across three nodes", () => {
  let redis: TestRedis;
  let A: NodeProcess, B: NodeProcess, C: NodeProcess;
  let aliceKey: string, bobKey: string, aliceCookie: string, bobCookie: string;
  let closeState: () => Promise<void>;
  const sockets: Array<{ disconnect(): void }> = [];
  const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix();
    const env = { PIZZAPI_SKILL_TIMEOUT_MS: "700", PIZZAPI_RUNNER_RECONNECT_GRACE_MS: "300", PIZZAPI_SPAWN_TIMEOUT_MS: "3000" };
    [A, B, C] = (await Promise.all(["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess, NodeProcess];
    const shared = await clusterState(redis.url, prefix);
    closeState = shared.close;
    aliceKey = (await shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    bobKey = (await shared.state.keys.create({ userId: "bob", userName: "Bob" })).key;
    aliceCookie = await login(B.url, aliceKey);
    bobCookie = await login(B.url, bobKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([A, B, C].filter(Boolean).map((n) => n.stop()));
    await closeState?.();
    await redis?.stop();
  });

  const post = (url: string, path: string, body: unknown, cookie: string) =>
    fetch(`${url}${path}`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify(body) });

  async function runnerOn(url: string, runnerId: string, runnerSecret: string, name = "alice-devbox"): Promise<{ runner: RunnerSocket; rec: Recorder }> {
    const runner = track(connectRunner(url, aliceKey));
    const rec = new Recorder(runner);
    await connected(runner);
    const reply = await runner.emitWithAck("register_runner", {
      runnerId,
      runnerSecret,
      name,
      roots: ["/home/alice/src/"],
      skills: [{ name: "release-notes", description: "Draft release notes", filePath: "/home/alice/.pizzapi/skills/release-notes/SKILL.md" }],
    });
    expect(reply).toEqual({ ok: true, runnerId });
    return { runner, rec };
  }

  it("spawns through REST on B a session whose CLI registers on C, listed by the hub on B with its runner, watched from A", async () => {
    const runnerId = "6051a0de-a3e4-4f86-8eb9-9fdaa7ed5b7f";
    const { runner } = await runnerOn(A.url, runnerId, "a".repeat(64));
    runner.on("new_session", ({ sessionId, cwd }) => {
      if (cwd?.endsWith("/nope")) runner.emit("session_error", { runnerId, sessionId, message: `cwd does not exist: ${cwd}` });
      else runner.emit("session_ready", { runnerId, sessionId });
    });
    const hub = track(connectHub(B.url, { cookie: aliceCookie }));
    const hubRec = new Recorder(hub);
    await hubRec.next("sessions");

    const spawned = await post(B.url, "/api/runners/spawn", { runnerId, cwd: "/home/alice/src/api" }, aliceCookie);
    expect(spawned.status).toBe(200);
    const body = (await spawned.json()) as { ok: boolean; runnerId: string; sessionId: string; pending: boolean };
    expect(body).toMatchObject({ ok: true, runnerId, pending: false });

    const failed = await post(B.url, "/api/runners/spawn", { runnerId, cwd: "/home/alice/src/nope" }, aliceCookie);
    expect(failed.status).toBe(400);
    expect(await failed.json()).toEqual({ error: "cwd does not exist: /home/alice/src/nope" });
    const outside = await post(B.url, "/api/runners/spawn", { runnerId, cwd: "/etc" }, aliceCookie);
    expect(outside.status).toBe(400);
    const foreign = await post(C.url, "/api/runners/spawn", { runnerId }, bobCookie);
    expect(foreign.status).toBe(403);

    // The worker's CLI registers on C with the spawned id.
    const cli = track(connectCli(C.url, aliceKey));
    await connected(cli);
    const reg = await cli.emitWithAck("register", { sessionId: body.sessionId, cwd: "/home/alice/src/api", collabMode: true, sessionName: null });
    expect(reg).toMatchObject({ ok: true, sessionId: body.sessionId });
    const added = (await hubRec.next<{ sessionId: string; runnerId: string | null; runnerName: string | null }>("session_added")).find((s) => s.sessionId === body.sessionId);
    expect(added).toMatchObject({ runnerId, runnerName: "alice-devbox" });

    const viewer = track(connectViewer(A.url, { cookie: aliceCookie }, body.sessionId));
    const vrec = new Recorder(viewer);
    await vrec.next("connected");
    if (!reg.ok) return;
    await cli.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "agent_start" } });
    expect((await vrec.next<{ seq: number }>("event"))[0]).toMatchObject({ event: { type: "agent_start" }, seq: 1 });

    const listed = (await (await fetch(`${C.url}/api/runners`, { headers: { cookie: aliceCookie } })).json()) as { runners: Array<{ runnerId: string; sessionCount: number }> };
    expect(listed.runners.find((r) => r.runnerId === runnerId)).toMatchObject({ sessionCount: 1 });
    const bobs = (await (await fetch(`${C.url}/api/runners`, { headers: { cookie: bobCookie } })).json()) as { runners: unknown[] };
    expect(bobs.runners).toEqual([]);
    const sessions = (await (await fetch(`${A.url}/api/sessions`, { headers: { cookie: aliceCookie } })).json()) as { sessions: Array<{ sessionId: string; runnerId: string }> };
    expect(sessions.sessions.find((s) => s.sessionId === body.sessionId)).toMatchObject({ runnerId });
  });

  it("runs a terminal created on C, viewed from B, on a runner on A; refuses another user at every step", async () => {
    const runnerId = "9679a8e5-dfbb-41b3-a235-35ef7dcee564";
    const { runner, rec: runnerRec } = await runnerOn(A.url, runnerId, "b".repeat(64));
    const created = await post(C.url, "/api/runners/terminal", { runnerId, cols: 120, rows: 30 }, aliceCookie);
    expect(created.status).toBe(200);
    const { terminalId } = (await created.json()) as { terminalId: string };
    expect((await post(C.url, "/api/runners/terminal", { runnerId }, bobCookie)).status).toBe(403);

    const bobTerm = track(connectTerminal(B.url, { cookie: bobCookie }, terminalId));
    const bobRec = new Recorder(bobTerm);
    await bobRec.next("$disconnect");
    expect(bobRec.named("terminal_error")).toEqual([{ terminalId, message: "Forbidden" }]);

    const term = track(connectTerminal(B.url, { cookie: aliceCookie }, terminalId));
    const trec = new Recorder(term);
    await trec.next("terminal_connected");
    term.emit("terminal_resize", { cols: 132, rows: 38 });
    const [spawn] = await runnerRec.next("new_terminal");
    expect(spawn).toEqual({ terminalId, cols: 132, rows: 38 });
    runner.emit("terminal_ready", { terminalId, runnerId });
    runner.emit("terminal_data", { terminalId, data: "YWxpY2VAZGV2Ym94On4kIA==", runnerId });
    await trec.next("terminal_data");
    expect(trec.named("terminal_ready")).toEqual([{ terminalId, runnerId }]);
    expect(trec.named("terminal_data")).toEqual([{ terminalId, data: "YWxpY2VAZGV2Ym94On4kIA==", runnerId }]);

    term.emit("terminal_input", { data: "bHMN" });
    expect((await runnerRec.next("terminal_input"))[0]).toEqual({ data: "bHMN", terminalId });
    term.emit("terminal_resize", { cols: 100, rows: 38 });
    expect((await runnerRec.next("terminal_resize"))[0]).toEqual({ cols: 100, rows: 38, terminalId });
    // A frame for a terminal this runner does not own is refused; a runner of bob's cannot feed it either.
    runner.emit("terminal_data", { terminalId: "not-mine", data: "eA==" });
    await runnerRec.next("error");
    term.emit("kill_terminal", {});
    expect((await runnerRec.next("kill_terminal"))[0]).toEqual({ terminalId });
    runner.emit("terminal_exit", { runnerId, terminalId, exitCode: -1 });
    expect((await trec.next("terminal_exit"))[0]).toEqual({ runnerId, terminalId, exitCode: -1 });
  });

  it("round-trips skill CRUD through a runner on another node, and answers 502 when the runner stays silent", async () => {
    const runnerId = "3f6a2b1c-0000-4000-8000-000000000001";
    const { runner } = await runnerOn(C.url, runnerId, "c".repeat(64));
    const skills = new Map<string, string>([["release-notes", "---\ndescription: x\n---\nbody"]]);
    const list = () => [...skills.keys()].map((name) => ({ name, description: "", filePath: `/s/${name}/SKILL.md` }));
    runner.on("get_skill", ({ name, requestId }) => {
      if (name === "silent") return;
      const content = skills.get(name);
      runner.emit("skill_result", content === undefined ? { runnerId, requestId, ok: false, message: "Skill not found" } : { runnerId, requestId, ok: true, name, content });
    });
    runner.on("create_skill", ({ name, content, requestId }) => {
      skills.set(name, content);
      runner.emit("skill_result", { runnerId, requestId, ok: true, skills: list() });
    });
    runner.on("update_skill", ({ name, content, requestId }) => {
      skills.set(name, content);
      runner.emit("skill_result", { runnerId, requestId, ok: true, skills: list() });
    });
    runner.on("delete_skill", ({ name, requestId }) => {
      const existed = skills.delete(name);
      runner.emit("skill_result", existed ? { runnerId, requestId, ok: true, skills: list() } : { runnerId, requestId, ok: false, message: "Skill not found", skills: list() });
    });
    const base = `${A.url}/api/runners/${runnerId}/skills`;
    const headers = { cookie: aliceCookie, "content-type": "application/json" };

    const got = await fetch(`${base}/release-notes`, { headers });
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ name: "release-notes", content: "---\ndescription: x\n---\nbody" });
    const createdSkill = await fetch(base, { method: "POST", headers, body: JSON.stringify({ name: " changelog ", content: "c1" }) });
    expect(createdSkill.status).toBe(200);
    expect(((await createdSkill.json()) as { skills: Array<{ name: string }> }).skills.map((s) => s.name)).toEqual(["release-notes", "changelog"]);
    const updated = await fetch(`${base}/changelog`, { method: "PUT", headers, body: JSON.stringify({ content: "c2" }) });
    expect(updated.status).toBe(200);
    expect(skills.get("changelog")).toBe("c2");
    expect((await fetch(`${base}/changelog`, { method: "DELETE", headers })).status).toBe(200);
    expect((await fetch(`${base}/changelog`, { method: "DELETE", headers })).status).toBe(404);
    expect((await fetch(`${base}/missing`, { headers })).status).toBe(404);
    // The reported list follows the runner's replies.
    const listed = (await (await fetch(base, { headers })).json()) as { skills: Array<{ name: string }> };
    expect(listed.skills.map((s) => s.name)).toEqual(["release-notes"]);

    const silent = await fetch(`${base}/silent`, { headers });
    expect(silent.status).toBe(502);
    expect(await silent.json()).toEqual({ error: "Skill command timed out" });
    expect((await fetch(`${base}/release-notes`, { headers: { cookie: bobCookie } })).status).toBe(403);
  });

  it("keeps a runner's identity and terminals when it reconnects on another node; a stale disconnect removes nothing", async () => {
    const runnerId = "7a7a7a7a-0000-4000-8000-000000000002";
    const secret = "d".repeat(64);
    const first = await runnerOn(A.url, runnerId, secret);
    const { terminalId } = (await (await post(B.url, "/api/runners/terminal", { runnerId }, aliceCookie)).json()) as { terminalId: string };

    // Another user cannot claim the id, even with the right secret; a wrong secret is refused too.
    const thief = track(connectRunner(C.url, bobKey));
    await connected(thief);
    const stolen = await thief.emitWithAck("register_runner", { runnerId, runnerSecret: secret });
    expect(stolen).toMatchObject({ ok: false, error: { message: `Runner authentication failed: secret mismatch for runner ${runnerId}` } });

    const second = await runnerOn(C.url, runnerId, secret);
    first.runner.disconnect();
    await new Promise((r) => setTimeout(r, 600));
    const listed = (await (await fetch(`${B.url}/api/runners`, { headers: { cookie: aliceCookie } })).json()) as { runners: Array<{ runnerId: string }> };
    expect(listed.runners.map((r) => r.runnerId)).toContain(runnerId);

    const term = track(connectTerminal(B.url, { cookie: aliceCookie }, terminalId));
    const trec = new Recorder(term);
    await trec.next("terminal_connected");
    term.emit("terminal_resize", { cols: 80, rows: 24 });
    expect((await second.rec.next("new_terminal"))[0]).toMatchObject({ terminalId });
    second.runner.emit("terminal_data", { terminalId, data: "b2s=", runnerId });
    expect((await trec.next("terminal_data"))[0]).toMatchObject({ data: "b2s=" });
    expect(first.rec.named("new_terminal")).toEqual([]);
  });
});
