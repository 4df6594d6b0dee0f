import { request } from "node:http";
import { Writable } from "node:stream";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { createLogger } from "../../server/logger.js";
import { connected } from "../helpers/clients.js";
import { login, startRelay, type TestRelay } from "../helpers/relay.js";

/** CORS of the REST routes and PIZZAPI_TRUST_PROXY, over real HTTP (README, "REST" and "Configuration"). */
const APP = "https://app.test";
const EVIL = "https://evil.test";

/** A relay whose log lines are kept, parsed. */
async function relayWithLog(env: Record<string, string>): Promise<{ node: TestRelay; key: string; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const node = await startRelay(env, { logger: createLogger({ level: "info", nodeId: "test", destination: sink }) });
  const key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
  return { node, key, lines };
}

function accessHeaders(res: Response): string[] {
  const names: string[] = [];
  res.headers.forEach((_value, name) => {
    if (name.startsWith("access-control-")) names.push(name);
  });
  return names;
}

describe("CORS on the REST routes", () => {
  let node: TestRelay;
  let key: string;

  beforeAll(async () => ({ node, key } = await relayWithLog({ PIZZAPI_TRUSTED_ORIGINS: APP })));
  afterAll(async () => node.stop());

  it("answers a trusted origin's preflight 204 with the Access-Control headers, credentials allowed", async () => {
    const res = await fetch(`${node.url}/api/runners/spawn`, {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-api-key" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-methods")?.split(",")).toEqual(expect.arrayContaining(["GET", "POST", "PUT", "DELETE"]));
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase().split(",")).toEqual(expect.arrayContaining(["content-type", "x-api-key"]));
    expect(res.headers.get("vary")).toMatch(/Origin/);
  });

  it("covers the plugins' REST routes too", async () => {
    const res = await fetch(`${node.url}/api/admin/migration/status`, { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "GET" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("lets a trusted page read an answer made with its login cookie", async () => {
    const cookie = await login(node.url, key);
    const res = await fetch(`${node.url}/api/auth/session`, { headers: { origin: APP, cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
  });

  it("gives an untrusted origin no CORS header at all, preflight or not", async () => {
    const preflight = await fetch(`${node.url}/api/runners/spawn`, { method: "OPTIONS", headers: { origin: EVIL, "access-control-request-method": "POST" } });
    expect(preflight.status).not.toBe(204);
    expect(accessHeaders(preflight)).toEqual([]);
    const plain = await fetch(`${node.url}/api/sessions`, { headers: { origin: EVIL, "x-api-key": key } });
    expect(plain.status).toBe(200);
    expect(accessHeaders(plain)).toEqual([]);
  });

  it("adds nothing to a request without an Origin (tools, same-origin pages)", async () => {
    const res = await fetch(`${node.url}/api/sessions`, { headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    expect(accessHeaders(res)).toEqual([]);
  });
});

/** The `ip` of the lines with this message (the REST access log, connection and refusal lines). */
const ipsOf = (lines: Array<Record<string, unknown>>, msg: string): unknown[] => lines.filter((l) => l.msg === msg).map((l) => l.ip);

function hubSocket(url: string, apiKey: string, forwardedFor: string) {
  return io(`${url}/hub`, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    extraHeaders: { "x-forwarded-for": forwardedFor },
    auth: { apiKey, protocolVersion: PROTOCOL_VERSION },
  });
}

/** A WebSocket upgrade of a path nobody serves: answered 404 and logged `upgrade refused`. */
function refusedUpgrade(port: number, forwardedFor: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/nowhere", headers: { connection: "Upgrade", upgrade: "websocket", "x-forwarded-for": forwardedFor } });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("PIZZAPI_TRUST_PROXY", () => {
  const FORWARDED = "198.51.100.9, 203.0.113.7";

  it("off (the default): logs show the TCP peer, X-Forwarded-For is ignored, the cookie follows PIZZAPI_BASE_URL", async () => {
    const { node, key, lines } = await relayWithLog({});
    try {
      await fetch(`${node.url}/api/sessions`, { headers: { "x-api-key": key, "x-forwarded-for": FORWARDED } });
      const res = await fetch(`${node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": key, "x-forwarded-proto": "https" } });
      expect(res.headers.get("set-cookie")).not.toMatch(/Secure/i);
      expect(ipsOf(lines, "http request")).toContain("127.0.0.1");
      expect(JSON.stringify(lines)).not.toContain("203.0.113.7");
    } finally {
      await node.stop();
    }
  });

  it("on: REST, connection and refusal lines show the client the proxy reports; X-Forwarded-Proto: https makes the cookie Secure", async () => {
    const { node, key, lines } = await relayWithLog({ PIZZAPI_TRUST_PROXY: "on" });
    try {
      await fetch(`${node.url}/api/sessions`, { headers: { "x-api-key": key, "x-forwarded-for": FORWARDED } });
      await fetch(`${node.url}/api/sessions`, { headers: { "x-forwarded-for": FORWARDED } });
      const res = await fetch(`${node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": key, "x-forwarded-proto": "https" } });
      expect(res.headers.get("set-cookie")).toMatch(/;\s*Secure/i);

      const hub = hubSocket(node.url, key, FORWARDED);
      await connected(hub);
      hub.disconnect();
      const refused = hubSocket(node.url, "0".repeat(64), FORWARDED);
      await expect(connected(refused)).rejects.toThrow();
      refused.disconnect();
      expect(await refusedUpgrade(node.port, FORWARDED)).toBe(404);
      await new Promise((r) => setTimeout(r, 200));

      // The last hop is the one the proxy added; the first is the client's to forge.
      expect(ipsOf(lines, "http request")).toEqual(expect.arrayContaining(["203.0.113.7"]));
      expect(ipsOf(lines, "request refused: caller not authenticated")).toEqual(["203.0.113.7"]);
      expect(ipsOf(lines, "connection open")).toEqual(["203.0.113.7"]);
      expect(ipsOf(lines, "connection close")).toEqual(["203.0.113.7"]);
      expect(ipsOf(lines, "handshake refused")).toEqual(["203.0.113.7"]);
      expect(ipsOf(lines, "upgrade refused")).toEqual(["203.0.113.7"]);
      expect(JSON.stringify(lines)).not.toContain("198.51.100.9");
    } finally {
      await node.stop();
    }
  });

  it("a list: the nearest hop that is not a listed proxy; a peer not listed is not believed", async () => {
    const listed = await relayWithLog({ PIZZAPI_TRUST_PROXY: "127.0.0.1, 10.0.0.0/8" });
    const other = await relayWithLog({ PIZZAPI_TRUST_PROXY: "192.0.2.1" });
    try {
      await fetch(`${listed.node.url}/api/sessions`, { headers: { "x-api-key": listed.key, "x-forwarded-for": "198.51.100.9, 203.0.113.7, 10.1.2.3" } });
      expect(ipsOf(listed.lines, "http request")).toEqual(["203.0.113.7"]);
      await fetch(`${other.node.url}/api/sessions`, { headers: { "x-api-key": other.key, "x-forwarded-for": "203.0.113.7" } });
      const res = await fetch(`${other.node.url}/api/auth/session`, { method: "POST", headers: { "x-api-key": other.key, "x-forwarded-proto": "https" } });
      expect(res.headers.get("set-cookie")).not.toMatch(/Secure/i);
      expect(ipsOf(other.lines, "http request")).toEqual(["127.0.0.1", "127.0.0.1"]);
    } finally {
      await listed.node.stop();
      await other.node.stop();
    }
  });
});
