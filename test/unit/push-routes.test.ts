import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSION_COOKIE } from "../../server/auth/authenticate.js";
import { loadConfig } from "../../server/config.js";
import { mountPushRoutes } from "../../server/http/push.js";
import { createLogger } from "../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../server/relay-server.js";
import type { RelayContext } from "../../server/sessions/context.js";

/**
 * The push REST routes mounted on a bare Hono app over a real relay's context (never listening): real
 * auth (API keys, login cookies, trusted origins) and the real in-memory PushStore.
 */

const VAPID = webpush.generateVAPIDKeys();
const ORIGIN = "http://relay.test";
const ENDPOINT = "https://push.example.net/send/abc123";
const KEYS = { p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", auth: "tBHItJI5svbpez7KI4CCXg" };

let relay: RelayServer;
let ctx: RelayContext;
let app: Hono;
let aliceKey: string;
let bobKey: string;
let aliceCookie: string;

beforeAll(async () => {
  const config = loadConfig({
    PIZZAPI_HOST: "127.0.0.1",
    PIZZAPI_BASE_URL: ORIGIN,
    PIZZAPI_DATA_DIR: await mkdtemp(join(tmpdir(), "pizzapi-push-routes-")),
    PIZZAPI_VAPID_PUBLIC_KEY: VAPID.publicKey,
    PIZZAPI_VAPID_PRIVATE_KEY: VAPID.privateKey,
  });
  relay = await createRelayServer(config, { logger: createLogger({ level: "silent", nodeId: "test" }) });
  ctx = relay.ctx;
  app = new Hono();
  mountPushRoutes(app, ctx);
  aliceKey = (await ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
  bobKey = (await ctx.state.keys.create({ userId: "bob", userName: "Bob" })).key;
  aliceCookie = `${SESSION_COOKIE}=${await ctx.state.logins.create({ userId: "alice", userName: "Alice", admin: false, keyId: null }, 60_000)}`;
});
afterAll(async () => {
  await relay.stop();
});

const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, { method, headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
const subscribe = (body: unknown, headers: Record<string, string> = { "x-api-key": aliceKey }) => json("POST", "/api/push/subscriptions", body, headers);
const unsubscribe = (body: unknown, headers: Record<string, string> = { "x-api-key": aliceKey }) => json("DELETE", "/api/push/subscriptions", body, headers);

describe("GET /api/push/vapid-public-key", () => {
  it("serves the public key (only) without authentication", async () => {
    const res = await app.request("/api/push/vapid-public-key");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ publicKey: VAPID.publicKey });
  });

  it("is 404 when push is not configured", async () => {
    const bare = new Hono();
    mountPushRoutes(bare, { ...ctx, config: { ...ctx.config, vapid: null } });
    const res = await bare.request("/api/push/vapid-public-key");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "Push notifications are not configured" });
  });
});

