import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubClient, TerminalClient, ViewerClient, type ConnectionStatus, type ViewerClientOptions, type ViewerEvent } from "../../clients/browser/index.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import type { ViewerConnected } from "../../protocol/index.js";
import { connectCli, connected, Recorder, runnerWithTerminal, type CliSocket } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { freePort } from "../helpers/redis.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { sleep, waitFor } from "../helpers/wait.js";

/**
 * The browser clients (clients/browser/) against real in-process relays, run in Node: socket.io-client
 * works there too, with the login cookie as an extra header. Default transports (polling, then the
 * WebSocket upgrade); socket.io-client's backoff, shortened. Forced disconnections go through a
 * TestProxy (a transport close, which socket.io-client retries), never a server-side `disconnect()`
 * (which it does not).
 */

const FAST_RECONNECT = { reconnectionDelay: 50, reconnectionDelayMax: 200 };

interface Relay {
  node: TestRelay;
  key: string;
  cookie: string;
}

/** Recovery on (120 s; it is off by default), and off with a 5-event log. */
let withRecovery: Relay;
let withoutRecovery: Relay;
const open: Array<{ close(): void } | { disconnect(): void } | TestProxy> = [];
const track = <T extends { close(): void } | { disconnect(): void } | TestProxy>(c: T): T => (open.push(c), c);

beforeAll(async () => {
  [withRecovery, withoutRecovery] = await Promise.all([
    startRelayWithAlice({ PIZZAPI_RECOVERY_WINDOW_MS: "120000" }),
    startRelayWithAlice({ PIZZAPI_RECOVERY_WINDOW_MS: "0", PIZZAPI_RELAY_EVENT_BUFFER_SIZE: "5" }),
  ]);
});
afterEach(async () => {
  for (const c of open.splice(0)) {
    if (c instanceof TestProxy) await c.stop();
    else if ("close" in c) c.close();
    else c.disconnect();
  }
});
afterAll(async () => {
  await Promise.all([withRecovery?.node.stop(), withoutRecovery?.node.stop()]);
});

async function cliOf(relay: Relay): Promise<{ cli: CliSocket; cliRec: Recorder; sessionId: string; token: string }> {
  const cli = track(connectCli(relay.node.url, relay.key));
  const cliRec = new Recorder(cli);
  await connected(cli);
  const reply = await cli.emitWithAck("register", { cwd: "/home/alice/proj", sessionName: null, collabMode: true });
  if (!reply.ok) throw new Error(reply.error.message);
  return { cli, cliRec, sessionId: reply.sessionId, token: reply.token };
}

async function publish(cli: CliSocket, token: string, event: Record<string, unknown>): Promise<number> {
  const reply = await cli.emitWithAck("event", { token, event });
  if (!reply.ok || reply.seq === undefined) throw new Error(`publish failed: ${JSON.stringify(reply)}`);
  return reply.seq;
}

/** Everything a viewer client reports, in order. */
function watchViewer(viewer: ViewerClient) {
  const log = {
    statuses: [] as ConnectionStatus[],
    events: [] as ViewerEvent[],
    connected: [] as ViewerConnected[],
    snapshots: [] as Array<{ seq: number }>,
    synced: [] as Array<{ lastSeq: number }>,
    ended: [] as string[],
    errors: [] as Array<{ code: string }>,
    /** Seqs of the events that are not snapshot frames: must be strictly +1 each. */
    live: (): number[] => log.events.filter((e) => !e.snapshot).map((e) => e.seq),
  };
  viewer.on("status", (s) => log.statuses.push(s));
  viewer.on("event", (e) => log.events.push(e));
  viewer.on("connected", (c) => log.connected.push(c));
  viewer.on("snapshot", (s) => log.snapshots.push(s));
  viewer.on("synced", (s) => log.synced.push(s));
  viewer.on("ended", (r) => log.ended.push(r));
  viewer.on("error", (e) => log.errors.push(e));
  return log;
}

