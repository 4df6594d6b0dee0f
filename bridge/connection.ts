import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { PacketType, type Packet as SocketPacket } from "socket.io-parser";
import type { RawData, WebSocket } from "ws";
import { Counter, type Registry } from "prom-client";
import { cutToBytes } from "../server/limits.js";
import { stringifyFrame } from "../server/io/known-json.js";
import { DeferredCounts } from "../server/observability/deferred-counts.js";
import { reportRefusal } from "../server/observability/refusals.js";
import type { PluginApi } from "../server/plugins/types.js";
import { ERRORS, isErrorCode, nestedDeeperThan } from "../protocol/index.js";
import { asFrame, ownEntry, type CloseSpec, type EndpointCodec, type Frame, type OutboundSequencer } from "./codecs/types.js";
import { LEGACY_TRANSPORT, LegacyTransport, type LegacyPeer } from "./transport.js";

type FrameLabels = "endpoint" | "type" | "direction";

/**
 * `pizzapi_legacy_frames_total`, counted in plain numbers per label set until the registry is read
 * (DeferredCounts): a prom-client `inc` hashes its labels object on every frame, bound or not
 * (docs/performance.md "Counting per event"). The label values are bounded (endpoint names, the
 * server's event names, the codecs' frame types and a few fixed ones), and so is the cache.
 */
export class FrameCounter {
  /** Label-bound series by endpoint, direction and type: nested maps, so that a frame builds no key string. */
  private readonly series = new Map<string, { in: Map<string, { inc(): void }>; out: Map<string, { inc(): void }> }>();
  private readonly counts = new DeferredCounts<FrameLabels>();

  /** Registers `pizzapi_legacy_frames_total` in `registry`. */
  constructor(registry: Registry) {
    const counts = this.counts;
    new Counter({
      name: "pizzapi_legacy_frames_total",
      help: "Legacy /ws/* frames by endpoint, type and direction (in: from clients; unknown and malformed types under one label each)",
      labelNames: ["endpoint", "type", "direction"],
      registers: [registry],
      collect() {
        counts.flushInto(this);
      },
    });
  }

  count(endpoint: string, direction: "in" | "out", type: string): void {
    let byDirection = this.series.get(endpoint);
    if (!byDirection) this.series.set(endpoint, (byDirection = { in: new Map(), out: new Map() }));
    const byType = byDirection[direction];
    let series = byType.get(type);
    if (!series) byType.set(type, (series = this.counts.bind({ endpoint, type, direction })));
    series.inc();
  }
}

/** Bun's default backpressure limit, which the legacy relay ran with. */
export const LEGACY_BACKPRESSURE_LIMIT_BYTES = 16 * 1024 * 1024;

export interface LegacyConnectionOptions {
  /** Handshake `auth` of the namespace connection (credentials and ids from the upgrade request). */
  auth: Record<string, unknown>;
  firstFrameTimeoutMs: number;
  /** The endpoint's name (a metrics label) and the bridge's frame counter. */
  endpoint: string;
  frames: FrameCounter;
  /** The connection's TCP socket (under `ws`): batched acks are written with it corked, in one write. */
  socket: Duplex;
}

/**
 * Binds one accepted legacy WebSocket to a new engine.io connection on the `legacy-ws` transport, then
 * connects it to the endpoint's namespace. From there on, frames go through the codec both ways.
 */
export async function openLegacyConnection(
  relay: PluginApi,
  ws: WebSocket,
  req: IncomingMessage,
  codec: EndpointCodec,
  options: LegacyConnectionOptions,
): Promise<void> {
  const engineReq = Object.assign(req, { _query: { EIO: "4", transport: LEGACY_TRANSPORT }, websocket: ws });
  const transport = await relay.adoptConnection(LEGACY_TRANSPORT, engineReq, (code) => {
    relay.log.warn({ code }, "legacy engine handshake refused");
    ws.close(1011, "Internal error");
  });
  if (!(transport instanceof LegacyTransport)) return;
  const peer = new LegacyConnection(relay, ws, transport, codec, options);
  transport.peer = peer;
  peer.start();
}