describe("POST /api/push/subscriptions", () => {
  it("stores the caller's subscription with enabledEvents '*' by default", async () => {
    const res = await subscribe({ subscription: { endpoint: ENDPOINT, keys: KEYS } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const [stored, ...rest] = await ctx.state.push.list("alice");
    expect(rest).toEqual([]);
    expect(stored).toMatchObject({ endpoint: ENDPOINT, keys: KEYS, enabledEvents: "*", userId: "alice" });
    expect(new Date(stored?.createdAt ?? "").toISOString()).toBe(stored?.createdAt);
    expect(await ctx.state.push.list("bob")).toEqual([]);
  });

  it("replaces by endpoint, joins an enabledEvents array with commas, and accepts the login cookie", async () => {
    const res = await subscribe({ subscription: { endpoint: ENDPOINT, keys: KEYS, expirationTime: null }, enabledEvents: ["agent_finished", "agent_error"] }, { cookie: aliceCookie, origin: ORIGIN });
    expect(res.status).toBe(200);
    const subs = await ctx.state.push.list("alice");
    expect(subs).toHaveLength(1);
    expect(subs[0]?.enabledEvents).toBe("agent_finished,agent_error");
    const res2 = await subscribe({ subscription: { endpoint: ENDPOINT, keys: KEYS }, enabledEvents: "agent_needs_input" });
    expect(res2.status).toBe(200);
    expect((await ctx.state.push.list("alice"))[0]?.enabledEvents).toBe("agent_needs_input");
  });

  const bad: Array<[string, unknown]> = [
    ["no body", ""],
    ["not JSON", "{nope"],
    ["an array", [{ subscription: { endpoint: ENDPOINT, keys: KEYS } }]],
    ["no subscription", { enabledEvents: "*" }],
    ["no endpoint", { subscription: { keys: KEYS } }],
    ["a relative endpoint", { subscription: { endpoint: "/push/1", keys: KEYS } }],
    ["a non-http endpoint", { subscription: { endpoint: "ftp://push.example.net/1", keys: KEYS } }],
    ["a javascript: endpoint", { subscription: { endpoint: "javascript:alert(1)", keys: KEYS } }],
    ["no keys", { subscription: { endpoint: ENDPOINT } }],
    ["no auth key", { subscription: { endpoint: ENDPOINT, keys: { p256dh: KEYS.p256dh } } }],
    ["an empty p256dh", { subscription: { endpoint: ENDPOINT, keys: { ...KEYS, p256dh: "" } } }],
    ["a numeric enabledEvents", { subscription: { endpoint: ENDPOINT, keys: KEYS }, enabledEvents: 3 }],
    ["an empty enabledEvents", { subscription: { endpoint: ENDPOINT, keys: KEYS }, enabledEvents: "" }],
    ["an empty enabledEvents array", { subscription: { endpoint: ENDPOINT, keys: KEYS }, enabledEvents: [] }],
  ];
  it.each(bad)("refuses %s with 400", async (_name, body) => {
    const res = await subscribe(body);
    expect(res.status).toBe(400);
    expect((await res.json()) as { error: string }).toEqual({ error: expect.stringMatching(/^Invalid request: /) });
  });

  it("is 401 without credentials or with a bad key, 403 for a cookie from an untrusted origin", async () => {
    const body = { subscription: { endpoint: "https://push.example.net/intruder", keys: KEYS } };
    expect((await subscribe(body, {})).status).toBe(401);
    expect((await subscribe(body, { "x-api-key": "wrong" })).status).toBe(401);
    const res = await subscribe(body, { cookie: aliceCookie, origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "Untrusted origin" });
    expect((await ctx.state.push.list("alice")).map((s) => s.endpoint)).not.toContain(body.subscription.endpoint);
  });
});

describe("shared state unavailable", () => {
  it("answers 503 on both routes", async () => {
    const push = ctx.state.push;
    const { add, remove } = push;
    push.add = () => Promise.reject(new Error("redis down"));
    push.remove = () => Promise.reject(new Error("redis down"));
    try {
      const res = await subscribe({ subscription: { endpoint: ENDPOINT, keys: KEYS } });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: "Shared state unavailable" });
      expect((await unsubscribe({ endpoint: ENDPOINT })).status).toBe(503);
    } finally {
      push.add = add;
      push.remove = remove;
    }
  });
});

describe("DELETE /api/push/subscriptions", () => {
  it("removes only the caller's own subscription and says whether there was one", async () => {
    await subscribe({ subscription: { endpoint: ENDPOINT, keys: KEYS } });
    const byBob = await unsubscribe({ endpoint: ENDPOINT }, { "x-api-key": bobKey });
    expect(byBob.status).toBe(200);
    expect(await byBob.json()).toEqual({ ok: true, removed: false });
    expect(await ctx.state.push.list("alice")).toHaveLength(1);

    const res = await unsubscribe({ endpoint: ENDPOINT });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, removed: true });
    expect(await ctx.state.push.list("alice")).toEqual([]);

    expect(await (await unsubscribe({ endpoint: ENDPOINT })).json()).toEqual({ ok: true, removed: false });
  });

  it("is 400 without an endpoint and 401 without credentials", async () => {
    expect((await unsubscribe({})).status).toBe(400);
    expect((await unsubscribe({ endpoint: 7 })).status).toBe(400);
    expect((await unsubscribe({ endpoint: ENDPOINT }, {})).status).toBe(401);
  });
});
