import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectCli, connectHub, connectViewer, connected, Recorder, seqs, type CliSocket } from "../helpers/clients.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";

/** Embedded mode end to end: a CLI publishes, a viewer watches, the hub lists; another user sees nothing. */
describe("single node, embedded state", () => {
  let node: TestRelay;
  let aliceKey: string;
  let bobKey: string;
  let aliceCookie: string;
  let bobCookie: string;
  const sockets: Array<{ disconnect(): void }> = [];
  const track = <T extends { disconnect(): void }>(s: T): T => (sockets.push(s), s);

  beforeAll(async () => {
    node = await startRelay();
    aliceKey = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    bobKey = (await node.relay.ctx.state.keys.create({ userId: "bob", userName: "Bob" })).key;
    aliceCookie = await login(node.url, aliceKey);
    bobCookie = await login(node.url, bobKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await node.stop();
  });

  async function registeredCli(sessionId?: string): Promise<{ cli: CliSocket; rec: Recorder; sessionId: string; token: string }> {
    const cli = track(connectCli(node.url, aliceKey));
    const rec = new Recorder(cli);
    await connected(cli);
    const reply = await cli.emitWithAck("register", { ...(sessionId ? { sessionId } : {}), cwd: "/home/alice/proj", collabMode: true, sessionName: null });
    if (!reply.ok) throw new Error(reply.error.message);
    return { cli, rec, sessionId: reply.sessionId, token: reply.token };
  }

  it("registers, streams to a viewer with seq +1, and the hub sees the session come and go", async () => {
    const hub = track(connectHub(node.url, { cookie: aliceCookie }));
    const hubRec = new Recorder(hub);
    await connected(hub);
    await hubRec.next("sessions");

    const { cli, rec: cliRec, sessionId, token } = await registeredCli();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const [added] = await hubRec.next<{ sessionId: string; shareUrl: string; userId: string }>("session_added");
    expect(added).toMatchObject({ sessionId, shareUrl: `http://relay.test/session/${sessionId}`, userId: "alice", isActive: false, model: null });

    cli.emit("event", { sessionId, token, seq: 1, event: { type: "session_active", state: { messages: [], sessionName: null } } });
    cli.emit("event", {
      sessionId,
      token,
      seq: 2,
      event: { type: "heartbeat", active: true, model: { provider: "anthropic", id: "claude", name: "Claude", reasoning: true }, sessionName: null },
    });
    const acks = await cliRec.next<{ seq: number }>("event_ack", 2);
    expect(acks.map((a) => a.seq)).toEqual([1, 2]);
    const [status] = await hubRec.next<{ isActive: boolean; model: unknown }>("session_status");
    expect(status).toMatchObject({ sessionId, isActive: true, model: { provider: "anthropic", id: "claude", name: "Claude" } });

    const viewer = track(connectViewer(node.url, { cookie: aliceCookie }, sessionId));
    const vrec = new Recorder(viewer);
    await connected(viewer);
    const [hello] = await vrec.next<{ lastSeq: number; isActive: boolean }>("connected");
    expect(hello).toMatchObject({ sessionId, lastSeq: 2, isActive: true, sessionName: null });
    // Join snapshot: the last heartbeat, then the last session_active, both under the current seq.
    const snapshot = await vrec.next<{ event: { type: string }; seq: number }>("event", 2);
    expect(snapshot.map((e) => [e.event.type, e.seq])).toEqual([["heartbeat", 2], ["session_active", 2]]);

    for (let i = 0; i < 20; i++) cli.emit("event", { token, seq: 3 + i, event: { type: "message_update", i } });
    await vrec.next("event", 22);
    expect(seqs(vrec).slice(2)).toEqual(Array.from({ length: 20 }, (_, i) => 3 + i));
    expect(vrec.named<{ event: { i: number } }>("event").slice(2).map((e) => e.event.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));

    cli.emit("session_end", { sessionId, token });
    await vrec.next("disconnected");
    expect(vrec.named("disconnected")[0]).toEqual({ reason: "Session ended" });
    const [removed] = await hubRec.next("session_removed");
    expect(removed).toEqual({ sessionId });
    await vrec.next("$disconnect");
  });

  it("shows a second user nothing: not in the hub, not as a viewer, and no take-over by register", async () => {
    const bobHub = track(connectHub(node.url, { cookie: bobCookie }));
    const bobHubRec = new Recorder(bobHub);
    await connected(bobHub);
    const { cli, sessionId, token } = await registeredCli();
    const [list] = await bobHubRec.next<{ sessions: unknown[] }>("sessions");
    expect(list?.sessions).toEqual([]);

    // Bob's viewer gets exactly what an unknown id gets.
    const bobViewer = track(connectViewer(node.url, { cookie: bobCookie }, sessionId));
    const bobRec = new Recorder(bobViewer);
    await bobRec.next("$disconnect");
    const unknownViewer = track(connectViewer(node.url, { cookie: bobCookie }, "no-such-session"));
    const unknownRec = new Recorder(unknownViewer);
    await unknownRec.next("$disconnect");
    const strip = (r: Recorder) => r.events.map((e) => (e.name === "connected" ? { ...(e.payload as object), sessionId: "x" } : e));
    expect(strip(bobRec)).toEqual(strip(unknownRec));
    expect(bobRec.named("error")).toEqual([{ code: "not_found", message: "Session not found" }]);

    // Bob registering Alice's live id gets a fresh id; Alice's session keeps streaming.
    const bobCli = track(connectCli(node.url, bobKey));
    await connected(bobCli);
    const bobReply = await bobCli.emitWithAck("register", { sessionId, cwd: "/home/bob" });
    expect(bobReply.ok && bobReply.sessionId).not.toBe(sessionId);
    const reply = await cli.emitWithAck("event", { token, seq: 1, event: { type: "agent_start" } });
    expect(reply).toMatchObject({ ok: true, seq: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(bobHubRec.named("session_added").map((s) => (s as { userId: string }).userId)).toEqual(["bob"]);
  });

  it("refuses events before register and with a wrong token, as legacy clients expect", async () => {
    const cli = track(connectCli(node.url, aliceKey));
    const rec = new Recorder(cli);
    await connected(cli);
    cli.emit("event", { token: "x", seq: 1, event: { type: "heartbeat" } });
    await rec.next("error");
    expect(rec.named("error")[0]).toEqual({ code: "invalid_token", message: "Invalid token" });
    const reply = await cli.emitWithAck("register", { cwd: 5 as unknown as string });
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe("invalid_payload");
  });
});
