import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { createRedisClient } from "../../server/adapters.js";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { backendStates, startHaproxy, type Haproxy } from "../helpers/haproxy.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The fault suite's own tools work: haproxy in front of two nodes (HTTP, WebSocket, a failed health
 * check takes a node out), a Redis whose data survives stop()/restart(), a TCP partition that closes
 * new connections until it is restored.
 */

interface Backend {
  name: string;
  port: number;
  /** What GET /readyz answers. */
  ready: boolean;
  close(): Promise<void>;
}

/** A node stand-in: /readyz (switchable), any other path answers its name, a WebSocket echo on /ws. */
async function startBackend(name: string): Promise<Backend> {
  const http: HttpServer = createHttpServer((req, res) => {
    if (req.url === "/readyz") {
      res.writeHead(backend.ready ? 200 : 503).end(backend.ready ? "ok" : "draining");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(name);
  });
  const wss = new WebSocketServer({ server: http, path: "/ws" });
  wss.on("connection", (socket) => socket.on("message", (data) => socket.send(`${name}:${String(data)}`)));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const address = http.address();
  const backend: Backend = {
    name,
    port: typeof address === "object" && address ? address.port : 0,
    ready: true,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return backend;
}

function wsRoundTrip(url: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no WebSocket answer within 3 s"));
    }, 3_000);
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once("open", () => ws.send(message));
    ws.once("message", (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(String(data));
    });
  });
}

describe("haproxy in front of two nodes", () => {
  const backends: Backend[] = [];
  let haproxy: Haproxy | undefined;

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all(backends.map((backend) => backend.close()));
  });

  it("passes HTTP and WebSocket, and stops sending to a node whose health check fails", async () => {
    const a = await startBackend("a");
    const b = await startBackend("b");
    backends.push(a, b);
    const lb = await startHaproxy({ backends: [a, b].map(({ name, port }) => ({ name, port })), interMs: 200 });
    haproxy = lb;
    expect(lb.url).toBe(`http://127.0.0.1:${lb.port}`);
    expect(lb.pid).toBeGreaterThan(0);
    await waitFor(async () => {
      const states = await backendStates(lb);
      return states.a === "UP" && states.b === "UP";
    }, "both backends UP");

    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${lb.url}/who`);
      expect(res.status).toBe(200);
      seen.add(await res.text());
    }
    expect([...seen].every((name) => name === "a" || name === "b")).toBe(true);
    expect(await wsRoundTrip(`ws://127.0.0.1:${lb.port}/ws`, "hello")).toMatch(/^[ab]:hello$/);

    b.ready = false;
    await waitFor(async () => (await backendStates(lb)).b === "DOWN", "haproxy to mark b DOWN", 5_000);
    expect((await backendStates(lb)).a).toBe("UP");
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${lb.url}/who`);
      expect(await res.text()).toBe("a");
    }
    expect(await wsRoundTrip(`ws://127.0.0.1:${lb.port}/ws`, "again")).toBe("a:again");

    b.ready = true;
    await waitFor(async () => (await backendStates(lb)).b === "UP", "haproxy to mark b UP again", 5_000);
  });

  it("stops haproxy by its PID", async () => {
    const lb = haproxy;
    expect(lb).toBeDefined();
    if (!lb) return;
    await lb.stop();
    expect(() => process.kill(lb.pid, 0)).toThrow();
    await expect(fetch(`${lb.url}/who`)).rejects.toThrow();
  });
});

describe("an appendonly Redis", () => {
  let redis: TestRedis | undefined;

  afterAll(async () => {
    await redis?.dispose();
  });

  it("keeps its data across stop() and restart()", async () => {
    const server = await startRedis({ appendonly: true });
    redis = server;
    const before = createRedisClient(server.url);
    before.on("error", () => undefined);
    await before.connect();
    await before.set("fault-helpers:key", "kept");
    await before.close();

    await server.stop();
    await server.restart();

    const after = createRedisClient(server.url);
    after.on("error", () => undefined);
    await after.connect();
    try {
      expect(await after.get("fault-helpers:key")).toBe("kept");
    } finally {
      await after.close();
    }
  });
});

describe("a TestProxy cut from its target", () => {
  let echo: TcpServer | undefined;
  let proxy: TestProxy | undefined;
  const sockets = new Set<Socket>();

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await proxy?.stop();
    if (echo) {
      const server = echo;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  /** Connects through the proxy, writes `message`; resolves with what came back before the close. */
  function exchange(port: number, message: string): Promise<{ data: string; closed: boolean }> {
    return new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      sockets.add(socket);
      let data = "";
      let done = false;
      const finish = (closed: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        sockets.delete(socket);
        resolve({ data, closed });
      };
      const timer = setTimeout(() => finish(false), 1_000);
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        data += chunk;
        if (data === message) finish(false);
      });
      socket.on("error", () => undefined);
      socket.once("close", () => finish(true));
      socket.once("connect", () => socket.write(message));
    });
  }

  it("closes every connection while cut, and echoes again after restore()", async () => {
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
      socket.pipe(socket);
    });
    echo = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const tcp = new TestProxy(typeof address === "object" && address ? address.port : 0);
    proxy = tcp;
    await tcp.start();

    expect(await exchange(tcp.port, "before")).toEqual({ data: "before", closed: false });

    // An open connection is cut as well.
    const open = connect(tcp.port, "127.0.0.1");
    sockets.add(open);
    open.on("error", () => undefined);
    await new Promise<void>((resolve) => open.once("connect", () => resolve()));
    open.write("ping");
    await new Promise<void>((resolve) => open.once("data", () => resolve()));
    const openClosed = new Promise<void>((resolve) => open.once("close", () => resolve()));
    tcp.cut();
    await openClosed;

    expect(await exchange(tcp.port, "during")).toEqual({ data: "", closed: true });

    tcp.restore();
    expect(await exchange(tcp.port, "after")).toEqual({ data: "after", closed: false });
  });
});
