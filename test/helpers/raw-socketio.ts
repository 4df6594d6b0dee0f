import WebSocket from "ws";

/**
 * A Socket.IO client at the wire level (engine.io v4 over WebSocket, socket.io-parser text packets),
 * for input socket.io-client would refuse to build: hand-written JSON of any depth or shape, event names
 * it reserves, malformed packets. Answers the engine's pings so the connection stays up.
 */
export class RawSocketIo {
  readonly received: string[] = [];
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "2") ws.send("3");
      this.received.push(text);
      this.wake();
    });
    ws.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<RawSocketIo> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, { headers });
    return new Promise((resolve, reject) => {
      const client = new RawSocketIo(ws);
      ws.once("error", reject);
      client.until(() => client.received.some((m) => m.startsWith("0{")), "engine open").then(() => resolve(client), reject);
    });
  }

  /** Sends the namespace CONNECT with `auth`; resolves with the CONNECT or CONNECT_ERROR packet. */
  async connect(nsp: string, auth: Record<string, unknown>): Promise<string> {
    this.ws.send(`40${nsp},${JSON.stringify(auth)}`);
    const match = (m: string): boolean => m.startsWith(`40${nsp},`) || m.startsWith(`44${nsp},`);
    await this.until(() => this.received.some(match), `CONNECT ${nsp}`);
    return this.received.find(match) as string;
  }

  /** Sends an EVENT whose argument array is `argsJson` verbatim, with ack id `ackId`. */
  emitRaw(nsp: string, argsJson: string, ackId?: number): void {
    this.ws.send(`42${nsp},${ackId ?? ""}${argsJson}`);
  }

  /** Resolves with the arguments of the ACK packet for `ackId`. */
  async ack(nsp: string, ackId: number, timeoutMs = 5_000): Promise<unknown[]> {
    const prefix = `43${nsp},${ackId}[`;
    await this.until(() => this.received.some((m) => m.startsWith(prefix)), `ack ${ackId} on ${nsp}`, timeoutMs);
    const packet = this.received.find((m) => m.startsWith(prefix)) as string;
    return JSON.parse(packet.slice(prefix.length - 1)) as unknown[];
  }

  async until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received.map((m) => m.slice(0, 80)))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  close(): void {
    this.ws.close();
  }
}
