import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleBrowser, ENTRIES } from "../../scripts/browser-bundle.js";
import { connectCli, connected, type CliSocket } from "../helpers/clients.js";
import { TestProxy } from "../helpers/proxy.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

/**
 * The browser viewer client in real headless Chromium: a page served from one origin loads the esbuild
 * bundle `npm run size` measures and connects, with the login cookie, to a relay on another port (a
 * trusted origin). A CLI publishes from Node; the page renders each event as a list item. The network
 * between page and relay is a TestProxy, so a dropped connection is a transport close the client
 * recovers from on its own. CI installs Debian's `chromium`: a missing browser fails, never skips.
 */

const CHROMIUM = "/usr/bin/chromium";
const COOKIE_NAME = "pizzapi_session";

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>viewer</title></head>
<body>
<p id="status">starting</p>
<pre id="state"></pre>
<ol id="events"></ol>
<script type="module">
import { ViewerClient } from "/clients.js";
const params = new URLSearchParams(location.search);
const viewer = new ViewerClient({
  url: params.get("relay"),
  sessionId: params.get("session"),
  ioOptions: { reconnectionDelay: 100, reconnectionDelayMax: 500 },
});
const record = { statuses: [viewer.status], transports: [], synced: 0, connected: [], errors: [] };
window.record = record;
viewer.socket.io.on("open", () => {
  const engine = viewer.socket.io.engine;
  record.transports.push(engine.transport.name);
  engine.on("upgrade", (transport) => record.transports.push(transport.name));
});
viewer.on("status", (status) => {
  record.statuses.push(status);
  document.getElementById("status").textContent = status.state;
});
viewer.on("connected", (info) => record.connected.push(info));
viewer.on("synced", () => (record.synced += 1));
viewer.on("error", (error) => record.errors.push(error));
viewer.on("event", ({ event, seq, snapshot }) => {
  if (snapshot) {
    document.getElementById("state").textContent = JSON.stringify({ seq, event });
    return;
  }
  const item = document.createElement("li");
  item.dataset.seq = String(seq);
  item.textContent = event.type + " " + event.i;
  document.getElementById("events").append(item);
});
</script>
</body>
</html>`;

interface PageRecord {
  statuses: Array<{ state: string; transport?: string; recovered?: boolean; attempt?: number }>;
  transports: string[];
  synced: number;
  connected: Array<{ resumedFrom?: number }>;
  errors: unknown[];
}

describe("ViewerClient in headless Chromium", () => {
  let pages: Server;
  let pageOrigin: string;
  let node: TestRelay;
  let key: string;
  let cookie: string;
  let proxy: TestProxy;
  let relayUrl: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let cli: CliSocket | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
    }
    const bundle = await bundleBrowser(ENTRIES.index);
    pages = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://page.test").pathname;
      if (path === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
      else if (path === "/clients.js") res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(bundle.code);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    // The page's origin is the one the relay trusts (CORS with credentials, and the cookie handshake check).
    ({ node, key, cookie } = await startRelayWithAlice({ PIZZAPI_TRUSTED_ORIGINS: pageOrigin, PIZZAPI_RECOVERY_WINDOW_MS: "120000" }));
    proxy = new TestProxy(node.port);
    relayUrl = await proxy.start();

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext();
    // Cookies are per host, not per port: the login cookie for 127.0.0.1 goes to the relay's port too.
    const value = cookie.slice(cookie.indexOf("=") + 1);
    await context.addCookies([{ name: COOKIE_NAME, value, domain: "127.0.0.1", path: "/", httpOnly: true, sameSite: "Lax" }]);
  });

  afterAll(async () => {
    cli?.disconnect();
    await browser?.close();
    await proxy?.stop();
    await node?.stop();
    await new Promise<void>((resolve) => (pages ? pages.close(() => resolve()) : resolve()));
  });

  const record = (page: Page): Promise<PageRecord> => page.evaluate(() => (window as unknown as { record: PageRecord }).record);
  const renderedSeqs = (page: Page): Promise<number[]> => page.$$eval("#events li", (items) => items.map((item) => Number((item as HTMLElement).dataset.seq)));
  const until = async (page: Page, what: string, check: (r: PageRecord, seqs: number[]) => boolean, timeoutMs = 8_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [r, seqs] = await Promise.all([record(page), renderedSeqs(page)]);
      if (check(r, seqs)) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ record: r, seqs, pageErrors })}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it("connects over polling then WebSocket, renders the CLI's events in order, and resumes after a dropped connection without gap or duplicate", async () => {
    cli = connectCli(node.url, key);
    await connected(cli);
    const reply = await cli.emitWithAck("register", { cwd: "/home/alice/proj", sessionName: null });
    if (!reply.ok) throw new Error(reply.error.message);
    const { sessionId, token } = reply;
    const publish = async (type: string, i: number, extra: Record<string, unknown> = {}): Promise<void> => {
      const ack = await cli?.emitWithAck("event", { token, event: { type, i, ...extra } });
      if (!ack?.ok) throw new Error(`publish failed: ${JSON.stringify(ack)}`);
    };
    await publish("session_active", 0, { state: { title: "demo" } });

    const page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    await page.goto(`${pageOrigin}/?relay=${encodeURIComponent(relayUrl)}&session=${encodeURIComponent(sessionId)}`);
    await until(page, "the join", (r) => r.synced === 1);
    expect(await page.textContent("#state")).toBe(JSON.stringify({ seq: 1, event: { type: "session_active", state: { title: "demo" } } }));

    for (let i = 1; i <= 10; i++) await publish("before", i);
    await until(page, "10 events", (_r, seqs) => seqs.length === 10);
    await until(page, "the WebSocket upgrade", (r) => r.statuses.some((s) => s.state === "connected" && s.transport === "websocket"));
    const upgraded = await record(page);
    expect(upgraded.transports).toEqual(["polling", "websocket"]);

    proxy.dropAll();
    for (let i = 1; i <= 5; i++) await publish("during", i);
    await until(page, "the reconnection", (r, seqs) => seqs.length === 15 && r.statuses.at(-1)?.state === "connected");
    for (let i = 1; i <= 5; i++) await publish("after", i);
    await until(page, "later events", (_r, seqs) => seqs.length === 20);

    expect(await renderedSeqs(page)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(await page.$$eval("#events li", (items) => items.map((item) => item.textContent))).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `before ${i + 1}`),
      ...Array.from({ length: 5 }, (_, i) => `during ${i + 1}`),
      ...Array.from({ length: 5 }, (_, i) => `after ${i + 1}`),
    ]);
    const final = await record(page);
    const states = final.statuses.map((s) => s.state);
    expect(states[0]).toBe("connecting");
    expect(final.statuses).toContainEqual(expect.objectContaining({ state: "reconnecting", attempt: 1 }));
    expect(states.indexOf("reconnecting")).toBeGreaterThan(states.indexOf("connected"));
    expect(final.statuses.at(-1)).toMatchObject({ state: "connected", recovered: true });
    // Recovered by Socket.IO: the relay did not re-join (one `connected`), and no error reached the page.
    expect(final.connected).toHaveLength(1);
    expect(final.errors).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