/** One legacy connection: the codec between a `ws` socket and its namespace socket. */
class LegacyConnection implements LegacyPeer {
  private connected = false;
  /** Frames received before the namespace accepted the connection (middleware is async). */
  private readonly pendingInbound: Array<{ packet: SocketPacket; text: string }> = [];
  private readonly sequencer: OutboundSequencer | undefined;
  private closeSpec: CloseSpec | undefined;
  /**
   * The close for an `error` the server sent last, if it disconnects right after (a retired protocol, a
   * refusal): the code from the relay's one error table, the message as the reason. Forgotten as soon as
   * anything else is sent, so an old error never words an unrelated close.
   */
  private errorClose: CloseSpec | undefined;
  private firstFrameTimer: NodeJS.Timeout | undefined;
  /** Frames dropped because the client stopped reading (logged once). */
  private dropped = 0;
  /** The fill request on its way (the id of its acknowledgement), and its deadline. */
  private fill: { id: number; timer: NodeJS.Timeout } | null = null;
  private nextAckId = 0;

  constructor(
    private readonly relay: PluginApi,
    private readonly ws: WebSocket,
    private readonly transport: LegacyTransport,
    private readonly codec: EndpointCodec,
    private readonly options: LegacyConnectionOptions,
  ) {
    this.sequencer = codec.sequencer?.({ requestFill: (afterSeq) => this.requestFill(afterSeq) });
  }

  start(): void {
    this.ws.on("message", (data, isBinary) => this.onFrame(data, isBinary));
    if (this.codec.firstFrameRequired) {
      this.firstFrameTimer = setTimeout(() => this.close({ code: 1008, reason: "No register frame received" }), this.options.firstFrameTimeoutMs);
      this.firstFrameTimer.unref();
    }
    this.ws.once("close", () => clearTimeout(this.firstFrameTimer));
    this.transport.inject({ type: PacketType.CONNECT, nsp: this.codec.namespace, data: this.options.auth });
  }

