import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder on 127.0.0.1 standing in for a load balancer: new connections go to the current
 * target; `switchTo` moves later connections to another node, `dropAll` cuts every open one (a network
 * failure as both ends see it), `holdReplies` stops forwarding what the nodes send back (the node
 * works, its answers are stuck in the network) on the connections open at that moment; `cut` is a
 * network partition until `restore`: open connections are cut and new ones are closed at once.
 */
export class TestProxy {
  private server: Server | null = null;
  private readonly open = new Set<Socket>();
  /** Node-side sockets whose data is no longer forwarded to the client. */
  private readonly held = new WeakSet<Socket>();
  /** Between cut() and restore(): every new inbound connection is destroyed without reaching the node. */
  private partitioned = false;
  port = 0;

  constructor(private target: number) {}

  async start(): Promise<string> {
    this.server = createServer((inbound) => {
      if (this.partitioned) {
        inbound.on("error", () => undefined);
        inbound.destroy();
        return;
      }
      const outbound = connect(this.target, "127.0.0.1");
      this.open.add(inbound);
      this.open.add(outbound);
      const close = (): void => {
        inbound.destroy();
        outbound.destroy();
        this.open.delete(inbound);
        this.open.delete(outbound);
      };
      inbound.pipe(outbound);
      outbound.on("data", (chunk: Buffer) => {
        if (!this.held.has(outbound)) inbound.write(chunk);
      });
      inbound.on("error", close).on("close", close);
      outbound.on("error", close).on("close", close);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  switchTo(port: number): void {
    this.target = port;
  }

  holdReplies(): void {
    for (const socket of this.open) this.held.add(socket);
  }

  dropAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  /** A partition as both ends see it: cuts every open connection, and every new one until restore(). */
  cut(): void {
    this.partitioned = true;
    this.dropAll();
  }

  /** Ends the partition of cut(): new connections reach the target again. */
  restore(): void {
    this.partitioned = false;
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
