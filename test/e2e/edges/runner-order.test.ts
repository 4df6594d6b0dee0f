import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectCli, connectRunner, connectViewer, connected, Recorder } from "../../helpers/clients.js";
import { startRelayWithAlice, type TestRelay } from "../../helpers/relay.js";

/** A runner's frames take effect in the order it sent them, whatever each one's handler awaits. */
describe("runner frame order", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice());
  });
  afterAll(async () => node.stop());

  it("delivers session_ready before the runner_session_event sent right after it", async () => {
    const runnerId = "0rder000-0000-4000-8000-000000000001";
    const runner = connectRunner(node.url, key);
    const rrec = new Recorder(runner);
    await connected(runner);
    await runner.emitWithAck("register_runner", { runnerId, runnerSecret: "e".repeat(64), name: "box" });
    runner.on("new_session", ({ sessionId }) => runner.emit("session_ready", { runnerId, sessionId }));
    const spawned = (await (
      await fetch(`${node.url}/api/runners/spawn`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ runnerId }) })
    ).json()) as { sessionId: string };
    const cli = connectCli(node.url, key);
    await connected(cli);
    await cli.emitWithAck("register", { sessionId: spawned.sessionId, cwd: "/p" });
    const viewer = connectViewer(node.url, { cookie }, spawned.sessionId);
    const vrec = new Recorder(viewer);
    await vrec.next("synced");
    // A worker restart: the daemon announces the session again, then (older generation) forwards an event.
    for (let i = 0; i < 5; i++) {
      runner.emit("session_ready", { runnerId, sessionId: spawned.sessionId });
      runner.emit("runner_session_event", { sessionId: spawned.sessionId, event: { type: "agent_start", i } });
    }
    await vrec.next("event", 5);
    await vrec.next("session_ready", 5);
    const order = vrec.events.filter((e) => e.name === "session_ready" || e.name === "event").map((e) => e.name);
    expect(order).toEqual(Array.from({ length: 5 }, () => ["session_ready", "event"]).flat());
    expect(rrec.named("error")).toEqual([]);
    for (const s of [runner, cli, viewer]) s.disconnect();
  });
});
