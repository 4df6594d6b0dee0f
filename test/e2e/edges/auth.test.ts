import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, type ErrorBody } from "../../../protocol/index.js";
import { SESSION_COOKIE } from "../../../server/auth/authenticate.js";
import { loadConfig } from "../../../server/config.js";
import { createLogger } from "../../../server/logger.js";
import { createRelayServer, type RelayServer } from "../../../server/relay-server.js";
import { createMemoryState } from "../../../server/state/memory.js";
import type { ApiKeyStore } from "../../../server/state/types.js";
import { connectCli, connectHub, connectViewer, connected, Recorder } from "../../helpers/clients.js";
import { login, startRelay, type TestRelay } from "../../helpers/relay.js";

/**
 * Handshake refusals are typed connect_errors ({code, message} in err.data), and the REST login issues
 * and revokes the cookie those handshakes accept. One in-process relay in embedded mode.
 */

const TRUSTED = "http://relay.test";

type Closable = { disconnect(): unknown };

/** Resolves with the connect_error data, rejects if the socket connects. */
function refusal(socket: Socket): Promise<ErrorBody> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, expected a refusal")));
    socket.once("connect_error", (err: Error & { data?: ErrorBody }) => {
      if (!err.data) reject(new Error(`connect_error without data: ${err.message}`));
      else resolve(err.data);
    });
  });
}

