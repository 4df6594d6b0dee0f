import { Transport, transports } from "engine.io";
import type { Packet as EnginePacket } from "engine.io-parser";
import { Decoder, type Packet as SocketPacket } from "socket.io-parser";
import type { WebSocket } from "ws";

import { LEGACY_TRANSPORT_NAME } from "../protocol/index.js";
import { deliverDecoded, packetOfEncoded } from "../server/io/in-process-parser.js";

/** Name of the transport legacy connections use: `socket.conn.transport.name` tells the stacks apart. */
export const LEGACY_TRANSPORT = LEGACY_TRANSPORT_NAME;

/** The bridge side of one legacy connection: what the server sends it, and its end. */
export interface LegacyPeer {
  /** A Socket.IO packet the server sent this connection (decoded). */
  fromServer(packet: SocketPacket): void;
  /** The server closed the engine connection. */
  serverClosed(): void;
}

/**
 * An engine.io transport over a raw legacy `ws` socket (docs/architecture.md section 3). Engine.io builds its
 * Socket on it and Socket.IO its client, so a legacy connection is a real Socket.IO socket: namespace
 * middleware, rooms, the adapter, fetchSockets and connection-state recovery treat it like any other.
 *
 * Engine packets from the server: `open` is swallowed (legacy clients have no handshake), `ping` becomes
 * a WebSocket ping whose pong answers the engine (a dead legacy client is detected by the engine's own
 * ping timeout), and `message` packets are Socket.IO packets, handed to the peer decoded. Both ways
 * the relay's parser spares the text round trip (docs/performance.md "The legacy path"): a packet the
 * server just encoded is taken back as the object it was encoded from, and injected packets reach
 * the namespace as objects.
 */
export class LegacyTransport extends Transport {
  static override upgradesTo: string[] = [];
  readonly ws: WebSocket;
  peer: LegacyPeer | null = null;
  /** For packets no longer in the encoder's recent window (rare: writes queued for a while). */
  private readonly decoder = new Decoder();

  constructor(req: { _query: Record<string, string>; websocket: WebSocket }) {
    super(req);
    this.ws = req.websocket;
    this.writable = true;
    this.decoder.on("decoded", (packet: SocketPacket) => this.peer?.fromServer(packet));
    this.ws.on("pong", () => this.onPacket({ type: "pong" }));
    this.ws.once("close", () => this.onClose());
    this.ws.on("error", (err: Error) => this.onError("legacy socket error", err.message));
  }

  get name(): string {
    return LEGACY_TRANSPORT;
  }

  send(packets: EnginePacket[]): void {
    this.writable = false;
    try {
      for (const packet of packets) this.handOver(packet);
    } finally {
      // As engine.io's own transports do once a batch is written: "drain" runs the batch's callbacks,
      // "ready" makes the socket flush what was queued meanwhile (`writable` is false while the batch
      // is handed over, so that a packet the server writes from within it queues behind the batch).
      // The batch is handed over by now, so both run at once: deferring them to a tick cost a tick
      // object, a closure and a turn of the tick queue per packet (docs/performance.md "The legacy path").
      this.emit("drain");
      this.writable = true;
      this.emit("ready");
    }
  }

  private handOver(packet: EnginePacket): void {
    if (packet.type === "ping") {
      if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
    } else if (packet.type === "message" && typeof packet.data === "string") {
      const known = packetOfEncoded(packet.data);
      if (known) return this.peer?.fromServer(known);
      try {
        this.decoder.add(packet.data);
      } catch (err) {
        this.onError("undecodable server packet", err instanceof Error ? err.message : String(err));
      }
    }
  }

  /**
   * Feeds a Socket.IO packet to the server as if the client had sent it, decoded: never encoded and
   * parsed back. `frameText` is the legacy frame it came from ("" for packets of the bridge's own).
   */
  inject(packet: SocketPacket, frameText = ""): void {
    deliverDecoded(frameText, packet, (text) => this.onPacket({ type: "message", data: text }));
  }

  doClose(fn?: () => void): void {
    this.peer?.serverClosed();
    fn?.();
  }
}

// Register the transport with engine.io, so its Server can build Sockets on it. Engine.io looks
// transports up by name in this exported map (pinned engine.io version; covered by the bridge tests).
(transports as unknown as Record<string, unknown>)[LEGACY_TRANSPORT] = LegacyTransport;