function viewerOf(url: string, relay: Relay, sessionId: string, options: Partial<ViewerClientOptions> = {}) {
  const viewer = track(
    new ViewerClient({
      url,
      sessionId,
      ...options,
      ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie }, ...FAST_RECONNECT, ...options.ioOptions },
    }),
  );
  return { viewer, log: watchViewer(viewer) };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("ViewerClient", () => {
  it("joins with a snapshot, then delivers live events once each, in seq order, over polling upgraded to WebSocket", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: { messages: [] } });
    await publish(cli, token, { type: "heartbeat", active: true });
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    const transports: string[] = [];
    viewer.socket.io.on("open", () => {
      const engine = viewer.socket.io.engine;
      transports.push(engine.transport.name);
      engine.on("upgrade", (transport) => transports.push(transport.name));
    });
    await waitFor(() => log.synced.length === 1, "synced");
    expect(log.connected).toEqual([expect.objectContaining({ sessionId, lastSeq: 2 })]);
    expect(log.snapshots).toEqual([{ sessionId, seq: 2 }]);
    expect(log.events.map((e) => [(e.event as { type: string }).type, e.seq, e.snapshot])).toEqual([
      ["heartbeat", 2, true],
      ["session_active", 2, true],
    ]);

    for (let i = 0; i < 30; i++) cli.emit("event", { token, event: { type: "message_update", i } });
    await waitFor(() => log.live().length === 30, "30 live events");
    expect(log.live()).toEqual(range(3, 32));
    expect(log.events.slice(2).map((e) => (e.event as { i: number }).i)).toEqual(range(0, 29));
    expect(viewer.lastSeq).toBe(32);
    // Default transports: the engine opened with long-polling, then upgraded (the Socket.IO connect may
    // complete on either side of the upgrade: the relay authenticates asynchronously).
    expect(transports[0]).toBe("polling");
    await waitFor(() => log.statuses.some((s) => s.state === "connected" && s.transport === "websocket"), "the WebSocket upgrade");
    expect(transports).toEqual(["polling", "websocket"]);
  });

  it("starts from the lastSeq it is given (a reloaded page): only the events after it, no snapshot", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    for (let i = 1; i <= 6; i++) await publish(cli, token, { type: "e", i });
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, sessionId, { lastSeq: 4 });
    await waitFor(() => log.synced.length === 1, "synced");
    expect(log.connected.map((c) => c.resumedFrom)).toEqual([4]);
    expect(log.snapshots).toEqual([]);
    expect(log.events).toEqual([
      { event: { type: "e", i: 5 }, seq: 5 },
      { event: { type: "e", i: 6 }, seq: 6 },
    ]);
    expect(log.synced).toEqual([{ sessionId, lastSeq: 6 }]);
    expect(viewer.lastSeq).toBe(6);
  });

  it("resumes through Socket.IO's connection state recovery after a dropped connection: no gap, no duplicate, no re-join", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: {} });
    const proxy = track(new TestProxy(withRecovery.node.port));
    const { log } = viewerOf(await proxy.start(), withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    for (let i = 0; i < 5; i++) await publish(cli, token, { type: "before", i });
    await waitFor(() => log.live().length === 5, "5 events");

    // The network fails, and stays down for a few attempts (new connections are refused meanwhile).
    proxy.switchTo(await freePort()); // nothing listens there: connections are refused
    proxy.dropAll();
    for (let i = 0; i < 5; i++) await publish(cli, token, { type: "during", i });
    await waitFor(() => log.statuses.some((s) => s.state === "reconnecting" && s.attempt >= 2), "a second reconnection attempt");
    proxy.switchTo(withRecovery.node.port);
    await waitFor(() => log.live().length === 10, "the missed events");
    for (let i = 0; i < 5; i++) cli.emit("event", { token, event: { type: "after", i } });
    await waitFor(() => log.live().length === 15, "later events");

    expect(log.live()).toEqual(range(2, 16));
    expect(log.connected).toHaveLength(1);
    const states = log.statuses.map((s) => (s.state === "reconnecting" ? `reconnecting#${s.attempt}` : s.state === "connected" ? `connected:${s.recovered}` : s.state));
    expect(states).toContain("reconnecting#1");
    expect(states).toContain("reconnecting#2");
    expect(states.at(-1)).toBe("connected:true");
  });

  it("without recovery, the handshake's lastSeq makes the relay replay exactly what was missed", async () => {
    const { cli, sessionId, token } = await cliOf(withoutRecovery);
    await publish(cli, token, { type: "session_active", state: {} });
    const proxy = track(new TestProxy(withoutRecovery.node.port));
    const { viewer, log } = viewerOf(await proxy.start(), withoutRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    for (let i = 0; i < 3; i++) await publish(cli, token, { type: "before", i });
    await waitFor(() => log.live().length === 3, "3 events");

    proxy.dropAll();
    for (let i = 0; i < 3; i++) await publish(cli, token, { type: "during", i });
    await waitFor(() => log.synced.length === 2, "the second join");
    for (let i = 0; i < 3; i++) cli.emit("event", { token, event: { type: "after", i } });
    await waitFor(() => log.live().length === 9, "all events");

    expect(log.live()).toEqual(range(2, 10));
    expect(log.connected.map((c) => c.resumedFrom)).toEqual([undefined, 4]);
    expect(log.snapshots).toHaveLength(1);
    expect(log.statuses.filter((s) => s.state === "connected").map((s) => s.state === "connected" && s.recovered)).not.toContain(true);
    expect(viewer.lastSeq).toBe(10);
  });

  it("without recovery and with the log no longer reaching back, takes a fresh snapshot and carries on from its seq", async () => {
    const { cli, sessionId, token } = await cliOf(withoutRecovery);
    await publish(cli, token, { type: "session_active", state: { n: 0 } });
    const proxy = track(new TestProxy(withoutRecovery.node.port));
    const { viewer, log } = viewerOf(await proxy.start(), withoutRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");

    proxy.dropAll();
    for (let i = 0; i < 8; i++) await publish(cli, token, { type: "during", i });
    await publish(cli, token, { type: "session_active", state: { n: 9 } });
    await waitFor(() => log.synced.length === 2, "the second join");
    await publish(cli, token, { type: "after" });
    await waitFor(() => log.live().length === 1, "the next live event");

    expect(log.connected.map((c) => c.resumedFrom)).toEqual([undefined, undefined]);
    expect(log.snapshots).toEqual([
      { sessionId, seq: 1 },
      { sessionId, seq: 10 },
    ]);
    expect(log.events.filter((e) => e.snapshot).map((e) => [e.seq, e.event])).toEqual([
      [1, { type: "session_active", state: { n: 0 } }],
      [10, { type: "session_active", state: { n: 9 } }],
    ]);
    expect(log.live()).toEqual([11]);
    expect(viewer.lastSeq).toBe(11);
  });

  it("re-joins from lastSeq when a live event skips a seq (stored but never broadcast), and delivers the missing one first", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: {} });
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    await publish(cli, token, { type: "one" });
    await waitFor(() => log.live().length === 1, "seq 2");

    // Seq 3 reaches the log but no viewer, as when the node that stored it dies before broadcasting.
    const ctx = withRecovery.node.relay.ctx;
    const record = await ctx.state.sessions.get(sessionId);
    if (!record) throw new Error("no session record");
    const stored = await ctx.state.sessions.publish({
      sessionId,
      generation: record.generation,
      eventJson: JSON.stringify({ type: "stored_only" }),
      kind: "other",
      now: Date.now(),
      expiresAt: record.expiresAt,
      ttlMs: 60_000,
      bufferSize: ctx.config.eventBufferSize,
    });
    expect(stored).toEqual({ ok: true, seq: 3 });
    await publish(cli, token, { type: "four" });
    await waitFor(() => log.synced.length === 2, "the re-join");
    await publish(cli, token, { type: "five" });
    await waitFor(() => log.live().length === 4, "seq 5");

    expect(log.live()).toEqual([2, 3, 4, 5]);
    expect(log.events.filter((e) => !e.snapshot).map((e) => (e.event as { type: string }).type)).toEqual(["one", "stored_only", "four", "five"]);
    expect(viewer.rejoins).toBe(1);
    expect(log.connected.map((c) => c.resumedFrom)).toEqual([undefined, 2]);
    const gap = log.statuses.findIndex((s) => s.state === "reconnecting" && /gap/.test(s.reason));
    expect(gap).toBeGreaterThan(0);
    expect(log.statuses.slice(gap + 1)).toContainEqual(expect.objectContaining({ state: "connected", recovered: false }));
    expect(log.statuses.some((s) => s.state === "closed")).toBe(false);
  });

  it("discards a live event from beyond the log (a seq the relay never stored) and re-joins where it is", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: {} });
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    withRecovery.node.relay.ctx.viewer.to(`session:${sessionId}`).emit("event", { event: { type: "bogus" }, seq: 9 });
    await waitFor(() => log.synced.length === 2, "the re-join");
    await publish(cli, token, { type: "real" });
    await waitFor(() => log.live().length === 1, "seq 2");
    expect(log.events.filter((e) => !e.snapshot).map((e) => [e.seq, (e.event as { type: string }).type])).toEqual([[2, "real"]]);
    expect(viewer.rejoins).toBe(1);
  });

  it("fails with not_found for an unknown session, and with the handshake's code when refused; no reconnection loop", async () => {
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, "no-such-session");
    await waitFor(() => viewer.status.state === "failed", "failed");
    expect(viewer.status).toEqual({ state: "failed", reason: "Session not found", code: "not_found" });
    expect(log.errors).toEqual([{ code: "not_found", message: "Session not found" }]);
    const refused = track(new ViewerClient({ url: withRecovery.node.url, sessionId: "x", ioOptions: { forceNew: true, ...FAST_RECONNECT } }));
    await waitFor(() => refused.status.state === "failed", "refused");
    expect(refused.status).toMatchObject({ state: "failed", code: "unauthorized" });
    await sleep(400);
    expect(log.statuses.at(-1)).toEqual(viewer.status);
    expect(log.statuses.filter((s) => s.state === "connected")).toHaveLength(1);
    expect(viewer.socket.active).toBe(false);
    expect(refused.socket.active).toBe(false);
  });

  it("reports a session's end, and replays an ended session's last state", async () => {
    const { cli, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: { last: true } });
    const { log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    await cli.emitWithAck("session_end", { token });
    await waitFor(() => log.statuses.at(-1)?.state === "closed", "closed");
    expect(log.ended).toEqual(["Session ended"]);
    expect(log.statuses.at(-1)).toEqual({ state: "closed", reason: "Session ended" });

    const late = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => late.log.ended.length === 1, "the replay");
    expect(late.log.connected).toEqual([{ sessionId, replayOnly: true }]);
    expect(late.log.events).toEqual([{ event: { type: "session_active", state: { last: true } }, seq: 0, snapshot: true, replay: true }]);
    expect(late.log.ended).toEqual(["Session is no longer live (snapshot replay)."]);
    await waitFor(() => late.viewer.status.state === "closed", "closed");
    expect(late.viewer.status).toEqual({ state: "closed", reason: "Session is no longer live (snapshot replay)." });
  });

  it("sends input, model changes and exec commands to the CLI, and resolves exec with the CLI's result", async () => {
    const { cli, cliRec, sessionId, token } = await cliOf(withRecovery);
    await publish(cli, token, { type: "session_active", state: {} });
    const { viewer, log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");

    await viewer.sendInput("hello", [{ attachmentId: "a1", filename: "a.txt", mediaType: "text/plain" }]);
    await viewer.setModel("anthropic", "claude");
    expect(await cliRec.next("input")).toEqual([{ text: "hello", attachments: [{ attachmentId: "a1", filename: "a.txt", mediaType: "text/plain" }] }]);
    expect(await cliRec.next("model_set")).toEqual([{ provider: "anthropic", modelId: "claude" }]);

    const result = viewer.exec("compact", { keep: 3 });
    const [exec] = await cliRec.next<{ id: string; command: string; keep: number }>("exec");
    expect(exec).toMatchObject({ command: "compact", keep: 3 });
    cli.emit("exec_result", { id: exec?.id ?? "", ok: true, command: "compact", result: { done: 1 } });
    expect(await result).toEqual({ id: exec?.id, ok: true, command: "compact", result: { done: 1 } });

    await viewer.resync();
    await waitFor(() => log.events.filter((e) => e.snapshot).length === 2, "the resync snapshot");
    expect(log.events.at(-1)).toEqual({ event: { type: "session_active", state: {} }, seq: 1, snapshot: true });
  });
});

