import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import webpush from "web-push";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { createPushNotifier, type PushNotifier, type PushSessionInfo } from "../../server/push/notifier.js";
import { createMemoryState } from "../../server/state/memory.js";
import type { PushSubscriptionRecord, SharedState } from "../../server/state/types.js";
import { createSubscriber, startPushService, verifyVapidAuthorization, type PushService, type TestSubscriber } from "../helpers/push-service.js";

/**
 * The push notifier against a real (local, TLS) push service: web-push encrypts and signs for real,
 * and the test decrypts (RFC 8291) and verifies the VAPID JWT (RFC 8292) as a browser's push service
 * and user agent would. Cluster presence is stubbed: `viewers` is what the notifier is told.
 */

const SUBJECT = "mailto:ops@relay.test";
const SESSION: PushSessionInfo = { sessionId: "5e55a0f1-aaaa-bbbb-cccc-000000000001", userId: "alice", sessionName: "billing-api" };
const AGENT_END = { type: "agent_end", messages: [] };
const FINISHED = { type: "agent_finished", title: "Agent finished", body: 'Your agent in "billing-api" has finished its task.', sessionId: SESSION.sessionId };

let service: PushService;
let vapid: { publicKey: string; privateKey: string };
let dataDir: string;

beforeAll(async () => {
  service = await startPushService();
  vapid = webpush.generateVAPIDKeys();
  dataDir = await mkdtemp(join(tmpdir(), "pizzapi-push-"));
});
afterAll(async () => {
  await service.close();
});

let state: SharedState;
let logLines: Array<Record<string, unknown>>;
let rawLog: string[];
let viewers: number | null | (() => Promise<number | null>);
let asked: string[];
let notifier: PushNotifier;
let subscribers: TestSubscriber[];
let counter = 0;

