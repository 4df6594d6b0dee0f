import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import type { ConnectionStatus } from "../../clients/socketio/status.js";
import { connectCli, connectViewer, connected, Recorder, type CliSocket } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { freePort } from "../helpers/redis.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/** The typed `/relay` client of the CLI (issue 5) against a real single node. */
describe("RelayClient (Socket.IO CLI client)", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  const cleanup: Array<() => unknown> = [];

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_CLI_RECONNECT_GRACE_MS: "5000" }));
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await node?.stop();
  });

  const fastReconnect = { reconnectionDelay: 50, reconnectionDelayMax: 200 };

  function client(url: string, extra: Partial<ConstructorParameters<typeof RelayClient>[0]> = {}): RelayClient {
    const c = new RelayClient({ url, apiKey: key, clientVersion: "test", session: { cwd: "/p", collabMode: true }, ioOptions: fastReconnect, ...extra });
    cleanup.push(() => c.close());
    return c;
  }

  async function registered(c: RelayClient): Promise<string> {
    return new Promise((resolve) => c.once("registered", (r) => resolve(r.sessionId)));
  }

  function watch(sessionId: string): Recorder {
    const viewer = connectViewer(node.url, { cookie }, sessionId);
    cleanup.push(() => viewer.disconnect());
    return new Recorder(viewer);
  }

  /** The `n` of every live event the viewer received, in arrival order. */
  const numbers = (rec: Recorder): number[] =>
    rec
      .named<{ event?: { n?: number }; snapshot?: boolean }>("event")
      .filter((e) => !e.snapshot && typeof e.event?.n === "number")
      .map((e) => e.event?.n as number);

  it("connects over WebSocket, registers, and sends events published before the registration in order", async () => {
    const statuses: ConnectionStatus[] = [];
    const c = client(node.url);
    c.on("status", (s) => statuses.push(s));
    for (let n = 1; n <= 5; n++) c.publish({ type: "message_update", n });
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    await c.flushed();
    expect(c.unacknowledged).toBe(0);
    expect(statuses[0]).toEqual({ state: "connecting" });
    expect(statuses).toContainEqual({ state: "connected", transport: "websocket", recovered: false });

    const viewer = watch(sessionId);
    await viewer.next("synced");
    for (let n = 6; n <= 8; n++) c.publish({ type: "message_update", n });
    await viewer.until((ev) => numbers(viewer).length >= 3, "3 live events");
    expect(numbers(viewer)).toEqual([6, 7, 8]);
    const replay = (await node.relay.ctx.state.sessions.view(sessionId, 0))?.log;
    expect(replay?.complete && replay.events.map((e) => JSON.parse(e.eventJson ?? "{}").n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("stores events a `registered` listener publishes after the ones still buffered, on every registration", async () => {
    const proxy = new TestProxy(node.port);
    const url = await proxy.start();
    cleanup.push(() => proxy.stop());
    const c = client(url);
    let registrations = 0;
    // What a CLI does on (re)registration: publish its current state. It must not overtake the buffer.
    c.on("registered", () => c.publish({ type: "session_active", n: 100 + ++registrations }));
    for (let n = 1; n <= 3; n++) c.publish({ type: "message_update", n });
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    await c.flushed();
    proxy.switchTo(await freePort());
    proxy.dropAll();
    for (let n = 4; n <= 6; n++) c.publish({ type: "message_update", n });
    await new Promise<void>((resolve) => c.once("status", (s) => s.state === "reconnecting" && resolve()));
    const again = registered(c);
    proxy.switchTo(node.port);
    await again;
    await c.flushed();
    const log = (await node.relay.ctx.state.sessions.view(sessionId, 0))?.log;
    expect(log?.complete && log.events.map((e) => JSON.parse(e.eventJson ?? "{}").n)).toEqual([1, 2, 3, 101, 4, 5, 6, 102]);
    expect(c.stats).toMatchObject({ published: 8, duplicates: 0, dropped: 0 });
  });

  it("delivers viewer commands to the CLI and its exec result back", async () => {
    const c = client(node.url);
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    const viewerSocket = connectViewer(node.url, { cookie }, sessionId);
    cleanup.push(() => viewerSocket.disconnect());
    const viewer = new Recorder(viewerSocket);
    await viewer.next("synced");

    const joined = new Promise<void>((resolve) => c.once("viewer_connected", () => resolve()));
    viewerSocket.emit("connected", {});
    await joined;
    const input = new Promise((resolve) => c.once("input", resolve));
    viewerSocket.emit("input", { text: "hello", attachments: [{ url: "https://x/a.txt", junk: 1 }] });
    expect(await input).toEqual({ text: "hello", attachments: [{ url: "https://x/a.txt" }] });
    const model = new Promise((resolve) => c.once("model_set", resolve));
    viewerSocket.emit("model_set", { provider: "anthropic", modelId: "m1" });
    expect(await model).toEqual({ provider: "anthropic", modelId: "m1" });
    c.once("exec", (cmd) => void c.execResult({ id: cmd.id, ok: true, command: cmd.command, result: { done: true } }));
    viewerSocket.emit("exec", { id: "x1", command: "compact" });
    const [result] = await viewer.next("exec_result");
    expect(result).toEqual({ id: "x1", ok: true, command: "compact", result: { done: true } });
  });

  it("keeps events published while the relay is unreachable and delivers them, once and in order, after reconnecting", async () => {
    const proxy = new TestProxy(node.port);
    const url = await proxy.start();
    cleanup.push(() => proxy.stop());
    const c = client(url);
    const statuses: ConnectionStatus[] = [];
    c.on("status", (s) => statuses.push(s));
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    const viewer = watch(sessionId);
    await viewer.next("synced");

    for (let n = 1; n <= 20; n++) c.publish({ type: "message_update", n });
    // Cut the network while events are in flight, and keep it down (nothing listens on the new target).
    proxy.switchTo(await freePort());
    proxy.dropAll();
    for (let n = 21; n <= 40; n++) c.publish({ type: "message_update", n });
    await new Promise<void>((resolve) => c.once("status", (s) => s.state === "reconnecting" && resolve()));
    proxy.switchTo(node.port);
    const again = registered(c);
    expect(await again).toBe(sessionId);
    await c.flushed();
    await viewer.until(() => numbers(viewer).includes(40), "event 40");
    expect(numbers(viewer)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const liveSeqs = viewer.named<{ seq: number; snapshot?: boolean }>("event").filter((e) => !e.snapshot).map((e) => e.seq);
    expect(new Set(liveSeqs).size).toBe(liveSeqs.length);
    expect(statuses.some((s) => s.state === "reconnecting" && s.attempt >= 1)).toBe(true);
    expect(statuses.at(-1)).toMatchObject({ state: "connected" });
  });

  it("bounds its buffer: the oldest unsent events are dropped and reported", async () => {
    const c = client(node.url, { maxBufferedEvents: 3 });
    const overflows: Array<{ dropped: number; upToSeq: number }> = [];
    c.on("overflow", (o) => overflows.push(o));
    for (let n = 1; n <= 5; n++) c.publish({ type: "message_update", n });
    expect(c.unacknowledged).toBe(3);
    expect(overflows).toEqual([
      { dropped: 1, upToSeq: 1 },
      { dropped: 1, upToSeq: 2 },
    ]);
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    await c.flushed();
    const log = (await node.relay.ctx.state.sessions.view(sessionId, 0))?.log;
    expect(log?.complete && log.events.map((e) => JSON.parse(e.eventJson ?? "{}").n)).toEqual([3, 4, 5]);
  });

  it("ends the session for its viewers after its buffered events are stored", async () => {
    const c = client(node.url);
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    const viewer = watch(sessionId);
    await viewer.next("synced");
    c.publish({ type: "message_update", n: 1 });
    await c.end();
    await viewer.next("disconnected");
    expect(numbers(viewer)).toEqual([1]);
    expect((await node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(false);
  });

  it("ends the session when end() is called while disconnected: it waits for the next registration", async () => {
    const proxy = new TestProxy(node.port);
    const url = await proxy.start();
    cleanup.push(() => proxy.stop());
    const c = client(url);
    const sessionIdP = registered(c);
    c.start();
    const sessionId = await sessionIdP;
    const viewer = watch(sessionId);
    await viewer.next("synced");
    proxy.switchTo(await freePort());
    proxy.dropAll();
    await new Promise<void>((resolve) => c.once("status", (s) => s.state === "reconnecting" && resolve()));
    let ended = false;
    const reply = c.end().then((r) => ((ended = true), r));
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toBe(false);
    proxy.switchTo(node.port);
    expect(await reply).toEqual({ ok: true });
    await viewer.next("disconnected");
    // Ended now, not after the relay's 5 s reconnect grace.
    expect((await node.relay.ctx.state.sessions.get(sessionId))?.live).toBe(false);
    expect(c.socket.active).toBe(false);
  });

  it("end() without a connection that can come back closes at once with unavailable", async () => {
    const c = client(node.url);
    expect(await c.end()).toMatchObject({ ok: false, error: { code: "unavailable" } });
  });

  it("answers execResult at once when it has no registered connection (not buffered for the next one)", async () => {
    const c = client(node.url);
    expect(await c.execResult({ id: "x", ok: true, command: "abort" })).toEqual({ ok: false, error: { code: "unavailable", message: "Not connected to the relay" } });
  });

  it("stops, failed with the code, when the relay refuses its registration for good", async () => {
    // A payload the protocol types forbid (a tool passing options through from JSON).
    const c = client(node.url, { session: { cwd: 42 as unknown as string } });
    const errors: string[] = [];
    c.on("error", (e) => errors.push(e.code));
    const failed = new Promise<ConnectionStatus>((resolve) => c.on("status", (s) => s.state === "failed" && resolve(s)));
    c.start();
    expect(await failed).toMatchObject({ state: "failed", code: "invalid_payload" });
    expect(errors).toEqual(["invalid_payload"]);
    expect(c.socket.active).toBe(false);
  });

  it("reports a refused handshake as failed with the relay's code", async () => {
    const c = new RelayClient({ url: node.url, apiKey: "wrong", ioOptions: fastReconnect });
    cleanup.push(() => c.close());
    const failed = new Promise<ConnectionStatus>((resolve) => c.on("status", (s) => s.state === "failed" && resolve(s)));
    c.start();
    expect(await failed).toMatchObject({ state: "failed", code: "unauthorized" });
  });

  describe("relay-side de-duplication (the wire contract the client relies on)", () => {
    async function registerRaw(sessionId?: string, streamId = "stream-1"): Promise<{ cli: CliSocket; sessionId: string }> {
      const cli = connectCli(node.url, key);
      cleanup.push(() => cli.disconnect());
      await connected(cli);
      const reg = await cli.emitWithAck("register", { cwd: "/p", streamId, ...(sessionId ? { sessionId } : {}) });
      if (!reg.ok) throw new Error(reg.error.message);
      return { cli, sessionId: reg.sessionId };
    }

    it("acknowledges a resent event as a duplicate, and viewers never see it twice", async () => {
      const first = await registerRaw();
      const viewer = watch(first.sessionId);
      await viewer.next("synced");
      const send = (cli: CliSocket, n: number) => cli.emitWithAck("event", { seq: n, event: { type: "message_update", n } });
      expect(await send(first.cli, 1)).toEqual({ ok: true, seq: 1 });
      expect(await send(first.cli, 2)).toEqual({ ok: true, seq: 2 });
      // The CLI lost its connection before it saw the ack of 2: it registers again and resends 2, then 3.
      // A transport loss (not an explicit disconnect, which would end the session at once).
      first.cli.io.engine.close();
      const second = await registerRaw(first.sessionId);
      expect(second.sessionId).toBe(first.sessionId);
      expect(await send(second.cli, 2)).toEqual({ ok: true, duplicate: true });
      expect(await send(second.cli, 3)).toEqual({ ok: true, seq: 3 });
      await viewer.until(() => numbers(viewer).length >= 3, "3 events");
      expect(numbers(viewer)).toEqual([1, 2, 3]);
      expect(viewer.named<{ seq: number }>("event").map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it("does not de-duplicate a client that registered no streamId (legacy behaviour)", async () => {
      const cli = connectCli(node.url, key);
      cleanup.push(() => cli.disconnect());
      await connected(cli);
      const reg = await cli.emitWithAck("register", { cwd: "/p" });
      if (!reg.ok) throw new Error(reg.error.message);
      expect(await cli.emitWithAck("event", { seq: 1, event: { n: 1 } })).toEqual({ ok: true, seq: 1 });
      expect(await cli.emitWithAck("event", { seq: 1, event: { n: 1 } })).toEqual({ ok: true, seq: 2 });
    });

    it("refuses a streamId that is not a short string", async () => {
      const cli = connectCli(node.url, key);
      cleanup.push(() => cli.disconnect());
      await connected(cli);
      const reply = await cli.emitWithAck("register", { cwd: "/p", streamId: "x".repeat(200) });
      expect(reply).toMatchObject({ ok: false, error: { code: "invalid_payload" } });
    });
  });
});
