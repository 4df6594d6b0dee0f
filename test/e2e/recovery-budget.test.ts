import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/index.js";
import { connectCli, connected, Recorder, seqs, type CliSocket, type ViewerSocket } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/**
 * Embedded mode's connection state recovery keeps at most PIZZAPI_RECOVERY_BUFFER_BYTES of emitted
 * packets (README "Configuration"): a viewer whose missed events were dropped from it is not recovered
 * with a hole, but reconnects afresh and resumes from its `lastSeq` (docs/protocol.md "Reconnection").
 */

const BUDGET = 65_536;

async function publish(cli: CliSocket, token: string, from: number, count: number, bytes: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await cli.emitWithAck("event", { token, seq: from + i, event: { type: "message_update", text: "x".repeat(bytes) } });
    if (!reply.ok) throw new Error(`publish failed: ${reply.error.message}`);
  }
}

async function until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("embedded recovery buffer bounded in bytes", () => {
  let node: TestRelay;
  let key: string;
  let cookie: string;
  const sockets: Array<{ disconnect(): void }> = [];
  const proxies: TestProxy[] = [];

  beforeAll(async () => {
    ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_RECOVERY_BUFFER_BYTES: String(BUDGET), PIZZAPI_RECOVERY_WINDOW_MS: "120000" }));
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all(proxies.map((p) => p.stop()));
    await node?.stop();
  });

  /**
   * A CLI's session and a viewer of it behind a proxy (to cut the network), reconnecting as a browser
   * does: the handshake carries the highest `seq` it rendered as `lastSeq`.
   */
  async function watched(): Promise<{ cli: CliSocket; token: string; viewer: ViewerSocket; rec: Recorder; proxy: TestProxy }> {
    const cli = connectCli(node.url, key);
    sockets.push(cli);
    await connected(cli);
    const reg = await cli.emitWithAck("register", { cwd: "/p" });
    if (!reg.ok) throw new Error(reg.error.message);
    const proxy = new TestProxy(node.port);
    proxies.push(proxy);
    const lb = await proxy.start();
    let rec: Recorder | null = null;
    const viewer: ViewerSocket = io(`${lb}/viewer`, {
      transports: ["websocket"],
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      extraHeaders: { cookie },
      auth: (cb: (auth: object) => void) => {
        const lastSeq = Math.max(0, ...(rec ? seqs(rec) : []));
        cb({ sessionId: reg.sessionId, protocolVersion: PROTOCOL_VERSION, ...(lastSeq > 0 ? { lastSeq } : {}) });
      },
    });
    sockets.push(viewer);
    rec = new Recorder(viewer);
    await rec.next("synced");
    return { cli, token: reg.token, viewer, rec, proxy };
  }

  /** Cuts the viewer's network until the relay has seen it go (its session is then kept for recovery). */
  async function cut(proxy: TestProxy, viewer: ViewerSocket, rec: Recorder): Promise<void> {
    const id = viewer.id ?? "";
    proxy.cut();
    await rec.next("$disconnect");
    await until(() => !node.relay.ctx.viewer.sockets.has(id), "the relay to see the viewer go");
  }

  it("a viewer whose missed events were dropped from the buffer comes back un-recovered and resumes by lastSeq: every event once, in order", async () => {
    const { cli, token, viewer, rec, proxy } = await watched();
    await publish(cli, token, 1, 3, 100);
    await rec.next("event", 3);

    await cut(proxy, viewer, rec);
    // 4 × 32 KiB: twice the budget, so the packets the viewer missed, and its offset, are dropped.
    await publish(cli, token, 4, 4, 32_768);
    proxy.restore();
    await new Promise<void>((resolve) => viewer.once("connect", () => resolve()));

    expect(viewer.recovered).toBe(false);
    await rec.next("synced", 2);
    await rec.next("event", 7);
    expect(rec.named("connected")[1]).toMatchObject({ resumedFrom: 3, lastSeq: 7 });
    expect(seqs(rec)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("a viewer whose missed events fit in the buffer is still recovered, with no second join", async () => {
    const { cli, token, viewer, rec, proxy } = await watched();
    await publish(cli, token, 1, 3, 100);
    await rec.next("event", 3);

    await cut(proxy, viewer, rec);
    await publish(cli, token, 4, 2, 100);
    proxy.restore();
    await new Promise<void>((resolve) => viewer.once("connect", () => resolve()));

    expect(viewer.recovered).toBe(true);
    await rec.next("event", 5);
    expect(seqs(rec)).toEqual([1, 2, 3, 4, 5]);
    expect(rec.named("connected")).toHaveLength(1);
  });
});
