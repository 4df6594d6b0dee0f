import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectCli, connected, connectViewer, Recorder, type CliSocket } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { waitFor } from "../helpers/wait.js";

/**
 * `event_ack` folding (PIZZAPI_ACK_INTERVAL_MS, docs/protocol.md `/relay`): a Socket.IO CLI gets the first
 * ack at once and the ones within the interval folded into one with the highest mark; a legacy CLI keeps
 * one frame per event, as the legacy relay sent them (the folded ack lists every mark and the bridge
 * writes one frame for each); 0 turns folding off.
 */
const INTERVAL_MS = 400;
const EVENTS = 10;

let folded: { node: TestRelay; key: string; cookie: string };
let unfolded: { node: TestRelay; key: string };
const sockets: CliSocket[] = [];

beforeAll(async () => {
  [folded, unfolded] = await Promise.all([startRelayWithAlice({ PIZZAPI_ACK_INTERVAL_MS: String(INTERVAL_MS) }), startRelayWithAlice({ PIZZAPI_ACK_INTERVAL_MS: "0" })]);
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await Promise.all([folded.node.stop(), unfolded.node.stop()]);
});

async function socketCli(relay: { node: TestRelay; key: string }): Promise<{ cli: CliSocket; acks: Array<{ seq: number; at: number }> }> {
  const cli = connectCli(relay.node.url, relay.key);
  sockets.push(cli);
  const acks: Array<{ seq: number; at: number }> = [];
  cli.on("event_ack", (ack) => acks.push({ seq: ack.seq, at: performance.now() }));
  await connected(cli);
  const reg = await cli.emitWithAck("register", { cwd: "/p" });
  if (!reg.ok) throw new Error(reg.error.code);
  return { cli, acks };
}