  /**
   * The trust boundary of a legacy connection: whatever a frame makes the bridge throw (a bug, or input
   * nobody foresaw) closes this one connection with 1011 and is logged; it never reaches the `ws`
   * listener, where it would end the process.
   */
  private onFrame(data: RawData, _isBinary: boolean): void {
    clearTimeout(this.firstFrameTimer);
    this.guarded(() => this.translateFrame(data));
  }

  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.relay.log.error({ err, namespace: this.codec.namespace }, "legacy frame handling failed: connection closed");
      this.send({ type: "error", message: "Internal error" });
      this.close({ code: 1011, reason: "Internal error" });
    }
  }

  private translateFrame(data: RawData): void {
    // Binary frames are read as text, as the legacy relay did. `ws` hands a Buffer (its default binary
    // type): read in place; Buffer.from(buffer) would copy it first, ~190 ns a frame for nothing.
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.count("in", "invalid_json");
      reportRefusal(this.relay, "invalid_payload", "legacy", { endpoint: this.options.endpoint }, "legacy frame refused: invalid JSON");
      this.send({ type: "error", message: "Invalid JSON" });
      return;
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return this.count("in", "not_an_object");
    const limit = this.relay.config.maxJsonDepth;
    if (nestedDeeperThan(frame, limit)) {
      this.count("in", "too_deep");
      reportRefusal(this.relay, "invalid_payload", "legacy", { endpoint: this.options.endpoint, limit }, "legacy frame refused: nested too deeply");
      this.send({ type: "error", message: `Frame nested deeper than ${limit} levels` });
      return;
    }
    const type = (frame as Frame).type;
    const translate = typeof type === "string" ? ownEntry(this.codec.inbound, type) : undefined;
    // Unknown types are ignored, as they always were; counted under one label (the set stays bounded).
    this.count("in", translate ? (type as string) : "unknown");
    if (!translate) return;
    const payload = translate(frame as Frame);
    if (payload === null) return;
    const packet: SocketPacket = { type: PacketType.EVENT, nsp: this.codec.namespace, data: [type, payload] };
    if (this.connected) this.transport.inject(packet, text);
    else this.pendingInbound.push({ packet, text });
  }

  fromServer(packet: SocketPacket): void {
    switch (packet.type) {
      case PacketType.CONNECT:
        // Socket.IO writes CONNECT before it registers the namespace socket with its client (same call
        // stack): packets injected right now would be refused as "invalid state". A microtask later, it is.
        queueMicrotask(() => {
          this.connected = true;
          this.guarded(() => {
            for (const pending of this.pendingInbound.splice(0)) this.transport.inject(pending.packet, pending.text);
          });
        });
        return;
      case PacketType.CONNECT_ERROR:
        this.relay.log.warn({ namespace: this.codec.namespace, error: packet.data as unknown }, "legacy connection refused by the namespace");
        // Socket.IO sends `{message, data}`: the typed refusal is in `data` (protocol/errors.ts).
        this.close(closeForError(isFrame(packet.data) && isFrame(packet.data.data) ? packet.data.data : {}) ?? { code: 1008, reason: "Unauthorized" });
        return;
      case PacketType.EVENT:
        if (Array.isArray(packet.data) && typeof packet.data[0] === "string") {
          // With connection state recovery the server appends an offset argument: only the payload counts.
          const payload = packet.data[1];
          this.onServerEvent(packet.data[0], typeof payload === "object" && payload !== null ? (payload as Frame) : {});
        }
        return;
      case PacketType.ACK:
        if (this.fill && packet.id === this.fill.id) this.fillAnswered(Array.isArray(packet.data) ? packet.data[0] : undefined);
        return;
      case PacketType.DISCONNECT:
        this.close(this.closeSpec ?? this.errorClose ?? { code: 1000, reason: "" });
        return;
      default:
        return;
    }
  }

  /**
   * Asks the namespace for the stored events after `afterSeq` (`catch_up`, an acknowledged event of its
   * own: the legacy client never sees it). No answer in time counts as none.
   */
  private requestFill(afterSeq: number): void {
    const id = this.nextAckId++;
    const timer = setTimeout(() => this.fillAnswered(undefined), FILL_TIMEOUT_MS);
    timer.unref();
    this.fill = { id, timer };
    const packet: SocketPacket = { type: PacketType.EVENT, nsp: this.codec.namespace, id, data: ["catch_up", { afterSeq }] };
    if (this.connected) this.transport.inject(packet);
    else this.pendingInbound.push({ packet, text: "" });
  }

  private fillAnswered(reply: unknown): void {
    if (!this.fill || !this.sequencer) return;
    clearTimeout(this.fill.timer);
    this.fill = null;
    const answer = isFrame(reply) && reply.ok === true && reply.complete === true && Array.isArray(reply.events) ? reply.events.filter(isFrame) : null;
    if (answer === null) this.relay.log.info({ namespace: this.codec.namespace }, "legacy viewer gap not fillable from the log: passed on (the client resyncs)");
    this.guarded(() => {
      for (const [e, p] of this.sequencer?.filled(answer) ?? []) this.emitFrames(e, p);
    });
  }

  private onServerEvent(event: string, payload: Frame): void {
    if (!this.sequencer) return this.emitFrames(event, payload);
    for (const [e, p] of this.sequencer.accept(event, payload)) this.emitFrames(e, p);
  }

  private emitFrames(event: string, payload: Frame): void {
    const texts = legacyTexts(this.codec, event, payload);
    // Several frames of one server event (a CLI's batch of acks) leave in one write system call.
    const socket = texts.length > 1 ? this.options.socket : undefined;
    socket?.cork();
    try {
      for (const text of texts) {
        // Labelled by the server's event name, never by a frame field a client could have chosen.
        this.count("out", event);
        this.write(text);
      }
    } finally {
      socket?.uncork();
    }
    const close = this.codec.closeAfter?.(event, payload);
    if (close) this.closeSpec = close;
    this.errorClose = event === "error" ? closeForError(payload) : undefined;
  }

  private send(frame: Frame): void {
    this.write(JSON.stringify(frame));
  }

  /**
   * Past 16 MiB of unsent data the frame is dropped, as Bun's backpressure limit did for the legacy relay
   * (legacy 0): a viewer that falls that far behind sees a seq gap and resyncs, instead of the relay
   * buffering without bound for a client that does not read.
   */
  private write(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > LEGACY_BACKPRESSURE_LIMIT_BYTES) {
      if (this.dropped++ === 0) this.relay.log.warn({ namespace: this.codec.namespace }, "legacy client not reading: frames dropped");
      this.relay.metrics.eventsDropped.inc({ reason: "backpressure" });
      return;
    }
    this.ws.send(text);
  }


  private count(direction: "in" | "out", type: string): void {
    this.options.frames.count(this.options.endpoint, direction, type);
  }

  serverClosed(): void {
    if (this.fill) clearTimeout(this.fill.timer);
    // A stopping node closes its connections so that their clients move to another node: 1012 (service
    // restart), after which every legacy client that reconnects does (docs/operations.md, "Rolling restarts and faults").
    const moved = this.relay.isDraining() ? closeForError({ code: "node_stopping" }) : undefined;
    this.close(this.closeSpec ?? this.errorClose ?? moved ?? { code: 1000, reason: "" });
  }

  private close(spec: CloseSpec): void {
    clearTimeout(this.firstFrameTimer);
    // Every reason is cut here, whichever codec made it: some name a client's id, and ws throws on a
    // reason over 123 bytes, which on this path (engine.io's close) ended the process.
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(spec.code, cutToBytes(spec.reason, MAX_REASON_BYTES));
  }
}