describe("handshake authentication", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  let sessionId: string;
  const sockets: Closable[] = [];
  const track = <T extends Closable>(s: T): T => (sockets.push(s), s);

  beforeAll(async () => {
    node = await startRelay();
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "Alice" })).key;
    cookie = await login(node.url, key);
    // A live session, so accepted viewers have something to join.
    const cli = track(connectCli(node.url, key));
    await connected(cli);
    const reply = await cli.emitWithAck("register", { cwd: "/w" });
    if (!reply.ok) throw new Error(reply.error.message);
    sessionId = reply.sessionId;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await node.stop();
  });

  describe("/relay (API key)", () => {
    // RelayAuthSchema makes apiKey a required string, so a missing key fails schema validation
    // (invalid_payload) before authenticateApiKey can answer its "Missing API key" unauthorized.
    it("refuses a handshake without apiKey as unauthorized", async () => {
      const socket = track(io(`${node.url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { protocolVersion: PROTOCOL_VERSION } }));
      expect((await refusal(socket)).code).toBe("unauthorized");
    });

    it("refuses a handshake without apiKey (typed error, never a connection)", async () => {
      const socket = track(io(`${node.url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { protocolVersion: PROTOCOL_VERSION } }));
      const data = await refusal(socket);
      expect(["unauthorized", "invalid_payload"]).toContain(data.code);
      expect(data.message).toMatch(/apiKey|API key/);
    });

    it("refuses a wrong apiKey as unauthorized", async () => {
      const data = await refusal(track(connectCli(node.url, "0".repeat(64))));
      expect(data).toEqual({ code: "unauthorized", message: "Invalid or expired API key" });
    });

    it("accepts the right apiKey", async () => {
      const cli = track(connectCli(node.url, key));
      await connected(cli);
      expect(cli.connected).toBe(true);
    });

    it("refuses an unsupported protocolVersion", async () => {
      const data = await refusal(track(connectCli(node.url, key, { protocolVersion: "2.0.0" })));
      expect(data.code).toBe("unsupported_protocol");
      expect(data.message).toContain("2.0.0");
    });

    it("refuses a malformed protocolVersion as unsupported too", async () => {
      expect((await refusal(track(connectCli(node.url, key, { protocolVersion: "v-one" })))).code).toBe("unsupported_protocol");
    });

    it("accepts a handshake that declares no protocolVersion", async () => {
      const cli = track(io(`${node.url}/relay`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { apiKey: key } }));
      await connected(cli);
      expect(cli.connected).toBe(true);
    });
  });

  describe("/viewer and /hub (cookie or API key)", () => {
    const browser = {
      viewer: (creds: { cookie?: string; apiKey?: string; origin?: string }) => connectViewer(node.url, creds, sessionId),
      hub: (creds: { cookie?: string; apiKey?: string; origin?: string }) => connectHub(node.url, creds),
    };

    for (const kind of ["viewer", "hub"] as const) {
      describe(`/${kind}`, () => {
        it("refuses a handshake without cookie or key as unauthorized", async () => {
          expect((await refusal(track(browser[kind]({})))).code).toBe("unauthorized");
        });

        it("refuses a bogus cookie as unauthorized", async () => {
          const data = await refusal(track(browser[kind]({ cookie: `${SESSION_COOKIE}=${"ab".repeat(32)}`, origin: TRUSTED })));
          expect(data.code).toBe("unauthorized");
        });

        it("refuses a cookie that is not the login cookie as unauthorized", async () => {
          const data = await refusal(track(browser[kind]({ cookie: `other=${cookie.split("=")[1] ?? ""}`, origin: TRUSTED })));
          expect(data.code).toBe("unauthorized");
        });

        it("refuses a valid cookie from an untrusted Origin as untrusted_origin", async () => {
          const data = await refusal(track(browser[kind]({ cookie, origin: "http://evil.test" })));
          expect(data.code).toBe("untrusted_origin");
        });

        it("accepts a valid cookie from the trusted Origin", async () => {
          const socket = track(browser[kind]({ cookie, origin: TRUSTED }));
          const rec = new Recorder(socket);
          await connected(socket);
          await rec.next(kind === "hub" ? "sessions" : "connected");
        });

        it("accepts an apiKey in auth instead of a cookie", async () => {
          const socket = track(browser[kind]({ apiKey: key }));
          const rec = new Recorder(socket);
          await connected(socket);
          await rec.next(kind === "hub" ? "sessions" : "connected");
        });

        it("refuses a wrong apiKey even with a valid cookie (the key is what is checked)", async () => {
          const data = await refusal(track(browser[kind]({ apiKey: "f".repeat(64), cookie, origin: TRUSTED })));
          expect(data.code).toBe("unauthorized");
        });

        it("refuses an unsupported protocolVersion before looking at credentials", async () => {
          const socket = track(
            io(`${node.url}/${kind}`, {
              transports: ["websocket"],
              reconnection: false,
              forceNew: true,
              extraHeaders: { cookie, origin: TRUSTED },
              auth: { protocolVersion: "2.0.0", sessionId },
            }),
          );
          expect((await refusal(socket)).code).toBe("unsupported_protocol");
        });
      });
    }

    it("/viewer refuses a handshake without sessionId as invalid_payload naming the field", async () => {
      const socket = track(
        io(`${node.url}/viewer`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { apiKey: key, protocolVersion: PROTOCOL_VERSION } }),
      );
      const data = await refusal(socket);
      expect(data.code).toBe("invalid_payload");
      expect(data.message).toContain("sessionId");
    });
  });

  it("refuses the root namespace", async () => {
    const socket = track(io(node.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { apiKey: key } }));
    const data = await refusal(socket);
    expect(data.code).toBe("forbidden");
    expect(data.message).toContain("/relay");
  });

  describe("REST login", () => {
    it("POST /api/auth/session without a key is 401", async () => {
      const res = await fetch(`${node.url}/api/auth/session`, { method: "POST" });
      expect(res.status).toBe(401);
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(await res.json()).toEqual({ error: "Missing API key (x-api-key header)" });
    });

    it("POST /api/auth/session with a bad key is 401 and sets no cookie", async () => {
      const res = await fetch(`${node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": "nope" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("set-cookie")).toBeNull();
    });

    it("POST with a good key sets an HttpOnly SameSite=Lax cookie; GET returns the identity; DELETE revokes it", async () => {
      const res = await fetch(`${node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": key } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, userId: "alice", userName: "Alice", admin: false });
      const setCookie = res.headers.get("set-cookie") ?? "";
      const attributes = setCookie.split(";").map((a) => a.trim().toLowerCase());
      expect(attributes[0]).toMatch(new RegExp(`^${SESSION_COOKIE}=[0-9a-f]{64}$`));
      expect(attributes).toContain("httponly");
      expect(attributes).toContain("samesite=lax");
      expect(attributes).toContain("path=/");
      expect(attributes).not.toContain("secure"); // http base URL
      const fresh = setCookie.split(";")[0] ?? "";
      expect(fresh).not.toBe(cookie); // every login is its own token

      const who = await fetch(`${node.url}/api/auth/session`, { headers: { cookie: fresh } });
      expect(who.status).toBe(200);
      expect(await who.json()).toEqual({ ok: true, userId: "alice", userName: "Alice", admin: false });

      // The cookie works for a hub socket until it is deleted.
      const before = track(connectHub(node.url, { cookie: fresh, origin: TRUSTED }));
      await connected(before);

      const out = await fetch(`${node.url}/api/auth/session`, { method: "DELETE", headers: { cookie: fresh } });
      expect(out.status).toBe(200);
      expect(out.headers.get("set-cookie") ?? "").toMatch(new RegExp(`^${SESSION_COOKIE}=;`));

      expect((await fetch(`${node.url}/api/auth/session`, { headers: { cookie: fresh } })).status).toBe(401);
      expect((await refusal(track(connectHub(node.url, { cookie: fresh, origin: TRUSTED })))).code).toBe("unauthorized");
      // Another login of the same user is not affected.
      expect((await fetch(`${node.url}/api/auth/session`, { headers: { cookie } })).status).toBe(200);
    });

    it("GET /api/auth/session without or with a bogus cookie is 401", async () => {
      expect((await fetch(`${node.url}/api/auth/session`)).status).toBe(401);
      expect((await fetch(`${node.url}/api/auth/session`, { headers: { cookie: `${SESSION_COOKIE}=bogus` } })).status).toBe(401);
    });

    it("answers an unknown path with 404 {error: Not found}", async () => {
      const res = await fetch(`${node.url}/api/nothing-here`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "Not found" });
    });

    it("/healthz is 200 and /readyz is 200 in embedded mode", async () => {
      const health = await fetch(`${node.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, runtime: "node" });
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ok: true, draining: false, nodes: 1, checks: { state: true } });
    });
  });
});

describe("a failing auth backend", () => {
  let relay: RelayServer;
  let url: string;
  let goodKey: string;
  const broken = { on: false };
  const sockets: Closable[] = [];
  const track = <T extends Closable>(s: T): T => (sockets.push(s), s);

  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "pizzapi-edge-auth-"));
    const config = loadConfig({ PORT: "0", PIZZAPI_HOST: "127.0.0.1", PIZZAPI_BASE_URL: TRUSTED, PIZZAPI_DATA_DIR: dataDir, PIZZAPI_LOG_LEVEL: "silent" });
    const state = createMemoryState({ dataDir });
    const real = state.keys;
    const keys: ApiKeyStore = {
      create: (input) => real.create(input),
      verify: async (k) => {
        if (broken.on) throw new Error("key store unreachable");
        return real.verify(k);
      },
      list: (userId) => real.list(userId),
      revoke: (id) => real.revoke(id),
      existing: (ids) => real.existing(ids),
      exists: async (id) => {
        if (broken.on) throw new Error("key store unreachable");
        return real.exists(id);
      },
    };
    relay = await createRelayServer(config, { state: { ...state, keys }, logger: createLogger({ level: "silent", nodeId: "edge" }) });
    url = `http://127.0.0.1:${await relay.start()}`;
    goodKey = (await keys.create({ userId: "alice", userName: "Alice" })).key;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await relay.stop();
  });

  /** How a handshake the relay could not check ends: the connection closes (retryable), no final refusal. */
  function closedUnrefused(socket: Socket): Promise<string> {
    return new Promise((resolve, reject) => {
      socket.once("connect", () => reject(new Error("connected, expected the connection to close")));
      socket.once("connect_error", (err: Error & { data?: ErrorBody }) => reject(new Error(`refused: ${JSON.stringify(err.data ?? err.message)}`)));
      socket.once("disconnect", (reason) => resolve(reason));
    });
  }

  it("closes handshakes it cannot check (the client retries: a refusal would be final), answers REST logins 503, then serves again", async () => {
    broken.on = true;
    expect(await closedUnrefused(track(connectCli(url, goodKey)))).toBe("transport close");
    expect(await closedUnrefused(track(connectHub(url, { apiKey: goodKey })))).toBe("transport close");
    const login503 = await fetch(`${url}/api/auth/session`, { method: "POST", headers: { "x-api-key": goodKey } });
    expect(login503.status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    broken.on = false;
    const cli = track(connectCli(url, goodKey));
    await connected(cli);
    const reply = await cli.emitWithAck("register", { cwd: "/w" });
    expect(reply.ok).toBe(true);
    const cookie = await login(url, goodKey);
    const hub = track(connectHub(url, { cookie, origin: TRUSTED }));
    const rec = new Recorder(hub);
    await connected(hub);
    const [list] = await rec.next<{ sessions: Array<{ sessionId: string }> }>("sessions");
    expect(list?.sessions.map((s) => s.sessionId)).toEqual([reply.ok ? reply.sessionId : ""]);
  });
});
