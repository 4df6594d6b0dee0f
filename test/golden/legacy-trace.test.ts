import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacyClient } from "../helpers/legacy.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";
import { clientFrames, closeOf, serverFrames, shape } from "./trace.js";

/**
 * Golden test against the legacy server's own recording (test/fixtures/reference-trace.jsonl): the
 * recorded client frames of all five endpoints are sent through a real relay by real `ws` clients, and
 * every frame each client receives must match the recording field by field (ids, tokens, timestamps by
 * shape). Records marked as defects (docs/legacy-protocol.md section 14) are replaced by the fixed behaviour.
 */
describe("golden: the reference trace through the bridge", () => {
  let node: TestRelay;
  let alice: { key: string; cookie: string };
  let bob: { key: string; cookie: string };
  const clients: LegacyClient[] = [];
  const open = async (path: string, headers: Record<string, string>): Promise<LegacyClient> => {
    const c = await LegacyClient.open(node.url, path, headers);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // A lost CLI ends its session at once, as the legacy relay did (the grace period is a later feature).
    node = await startRelay({ PIZZAPI_CLI_RECONNECT_GRACE_MS: "0", PIZZAPI_RUNNER_TOKEN: "legacy-runner-token" });
    const keys = node.relay.ctx.state.keys;
    const aliceKey = (await keys.create({ userId: "alice", userName: "alice" })).key;
    const bobKey = (await keys.create({ userId: "bob", userName: "bob" })).key;
    alice = { key: aliceKey, cookie: await login(node.url, aliceKey) };
    bob = { key: bobKey, cookie: await login(node.url, bobKey) };
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await node.stop();
  });

  /** Waits until shared state has stored the session's `seq` (acks come before storage, as in legacy). */
  const stored = async (sessionId: string, seq: number): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while ((await node.relay.ctx.state.sessions.get(sessionId))?.seq !== seq) {
      if (Date.now() > deadline) throw new Error(`session ${sessionId} never reached seq ${seq}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const expectShape = (got: Array<Record<string, unknown>>, want: Array<Record<string, unknown>>): void => {
    expect(shape(got)).toEqual(shape(want));
  };

  it("sessions, viewers and the hub (conns 1-7)", async () => {
    const c2 = clientFrames(2);
    const withToken = (frame: Record<string, unknown>, token: string) => ({ ...frame, token });
    const hub = await open("/ws/hub", { cookie: alice.cookie });
    await hub.next("sessions");

    const cli = await open("/ws/sessions", { "x-api-key": alice.key });
    cli.send(c2[0]); // event before register
    await cli.next("error");
    cli.send(c2[1]); // register
    const [registered] = await cli.next("registered");
    const token = String(registered?.token);
    const sessionId = String(registered?.sessionId);
    expect(sessionId).toBe((c2[1] as { sessionId: string }).sessionId);
    await hub.next("session_added");
    cli.send(withToken(c2[2]!, token));
    cli.send(withToken(c2[3]!, token));
    await cli.next("event_ack", 2);
    await hub.next("session_status");
    await stored(sessionId, 2);

    const viewer = await open(`/ws/sessions/${sessionId}`, { cookie: alice.cookie });
    await viewer.next("event", 2);
    viewer.send(clientFrames(3)[0]); // connected
    await cli.next("connected");
    cli.send(withToken(c2[4]!, token)); // capabilities
    await viewer.next("event", 3);
    await cli.next("event_ack", 3);
    const [input, modelSet, exec, resync] = clientFrames(3).slice(1);
    viewer.send(input);
    await cli.next("input");
    viewer.send(modelSet);
    await cli.next("model_set");
    viewer.send(exec);
    await cli.next("exec");
    cli.send(c2[5]); // exec_result
    await viewer.next("exec_result");
    cli.send(withToken(c2[6]!, token)); // thinking_start
    await viewer.next("event", 4);
    await cli.next("event_ack", 4);
    await new Promise((r) => setTimeout(r, 50)); // some thinking time, so the relay measures > 0
    for (const frame of c2.slice(7, 10)) cli.send(withToken(frame, token)); // thinking_end, message_end, turn_end
    await viewer.next("event", 7);
    await cli.next("event_ack", 7);
    viewer.send(resync);
    await viewer.next("event", 9);

    // Bob watching Alice's session gets exactly what an unknown id gets (section 14).
    const bobViewer = await open(`/ws/sessions/${sessionId}`, { cookie: bob.cookie });
    const unknown = await open(`/ws/sessions/${(clientFrames(5)[0] as { sessionId?: string } | undefined)?.sessionId ?? "32e72b62-36d6-4357-a399-56a84a095c7f"}`, { cookie: alice.cookie });
    expect(await unknown.closedWith()).toEqual(closeOf(5));
    expectShape(unknown.frames, serverFrames(5));
    expect(await bobViewer.closedWith()).toEqual(closeOf(5));
    expectShape(bobViewer.frames, serverFrames(5));

    cli.send(c2[10]); // "{oops"
    await cli.next("error", 2);
    cli.send(c2[11]); // unknown type: ignored

    // Bob registering Alice's live id gets a fresh id: no take-over (section 14).
    const bobCli = await open("/ws/sessions", { "x-api-key": bob.key });
    bobCli.send(clientFrames(6)[0]);
    const [bobRegistered] = await bobCli.next("registered");
    expect(bobRegistered?.sessionId).not.toBe(sessionId);
    expectShape(bobCli.frames, serverFrames(6, { withDefects: true }));

    cli.send(withToken(c2[12]!, token)); // session_end
    await hub.next("session_removed");
    expect(await viewer.closedWith()).toEqual({ code: 1000, reason: "Session ended" });

    const replay = await open(`/ws/sessions/${sessionId}`, { cookie: alice.cookie });
    expect(await replay.closedWith()).toEqual(closeOf(7));
    expectShape(replay.frames, serverFrames(7));

    expectShape(hub.frames, serverFrames(1));
    expectShape(cli.frames, serverFrames(2));
    // The viewer: the recording, with turn_end's thinking stamped and the end "Session ended" (the
    // recorded "Session reconnected" came from Bob's take-over, which no longer happens).
    const fixed = serverFrames(3, { withDefects: true }).map((frame) => {
      const event = frame.event as { type?: string; message?: { content?: Array<Record<string, unknown>> } } | undefined;
      if (event?.type === "turn_end") {
        const content = (event.message?.content ?? []).map((b, i) => (i === 0 ? { ...b, durationSeconds: 1 } : b));
        return { ...frame, event: { ...event, message: { ...event.message, content } } };
      }
      if (frame.type === "disconnected") return { type: "disconnected", reason: "Session ended" };
      return frame;
    });
    expectShape(viewer.frames, fixed);
  });

  it("runners, spawn, skills and terminals (conns 8-14)", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${node.url}${path}`, { method: "POST", headers: { cookie: alice.cookie, "content-type": "application/json" }, body: JSON.stringify(body) });
    const r8 = clientFrames(8);
    const runner = await open("/ws/runner", { "x-api-key": alice.key });
    runner.send(r8[0]); // register_runner
    const [registered] = await runner.next("runner_registered");
    const runnerId = String(registered?.runnerId);
    expect(runnerId).toBe((r8[0] as { runnerId: string }).runnerId);
    const hub = await open("/ws/hub", { cookie: alice.cookie });
    await hub.next("sessions");

    // Spawn: session_ready, then a spawn the runner refuses.
    const spawning = post("/api/runners/spawn", { runnerId, cwd: "/home/alice/src/api" });
    const [spawn] = await runner.next("new_session");
    runner.send({ ...r8[1], sessionId: spawn?.sessionId });
    const spawned = (await (await spawning).json()) as { sessionId: string };
    expect(spawned).toEqual({ ok: true, runnerId, sessionId: spawn?.sessionId, pending: false });
    const refusing = post("/api/runners/spawn", { runnerId, cwd: "/home/alice/src/nope" });
    const [, refused] = await runner.next("new_session", 2);
    runner.send({ ...r8[2], sessionId: refused?.sessionId });
    const failed = await refusing;
    expect(failed.status).toBe(400);
    expect(await failed.json()).toEqual({ error: "cwd does not exist: /home/alice/src/nope" });

    // The worker registers the spawned id; the hub lists it with its runner; its close ends it.
    const worker = await open("/ws/sessions", { "x-api-key": alice.key });
    worker.send({ ...clientFrames(10)[0], sessionId: spawned.sessionId });
    await worker.next("registered");
    const [added] = await hub.next("session_added");
    expect(added).toMatchObject({ sessionId: spawned.sessionId, runnerId, runnerName: "alice-devbox" });
    worker.close();
    await hub.next("session_removed");
    expectShape(hub.frames, serverFrames(9));
    expectShape(worker.frames, serverFrames(10));

    // Skill fetch, correlated by requestId.
    const getting = fetch(`${node.url}/api/runners/${runnerId}/skills/release-notes`, { headers: { cookie: alice.cookie } });
    const [ask] = await runner.next("get_skill");
    runner.send({ ...r8[3], requestId: ask?.requestId });
    expect(await (await getting).json()).toEqual({ name: "release-notes", content: (r8[3] as { content: string }).content });

    // Terminal: created over REST, spawned by the browser's first resize.
    const created = (await (await post("/api/runners/terminal", { runnerId, cols: 120, rows: 30 })).json()) as { terminalId: string };
    const terminalId = created.terminalId;
    const t11 = clientFrames(11);
    const term = await open(`/ws/terminal/${terminalId}`, { cookie: alice.cookie });
    await term.next("terminal_connected");
    term.send(t11[0]); // resize 132x38 → spawn
    await runner.next("new_terminal");
    runner.send({ ...r8[4], terminalId });
    runner.send({ ...r8[5], terminalId });
    await term.next("terminal_data");
    term.send(t11[1]); // input
    await runner.next("terminal_input");
    runner.send({ ...r8[6], terminalId });
    await term.next("terminal_data", 2);
    term.send(t11[2]); // resize
    await runner.next("terminal_resize");
    const bobTerm = await open(`/ws/terminal/${terminalId}`, { cookie: bob.cookie });
    expect(await bobTerm.closedWith()).toEqual(closeOf(12));
    expectShape(bobTerm.frames, serverFrames(12));
    term.send(t11[3]); // kill
    await runner.next("kill_terminal");
    runner.send({ ...r8[7], terminalId });
    await term.next("terminal_exit");
    expectShape(term.frames, serverFrames(11));

    // The same runner id with the wrong secret is refused; an old runner with the server token gets a fresh id.
    const impostor = await open("/ws/runner", { "x-api-key": alice.key });
    impostor.send(clientFrames(13)[0]);
    expect(await impostor.closedWith()).toEqual(closeOf(13));
    expectShape(impostor.frames, serverFrames(13));
    const old = await open("/ws/runner", { authorization: "Bearer legacy-runner-token" });
    old.send(clientFrames(14)[0]);
    const [fresh] = await old.next("runner_registered");
    expect(fresh?.runnerId).not.toBe(runnerId);
    expectShape(old.frames, serverFrames(14));
    expectShape(runner.frames, serverFrames(8));
  });
});
