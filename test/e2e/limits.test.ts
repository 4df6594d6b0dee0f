import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectCli, connectHub, connectRunner, connected, Recorder, type CliSocket } from "../helpers/clients.js";
import { LegacyClient } from "../helpers/legacy.js";
import { legacyCli, sendLegacyEvents } from "../helpers/legacy-flows.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { sleep } from "../helpers/wait.js";

/**
 * The limits of docs/protocol.md ("Limits and hostile input"), each a setting, each violation refused
 * with a clear error on both stacks and counted: field sizes, live sessions per user, the hub list,
 * events per second per connection.
 */

const FIELD_BYTES = 256;
const SESSIONS = 3;
const HUB_SESSIONS = 2;
const PER_SECOND = 20;

let node: TestRelay;
const opened: Array<{ close(): void }> = [];
const keep = <T extends { disconnect(): unknown }>(s: T): T => (opened.push({ close: () => s.disconnect() }), s);

beforeAll(async () => {
  node = await startRelay({
    PIZZAPI_MAX_FIELD_BYTES: String(FIELD_BYTES),
    PIZZAPI_MAX_SESSIONS_PER_USER: String(SESSIONS),
    PIZZAPI_HUB_MAX_SESSIONS: String(HUB_SESSIONS),
    PIZZAPI_MAX_EVENTS_PER_SECOND: String(PER_SECOND),
  });
});
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});
afterAll(async () => node?.stop());

const newKey = async (userId: string): Promise<string> => (await node.relay.ctx.state.keys.create({ userId, userName: userId })).key;
const refusals = async (code: string): Promise<number> => {
  const metric = await node.relay.ctx.metrics.refusals.get();
  return metric.values.filter((v) => v.labels.code === code).reduce((sum, v) => sum + v.value, 0);
};
async function cliOf(key: string): Promise<CliSocket> {
  const cli = keep(connectCli(node.url, key));
  await connected(cli);
  return cli;
}

describe("field sizes", () => {
  it("refuses a register whose cwd or name is too long, on both stacks, naming the field", async () => {
    const key = await newKey("long-fields");
    const before = await refusals("invalid_payload");
    const cli = await cliOf(key);
    expect(await cli.emitWithAck("register", { cwd: "/".repeat(FIELD_BYTES + 1) })).toEqual({
      ok: false,
      error: { code: "invalid_payload", message: `cwd is longer than ${FIELD_BYTES} bytes (PIZZAPI_MAX_FIELD_BYTES)` },
    });
    expect(await cli.emitWithAck("register", { cwd: "/", sessionName: "é".repeat(FIELD_BYTES / 2 + 1) })).toMatchObject({ ok: false, error: { message: expect.stringContaining("sessionName") } });
    expect(await cli.emitWithAck("register", { cwd: "/".repeat(FIELD_BYTES) })).toMatchObject({ ok: true });

    const legacy = await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": key });
    opened.push(legacy);
    legacy.send({ type: "register", cwd: "x".repeat(FIELD_BYTES + 1) });
    expect((await legacy.next("error"))[0]?.message).toBe(`cwd is longer than ${FIELD_BYTES} bytes (PIZZAPI_MAX_FIELD_BYTES)`);
    expect(legacy.typed("registered")).toEqual([]);
    expect(await refusals("invalid_payload")).toBe(before + 3);
  });

  it("refuses a runner whose name or roots are too long, and a spawn or terminal with a too long cwd", async () => {
    const key = await newKey("long-runner");
    const runner = keep(connectRunner(node.url, key));
    await connected(runner);
    expect(await runner.emitWithAck("register_runner", { runnerId: "r-long", runnerSecret: "s3cret-r-long", name: "n".repeat(FIELD_BYTES + 1), roots: ["/"], skills: [] })).toMatchObject({
      ok: false,
      error: { code: "invalid_payload", message: expect.stringContaining("name is longer") },
    });
    expect(await runner.emitWithAck("register_runner", { runnerId: "r-long", runnerSecret: "s3cret-r-long", name: "box", roots: ["/", "r".repeat(FIELD_BYTES + 1)], skills: [] })).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining("roots is longer") },
    });
    expect(await runner.emitWithAck("register_runner", { runnerId: "r-long", runnerSecret: "s3cret-r-long", name: "box", roots: ["/"], skills: [] })).toMatchObject({ ok: true });
    for (const route of ["/api/runners/spawn", "/api/runners/terminal"]) {
      const res = await fetch(`${node.url}${route}`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ runnerId: "r-long", cwd: `/${"c".repeat(FIELD_BYTES)}` }) });
      expect(res.status, route).toBe(400);
      expect(((await res.json()) as { error: string }).error).toContain("cwd is longer");
    }
  });

  it("keeps a session name from an agent event cut to the limit (the event itself is published whole)", async () => {
    const key = await newKey("long-name");
    const cli = await cliOf(key);
    const reg = await cli.emitWithAck("register", { cwd: "/" });
    if (!reg.ok) throw new Error(reg.error.message);
    const long = "N".repeat(FIELD_BYTES * 4);
    expect(await cli.emitWithAck("event", { token: reg.token, seq: 1, event: { type: "heartbeat", active: true, sessionName: long } })).toMatchObject({ ok: true });
    const record = await node.relay.ctx.state.sessions.get(reg.sessionId);
    expect(record?.sessionName).toBe("N".repeat(FIELD_BYTES));
    const view = await node.relay.ctx.state.sessions.view(reg.sessionId);
    expect(JSON.parse(view?.snapshot.heartbeatJson ?? "{}")).toMatchObject({ sessionName: long });
  });
});

