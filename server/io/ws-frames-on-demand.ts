import type { Server } from "socket.io";
import type { Adapter } from "socket.io-adapter";

/**
 * socket.io-adapter encodes a broadcast once and also builds its whole WebSocket frame (a `Buffer` copy
 * of the text plus the frame header, `wsPreEncodedFrame`), which engine.io's WebSocket transport, and
 * only it, writes to each recipient as is. A legacy client's connection is an engine.io transport of the
 * bridge's, which never reads that frame (docs/performance.md "The legacy path"). So while no client of
 * the engine is on the WebSocket transport (a node whose clients are all legacy ones: the first phase of
 * a migration, docs/migration.md), broadcasts are encoded without it; the first such client brings the
 * stock behaviour back for every broadcast after it.
 *
 * This replaces `_encode` (socket.io-adapter 2.5.8, pinned in package.json; every adapter the relay uses,
 * embedded or clustered, inherits it from the in-memory adapter) on the given instances. A getter built
 * the frame on demand instead, per broadcast: `Object.defineProperty` on each packet's options made
 * Socket.IO clients 19 % dearer (A/B, one run).
 */
export function buildWsFramesOnlyForWsClients(io: Server, adapters: Iterable<Adapter>): { readonly webSocketClients: number } {
  let wsClients = 0;
  io.engine.on("connection", (conn: EngineConnection) => {
    let counted = false;
    const count = (): void => {
      if (counted || conn.transport.name !== WEBSOCKET) return;
      counted = true;
      wsClients++;
    };
    count();
    // A client that starts with HTTP long-polling moves to WebSocket later.
    conn.on("upgrade", count);
    conn.once("close", () => {
      if (counted) wsClients--;
    });
  });
  for (const adapter of adapters) {
    const encoder: PacketEncoder = adapter["encoder"];
    const withFrame: Encode = adapter["_encode"].bind(adapter);
    adapter["_encode"] = (packet: unknown, packetOpts: Record<string, unknown>): unknown[] => (wsClients > 0 ? withFrame(packet, packetOpts) : encoder.encode(packet));
  }
  return {
    get webSocketClients() {
      return wsClients;
    },
  };
}

/** engine.io's name of its WebSocket transport, the one that writes the adapter's frames. */
const WEBSOCKET = "websocket";

interface EngineConnection {
  transport: { name: string };
  on(event: "upgrade", listener: () => void): unknown;
  once(event: "close", listener: () => void): unknown;
}

interface PacketEncoder {
  encode(packet: unknown): unknown[];
}

type Encode = (packet: unknown, packetOpts: Record<string, unknown>) => unknown[];
