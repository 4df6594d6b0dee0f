import { RESP_TYPES } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../../clients/browser/hub.js";
import { ViewerClient } from "../../clients/browser/viewer.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import type { NodeProcess } from "../helpers/cluster.js";
import { LegacyClient } from "../helpers/legacy.js";
import { login } from "../helpers/relay.js";
import { startTwoNodes, type TwoNodes } from "../helpers/two-nodes.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Shared state wiped under a live cluster (docs/operations.md, "Redis persistence"): a Redis without
 * persistence is reported, and after a FLUSHALL (the API keys put back, as an operator re-provisioning
 * them would) every node notices through the epoch key. CLIs of both stacks register again, viewers of
 * both stacks that stayed connected reset their position and show every event published afterwards
 * (once, in order) instead of dropping them as duplicates, and hubs of both stacks get a corrected list.
 */

const EPOCH_CHECK_MS = 300;
const fast = { reconnectionDelay: 50, reconnectionDelayMax: 200 };

interface Numbered {
  n?: number;
  src?: string;
}

describe("shared state wiped under a live cluster", () => {
  let cluster: TwoNodes;
  let prefix: string;
  let A: NodeProcess, B: NodeProcess;
  let shared: TwoNodes["shared"];
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    const env = { PIZZAPI_EPOCH_CHECK_MS: String(EPOCH_CHECK_MS) };
    cluster = await startTwoNodes({ A: env, B: env });
    ({ prefix, A, B, shared } = cluster);
  }, 30_000);
  afterAll(async () => {
    for (const close of closers) close();
    await cluster?.stop();
  });

  it("reports that Redis does not persist", async () => {
    const res = await fetch(`${A.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, persistence: "none" });
  });

  it("makes CLIs register again, resets viewers of both stacks, corrects hubs", async () => {
    const { key } = await shared.state.keys.create({ userId: "alice", userName: "Alice" });
    const cookieA = await login(A.url, key);
    const cookieB = await login(B.url, key);

    // The CLIs: a Socket.IO one on A, a legacy one on B.
    const native = new RelayClient({ url: A.url, apiKey: key, retryDelayMs: 50, session: { cwd: "/native" }, ioOptions: fast });
    closers.push(() => native.close());
    const nativeRegistrations: string[] = [];
    native.on("registered", (r) => nativeRegistrations.push(r.sessionId));
    native.start();
    await waitFor(() => nativeRegistrations.length === 1, "native CLI registered");
    const legacy = new LegacyCliClient({ relayUrl: B.url, apiKey: key, cwd: "/legacy", backoffScale: 0.02, heartbeatMs: 60_000 });
    closers.push(() => legacy.stop());
    let legacyRegistrations = 0;
    legacy.on("registered", () => legacyRegistrations++);
    legacy.start();
    await waitFor(() => legacyRegistrations === 1, "legacy CLI registered");
    const nativeId = nativeRegistrations[0] as string;

    // Viewers of both stacks, each on the node its CLI is not on; hubs of both stacks.
    const seen = new Map<string, number[]>();
    const record = (name: string, event: unknown): void => {
      const e = event as Numbered | undefined;
      if (typeof e?.n === "number") seen.set(name, [...(seen.get(name) ?? []), e.n]);
    };
    const viewerOf = (url: string, sessionId: string, cookie: string, name: string): ViewerClient => {
      const v = new ViewerClient({ url, sessionId, ioOptions: { ...fast, forceNew: true, extraHeaders: { cookie } } });
      closers.push(() => v.close());
      v.on("event", (e) => {
        if (!e.snapshot) record(name, e.event);
      });
      return v;
    };
    const nativeViewer = viewerOf(B.url, nativeId, cookieB, "native viewer of the native CLI");
    const nativeViewerOfLegacy = viewerOf(A.url, legacy.sessionId, cookieA, "native viewer of the legacy CLI");
    let synced = 0;
    for (const v of [nativeViewer, nativeViewerOfLegacy]) v.on("synced", () => synced++);
    const legacyViewer = await LegacyClient.open(B.url, `/ws/sessions/${nativeId}`, { cookie: cookieB });
    const legacyViewerOfLegacy = await LegacyClient.open(A.url, `/ws/sessions/${legacy.sessionId}`, { cookie: cookieA });
    for (const c of [legacyViewer, legacyViewerOfLegacy]) closers.push(() => c.close());
    await waitFor(() => synced === 2, "native viewers synced");
    await legacyViewer.next("connected");
    await legacyViewerOfLegacy.next("connected");
    const legacyHub = await LegacyClient.open(A.url, "/ws/hub", { cookie: cookieA });
    closers.push(() => legacyHub.close());
    await legacyHub.next("sessions");
    const hub = new HubClient({ url: B.url, ioOptions: { ...fast, forceNew: true, extraHeaders: { cookie: cookieB } } });
    closers.push(() => hub.close());
    const hubLists: string[][] = [];
    hub.on("sessions", (list) => hubLists.push(list.map((s) => s.sessionId).sort()));
    await waitFor(() => hubLists.length === 1, "hub list");
    expect(hubLists[0]).toEqual([legacy.sessionId, nativeId].sort());

    // Before the wipe: both CLIs publish 1..5, everyone sees them.
    for (let n = 1; n <= 5; n++) {
      native.publish({ type: "message_update", n, src: "native" });
      expect(legacy.forward({ type: "message_update", n, src: "legacy" })).toBe(true);
    }
    await native.flushed();
    const legacyEvents = (c: LegacyClient): number[] =>
      c
        .typed("event")
        .map((f) => (f.event as Numbered | undefined)?.n)
        .filter((n): n is number => typeof n === "number");
    await waitFor(() => [...seen.values()].every((ns) => ns.length === 5) && seen.size === 2, "the native viewers saw 1..5");
    await legacyViewer.until(() => legacyEvents(legacyViewer).length === 5, "legacy viewer saw 1..5");
    await legacyViewerOfLegacy.until(() => legacyEvents(legacyViewerOfLegacy).length === 5, "legacy viewer of legacy saw 1..5");
    // Live seq is well beyond where a new incarnation starts: without the reset, 6..10 would be dropped.
    for (let n = 0; n < 20; n++) native.publish({ type: "filler" });
    await native.flushed();

    // The wipe: everything but the API keys, as a Redis restarted without persistence whose keys an
    // operator provisioned again.
    const keyNames = (await shared.client.sendCommand(["KEYS", `${prefix}apikey*`])) as string[];
    const dumps = await Promise.all(keyNames.map(async (k) => [k, await shared.client.sendCommand(["DUMP", k], { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } })] as const));
    const hubFramesBefore = legacyHub.frames.length;
    await shared.client.sendCommand(["FLUSHALL"]);
    for (const [k, dump] of dumps) await shared.client.sendCommand(["RESTORE", k, "0", dump as unknown as Buffer]);

    // Both CLIs register again (the legacy one was closed to reconnect).
    await waitFor(() => nativeRegistrations.length >= 2, "native CLI registered again", 10_000);
    await waitFor(() => legacyRegistrations >= 2, "legacy CLI registered again", 10_000);
    expect(nativeRegistrations.at(-1)).toBe(nativeId);
    expect(legacy.registered?.sessionId).toBe(legacy.sessionId);

    // The hubs were told: a fresh list after the wipe, then the sessions added back.
    await legacyHub.until(() => legacyHub.frames.slice(hubFramesBefore).some((f) => f.type === "sessions"), "legacy hub list after the wipe");
    await waitFor(() => hubLists.length >= 2, "hub list after the wipe");
    await waitFor(() => hub.sessions.size === 2, "hub lists both sessions again");
    await legacyHub.until(() => legacyHub.frames.slice(hubFramesBefore).filter((f) => f.type === "session_added").length >= 2, "legacy hub: both sessions added back");

    // After the wipe: 6..10 from both CLIs reach every viewer, once and in order.
    for (let n = 6; n <= 10; n++) {
      native.publish({ type: "message_update", n, src: "native" });
      expect(legacy.forward({ type: "message_update", n, src: "legacy" })).toBe(true);
    }
    await native.flushed();
    const expected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    await waitFor(() => [...seen.values()].every((ns) => ns.length >= 10), "native viewers saw 6..10", 10_000);
    for (const [name, ns] of seen) expect(ns, name).toEqual(expected);
    await legacyViewer.until(() => legacyEvents(legacyViewer).length >= 10, "legacy viewer saw 6..10", 10_000);
    await legacyViewerOfLegacy.until(() => legacyEvents(legacyViewerOfLegacy).length >= 10, "legacy viewer of legacy saw 6..10", 10_000);
    expect(legacyEvents(legacyViewer)).toEqual(expected);
    expect(legacyEvents(legacyViewerOfLegacy)).toEqual(expected);
    // The viewers stayed connected throughout, and were told to reset (a second `connected`).
    expect(legacyViewer.closed).toBeNull();
    expect(legacyViewer.typed("connected").length).toBeGreaterThanOrEqual(2);
    // And the legacy CLI's events are acknowledged again (only what was stored).
    await waitFor(() => legacy.ackedSeq >= 5, "legacy event_ack after the wipe");
  });
});
