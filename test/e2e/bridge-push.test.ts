import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../helpers/cluster.js";
import { startPushCluster, type PushCluster } from "../helpers/push-cluster.js";
import { connectCli, connected } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { ackedUpTo, legacyCli, sendLegacyEvents, sleep } from "../helpers/legacy-flows.js";
import { createSubscriber, verifyVapidAuthorization, type PushService } from "../helpers/push-service.js";
import { login } from "../helpers/relay.js";
import type { SharedState } from "../../server/state/types.js";

/**
 * Push suppression (legacy 2.8: no push while the session has a viewer) counts a legacy viewer exactly
 * like a Socket.IO one, wherever it is: the CLI (legacy or Socket.IO) on node A, a LEGACY viewer on
 * node B. While it watches, `agent_end` sends nothing; once it left, `cli_error` sends exactly one push.
 */
describe("push notifications with a legacy viewer on another node", () => {
  let cluster: PushCluster;
  let pushService: PushService;
  let A: NodeProcess, B: NodeProcess;
  let state: SharedState;
  let vapid: { publicKey: string };
  const legacy: LegacyClient[] = [];
  const sockets: Array<{ disconnect(): void }> = [];

  beforeAll(async () => {
    cluster = await startPushCluster();
    ({ pushService, A, B, vapid, state } = cluster);
  });
  afterAll(async () => {
    for (const c of legacy) c.close();
    for (const s of sockets) s.disconnect();
    await cluster?.stop();
  });

  it.each(["legacy", "native"] as const)("a %s CLI on A: nothing while the legacy viewer on B watches, exactly one push once it left", async (kind) => {
    // One user (and one subscription) per case, so the cases cannot see each other's pushes.
    const userId = `push-${kind}`;
    const apiKey = (await state.keys.create({ userId, userName: `User ${kind}` })).key;
    const cookie = await login(B.url, apiKey);
    const endpoint = pushService.endpoint(`${kind}-laptop`);
    const subscriber = createSubscriber(endpoint);
    const subscribed = await fetch(`${B.url}/api/push/subscriptions`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ subscription: subscriber.subscription, enabledEvents: "*" }),
    });
    expect(subscribed.status).toBe(200);

    let sessionId: string;
    let publish: (seq: number, event: Record<string, unknown>) => Promise<void>;
    if (kind === "legacy") {
      const cli = await legacyCli(A.url, apiKey, { cwd: "/p", sessionName: "Fix the build" });
      legacy.push(cli.client);
      sessionId = cli.sessionId;
      publish = async (seq, event) => {
        sendLegacyEvents(cli, [event], seq);
        await ackedUpTo(cli, seq);
      };
    } else {
      const cli = connectCli(A.url, apiKey);
      sockets.push(cli);
      await connected(cli);
      const reg = await cli.emitWithAck("register", { cwd: "/p", sessionName: "Fix the build" });
      if (!reg.ok) throw new Error(reg.error.message);
      sessionId = reg.sessionId;
      publish = async (seq, event) => {
        expect(await cli.emitWithAck("event", { token: reg.token, seq, event })).toEqual({ ok: true, seq });
      };
    }

    const viewer = await LegacyClient.open(B.url, `/ws/sessions/${sessionId}`, { cookie });
    legacy.push(viewer);
    await viewer.next("connected");
    await publish(1, { type: "agent_end", messages: [] });
    expect((await viewer.next("event"))[0]).toMatchObject({ event: { type: "agent_end" }, seq: 1 });
    // The relay decides on a push right after publishing; the viewer stays long enough for A's presence
    // lookup (a round trip to B) to see it, as any real viewer would.
    await sleep(300);
    viewer.close();
    await viewer.closedWith();
    await sleep(200);
    await publish(2, { type: "cli_error", message: "model overloaded", source: null, ts: 1 });

    const deadline = Date.now() + 5_000;
    while (pushService.receivedBy(endpoint).length === 0 && Date.now() < deadline) await sleep(50);
    await sleep(300);
    const received = pushService.receivedBy(endpoint);
    expect(received).toHaveLength(1);
    const [push] = received;
    if (!push) return;
    expect(push.headers["content-encoding"]).toBe("aes128gcm");
    expect(verifyVapidAuthorization(push.headers.authorization as string, vapid.publicKey)).toMatchObject({ aud: pushService.origin, sub: "mailto:ops@relay.test" });
    expect(JSON.parse(subscriber.decrypt(push.body).toString("utf8"))).toEqual({
      type: "agent_error",
      title: "Agent error",
      body: 'Error in "Fix the build": model overloaded',
    });
  });
});