describe("ViewerClient and the CLI's viewer_connected", () => {
  /** A registered CLI client that counts the `viewer_connected` it gets. */
  async function countingCli(): Promise<{ cli: RelayClient; sessionId: string; viewersConnected: () => number }> {
    const cli = track(new RelayClient({ url: withRecovery.node.url, apiKey: withRecovery.key, session: { cwd: "/home/alice/proj" } }));
    let count = 0;
    cli.on("viewer_connected", () => (count += 1));
    const registered = new Promise<string>((resolve) => cli.on("registered", ({ sessionId }) => resolve(sessionId)));
    cli.start();
    return { cli, sessionId: await registered, viewersConnected: () => count };
  }

  it("sends `connected` once it has joined, as the deployed web app does: the CLI's RelayClient gets viewer_connected", async () => {
    const { cli, sessionId, viewersConnected } = await countingCli();
    cli.publish({ type: "session_active", state: {} });
    await cli.flushed();
    expect(viewersConnected()).toBe(0);

    const { log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.synced.length === 1, "synced");
    await waitFor(() => viewersConnected() === 1, "viewer_connected at the CLI");
    // A second viewer is a second `connected`.
    const second = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => second.log.synced.length === 1, "the second viewer synced");
    await waitFor(() => viewersConnected() === 2, "a second viewer_connected");
  });

  it("sends no `connected` for an ended session's replay", async () => {
    const { cli, sessionId, viewersConnected } = await countingCli();
    cli.publish({ type: "session_active", state: {} });
    expect((await cli.end()).ok).toBe(true);
    const { log } = viewerOf(withRecovery.node.url, withRecovery, sessionId);
    await waitFor(() => log.ended.length === 1, "the replay's end");
    expect(log.connected).toEqual([expect.objectContaining({ replayOnly: true })]);
    await sleep(100);
    expect(viewersConnected()).toBe(0);
  });
});