describe("live sessions per user", () => {
  it("refuses a new session beyond the limit on both stacks, and still lets a live one re-register", async () => {
    const key = await newKey("many-sessions");
    const clis = await Promise.all(Array.from({ length: SESSIONS }, () => cliOf(key)));
    const regs = await Promise.all(clis.map((c) => c.emitWithAck("register", { cwd: "/" })));
    expect(regs.every((r) => r.ok)).toBe(true);
    const extra = await cliOf(key);
    expect(await extra.emitWithAck("register", { cwd: "/" })).toEqual({
      ok: false,
      error: { code: "limit_exceeded", message: `Too many live sessions: ${SESSIONS} (PIZZAPI_MAX_SESSIONS_PER_USER)` },
    });
    const first = regs[0];
    if (!first?.ok) throw new Error("no first session");
    expect(await extra.emitWithAck("register", { cwd: "/", sessionId: first.sessionId })).toMatchObject({ ok: true, sessionId: first.sessionId });

    const legacy = await LegacyClient.open(node.url, "/ws/sessions", { "x-api-key": key });
    opened.push(legacy);
    legacy.send({ type: "register", cwd: "/legacy" });
    expect((await legacy.next("error"))[0]?.message).toContain("Too many live sessions");
    expect(await refusals("limit_exceeded")).toBeGreaterThanOrEqual(2);
  });
});

describe("the hub list", () => {
  it("carries at most the most recently started sessions, the legacy frame keeping its shape", async () => {
    const key = await newKey("hub-limit");
    const ids: string[] = [];
    for (let i = 0; i < HUB_SESSIONS + 1; i++) {
      const cli = await cliOf(key);
      const reg = await cli.emitWithAck("register", { cwd: `/s${i}` });
      if (!reg.ok) throw new Error(reg.error.message);
      ids.push(reg.sessionId);
      await sleep(5); // distinct start times
    }
    const hub = keep(connectHub(node.url, { apiKey: key }));
    const [list] = await new Recorder(hub).next<{ sessions: Array<{ sessionId: string }> }>("sessions");
    expect(list?.sessions.map((s) => s.sessionId)).toEqual([ids[2], ids[1]]);
    const legacy = await LegacyClient.open(node.url, "/ws/hub", { "x-api-key": key });
    opened.push(legacy);
    const [frame] = await legacy.next("sessions");
    expect(Object.keys(frame ?? {}).sort()).toEqual(["sessions", "type"]);
    expect((frame?.sessions as Array<{ sessionId: string }>).map((s) => s.sessionId)).toEqual([ids[2], ids[1]]);
  });
});

describe("events per second per connection", () => {
  it("refuses events past the burst with rate_limited, and takes them again once the rate allows", async () => {
    const key = await newKey("fast");
    const cli = await cliOf(key);
    const reg = await cli.emitWithAck("register", { cwd: "/" });
    if (!reg.ok) throw new Error(reg.error.message);
    const replies = await Promise.all(Array.from({ length: 4 * PER_SECOND }, (_, i) => cli.emitWithAck("event", { token: reg.token, seq: i + 1, event: { n: i } })));
    const refused = replies.filter((r) => !r.ok);
    expect(refused.length).toBeGreaterThan(PER_SECOND);
    expect(refused[0]).toEqual({ ok: false, error: { code: "rate_limited", message: `More than ${PER_SECOND} events per second (PIZZAPI_MAX_EVENTS_PER_SECOND)` } });
    await sleep(1_100);
    expect(await cli.emitWithAck("event", { token: reg.token, seq: 1_000, event: { n: "later" } })).toMatchObject({ ok: true });
  });

  it("answers a legacy flood with error frames, acknowledging only what it took", async () => {
    const key = await newKey("fast-legacy");
    const cli = await legacyCli(node.url, key);
    opened.push(cli.client);
    sendLegacyEvents(cli, Array.from({ length: 4 * PER_SECOND }, (_, i) => ({ type: "message_update", n: i })));
    await cli.client.until(() => cli.client.typed("error").length > 0, "a rate-limit error frame");
    await sleep(200);
    expect(cli.client.typed("error")[0]?.message).toBe(`More than ${PER_SECOND} events per second (PIZZAPI_MAX_EVENTS_PER_SECOND)`);
    const acked = Math.max(0, ...cli.client.typed("event_ack").map((a) => Number(a.seq)));
    expect(acked).toBeLessThan(4 * PER_SECOND);
    expect(acked).toBeGreaterThan(0);
    expect(cli.client.closed).toBeNull();
    // Acknowledged means stored: every event up to the acknowledged seq is in the session's log.
    const view = await node.relay.ctx.state.sessions.view(cli.sessionId, 0);
    const stored = view?.log?.complete ? view.log.events.map((e) => (JSON.parse(e.eventJson ?? "{}") as { n?: number }).n) : [];
    for (let n = 0; n < acked; n++) expect(stored, `client seq ${n + 1}`).toContain(n);
  });
});