describe("event_ack folding", () => {
  it("gives a Socket.IO CLI the first ack at once, then one folded ack with the highest mark within the interval", async () => {
    const { cli, acks } = await socketCli(folded);
    const sent = performance.now();
    for (let seq = 1; seq <= EVENTS; seq++) cli.emit("event", { seq, event: { type: "agent_start" } });
    await waitFor(() => acks.at(-1)?.seq === EVENTS, `the ack of event ${EVENTS}`, 5_000);
    // Cumulative and increasing; far fewer than one per event; the last within about one interval.
    expect(acks.map((a) => a.seq)).toEqual([...acks.map((a) => a.seq)].sort((x, y) => x - y));
    expect(acks.length).toBeLessThanOrEqual(3);
    expect(acks[0]?.seq).toBeGreaterThanOrEqual(1);
    expect((acks.at(-1)?.at ?? Infinity) - sent).toBeLessThan(INTERVAL_MS * 2 + 1_000);
    // Nothing more is sent once the mark was said.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
    expect(acks.at(-1)?.seq).toBe(EVENTS);
    expect(acks.filter((a) => a.seq === EVENTS)).toHaveLength(1);
  });

  it("sends a lone event's ack at once after a quiet interval", async () => {
    const { cli, acks } = await socketCli(folded);
    cli.emit("event", { seq: 1, event: { type: "agent_start" } });
    await waitFor(() => acks.length === 1, "the first ack", 5_000);
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 100));
    const sent = performance.now();
    cli.emit("event", { seq: 2, event: { type: "agent_end" } });
    await waitFor(() => acks.length === 2, "the second ack", 5_000);
    expect(acks.map((a) => a.seq)).toEqual([1, 2]);
    // At once: well inside the folding interval.
    expect((acks[1]?.at ?? Infinity) - sent).toBeLessThan(INTERVAL_MS / 2);
  });

  it("keeps one ack per event for a legacy CLI", async () => {
    const cli = await LegacyClient.open(folded.node.url, "/ws/sessions", { "x-api-key": folded.key });
    cli.send({ type: "register", cwd: "/p" });
    const [registered] = await cli.next("registered");
    const { sessionId, token } = registered as { sessionId: string; token: string };
    for (let seq = 1; seq <= EVENTS; seq++) cli.send({ type: "event", sessionId, token, seq, event: { type: "agent_start" } });
    const acks = await cli.next("event_ack", EVENTS);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    cli.close();
  });

  it("writes a legacy CLI's waiting acks before any other frame, in order, without waiting for the interval", async () => {
    // A long interval: only another frame can make the acks leave early.
    const slow = await startRelayWithAlice({ PIZZAPI_ACK_INTERVAL_MS: "60000" });
    try {
      const cli = await LegacyClient.open(slow.node.url, "/ws/sessions", { "x-api-key": slow.key });
      cli.send({ type: "register", cwd: "/p", collabMode: true });
      const [registered] = await cli.next("registered");
      const { sessionId, token } = registered as { sessionId: string; token: string };
      const viewer = connectViewer(slow.node.url, { cookie: slow.cookie }, sessionId);
      sockets.push(viewer as unknown as CliSocket);
      const rec = new Recorder(viewer);
      await rec.next("synced");
      // The first ack of a registration leaves at once; the two after it, within the interval, wait.
      for (let seq = 1; seq <= 3; seq++) cli.send({ type: "event", sessionId, token, seq, event: { type: "agent_start" } });
      await rec.next("event", 3);
      await cli.next("event_ack");
      await new Promise((r) => setTimeout(r, 300));
      expect(cli.typed("event_ack").map((a) => a.seq)).toEqual([1]);
      const sent = performance.now();
      viewer.emit("input", { text: "hello" });
      await cli.next("input");
      expect(performance.now() - sent).toBeLessThan(5_000);
      // The three acks, in order, right before the input; nothing reordered.
      const types = cli.frames.map((f) => f.type).filter((t) => t === "event_ack" || t === "input");
      expect(types).toEqual(["event_ack", "event_ack", "event_ack", "input"]);
      expect(cli.typed("event_ack").map((a) => a.seq)).toEqual([1, 2, 3]);
      cli.close();
    } finally {
      await slow.node.stop();
    }
  });

  it("sends a legacy CLI's waiting acks before the reply to a new registration, as that of the one they belong to", async () => {
    const slow = await startRelayWithAlice({ PIZZAPI_ACK_INTERVAL_MS: "60000" });
    try {
      const cli = await LegacyClient.open(slow.node.url, "/ws/sessions", { "x-api-key": slow.key });
      cli.send({ type: "register", cwd: "/p" });
      const [first] = await cli.next("registered");
      const { sessionId, token } = first as { sessionId: string; token: string };
      for (let seq = 1; seq <= 3; seq++) cli.send({ type: "event", sessionId, token, seq, event: { type: "agent_start" } });
      await cli.next("event_ack");
      // Acks 2 and 3 wait for the interval; the second registration must not lose them.
      cli.send({ type: "register", cwd: "/q" });
      await cli.next("registered", 2);
      const order = cli.frames.filter((f) => f.type === "event_ack" || f.type === "registered").map((f) => (f.type === "event_ack" ? `ack ${String(f.seq)} ${String(f.sessionId)}` : f.type));
      expect(order).toEqual(["registered", `ack 1 ${sessionId}`, `ack 2 ${sessionId}`, `ack 3 ${sessionId}`, "registered"]);
      cli.close();
    } finally {
      await slow.node.stop();
    }
  });

  it("does not let a legacy CLI's waiting acks grow without bound: a full batch leaves before the interval", async () => {
    const slow = await startRelayWithAlice({ PIZZAPI_ACK_INTERVAL_MS: "60000", PIZZAPI_MAX_EVENTS_PER_SECOND: "10000" });
    try {
      const cli = await LegacyClient.open(slow.node.url, "/ws/sessions", { "x-api-key": slow.key });
      cli.send({ type: "register", cwd: "/p" });
      const [registered] = await cli.next("registered");
      const { sessionId, token } = registered as { sessionId: string; token: string };
      const events = 700;
      for (let seq = 1; seq <= events; seq++) cli.send({ type: "event", sessionId, token, seq, event: { type: "agent_start" } });
      // The first at once, then one batch once 512 marks wait; the rest waits for the interval.
      const acks = await cli.next("event_ack", 513, 10_000);
      expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 513 }, (_, i) => i + 1));
      await new Promise((r) => setTimeout(r, 300));
      expect(cli.typed("event_ack")).toHaveLength(513);
      cli.close();
    } finally {
      await slow.node.stop();
    }
  });

  it("sends one ack per event to a Socket.IO CLI when PIZZAPI_ACK_INTERVAL_MS is 0", async () => {
    const { cli, acks } = await socketCli(unfolded);
    for (let seq = 1; seq <= EVENTS; seq++) cli.emit("event", { seq, event: { type: "agent_start" } });
    await waitFor(() => acks.length === EVENTS, `${EVENTS} acks`, 5_000);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });
});