/**
 * The legacy text of a server event, encoded once per payload object: the recipients of one broadcast
 * share its decoded payload (server/io/in-process-parser.ts), and codecs are pure, so every legacy
 * recipient of the same codec would write the same text (docs/performance.md "The legacy path"). The
 * adapter hands a broadcast to its recipients one after the other, in one synchronous loop, so the last
 * payload encoded is the one to keep. A `WeakMap` keyed by payload did the same, with an entry per
 * broadcast for the collector to trace and drop.
 */
let lastEncoded: { payload: Frame; codec: EndpointCodec; event: string; texts: string[] } | null = null;

function legacyTexts(codec: EndpointCodec, event: string, payload: Frame): string[] {
  const last = lastEncoded;
  if (last !== null && last.payload === payload && last.codec === codec && last.event === event) return last.texts;
  const encode = ownEntry(codec.outbound, event);
  const texts = (encode ? encode(payload) : [asFrame(event, payload)]).map(stringifyFrame);
  lastEncoded = { payload, codec, event, texts };
  return texts;
}

/** How long a legacy viewer's live events wait for a gap to be filled from the log. */
const FILL_TIMEOUT_MS = 5_000;

/** A WebSocket close reason is at most 123 bytes (RFC 6455 5.5.1). */
const MAX_REASON_BYTES = 123;

const isFrame = (value: unknown): value is Frame => typeof value === "object" && value !== null && !Array.isArray(value);

function closeForError(payload: Frame): CloseSpec | undefined {
  if (!isErrorCode(payload.code)) return undefined;
  const reason = typeof payload.message === "string" ? payload.message : ERRORS[payload.code].message;
  return { code: ERRORS[payload.code].legacyClose, reason: cutToBytes(reason, MAX_REASON_BYTES) };
}
