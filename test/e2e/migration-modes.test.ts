import { io, type Socket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LEGACY_RETIRED_BODY } from "../../migration/retirement.js";
import { adminCall, migrationStatusOf, setMode } from "../helpers/admin.js";
import { connectViewer, connected, Recorder } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { ackedUpTo, legacyCli, legacyEventSeqs, refusedUpgrade, sendLegacyEvents } from "../helpers/legacy-flows.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";
import { upgradeAnswer } from "../helpers/upgrade.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Modes per client generation on one node (docs/migration.md, "Modes"): what `warn`, `drain` and `off`
 * do to each kind of client of the legacy stack and of an older Socket.IO generation, and the admin API
 * that sets them. The cluster-wide flip is tested on three nodes in migration-cluster.test.ts.
 */

let node: TestRelay;
let admin: string;
let alice: string;
let aliceCookie: string;
const opened: Array<{ close(): void }> = [];
const keep = <T extends { close(): void }>(c: T): T => (opened.push(c), c);

beforeAll(async () => {
  node = await startRelay({ PIZZAPI_CENSUS_FLUSH_MS: "200", PIZZAPI_MIGRATION_POLL_MS: "200", PIZZAPI_CLI_RECONNECT_GRACE_MS: "300" });
  admin = (await node.relay.ctx.state.keys.create({ userId: "ops", userName: "Ops", admin: true })).key;
  alice = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  aliceCookie = await login(node.url, alice);
});
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  for (const g of ["legacy", "socket-v1"]) await setMode(node.url, admin, g, null);
});
afterAll(async () => node?.stop());

/** A socket-v1 client (protocolVersion the number 1) of `/relay` or `/runner`. */
function v1(namespace: "/relay" | "/runner", extra: Record<string, unknown> = {}): Socket {
  const socket = io(`${node.url}${namespace}`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { apiKey: alice, protocolVersion: 1, clientVersion: "0.5.2", ...extra } });
  opened.push({ close: () => socket.disconnect() });
  return socket;
}

const refusal = (socket: Socket): Promise<{ code?: string; message?: string }> =>
  new Promise((resolve) => socket.once("connect_error", (err: Error & { data?: { code?: string; message?: string } }) => resolve(err.data ?? {})));

describe("the admin API", () => {
  it("answers 401 without a key and 403 to ordinary keys and logins; admin keys get the status", async () => {
    expect((await adminCall(node.url, null, "GET", "/status")).status).toBe(401);
    expect((await adminCall(node.url, alice, "GET", "/status")).status).toBe(403);
    const byCookie = await fetch(`${node.url}/api/admin/migration/status`, { headers: { cookie: aliceCookie } });
    expect(byCookie.status).toBe(403);
    expect((await adminCall(node.url, alice, "PUT", "/modes/legacy", { mode: "off" })).status).toBe(403);
    const status = await adminCall(node.url, admin, "GET", "/status");
    expect(status.status).toBe(200);
    expect((status.json.generations as Array<{ generation: string }>).map((g) => g.generation)).toEqual(["legacy", "socket-unversioned", "socket-v1", "socket-v1-acked", "current"]);
  });

  it("accepts the login of an admin key as an admin session, until that key is revoked", async () => {
    const second = await node.relay.ctx.state.keys.create({ userId: "ops2", userName: "Ops 2", admin: true });
    const cookie = await login(node.url, second.key);
    const status = (): Promise<number> => fetch(`${node.url}/api/admin/migration/status`, { headers: { cookie } }).then((r) => r.status);
    expect(await status()).toBe(200);
    expect(await node.relay.ctx.state.keys.revoke(second.meta.id)).toBe(true);
    expect(await status()).toBe(401);
    expect((await fetch(`${node.url}/api/auth/session`, { headers: { cookie } })).status).toBe(401);
  });

  it("refuses to set the current generation, unknown generations and modes, and malformed sunsets", async () => {
    expect((await adminCall(node.url, admin, "PUT", "/modes/current", { mode: "off" })).status).toBe(400);
    expect((await adminCall(node.url, admin, "PUT", "/modes/legacy-v2", { mode: "off" })).status).toBe(400);
    expect((await adminCall(node.url, admin, "PUT", "/modes/legacy", { mode: "sometimes" })).status).toBe(400);
    expect((await adminCall(node.url, admin, "PUT", "/modes/legacy", { mode: "warn", sunset: "soon" })).status).toBe(400);
    expect((await adminCall(node.url, admin, "GET", "/status?window=forever")).status).toBe(400);
  });

  it("records every change with who, when, from and to", async () => {
    await setMode(node.url, admin, "legacy", "warn");
    await setMode(node.url, admin, "legacy", "drain");
    const { json } = await adminCall(node.url, admin, "GET", "/modes");
    const changes = json.changes as Array<{ generation: string; from: string | null; to: string | null; by: string; at: number }>;
    expect(changes.slice(0, 2).map((c) => [c.generation, c.from, c.to])).toEqual([
      ["legacy", "warn", "drain"],
      ["legacy", null, "warn"],
    ]);
    expect(changes[0]?.by).toMatch(/^ops \(key [0-9a-f-]+\)$/);
    expect(Math.abs((changes[0]?.at ?? 0) - Date.now())).toBeLessThan(5_000);
  });
});

