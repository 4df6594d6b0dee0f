import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import type { NodeProcess } from "../helpers/cluster.js";
import { connectCli, connected, Recorder, type CliSocket } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { startTwoNodes, type TwoNodes } from "../helpers/two-nodes.js";
import { sleep, waitFor } from "../helpers/wait.js";

/**
 * SIGTERM is a staged stop (docs/operations.md, "Rolling restarts and faults"): `/readyz` answers 503 at once while
 * the node keeps serving for its drain delay (a load balancer takes it out meanwhile), then it stops
 * listening and closes every connection so that clients move: Socket.IO clients see a lost transport
 * (they reconnect), legacy clients close code 1012; Redis stays up until they are gone; the process
 * exits 0 within drain delay + grace.
 */

const DRAIN_MS = 1_500;

describe("graceful stop", () => {
  let cluster: TwoNodes;
  let A: NodeProcess;
  let key: string;
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    cluster = await startTwoNodes({ A: { PIZZAPI_DRAIN_DELAY_MS: String(DRAIN_MS), PIZZAPI_SHUTDOWN_GRACE_MS: "3000" } });
    ({ A } = cluster);
    key = (await cluster.shared.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  }, 30_000);
  afterAll(async () => {
    for (const close of closers) close();
    await cluster?.stop();
  });

  const status = async (url: string, path: string): Promise<number | "refused"> => {
    try {
      return (await fetch(`${url}${path}`)).status;
    } catch {
      return "refused";
    }
  };

  it("answers 503 at once, serves through the drain delay, then moves every client and exits 0", async () => {
    const cli: CliSocket = connectCli(A.url, key);
    closers.push(() => cli.disconnect());
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const cliRec = new Recorder(cli);
    const legacyCli = await LegacyClient.open(A.url, "/ws/sessions", { "x-api-key": key });
    closers.push(() => legacyCli.close());
    legacyCli.send({ type: "register", cwd: "/legacy" });
    await legacyCli.next("registered");
    expect(await status(A.url, "/readyz")).toBe(200);

    const signalledAt = Date.now();
    A.proc.kill("SIGTERM");
    await waitFor(async () => (await status(A.url, "/readyz")) === 503, "readyz 503", 1_000);
    expect(Date.now() - signalledAt).toBeLessThan(DRAIN_MS);
    expect(await status(A.url, "/healthz")).toBe(200);

    // Still serving during the drain delay: a new Socket.IO client and a new legacy client are admitted,
    // and the live ones keep working.
    const late = io(`${A.url}/relay`, { transports: ["websocket"], reconnection: false, auth: { apiKey: key, protocolVersion: PROTOCOL_VERSION } });
    closers.push(() => late.disconnect());
    await connected(late);
    const lateLegacy = await LegacyClient.open(A.url, "/ws/hub", { "x-api-key": key }).catch((err: unknown) => err);
    // (the hub takes a cookie: the point is that the upgrade is answered by the bridge, not refused as stopping)
    if (lateLegacy instanceof LegacyClient) closers.push(() => lateLegacy.close());
    expect(lateLegacy).not.toMatchObject({ status: 503 });
    const ack = await cli.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "during_drain" } });
    expect(ack).toMatchObject({ ok: true });
    expect(Date.now() - signalledAt).toBeLessThan(DRAIN_MS);

    // After the drain delay: every client is told to move.
    const closed = await legacyCli.closedWith(DRAIN_MS + 3_000);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(DRAIN_MS - 50);
    expect(closed).toEqual({ code: 1012, reason: "This relay node is restarting: reconnect" });
    await cliRec.until((events) => events.some((e) => e.name === "$disconnect"), "native CLI moved", 3_000);
    // A lost transport (socket.io-client reconnects), not a server-side disconnect (it would not).
    expect(cliRec.named<string>("$disconnect")[0]).toBe("transport close");
    await waitFor(() => A.proc.exitCode !== null, "A exited", 5_000);
    expect(A.proc.exitCode).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(DRAIN_MS + 3_000 + 5_000);
    // Redis was kept until the connections were gone: no refusal for want of shared state on the way out.
    expect(A.logs.join("\n")).not.toMatch(/auth_unavailable|"code":"unavailable"/);
    expect(A.logs.some((l) => l.includes("connections closed, closing shared state") && l.includes('"allGone":true'))).toBe(true);

    // The session is intact for the CLI to continue on B.
    expect(await cluster.shared.state.sessions.get(reg.sessionId)).toMatchObject({ live: true, seq: 1 });
    await sleep(0);
  });
});
