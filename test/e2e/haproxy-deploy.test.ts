import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ViewerClient } from "../../clients/browser/viewer.js";
import { LegacyViewerClient } from "../../clients/legacy/browser-clients.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import type { Frame } from "../../clients/legacy/socket.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { backendStates, setServerState, startHaproxy, type Haproxy } from "../helpers/haproxy.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { login } from "../helpers/relay.js";
import { sleep, waitFor } from "../helpers/wait.js";

/**
 * The load balancer configuration the repository ships (deploy/haproxy.cfg, docs/deployment.md), run by
 * Debian's haproxy with only its `bind` and `server` lines replaced, in front of three relay processes
 * over one Redis: a legacy CLI and a Socket.IO CLI publish; their sessions are watched by Socket.IO
 * viewers on HTTP long-polling only (every request of a session must reach the same node: the
 * cookie stickiness), by Socket.IO viewers that upgrade to WebSocket, and by legacy viewers. The node
 * the CLIs and the Socket.IO viewers are on is killed (`kill -9`) halfway; every viewer must end with
 * every stored event once and in order, and the polling viewers must come back over polling.
 */

const EVENTS = 30;
const KILL_AFTER = 15;
const DEPLOY_FILE = resolve(import.meta.dirname, "../../deploy/haproxy.cfg");

interface Watched {
  what: string;
  ns: number[];
}