describe("legacy generation", () => {
  it("warn: serves legacy upgrades with Deprecation and Sunset headers, and counts them", async () => {
    await setMode(node.url, admin, "legacy", "warn", "2027-01-31T00:00:00Z");
    const answer = await upgradeAnswer(node.url, "/ws/sessions", { "x-api-key": alice });
    expect(answer.status).toBe(101);
    expect(answer.headers.deprecation).toMatch(/^@\d{10}$/);
    expect(answer.headers.sunset).toBe("Sun, 31 Jan 2027 00:00:00 GMT");
    const cli = keep((await legacyCli(node.url, alice)).client);
    expect(cli.closed).toBeNull();
    await waitFor(async () => ((await migrationStatusOf(node.url, admin)).nodes[0]?.deprecated.legacy ?? 0) >= 1, "the deprecated connection counted");
  });

  it("drain: refuses new hubs, runners and sessions; keeps a live session's CLI and viewers", async () => {
    const live = await legacyCli(node.url, alice);
    keep(live.client);
    sendLegacyEvents(live, [{ type: "message_update", n: 1 }]);
    await ackedUpTo(live, 1);
    await setMode(node.url, admin, "legacy", "drain");

    for (const path of ["/ws/hub", "/ws/runner"]) {
      const refused = await refusedUpgrade(node.url, path, { "x-api-key": alice });
      expect(refused).toEqual({ status: 410, body: LEGACY_RETIRED_BODY });
    }
    // A new session: the CLI connects, its register is refused and the connection closed.
    const fresh = keep(await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": alice }));
    fresh.send({ type: "register", cwd: "/new" });
    expect(await fresh.closedWith()).toMatchObject({ code: 1008, reason: expect.stringContaining("retired") });
    expect(fresh.typed("error")[0]?.message).toMatch(/legacy is retired/);
    expect(fresh.typed("registered")).toEqual([]);

    // The live session's CLI reconnects and registers its id again: accepted; its viewer may join.
    live.client.close();
    const again = await legacyCli(node.url, alice, { sessionId: live.sessionId });
    keep(again.client);
    expect(again.sessionId).toBe(live.sessionId);
    const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${live.sessionId}`, { cookie: aliceCookie }));
    await viewer.next("connected");
    sendLegacyEvents(again, [{ type: "message_update", n: 2 }]);
    await ackedUpTo(again, 1);
    await viewer.until(() => legacyEventSeqs(viewer).includes(2), "the live event on the viewer");
  });

  it("off: refuses every /ws/* path, closes live legacy connections with a clear reason, keeps what was acknowledged", async () => {
    const cli = await legacyCli(node.url, alice);
    keep(cli.client);
    const viewer = keep(await LegacyClient.open(node.url, `/ws/sessions/${cli.sessionId}`, { cookie: aliceCookie }));
    await viewer.next("connected");
    // A native viewer of the same session stays: the retirement must not cost it any acknowledged event.
    const native = connectViewer(node.url, { cookie: aliceCookie }, cli.sessionId);
    opened.push({ close: () => native.disconnect() });
    const rec = new Recorder(native);
    await connected(native);
    sendLegacyEvents(
      cli,
      Array.from({ length: 20 }, (_, i) => ({ type: "message_update", n: i + 1 })),
    );
    await ackedUpTo(cli, 20);
    await setMode(node.url, admin, "legacy", "off");

    for (const client of [cli.client, viewer]) {
      const closed = await client.closedWith();
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/legacy is retired/);
    }
    for (const path of ["/ws/sessions", "/ws/sessions/abc", "/ws/runner", "/ws/terminal/abc", "/ws/hub", "/ws/nope"]) {
      expect((await refusedUpgrade(node.url, path, { "x-api-key": alice })).status).toBe(410);
    }
    await rec.until((events) => events.some((e) => e.name === "disconnected"), "the session ended for the native viewer");
    const seen = rec.named<{ event?: { n?: number } }>("event").map((e) => e.event?.n).filter((n) => n !== undefined);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // And the log keeps them, in order, under consecutive seqs.
    const view = await node.relay.ctx.state.sessions.view(cli.sessionId, 0);
    const logged = view?.log?.complete ? view.log.events.map((e) => (JSON.parse(e.eventJson ?? "{}") as { n?: number }).n) : [];
    expect(logged).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("clearing the runtime setting falls back to the boot default (on)", async () => {
    await setMode(node.url, admin, "legacy", "off");
    await setMode(node.url, admin, "legacy", null);
    expect((await upgradeAnswer(node.url, "/ws/hub", { "x-api-key": alice })).status).toBe(101);
  });
});

describe("an older Socket.IO generation (socket-v1)", () => {
  it("is admitted in mode on, counted under its generation", async () => {
    const cli = v1("/relay");
    await new Promise<void>((resolve) => cli.once("connect", resolve));
    const reply = (await cli.emitWithAck("register", { cwd: "/x" })) as { ok: boolean };
    expect(reply.ok).toBe(true);
    await waitFor(async () => {
      const g = (await migrationStatusOf(node.url, admin)).generations.find((x) => x.generation === "socket-v1");
      return (g?.live.total ?? 0) >= 1 && (g?.seen.subjects.some((s) => s.id === "alice" && s.clientVersions.includes("0.5.2")) ?? false);
    }, "socket-v1 live and seen");
  });

  it("is counted in full on a node with more connections than one slice of the census walk", async () => {
    // The census walks a node's connections 200 at a time (migration/census/collector.ts): every one of
    // them counts, not only the first slice.
    const count = 450;
    const runners = Array.from({ length: count }, () => v1("/runner"));
    await Promise.all(runners.map((r) => new Promise<void>((resolve) => r.once("connect", resolve))));
    const liveRunners = async (): Promise<number> => {
      const g = (await migrationStatusOf(node.url, admin)).generations.find((x) => x.generation === "socket-v1");
      return g?.live.byKind.runner ?? 0;
    };
    await waitFor(async () => (await liveRunners()) === count, `${count} socket-v1 runners live`);
  });

  it("drain: refuses new runners at the handshake and new sessions at register, with protocol_retired", async () => {
    await setMode(node.url, admin, "socket-v1", "drain");
    const runner = v1("/runner", { runnerId: "r-v1", runnerSecret: "s3cret-runner-v1" });
    expect(await refusal(runner)).toMatchObject({ code: "protocol_retired" });
    const cli = v1("/relay");
    await new Promise<void>((resolve) => cli.once("connect", resolve));
    const gone = new Promise<string>((resolve) => cli.once("disconnect", resolve));
    expect(await cli.emitWithAck("register", { cwd: "/x" })).toMatchObject({ ok: false, error: { code: "protocol_retired" } });
    expect(await gone).toBe("io server disconnect");
  });

  it("off: closes live connections of the generation with an error naming it; other generations stay", async () => {
    const cli = v1("/relay");
    const rec = new Recorder(cli);
    await new Promise<void>((resolve) => cli.once("connect", resolve));
    const current = io(`${node.url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { apiKey: alice, protocolVersion: "1.0.0" } });
    opened.push({ close: () => current.disconnect() });
    await new Promise<void>((resolve) => current.once("connect", resolve));
    await setMode(node.url, admin, "socket-v1", "off");
    await rec.until((events) => events.some((e) => e.name === "$disconnect"), "the socket-v1 CLI closed");
    expect(rec.named<{ code: string; message: string }>("error")[0]).toMatchObject({ code: "protocol_retired", message: expect.stringContaining("socket-v1") });
    expect(current.connected).toBe(true);
    expect(await refusal(v1("/relay"))).toMatchObject({ code: "protocol_retired" });
  });
});
