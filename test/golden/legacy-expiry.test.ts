import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacyClient } from "../helpers/legacy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/** Legacy 2.9: an idle ephemeral session expires: the CLI gets session_expired and close 1001, viewers "Session expired". */
describe("golden: ephemeral expiry of a legacy session", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_EPHEMERAL_TTL_MS: "150", PIZZAPI_EPHEMERAL_SWEEP_MS: "600000" }));
  });
  afterAll(async () => node.stop());

  it("sends session_expired then closes 1001 'Session expired'; viewers get disconnected and close 1000", async () => {
    const hub = await LegacyClient.open(node.url, "/ws/hub", { cookie });
    await hub.next("sessions");
    const cli = await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": key });
    cli.send({ type: "register", sessionId: "de6ec718-e553-4ae4-a3d0-17592c71989c", cwd: "/home/alice/proj", collabMode: true, sessionName: null });
    const [registered] = await cli.next("registered");
    const viewer = await LegacyClient.open(node.url, `/ws/sessions/${String(registered?.sessionId)}`, { cookie });
    await viewer.next("connected");
    await new Promise((r) => setTimeout(r, 200));
    expect(await node.relay.sweepExpired()).toBe(1);
    expect(await cli.closedWith()).toEqual({ code: 1001, reason: "Session expired" });
    expect(cli.typed("session_expired")).toEqual([{ type: "session_expired", sessionId: registered?.sessionId }]);
    expect(await viewer.closedWith()).toEqual({ code: 1000, reason: "Session expired" });
    expect(viewer.frames.at(-1)).toEqual({ type: "disconnected", reason: "Session expired" });
    await hub.next("session_removed");
    hub.close();
  });
});
