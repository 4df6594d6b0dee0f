import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectCli, connected, type CliSocket } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { legacyEventSeqs } from "../helpers/legacy-flows.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";
import { sleep } from "../helpers/wait.js";

/**
 * A legacy viewer gets every stored event, in order, even one whose broadcast was lost (its node died
 * or lost Redis right after storing it): the bridge fills the gap from the session's log before it
 * passes anything later on (docs/legacy-protocol.md section 14). Stored-but-not-broadcast is made
 * here by storing an event straight into shared state.
 */
describe("legacy viewers and lost broadcasts", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  const opened: Array<{ close(): void }> = [];

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_RELAY_EVENT_BUFFER_SIZE: "5" }));
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await node?.stop();
  });

  async function session(): Promise<{ cli: CliSocket; sessionId: string; token: string; viewer: LegacyClient }> {
    const cli = connectCli(node.url, key);
    opened.push({ close: () => cli.disconnect() });
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const viewer = await LegacyClient.open(node.url, `/ws/sessions/${reg.sessionId}`, { cookie });
    opened.push(viewer);
    await viewer.next("connected");
    return { cli, sessionId: reg.sessionId, token: reg.token, viewer };
  }

  /** Stores events as the relay does, without broadcasting them (the lost broadcast). */
  async function storeSilently(sessionId: string, events: unknown[]): Promise<void> {
    for (const event of events) {
      const record = await node.relay.ctx.state.sessions.get(sessionId);
      if (!record) throw new Error("no session");
      const stored = await node.relay.ctx.state.sessions.publish({
        sessionId,
        generation: record.generation,
        eventJson: JSON.stringify(event),
        kind: "other",
        now: Date.now(),
        expiresAt: null,
        ttlMs: 60_000,
        bufferSize: 5,
      });
      if (!stored.ok) throw new Error("not stored");
    }
  }

  it("fills the gap from the log: every event once, in order, no resync needed", async () => {
    const { cli, sessionId, token, viewer } = await session();
    await cli.emitWithAck("event", { token, seq: 1, event: { type: "message_update", n: 1 } });
    await viewer.until(() => legacyEventSeqs(viewer).includes(1), "event 1");
    await storeSilently(sessionId, [{ type: "message_update", n: 2 }, { type: "message_update", n: 3 }]);
    await cli.emitWithAck("event", { token, seq: 2, event: { type: "message_update", n: 4 } });
    await viewer.until(() => legacyEventSeqs(viewer).includes(4), "event 4");
    expect(legacyEventSeqs(viewer)).toEqual([1, 2, 3, 4]);
    expect(viewer.typed("event").map((f) => (f.event as { n: number }).n)).toEqual([1, 2, 3, 4]);
  });

  it("passes the gap on when the log no longer reaches back, as the legacy relay did (the UI resyncs)", async () => {
    const { cli, sessionId, token, viewer } = await session();
    await cli.emitWithAck("event", { token, seq: 1, event: { type: "message_update", n: 1 } });
    await viewer.until(() => legacyEventSeqs(viewer).includes(1), "event 1");
    // Six stored silently with a log of five: seq 2 is gone from it.
    await storeSilently(sessionId, Array.from({ length: 6 }, (_, i) => ({ type: "message_update", n: i + 2 })));
    await cli.emitWithAck("event", { token, seq: 2, event: { type: "message_update", n: 8 } });
    await viewer.until(() => legacyEventSeqs(viewer).includes(8), "event 8");
    await sleep(50);
    expect(legacyEventSeqs(viewer)).toEqual([1, 8]);
  });
});