describe("HubClient", () => {
  it("keeps the session map current: the list, then added, status and removed", async () => {
    const relay = withoutRecovery;
    const hub = track(new HubClient({ url: relay.node.url, ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie }, ...FAST_RECONNECT } }));
    const lists: number[] = [];
    const added: string[] = [];
    const removed: string[] = [];
    hub.on("sessions", (sessions) => lists.push(sessions.length));
    hub.on("session_added", (s) => added.push(s.sessionId));
    hub.on("session_removed", (id) => removed.push(id));
    await waitFor(() => lists.length === 1, "the list");
    const before = hub.sessions.size;

    const { cli, sessionId, token } = await cliOf(relay);
    await waitFor(() => hub.sessions.has(sessionId), "session_added");
    expect(added).toEqual([sessionId]);
    expect(hub.sessions.get(sessionId)).toMatchObject({ sessionId, userId: "alice", isActive: false, model: null });

    await publish(cli, token, { type: "heartbeat", active: true, model: { provider: "anthropic", id: "claude" } });
    await waitFor(() => hub.sessions.get(sessionId)?.isActive === true, "session_status");
    expect(hub.sessions.get(sessionId)?.model).toEqual({ provider: "anthropic", id: "claude" });

    await cli.emitWithAck("session_end", { token });
    await waitFor(() => !hub.sessions.has(sessionId), "session_removed");
    expect(removed).toEqual([sessionId]);
    expect(hub.sessions.size).toBe(before);
    expect(hub.status).toMatchObject({ state: "connected" });
    hub.close();
    expect(hub.status).toEqual({ state: "closed", reason: "io client disconnect" });
  });

  it("replaces the map with the list sent after a reconnection", async () => {
    const relay = withoutRecovery;
    const gone = await cliOf(relay);
    const proxy = track(new TestProxy(relay.node.port));
    const hub = track(new HubClient({ url: await proxy.start(), ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie }, ...FAST_RECONNECT } }));
    let lists = 0;
    hub.on("sessions", () => (lists += 1));
    await waitFor(() => lists === 1 && hub.sessions.has(gone.sessionId), "the first list");
    // While the hub is cut off (reconnections refused), one session ends and another starts: it misses
    // both announcements, so only the list sent after the reconnection can make its map right.
    proxy.switchTo(await freePort());
    proxy.dropAll();
    await waitFor(() => hub.status.state === "reconnecting", "the hub to notice");
    expect(await gone.cli.emitWithAck("session_end", {})).toEqual({ ok: true });
    const { sessionId } = await cliOf(relay);
    proxy.switchTo(relay.node.port);
    await waitFor(() => lists >= 2 && hub.sessions.has(sessionId), "the list after the reconnection");
    expect(hub.sessions.has(gone.sessionId)).toBe(false);
  });
});

