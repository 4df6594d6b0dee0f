import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../helpers/cluster.js";
import { startPushCluster, type PushCluster } from "../helpers/push-cluster.js";
import { connectCli, connectViewer, connected, Recorder } from "../helpers/clients.js";
import { createSubscriber, verifyVapidAuthorization, type PushService } from "../helpers/push-service.js";
import { login } from "../helpers/relay.js";

/**
 * Push across nodes (legacy 2.8): the CLI on node A, a viewer on node B. While the viewer watches,
 * A's presence lookup finds it on B and sends nothing; once nobody watches anywhere, exactly one push
 * reaches the push service: VAPID-signed, encrypted for the subscription.
 */
describe("push notifications in a cluster", () => {
  let cluster: PushCluster;
  let pushService: PushService;
  let A: NodeProcess, B: NodeProcess;
  let apiKey: string;
  let vapid: { publicKey: string };
  const sockets: Array<{ disconnect(): void }> = [];

  beforeAll(async () => {
    cluster = await startPushCluster();
    ({ pushService, A, B, vapid } = cluster);
    apiKey = (await cluster.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await cluster?.stop();
  });

  it("sends nothing while a viewer on another node watches, and exactly one push once nobody does", async () => {
    const cookie = await login(B.url, apiKey);
    const subscriber = createSubscriber(pushService.endpoint("alice-laptop"));
    const subscribed = await fetch(`${B.url}/api/push/subscriptions`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ subscription: subscriber.subscription, enabledEvents: "*" }),
    });
    expect(subscribed.status).toBe(200);

    const cli = connectCli(A.url, apiKey);
    sockets.push(cli);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p", sessionName: "Fix the build" });
    if (!reg.ok) throw new Error(reg.error.message);
    const viewer = connectViewer(B.url, { cookie }, reg.sessionId);
    sockets.push(viewer);
    const rec = new Recorder(viewer);
    await rec.next("connected");

    await cli.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "agent_end", messages: [] } });
    await rec.next("event");
    // The relay decides on a push right after publishing; the viewer stays long enough for A's presence
    // lookup (a round trip to B) to see it, as any real viewer would.
    await new Promise((r) => setTimeout(r, 300));
    viewer.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    await cli.emitWithAck("event", { token: reg.token, seq: 2, event: { type: "cli_error", message: "model overloaded", source: null, ts: 1 } });

    const deadline = Date.now() + 5_000;
    while (pushService.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(pushService.received).toHaveLength(1);
    const [push] = pushService.received;
    if (!push) return;
    expect(push.headers["content-encoding"]).toBe("aes128gcm");
    const claims = verifyVapidAuthorization(push.headers.authorization as string, vapid.publicKey);
    expect(claims).toMatchObject({ aud: pushService.origin, sub: "mailto:ops@relay.test" });
    expect(JSON.parse(subscriber.decrypt(push.body).toString("utf8"))).toEqual({
      type: "agent_error",
      title: "Agent error",
      body: 'Error in "Fix the build": model overloaded',
    });
  });
});