describe("deploy/haproxy.cfg in front of three nodes: polling stickiness, a node killed", () => {
  let redis: TestRedis;
  let lb: Haproxy;
  const nodes: NodeProcess[] = [];
  const closers: Array<() => void> = [];
  const prefix = `deploy:${randomBytes(4).toString("hex")}:`;

  beforeAll(async () => {
    redis = await startRedis();
    nodes.push(...(await Promise.all(["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix })))));
    lb = await startHaproxy({ backends: nodes.map((n) => ({ name: n.name, port: n.port })), configFile: DEPLOY_FILE });
    await waitFor(async () => Object.values(await backendStates(lb)).filter((s) => s === "UP").length === 3, "haproxy to see three nodes UP", 15_000);
  }, 60_000);

  afterAll(async () => {
    for (const close of closers) close();
    await lb?.stop();
    await Promise.all(nodes.map((n) => n.kill().catch(() => undefined)));
    await redis?.stop();
  }, 30_000);

  it("brings every viewer every stored event once and in order, polling viewers over polling, after kill -9 of their node", async () => {
    const shared = await clusterState(redis.url, prefix);
    const apiKey = (await shared.state.keys.create({ userId: "deploy", userName: "deploy" })).key;
    await shared.close();
    const cookie = await login(lb.url, apiKey);

    // Everything but the legacy viewers lands on node A: B and C take no new connection for now.
    await setServerState(lb, "B", "maint");
    await setServerState(lb, "C", "maint");

    const legacyCli = new LegacyCliClient({ relayUrl: lb.url, apiKey, cwd: "/legacy", heartbeatMs: 10_000 });
    const legacyAcked = new Set<number>();
    const legacySent = new Map<number, number>();
    legacyCli.on("frame", (frame: Frame) => {
      if (frame.type !== "event_ack" || typeof frame.seq !== "number") return;
      for (const [seq, n] of legacySent) if (seq <= frame.seq) legacyAcked.add(n);
    });
    legacyCli.on("registered", () => legacySent.clear());
    const legacyRegistered = new Promise<string>((done) => legacyCli.once("registered", (r: { sessionId: string }) => done(r.sessionId)));
    legacyCli.start();
    closers.push(() => legacyCli.stop());

    const nativeCli = new RelayClient({ url: lb.url, apiKey, clientVersion: "deploy-test", session: { cwd: "/native" } });
    const nativeRegistered = new Promise<string>((done) => nativeCli.once("registered", (r) => done(r.sessionId)));
    nativeCli.start();
    closers.push(() => nativeCli.close());
    const sessions = { legacy: await legacyRegistered, native: await nativeRegistered };

    const watched: Watched[] = [];
    const transports = new Map<string, Set<string>>();
    let pollingDisconnects = 0;
    const nativeViewer = async (session: "legacy" | "native", polling: boolean): Promise<ViewerClient> => {
      const what = `${polling ? "polling" : "upgrading"} viewer of the ${session} session`;
      const log: Watched = { what, ns: [] };
      watched.push(log);
      const viewer = new ViewerClient({ url: lb.url, sessionId: sessions[session], apiKey, ioOptions: polling ? { transports: ["polling"] } : {} });
      closers.push(() => viewer.close());
      viewer.on("event", (e) => {
        const n = (e.event as { n?: unknown } | undefined)?.n;
        if (typeof n === "number" && !e.snapshot) log.ns.push(n);
      });
      const seen = transports.get(what) ?? new Set<string>();
      transports.set(what, seen);
      viewer.socket.io.engine?.on("upgrade", () => seen.add(viewer.socket.io.engine.transport.name));
      viewer.socket.on("connect", () => seen.add(viewer.socket.io.engine.transport.name));
      if (polling) viewer.socket.on("disconnect", () => pollingDisconnects++);
      await new Promise<void>((done) => viewer.once("synced", () => done()));
      return viewer;
    };
    const upgrading = await Promise.all([nativeViewer("legacy", true), nativeViewer("native", true), nativeViewer("legacy", false), nativeViewer("native", false)]);

    // The legacy viewers go to B or C (A is in use; leastconn), so that the kill does not close them:
    // the legacy UI would not reconnect by itself.
    await setServerState(lb, "B", "ready");
    await setServerState(lb, "C", "ready");
    const legacyViewers = (["legacy", "native"] as const).map((session) => {
      const log: Watched = { what: `legacy viewer of the ${session} session`, ns: [] };
      watched.push(log);
      const viewer = new LegacyViewerClient(lb.url, cookie, sessions[session]);
      const state = { joined: false, closed: false };
      viewer.on("frame", (frame: Frame) => {
        if (frame.type === "connected") state.joined = true;
        const n = (frame.event as { n?: unknown } | undefined)?.n;
        if (frame.type === "event" && typeof n === "number" && frame.snapshot !== true) log.ns.push(n);
      });
      viewer.on("close", () => (state.closed = true));
      viewer.start();
      closers.push(() => viewer.stop());
      return state;
    });
    await waitFor(() => legacyViewers.every((v) => v.joined), "the legacy viewers to join", 10_000);
    await sleep(300);

    const [A] = nodes;
    for (let n = 1; n <= EVENTS; n++) {
      const event = { type: "message_update", n };
      if (legacyCli.forward(event)) legacySent.set(legacyCli.sentSeq, n);
      nativeCli.publish(event);
      if (n === KILL_AFTER) await A?.kill();
      await sleep(100);
    }
    await nativeCli.flushed();
    await waitFor(() => legacySent.size === 0 || [...legacySent.values()].every((n) => legacyAcked.has(n)), "the legacy CLI's last events to be acknowledged", 20_000);

    // The Socket.IO CLI resends what was not acknowledged: its viewers get all of it. The legacy CLI
    // drops what it produces while offline: its viewers get at least everything acknowledged.
    const expected = (what: string): number[] =>
      what.includes("native session") ? Array.from({ length: EVENTS }, (_, i) => i + 1) : [...legacyAcked].sort((a, b) => a - b);
    await waitFor(() => watched.every((w) => expected(w.what).every((n) => w.ns.includes(n))), "every viewer to catch up", 30_000).catch(() => undefined);
    const report = JSON.stringify(watched.map((w) => ({ what: w.what, ns: w.ns })));
    for (const w of watched) {
      const sorted = [...new Set(w.ns)].sort((a, b) => a - b);
      expect(w.ns, `${w.what}: once and in order\n${report}`).toEqual(sorted);
      for (const n of expected(w.what)) expect(w.ns, `${w.what}: event ${n}\n${report}`).toContain(n);
    }
    expect(legacyAcked.size).toBeGreaterThan(KILL_AFTER / 2);
    // The kill moved each polling viewer exactly once, and it came back over polling only: without the
    // cookie stickiness its requests reach other nodes, which do not know its session, and it keeps
    // losing its connection.
    expect(pollingDisconnects, report).toBe(2);
    for (const [what, seen] of transports) {
      if (what.startsWith("polling")) expect([...seen], what).toEqual(["polling"]);
      else expect([...seen], what).toContain("websocket");
    }
    for (const viewer of upgrading) expect(viewer.socket.connected).toBe(true);
    for (const viewer of legacyViewers) expect(viewer.closed, "a legacy viewer on B or C stays open").toBe(false);
  }, 90_000);
});
