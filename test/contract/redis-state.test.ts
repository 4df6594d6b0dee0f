import { createRedisClient, type RelayRedisClient } from "../../server/adapters.js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashSecret, newId } from "../../server/auth/secrets.js";
import { createRedisState } from "../../server/state/redis.js";
import type { ClaimInput, PublishFields, PublishInput, SharedState } from "../../server/state/types.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { describeStateContract } from "./state.contract.js";

type Client = RelayRedisClient;

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 15_000);

afterAll(async () => {
  await redis?.stop();
});

async function connect(): Promise<Client> {
  const client = createRedisClient(redis.url);
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

async function keysUnder(client: Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  // node-redis ≥ 5 yields each SCAN page as an array of keys.
  for await (const page of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...page);
  return keys.sort();
}

/** Every key under the prefix with its value(s), as text. */
async function dumpPrefix(client: Client, prefix: string): Promise<string> {
  const parts: string[] = [];
  for (const key of await keysUnder(client, prefix)) {
    parts.push(key);
    const type = await client.type(key);
    if (type === "string") parts.push((await client.get(key)) ?? "");
    else if (type === "hash") parts.push(...Object.entries(await client.hGetAll(key)).flat());
    else if (type === "list") parts.push(...(await client.lRange(key, 0, -1)));
    else if (type === "set") parts.push(...(await client.sMembers(key)));
    else if (type === "zset") parts.push(...(await client.zRange(key, 0, -1)));
    else parts.push(`<${type}>`);
  }
  return parts.join("\n");
}

async function removePrefix(client: Client, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.del(keys);
}

describeStateContract("redis", async () => {
  const client = await connect();
  const prefix = uniquePrefix();
  const state = createRedisState({ client, prefix });
  return {
    state,
    dump: () => dumpPrefix(client, prefix),
    teardown: async () => {
      await state.close();
      await removePrefix(client, prefix);
      await client.close();
    },
  };
});

describe("redis state: layout and plumbing", () => {
  let client: Client;
  let prefix: string;
  let state: SharedState;

  const claimInput = (overrides: Partial<ClaimInput> = {}): ClaimInput => ({
    userId: "u1",
    userName: "Alice",
    sessionId: `s-${newId()}`,
    cwd: "/w",
    sessionName: null,
    isEphemeral: true,
    collabMode: false,
    now: Date.now(),
    expiresAt: Date.now() + 60_000,
    ttlMs: 60_000,
    shareUrlFor: (id) => `https://relay.test/${id}`,
    newId,
    ...overrides,
  });
  const publishInput = (sessionId: string, overrides: Partial<PublishFields> = {}): PublishInput => ({
    sessionId,
    generation: 1,
    eventJson: '{"type":"x"}',
    kind: "other",
    now: Date.now(),
    expiresAt: null,
    ttlMs: 60_000,
    bufferSize: 100,
    ...overrides,
  });

  beforeEach(async () => {
    client = await connect();
    prefix = uniquePrefix();
    state = createRedisState({ client, prefix });
  });

  afterEach(async () => {
    await removePrefix(client, prefix);
    await client.close();
  });

  it("uses the documented key layout and log entry format", async () => {
    const now = Date.now();
    const { record } = await state.sessions.claim(claimInput({ expiresAt: now + 60_000 }));
    const id = record.sessionId;
    await state.sessions.publish(publishInput(id, { now, eventJson: '{"a":[]}', kind: "state", stateJson: '{"s":[]}', expiresAt: now + 60_000 }));
    await state.sessions.publish(publishInput(id, { now: now + 1, eventJson: undefined, expiresAt: now + 60_000 }));
    await state.keys.create({ userId: "u1", userName: "Alice" });
    await state.logins.create({ userId: "u1", userName: "Alice", admin: false, keyId: null }, 60_000);

    const keys = await keysUnder(client, prefix);
    expect(keys).toEqual(
      expect.arrayContaining([
        `${prefix}session:${id}`,
        `${prefix}session:${id}:events`,
        `${prefix}session:${id}:snapshot`,
        `${prefix}user:u1:sessions`,
        `${prefix}sessions:expiry`,
        `${prefix}apikeys`,
      ]),
    );
    expect(keys.filter((k) => k.startsWith(`${prefix}apikey:`))).toHaveLength(1);
    expect(keys.filter((k) => k.startsWith(`${prefix}login:`))).toHaveLength(1);
    expect(keys).toHaveLength(8);

    expect(await client.lRange(`${prefix}session:${id}:events`, 0, -1)).toEqual([
      `{"seq":1,"ts":${now},"event":{"a":[]}}`,
      `{"seq":2,"ts":${now + 1}}`,
    ]);
    expect(await client.hGetAll(`${prefix}session:${id}:snapshot`)).toEqual({ state: '{"s":[]}', hasState: "1" });
    expect(await client.sMembers(`${prefix}user:u1:sessions`)).toEqual([id]);
    expect(await client.zScore(`${prefix}sessions:expiry`, id)).toBe(now + 60_000);
    for (const suffix of ["", ":events", ":snapshot"]) {
      const ttl = await client.pTTL(`${prefix}session:${id}${suffix}`);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    const loginTtl = await client.pTTL(keys.find((k) => k.startsWith(`${prefix}login:`)) ?? "");
    expect(loginTtl).toBeGreaterThan(50_000);

    await state.sessions.end(id, 1, Date.now(), 30_000);
    expect(await client.sMembers(`${prefix}user:u1:sessions`)).toEqual([]);
    expect(await client.zScore(`${prefix}sessions:expiry`, id)).toBeNull();
    expect(await client.pTTL(`${prefix}session:${id}`)).toBeLessThanOrEqual(30_000);
  });

  it("lays out pending links, runners, terminals, push subscriptions and ended sessions as documented", async () => {
    const { record } = await state.sessions.claim(claimInput());
    const sid = record.sessionId;
    await state.sessions.setPendingLink("s-pending", { runnerId: "r1", runnerName: null }, 60_000);
    expect(await client.hGetAll(`${prefix}pendinglink:s-pending`)).toEqual({ runnerId: "r1" });
    expect(await client.pTTL(`${prefix}pendinglink:s-pending`)).toBeGreaterThan(50_000);
    await state.sessions.end(sid, 1, Date.now(), 30_000);
    expect(await client.sMembers(`${prefix}user:u1:ended`)).toEqual([sid]);
    expect(await client.pTTL(`${prefix}user:u1:ended`)).toBeGreaterThan(20_000);

    const secret = `secret-${newId()}`;
    await state.runners.bindSecret("r1", secret, "u1");
    expect(await client.hGetAll(`${prefix}runner:r1:secret`)).toEqual({ hash: hashSecret(secret), userId: "u1" });
    expect(await client.pTTL(`${prefix}runner:r1:secret`)).toBe(-1);
    const registration = {
      runnerId: "r1",
      userId: "u1",
      userName: "Alice",
      name: null,
      roots: ["/w"],
      skills: [],
      nodeId: "n1",
      connectedAt: new Date().toISOString(),
    };
    await state.runners.register(registration, 60_000);
    await state.runners.addSession("r1", "s-1");
    await state.runners.addSession("r1", "s-2");
    await state.runners.removeSession("r1", "s-1");
    expect(await client.hGetAll(`${prefix}runner:r1`)).toEqual({
      runnerId: "r1",
      userId: "u1",
      userName: "Alice",
      roots: '["/w"]',
      skills: "[]",
      nodeId: "n1",
      connectedAt: registration.connectedAt,
      generation: "1",
      sessionCounter: "2",
      "session:s-2": "2",
    });
    expect(await client.pTTL(`${prefix}runner:r1`)).toBeGreaterThan(50_000);
    expect(await client.sMembers(`${prefix}user:u1:runners`)).toEqual(["r1"]);
    expect(await client.pTTL(`${prefix}user:u1:runners`)).toBeGreaterThan(50_000);
    expect(await state.runners.refresh("r1", 1, 90_000)).toBe(true);
    expect(await client.pTTL(`${prefix}runner:r1`)).toBeGreaterThan(80_000);
    expect(await client.pTTL(`${prefix}user:u1:runners`)).toBeGreaterThan(80_000);

    const terminal = {
      terminalId: "t1",
      runnerId: "r1",
      userId: "u1",
      cwd: null,
      cols: 80,
      rows: 24,
      spawned: false,
      exited: false,
      viewer: null,
      createdAt: new Date().toISOString(),
    };
    await state.terminals.create(terminal, 60_000);
    await state.terminals.create({ ...terminal, terminalId: "t2" }, 60_000);
    await state.terminals.frame("t1", '{"d":"\\u00e9"}', 1_000);
    await state.terminals.frame("t1", '{"d":"\u00e9"}', 1_000);
    expect(await client.hGetAll(`${prefix}terminal:t1`)).toEqual({
      terminalId: "t1",
      runnerId: "r1",
      userId: "u1",
      cols: "80",
      rows: "24",
      spawned: "0",
      exited: "0",
      createdAt: terminal.createdAt,
      bufferBytes: String(14 + 10),
    });
    expect(await client.lRange(`${prefix}terminal:t1:buffer`, 0, -1)).toEqual(['{"d":"\\u00e9"}', '{"d":"\u00e9"}']);
    // The record's TTL is read first: the buffer expires with it, so a later read of the buffer is never higher.
    const recordTtl = await client.pTTL(`${prefix}terminal:t1`);
    const bufferTtl = await client.pTTL(`${prefix}terminal:t1:buffer`);
    expect(bufferTtl).toBeGreaterThan(50_000);
    expect(bufferTtl).toBeLessThanOrEqual(recordTtl);
    expect((await client.sMembers(`${prefix}runner:r1:terminals`)).sort()).toEqual(["t1", "t2"]);
    expect(await client.pTTL(`${prefix}runner:r1:terminals`)).toBeGreaterThan(50_000);

    // no TTL for a persisted terminal, its buffer and its runner's set; a later TTL is covered again
    await state.terminals.update("t1", {}, null);
    for (const key of ["terminal:t1", "terminal:t1:buffer", "runner:r1:terminals"]) expect(await client.pTTL(`${prefix}${key}`)).toBe(-1);
    await state.terminals.update("t2", {}, 90_000);
    expect(await client.pTTL(`${prefix}runner:r1:terminals`)).toBe(-1);
    await state.terminals.update("t1", {}, 30_000);
    const setTtl = await client.pTTL(`${prefix}runner:r1:terminals`);
    expect(setTtl).toBeGreaterThan(80_000);
    expect(setTtl).toBeLessThanOrEqual(90_000);
    expect(await client.pTTL(`${prefix}terminal:t1:buffer`)).toBeLessThanOrEqual(30_000);

    await state.terminals.attach("t1", "v1");
    expect(await client.exists(`${prefix}terminal:t1:buffer`)).toBe(0);
    expect(await client.hmGet(`${prefix}terminal:t1`, ["viewer", "bufferBytes"])).toEqual(["v1", "0"]);
    await state.terminals.delete("t1");
    expect(await client.exists([`${prefix}terminal:t1`, `${prefix}terminal:t1:buffer`])).toBe(0);
    expect(await client.sMembers(`${prefix}runner:r1:terminals`)).toEqual(["t2"]);

    const subscription = {
      endpoint: "https://push.test/1",
      keys: { p256dh: "p", auth: "a" },
      enabledEvents: "*",
      userId: "u1",
      createdAt: new Date().toISOString(),
    };
    await state.push.add(subscription);
    expect(await client.hGetAll(`${prefix}push:u1`)).toEqual({ [subscription.endpoint]: JSON.stringify(subscription) });
    expect(await client.pTTL(`${prefix}push:u1`)).toBe(-1);
  });

  it("drops stale runner and terminal index members", async () => {
    const base = { userId: "u1", userName: "Alice", name: null, roots: [], skills: [], nodeId: "n1", connectedAt: new Date().toISOString() };
    await state.runners.register({ ...base, runnerId: "r1" }, 60_000);
    const kept = await state.runners.register({ ...base, runnerId: "r2" }, 60_000);
    await client.del(`${prefix}runner:r1`);
    expect(await state.runners.listByUser("u1")).toEqual([kept]);
    expect(await client.sMembers(`${prefix}user:u1:runners`)).toEqual(["r2"]);

    const terminal = { runnerId: "r2", userId: "u1", cwd: null, cols: 1, rows: 1, spawned: false, exited: false, viewer: null, createdAt: "x" };
    await state.terminals.create({ ...terminal, terminalId: "t1" }, 60_000);
    await state.terminals.create({ ...terminal, terminalId: "t2" }, 60_000);
    await client.del(`${prefix}terminal:t1`);
    expect(await state.terminals.listByRunner("r2")).toEqual([{ ...terminal, terminalId: "t2" }]);
    expect(await client.sMembers(`${prefix}runner:r2:terminals`)).toEqual(["t2"]);
  });

  it("drops stale index members whose record vanished", async () => {
    const a = await state.sessions.claim(claimInput({ expiresAt: Date.now() - 1 }));
    const b = await state.sessions.claim(claimInput({ expiresAt: Date.now() - 1 }));
    await client.del(`${prefix}session:${a.record.sessionId}`);
    expect(await state.sessions.listByUser("u1")).toEqual([b.record]);
    expect(await state.sessions.listExpired(Date.now())).toEqual([{ sessionId: b.record.sessionId, generation: 1 }]);
    expect(await client.sMembers(`${prefix}user:u1:sessions`)).toEqual([b.record.sessionId]);
    expect(await client.zRange(`${prefix}sessions:expiry`, 0, -1)).toEqual([b.record.sessionId]);
  });

  it("falls back to EVAL when the server lost its scripts, keeping call order", async () => {
    const { record } = await state.sessions.claim(claimInput());
    expect(await state.sessions.publish(publishInput(record.sessionId))).toEqual({ ok: true, seq: 1 });
    await client.scriptFlush();
    const results = await Promise.all(Array.from({ length: 20 }, () => state.sessions.publish(publishInput(record.sessionId))));
    expect(results.map((r) => (r.ok && "seq" in r ? r.seq : -1))).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(await state.sessions.publish(publishInput(record.sessionId))).toEqual({ ok: true, seq: 22 });
  });

  it("works on a fresh server script cache with concurrent first calls", async () => {
    await client.scriptFlush();
    const other = createRedisState({ client, prefix });
    const { record } = await other.sessions.claim(claimInput());
    const results = await Promise.all(Array.from({ length: 50 }, () => other.sessions.publish(publishInput(record.sessionId))));
    expect(results).toEqual(results.map((_, i) => ({ ok: true, seq: i + 1 })));
  });

  it("pings, and close() leaves the caller's client open", async () => {
    await expect(state.ping()).resolves.toBeUndefined();
    await state.close();
    expect(client.isOpen).toBe(true);
    expect(await client.ping()).toBe("PONG");
  });

  it("rejects when the backend is unreachable", async () => {
    const dead = await connect();
    const deadState = createRedisState({ client: dead, prefix });
    await dead.close();
    await expect(deadState.ping()).rejects.toThrow();
    await expect(deadState.sessions.get("x")).rejects.toThrow();
  });
});
