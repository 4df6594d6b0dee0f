import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { LegacyBackoff } from "./backoff.js";

export type Frame = Record<string, unknown>;

export interface LegacySocketOptions {
  /** Full `ws(s)://` (or `http(s)://`) URL of the endpoint. */
  url: string;
  headers: Record<string, string>;
  /** The client's reconnect policy; null: it never reconnects (the browser viewer and terminal). */
  backoff: { initialMs: number; maxMs: number } | null;
  /** Scale the backoff (tests); 1 = the deployed timings. */
  backoffScale?: number;
}

/**
 * The transport every v0.1.x client shares (docs/legacy-protocol.md sections 0 and 10): one JSON object per
 * text frame, headers set at connect, the endpoint's own reconnect policy. Emits `open`, `frame`,
 * `close` ({code, reason}) and `refused` ({status, body}).
 */
export class LegacySocket extends EventEmitter {
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: LegacyBackoff | null;

  constructor(private readonly options: LegacySocketOptions) {
    super();
    const scale = options.backoffScale ?? 1;
    this.backoff = options.backoff ? new LegacyBackoff(options.backoff.initialMs * scale, options.backoff.maxMs * scale) : null;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  send(frame: Frame): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  private connect(): void {
    const ws = new WebSocket(this.options.url.replace(/^http/, "ws"), { headers: this.options.headers });
    this.ws = ws;
    // Listen before anything awaits `open`: the first frame can arrive in the same read as the 101.
    ws.on("message", (data) => {
      try {
        this.emit("frame", JSON.parse(data.toString()) as Frame);
      } catch {
        // The legacy clients ignore unparseable frames.
      }
    });
    ws.on("open", () => {
      this.backoff?.reset();
      this.emit("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => {
        this.emit("refused", { status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on("error", () => undefined);
    ws.on("close", (code, reason) => {
      this.emit("close", { code, reason: reason.toString() });
      if (this.stopped || !this.backoff) return;
      this.timer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }
}
