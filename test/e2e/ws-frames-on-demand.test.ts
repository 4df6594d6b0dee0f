import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Server } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";
import { PacketType } from "socket.io-parser";
import { relayParser } from "../../server/io/in-process-parser.js";
import { buildWsFramesOnlyForWsClients } from "../../server/io/ws-frames-on-demand.js";

/**
 * A broadcast's WebSocket frame is built only while some client is on engine.io's WebSocket transport
 * (docs/performance.md "The legacy path"); real clients over loopback, counted as they come and go.
 */
describe("WebSocket frames only for WebSocket clients", () => {
  let http: HttpServer | undefined;
  let io: Server | undefined;
  const clients: Socket[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await new Promise<void>((resolve) => (io ? io.close(() => resolve()) : resolve()));
    http = undefined;
    io = undefined;
  });

  async function start() {
    http = createServer();
    io = new Server(http, { parser: relayParser });
    const adapter = io.of("/t").adapter;
    const frames = buildWsFramesOnlyForWsClients(io, [adapter]);
    await new Promise<void>((resolve) => http?.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/t`;
    const encode = (): Record<string, unknown> => {
      const opts: Record<string, unknown> = {};
      adapter["_encode"]({ type: PacketType.EVENT, nsp: "/t", data: ["event", { seq: 1 }] }, opts);
      return opts;
    };
    return { frames, url, encode, server: io };
  }

  const connected = (socket: Socket) => new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it("skips the frame without WebSocket clients and builds it while one is connected", async () => {
    const { frames, url, encode } = await start();
    expect(frames.webSocketClients).toBe(0);
    expect("wsPreEncodedFrame" in encode()).toBe(false);

    const ws = connect(url, { transports: ["websocket"], forceNew: true });
    clients.push(ws);
    await connected(ws);
    expect(frames.webSocketClients).toBe(1);
    const frame = encode().wsPreEncodedFrame;
    expect(Array.isArray(frame)).toBe(true);
    // A final text frame carrying "4" and the packet's text.
    expect(Buffer.concat(frame as Buffer[]).subarray(2).toString()).toBe('42/t,["event",{"seq":1}]');

    ws.disconnect();
    await until(() => frames.webSocketClients === 0);
    expect(frames.webSocketClients).toBe(0);
    expect("wsPreEncodedFrame" in encode()).toBe(false);
  });

  it("counts a long-polling client once it upgrades to WebSocket, not before", async () => {
    const { frames, url, encode } = await start();
    const polling = connect(url, { transports: ["polling"], forceNew: true });
    clients.push(polling);
    await connected(polling);
    expect(frames.webSocketClients).toBe(0);

    const upgrading = connect(url, { transports: ["polling", "websocket"], forceNew: true });
    clients.push(upgrading);
    await connected(upgrading);
    await until(() => frames.webSocketClients === 1);
    expect(frames.webSocketClients).toBe(1);
    expect("wsPreEncodedFrame" in encode()).toBe(true);
  });

  it("delivers broadcasts to WebSocket clients unchanged", async () => {
    const { url, server } = await start();
    const ws = connect(url, { transports: ["websocket"], forceNew: true });
    clients.push(ws);
    await connected(ws);
    const got = new Promise<unknown>((resolve) => ws.once("event", resolve));
    server.of("/t").emit("event", { seq: 7, text: "é" });
    await expect(got).resolves.toEqual({ seq: 7, text: "é" });
  });
});