describe("TerminalClient", () => {
  it("attaches, spawns on resize, streams data both ways, kills and exits", async () => {
    const relay = withRecovery;
    const { runner, runnerRec, runnerId, terminalId } = await runnerWithTerminal(relay, track);

    const term = track(new TerminalClient({ url: relay.node.url, terminalId, ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie }, ...FAST_RECONNECT } }));
    const seen: Array<[string, unknown]> = [];
    for (const name of ["connected", "ready", "data", "exit", "error"] as const) term.on(name, (frame: unknown) => seen.push([name, frame]));
    await waitFor(() => seen.length === 1, "connected");
    expect(seen).toEqual([["connected", { terminalId }]]);

    term.resize(132, 40);
    expect(await runnerRec.next("new_terminal")).toEqual([{ terminalId, cols: 132, rows: 40 }]);
    runner.emit("terminal_ready", { terminalId, runnerId });
    runner.emit("terminal_data", { terminalId, runnerId, data: "aGVsbG8=" });
    await waitFor(() => seen.length === 3, "ready and data");
    expect(seen.slice(1)).toEqual([
      ["ready", { terminalId, runnerId }],
      ["data", { terminalId, runnerId, data: "aGVsbG8=" }],
    ]);
    term.write("bHMN");
    expect(await runnerRec.next("terminal_input")).toEqual([{ data: "bHMN", terminalId }]);
    term.resize(100, 30);
    expect(await runnerRec.next("terminal_resize")).toEqual([{ cols: 100, rows: 30, terminalId }]);
    term.kill();
    expect(await runnerRec.next("kill_terminal")).toEqual([{ terminalId }]);
    runner.emit("terminal_exit", { terminalId, runnerId, exitCode: 0 });
    await waitFor(() => seen.length === 4, "exit");
    expect(seen[3]).toEqual(["exit", { terminalId, runnerId, exitCode: 0 }]);
    expect(term.status).toMatchObject({ state: "connected" });
  });

  it("fails with the relay's reason for an unknown terminal", async () => {
    const relay = withRecovery;
    const term = track(new TerminalClient({ url: relay.node.url, terminalId: "nope", ioOptions: { forceNew: true, extraHeaders: { cookie: relay.cookie }, ...FAST_RECONNECT } }));
    const errors: unknown[] = [];
    term.on("error", (e) => errors.push(e));
    await waitFor(() => term.status.state === "failed", "failed");
    expect(term.status).toEqual({ state: "failed", reason: "Terminal not found" });
    expect(errors).toEqual([{ message: "Terminal not found" }]);
  });
});
