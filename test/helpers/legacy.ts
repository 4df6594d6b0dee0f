import WebSocket from "ws";

/** A raw legacy client: a `ws` socket that records every frame and its close, as the trace does. */
export class LegacyClient {
  readonly frames: Array<Record<string, unknown>> = [];
  closed: { code: number; reason: string } | null = null;
  readonly ws: WebSocket;
  private waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** Opens `path` on the relay (`http://` URL) with the given headers; rejects with the HTTP refusal. */
  static open(url: string, path: string, headers: Record<string, string> = {}): Promise<LegacyClient> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}${path}`, { headers });
    return new Promise((resolve, reject) => {
      const client = new LegacyClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once("error", (err) => reject(err));
    });
  }

  /** Sends a frame as JSON text; a trace record of a non-JSON frame (`{raw: "..."}`) is sent raw. */
  send(frame: unknown): void {
    const raw = typeof frame === "object" && frame !== null && "raw" in frame && typeof frame.raw === "string" ? frame.raw : undefined;
    this.ws.send(typeof frame === "string" ? frame : (raw ?? JSON.stringify(frame)));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  typed(type: string): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.type === type);
  }

  async until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.map((f) => f.type))}, closed: ${JSON.stringify(this.closed)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `count` frames of `type` and returns them. */
  async next(type: string, count = 1, timeoutMs = 5_000): Promise<Array<Record<string, unknown>>> {
    await this.until(() => this.typed(type).length >= count, `${count}× ${type}`, timeoutMs);
    return this.typed(type);
  }

  async closedWith(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== null, "close", timeoutMs);
    return this.closed as { code: number; reason: string };
  }

  close(): void {
    this.ws.close();
  }
}
