import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../helpers/cluster.js";
import { connectCli, connectHub, connectRunner, connectTerminal, connectViewer, connected, Recorder } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { legacyCli, legacyRunner } from "../helpers/legacy-flows.js";
import { login } from "../helpers/relay.js";
import { startTwoNodes, type TwoNodes } from "../helpers/two-nodes.js";

/**
 * Revoking an API key revokes what it opened (docs/operations.md, "Revoking a key"): on two nodes, every
 * kind of live connection of both stacks authenticated by the key (directly, or by a login cookie
 * minted with it) is closed with a final `unauthorized` within the check interval, another user's
 * connections stay, and the login cookie is refused.
 */

const CHECK_MS = 400;
/** The check interval, plus a state round trip and a loaded machine. */
const WITHIN_MS = 3_000;

describe("revoking a key", () => {
  let cluster: TwoNodes;
  let A: NodeProcess, B: NodeProcess;
  let shared: TwoNodes["shared"];
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    const env = { PIZZAPI_REVOCATION_CHECK_MS: String(CHECK_MS) };
    cluster = await startTwoNodes({ A: env, B: env });
    ({ A, B, shared } = cluster);
  }, 30_000);
  afterAll(async () => {
    for (const close of closers) close();
    await cluster?.stop();
  });

  it("closes every live connection it authenticated, on every node, both stacks, and voids its logins", async () => {
    const alice = await shared.state.keys.create({ userId: "alice", userName: "Alice" });
    const bob = await shared.state.keys.create({ userId: "bob", userName: "Bob" });
    const cookieA = await login(A.url, alice.key);
    const cookieB = await login(B.url, alice.key);
    // A session of alice's under another key (not revoked): the viewers below watch it, so what closes
    // them is the revocation, not the end of a revoked CLI's session.
    const other = await shared.state.keys.create({ userId: "alice", userName: "Alice" });
    const watched = connectCli(A.url, other.key);
    await connected(watched);
    closers.push(() => watched.disconnect());
    const watchedReg = await watched.emitWithAck("register", { cwd: "/w" });
    if (!watchedReg.ok) throw new Error(watchedReg.error.message);

    // Native connections: CLI on B, viewer by key on A, hub by cookie on B, runner on A, terminal by cookie on B.
    const cli = connectCli(B.url, alice.key);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const runner = connectRunner(A.url, alice.key, { runnerId: "revoked-runner", runnerSecret: "s3cret-revoked-runner" });
    await connected(runner);
    expect(await runner.emitWithAck("register_runner", { runnerId: "revoked-runner", runnerSecret: "s3cret-revoked-runner", name: "box", roots: ["/"], skills: [] })).toMatchObject({ ok: true });
    const created = await fetch(`${A.url}/api/runners/terminal`, { method: "POST", headers: { "x-api-key": alice.key, "content-type": "application/json" }, body: JSON.stringify({ runnerId: "revoked-runner" }) });
    const { terminalId } = (await created.json()) as { terminalId: string };
    const natives = {
      cli,
      runner,
      viewer: connectViewer(A.url, { apiKey: alice.key }, watchedReg.sessionId),
      hub: connectHub(B.url, { cookie: cookieB }),
      terminal: connectTerminal(B.url, { cookie: cookieB }, terminalId),
    };
    const recorders = Object.fromEntries(Object.entries(natives).map(([name, s]) => [name, new Recorder(s)])) as Record<keyof typeof natives, Recorder>;
    await Promise.all(Object.values(natives).map((s) => connected(s)));
    for (const s of Object.values(natives)) closers.push(() => s.disconnect());

    // Legacy connections: CLI on A, viewer by cookie on B, hub by cookie on A, runner on B, terminal by cookie on A.
    const legacyCliConn = await legacyCli(A.url, alice.key);
    const legacyRunnerConn = await legacyRunner(B.url, alice.key, { runnerId: "revoked-legacy-runner", runnerSecret: "s3cret-legacy-revoked", name: "old box", roots: ["/"] });
    const legacies = {
      cli: legacyCliConn.client,
      runner: legacyRunnerConn.client,
      viewer: await LegacyClient.open(B.url, `/ws/sessions/${watchedReg.sessionId}`, { cookie: cookieB }),
      hub: await LegacyClient.open(A.url, "/ws/hub", { cookie: cookieA }),
      terminal: await LegacyClient.open(A.url, `/ws/terminal/${terminalId}`, { cookie: cookieA }),
    };
    for (const c of Object.values(legacies)) closers.push(() => c.close());
    await legacies.viewer.next("connected");
    await legacies.hub.next("sessions");

    // Bob's connections on both stacks stay.
    const bobCli = connectCli(A.url, bob.key);
    await connected(bobCli);
    closers.push(() => bobCli.disconnect());
    const bobLegacy = await legacyCli(B.url, bob.key);
    closers.push(() => bobLegacy.client.close());

    const revokedAt = Date.now();
    expect(await shared.state.keys.revoke(alice.meta.id)).toBe(true);

    for (const [kind, client] of Object.entries(legacies)) {
      const closed = await client.closedWith(WITHIN_MS + 2_000);
      expect(closed, `legacy ${kind}`).toEqual({ code: 1008, reason: "The API key of this connection was revoked" });
    }
    for (const [kind, rec] of Object.entries(recorders)) {
      await rec.until((events) => events.some((e) => e.name === "$disconnect"), `native ${kind} closed`, WITHIN_MS + 2_000);
      expect(rec.named<{ code: string }>("error").at(-1), `native ${kind}`).toMatchObject({ code: "unauthorized" });
      expect(rec.named<string>("$disconnect")[0], `native ${kind}`).toBe("io server disconnect");
    }
    expect(Date.now() - revokedAt).toBeLessThan(WITHIN_MS + 2_000);

    expect(bobCli.connected).toBe(true);
    expect(watched.connected).toBe(true);
    expect(bobLegacy.client.closed).toBeNull();
    for (const [node, cookie] of [[A, cookieA], [B, cookieB]] as const) {
      expect((await fetch(`${node.url}/api/auth/session`, { headers: { cookie } })).status).toBe(401);
    }
    const again = connectCli(A.url, alice.key);
    closers.push(() => again.disconnect());
    await expect(connected(again)).rejects.toMatchObject({ data: { code: "unauthorized" } });
  });
});
