import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { connectViewer, Recorder } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/** The faithful legacy CLI client against a real relay: the v0.1.x frame sequence, collab, reconnects. */
describe("legacy CLI client", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice());
  });
  afterAll(async () => node.stop());

  const once = <T>(client: LegacyCliClient, event: string): Promise<T> => new Promise((resolve) => client.once(event, resolve));

  it("registers, sends session_active and a heartbeat, publishes with seq, and answers a viewer's connected", async () => {
    const client = new LegacyCliClient({ relayUrl: node.url, apiKey: key, cwd: "/home/alice/proj", state: () => ({ messages: [] }), heartbeatMs: 60_000 });
    const registered = once<{ sessionId: string }>(client, "registered");
    client.start();
    expect((await registered).sessionId).toBe(client.sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const viewer = connectViewer(node.url, { cookie }, client.sessionId);
    const rec = new Recorder(viewer);
    await rec.next("synced");
    // The join snapshot: the heartbeat and the session_active the client sent on registering.
    expect(rec.named<{ event: { type: string }; seq: number }>("event").map((e) => [e.event.type, e.seq])).toEqual([["heartbeat", 2], ["session_active", 2]]);
    const answered = once(client, "connected");
    viewer.emit("connected", {});
    await answered;
    await rec.next("event", 4); // capabilities, session_active
    expect(client.forward({ type: "agent_start" })).toBe(true);
    await rec.next("event", 5);
    expect(rec.named<{ seq: number }>("event").map((e) => e.seq)).toEqual([2, 2, 3, 4, 5]);
    const input = once<{ text: string }>(client, "input");
    viewer.emit("input", { text: "hello" });
    expect(await input).toMatchObject({ type: "input", text: "hello" });
    expect(client.ackedSeq).toBeGreaterThanOrEqual(4);
    client.stop();
    await rec.next("disconnected");
    expect(rec.named("disconnected")[0]).toEqual({ reason: "Session ended" });
    viewer.disconnect();
  });

  it("reconnects with the legacy backoff after a network cut and re-registers the same session id", async () => {
    const proxy = new TestProxy(node.port);
    const lb = await proxy.start();
    const client = new LegacyCliClient({ relayUrl: lb, apiKey: key, cwd: "/p", backoffScale: 0.05, heartbeatMs: 60_000 });
    client.start();
    await once(client, "registered");
    const viewer = connectViewer(node.url, { cookie }, client.sessionId);
    const rec = new Recorder(viewer);
    await rec.next("synced");
    const reregistered = once<{ sessionId: string; token: string }>(client, "registered");
    const closed = once<{ code: number }>(client, "close");
    proxy.dropAll();
    await closed;
    // Dropped, not buffered: the legacy client had no send buffer.
    expect(client.forward({ type: "lost" })).toBe(false);
    const again = await reregistered;
    expect(again.sessionId).toBe(client.sessionId);
    client.forward({ type: "after" });
    await rec.until((events) => events.some((e) => e.name === "event" && (e.payload as { event: { type: string } }).event.type === "after"), "the event after the reconnect");
    // Same session, same viewer: the seq goes on (session_active and heartbeat of the re-registration first).
    const seqs = rec.named<{ seq: number }>("event").map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(rec.named("disconnected")).toEqual([]);
    client.stop();
    viewer.disconnect();
    await proxy.stop();
  });
});