function build(env: Record<string, string> = {}): PushNotifier {
  const config = loadConfig({
    PIZZAPI_DATA_DIR: dataDir,
    PIZZAPI_VAPID_PUBLIC_KEY: vapid.publicKey,
    PIZZAPI_VAPID_PRIVATE_KEY: vapid.privateKey,
    PIZZAPI_VAPID_SUBJECT: SUBJECT,
    ...env,
  });
  const log = createLogger({
    level: "trace",
    nodeId: "push-test",
    destination: {
      write: (line: string) => {
        rawLog.push(line);
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return createPushNotifier({
    config,
    state,
    log,
    agent: service.agent,
    viewerCount: async (sessionId) => {
      asked.push(sessionId);
      return typeof viewers === "function" ? viewers() : viewers;
    },
  });
}

/** A new subscription (fresh endpoint and keys) stored for `userId`. */
async function subscribe(enabledEvents = "*", userId = SESSION.userId): Promise<TestSubscriber> {
  const sub = createSubscriber(service.endpoint(`sub-${++counter}`));
  subscribers.push(sub);
  const record: PushSubscriptionRecord = { ...sub.subscription, enabledEvents, userId, createdAt: new Date().toISOString() };
  await state.push.add(record);
  return sub;
}

const endpoints = async (userId = SESSION.userId) => (await state.push.list(userId)).map((s) => s.endpoint).sort();
const messages = (level?: number) => logLines.filter((l) => level === undefined || l.level === level).map((l) => l.msg);
const WARN = 40;

/** Notifies one event and waits until every delivery it started has finished. */
async function notify(event: unknown, session = SESSION): Promise<void> {
  notifier.onSessionEvent(session, event);
  await notifier.settled();
}

beforeEach(() => {
  state = createMemoryState({ dataDir });
  logLines = [];
  rawLog = [];
  viewers = 0;
  asked = [];
  subscribers = [];
  service.received.length = 0;
  notifier = build();
});

afterEach(() => {
  // No line may carry a subscription's keys or its endpoint URL (only the push service's origin).
  const text = rawLog.join("");
  for (const { subscription } of subscribers) {
    expect(text).not.toContain(subscription.keys.p256dh);
    expect(text).not.toContain(subscription.keys.auth);
    expect(text).not.toContain(new URL(subscription.endpoint).pathname);
  }
  expect(text).not.toContain(vapid.privateKey);
});

describe("push notifier", () => {
  it("with no viewer, POSTs one encrypted, VAPID-signed notification the subscriber can decrypt", async () => {
    const sub = await subscribe();
    const before = Math.floor(Date.now() / 1000);
    await notify(AGENT_END);

    expect(asked).toEqual([SESSION.sessionId]);
    expect(service.received).toHaveLength(1);
    const [push] = service.received;
    if (!push) throw new Error("no push received");
    expect(push.path).toBe(new URL(sub.subscription.endpoint).pathname);
    expect(push.headers["content-encoding"]).toBe("aes128gcm");
    expect(push.headers["content-type"]).toBe("application/octet-stream");
    expect(push.headers.ttl).toBe("60");

    const claims = verifyVapidAuthorization(push.headers.authorization as string | undefined, vapid.publicKey);
    expect(claims.aud).toBe(service.origin);
    expect(claims.sub).toBe(SUBJECT);
    expect(claims.exp).toBeGreaterThan(before);
    expect(claims.exp).toBeLessThanOrEqual(before + 24 * 3600 + 5);

    expect(JSON.parse(sub.decrypt(push.body).toString("utf8"))).toEqual(FINISHED);
    expect(await endpoints()).toEqual([sub.subscription.endpoint]);
  });

  it("sends each trigger's payload (needs input, error) and labels an unnamed session by its id", async () => {
    const sub = await subscribe();
    const unnamed = { ...SESSION, sessionName: null };
    await notify({ type: "tool_execution_start", toolName: "AskUserQuestion", args: { question: "Ship it?" } }, unnamed);
    await notify({ type: "cli_error", message: "rate limited" }, unnamed);
    const payloads = service.received.map((r) => JSON.parse(sub.decrypt(r.body).toString("utf8")) as unknown);
    expect(payloads).toEqual([
      { type: "agent_needs_input", title: "Input needed", body: 'Agent in "5e55a0f1" asks: Ship it?' },
      { type: "agent_error", title: "Agent error", body: 'Error in "5e55a0f1": rate limited' },
    ]);
  });

  it("sends nothing while someone is watching", async () => {
    await subscribe();
    viewers = 1;
    await notify(AGENT_END);
    expect(asked).toEqual([SESSION.sessionId]);
    expect(service.received).toHaveLength(0);
  });

  it("sends nothing when presence is unknown, and says so at warn", async () => {
    await subscribe();
    viewers = null;
    await notify(AGENT_END);
    expect(asked).toEqual([SESSION.sessionId]);
    expect(service.received).toHaveLength(0);
    expect(messages(WARN)).toContain("push skipped: viewer presence unknown");
  });

  it("does not even ask for presence when the event triggers nothing", async () => {
    await subscribe();
    for (const event of [{ type: "agent_start" }, { type: "tool_execution_start", toolName: "Bash" }, { type: "heartbeat" }, undefined, null, "agent_end"]) {
      await notify(event);
    }
    expect(asked).toEqual([]);
    expect(service.received).toHaveLength(0);
  });

  it("is disabled without VAPID keys: nothing asked, nothing sent", async () => {
    notifier = build({ PIZZAPI_VAPID_PUBLIC_KEY: "", PIZZAPI_VAPID_PRIVATE_KEY: "" });
    expect(notifier.enabled).toBe(false);
    await subscribe();
    await notify(AGENT_END);
    expect(asked).toEqual([]);
    expect(service.received).toHaveLength(0);
  });

  it("refuses unusable VAPID settings at construction", () => {
    const other = webpush.generateVAPIDKeys();
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ PIZZAPI_VAPID_PRIVATE_KEY: other.privateKey }, /is not the public key of/],
      [{ PIZZAPI_VAPID_PUBLIC_KEY: "not-a-key" }, /public key/i],
      [{ PIZZAPI_VAPID_PRIVATE_KEY: "c2hvcnQ" }, /private key/i],
      [{ PIZZAPI_VAPID_SUBJECT: "admin@relay.test" }, /subject/i],
    ];
    for (const [env, message] of refused) {
      expect(() => build(env)).toThrow(ConfigError);
      expect(() => build(env)).toThrow(message);
    }
  });

  it("reaches only the owner's subscriptions whose enabledEvents want the type", async () => {
    const all = await subscribe("*");
    const errorsOnly = await subscribe("agent_error");
    const finishedAndInput = await subscribe("agent_needs_input, agent_finished");
    const bobs = await subscribe("*", "bob");
    await notify(AGENT_END);
    const reached = service.received.map((r) => r.path).sort();
    expect(reached).toEqual([all, finishedAndInput].map((s) => new URL(s.subscription.endpoint).pathname).sort());
    expect(service.receivedBy(errorsOnly.subscription.endpoint)).toHaveLength(0);
    expect(service.receivedBy(bobs.subscription.endpoint)).toHaveLength(0);
  });

  it("removes a subscription the push service says is gone (410, 404) and keeps one that failed (500)", async () => {
    const gone = await subscribe();
    const notFound = await subscribe();
    const broken = await subscribe();
    const fine = await subscribe();
    service.respond(gone.subscription.endpoint, 410);
    service.respond(notFound.subscription.endpoint, 404);
    service.respond(broken.subscription.endpoint, 500);
    await notify(AGENT_END);

    expect(service.received).toHaveLength(4);
    expect(await endpoints()).toEqual([broken.subscription.endpoint, fine.subscription.endpoint].sort());
    const failure = logLines.find((l) => l.msg === "push delivery failed");
    expect(failure).toMatchObject({ level: WARN, userId: "alice", origin: service.origin, status: 500 });

    // The next notification goes to what is left.
    service.received.length = 0;
    await notify(AGENT_END);
    expect(service.received.map((r) => r.path).sort()).toEqual([broken, fine].map((s) => new URL(s.subscription.endpoint).pathname).sort());
  });

  it("delivers to several subscriptions in parallel", async () => {
    // Sent one at a time, the first request would hit the socket timeout: fail fast then.
    notifier = build({ PIZZAPI_PUSH_TIMEOUT_MS: "3000" });
    const subs = [await subscribe(), await subscribe(), await subscribe()];
    // The service answers none of the three until all three are in: one-at-a-time sending would stall.
    service.holdUntil(3);
    await notify(AGENT_END);
    expect(service.received).toHaveLength(3);
    expect(messages(WARN)).toEqual([]);
    expect(await endpoints()).toHaveLength(subs.length);
  });

  it("gives up on a push service that does not answer after PIZZAPI_PUSH_TIMEOUT_MS, keeping the subscription", async () => {
    notifier = build({ PIZZAPI_PUSH_TIMEOUT_MS: "300" });
    const silent = await subscribe();
    const fine = await subscribe();
    service.hang(silent.subscription.endpoint);
    await notify(AGENT_END);
    expect(service.receivedBy(fine.subscription.endpoint)).toHaveLength(1);
    expect(logLines.find((l) => l.msg === "push delivery failed")).toMatchObject({ origin: service.origin, err: { message: "Socket timeout" } });
    expect(await endpoints()).toHaveLength(2);
  });

  it("never throws or blocks its caller: presence and storage failures are logged", async () => {
    await subscribe();
    viewers = () => Promise.reject(new Error("adapter exploded"));
    expect(notifier.onSessionEvent(SESSION, AGENT_END)).toBeUndefined();
    await notifier.settled();
    expect(messages(50)).toContain("push notification failed");

    logLines.length = 0;
    viewers = 0;
    state.push.list = () => Promise.reject(new Error("redis down"));
    notifier.onSessionEvent(SESSION, AGENT_END);
    await notifier.settled();
    expect(messages(50)).toContain("push notification failed");
    expect(service.received).toHaveLength(0);
  });

  it("returns before presence is known (fire-and-forget)", async () => {
    await subscribe();
    let release: (n: number) => void = () => undefined;
    viewers = () => new Promise<number>((resolve) => (release = resolve));
    notifier.onSessionEvent(SESSION, AGENT_END);
    expect(asked).toEqual([SESSION.sessionId]);
    expect(service.received).toHaveLength(0);
    release(0);
    await notifier.settled();
    expect(service.received).toHaveLength(1);
  });
});
