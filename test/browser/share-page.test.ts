import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { demoEvent, runDemo } from "../../clients/socketio/demo.js";
import { freePort } from "../helpers/redis.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { waitFor } from "../helpers/wait.js";

const CHROMIUM = "/usr/bin/chromium";
/** Screenshots for review, written by every run (git-ignored). */
const SHOTS = resolve(import.meta.dirname, "../../test-results/screenshots");

/**
 * The page behind a shareUrl (issue 12, "the first session is watchable"), in headless Chromium: a relay
 * whose PIZZAPI_BASE_URL is its own URL, a demo session registered by the relay's RelayClient, its
 * shareUrl opened, the API key entered once; the page renders the conversation, then a live event, and
 * sends input back to the CLI. Run from the sources: the page's bundle is built on demand.
 */
describe("the share page in headless Chromium", () => {
  let node: TestRelay;
  let key: string;
  let browser: Browser | undefined;
  let cli: RelayClient;
  let shareUrl: string;
  const inputs: string[] = [];
  let viewerConnected = 0;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
    mkdirSync(SHOTS, { recursive: true });
    const port = await freePort();
    node = await startRelay({ PORT: String(port), PIZZAPI_BASE_URL: `http://127.0.0.1:${port}` });
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
    cli = new RelayClient({ url: node.url, apiKey: key, session: { cwd: "/home/alice/proj", sessionName: "demo" } });
    cli.on("input", ({ text }) => inputs.push(text));
    cli.on("viewer_connected", () => (viewerConnected += 1));
    const registered = new Promise<string>((done) => cli.on("registered", (r) => done(r.shareUrl)));
    cli.start();
    shareUrl = await registered;
    for (let n = 0; n < 4; n++) cli.publish(demoEvent(n));
    await cli.flushed();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    cli?.close();
    await browser?.close();
    await node?.stop();
  });

  const lines = (page: Page): Promise<string[]> => page.locator("#events li").allInnerTexts();

  it("hands out a shareUrl on the relay itself, and serves the page there", async () => {
    expect(shareUrl).toBe(`${node.url}/session/${cli.sessionId}`);
    const res = await fetch(shareUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain('src="/share-page.js"');
    const script = await fetch(`${node.url}/share-page.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
  });

  it("asks for the API key once, then renders the session's events live and sends input", async () => {
    if (!browser) throw new Error("no browser");
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(shareUrl);

    await page.locator("#key").fill(key);
    await page.locator("#login button").click();
    await page.locator("#events li", { hasText: "Let me read it." }).waitFor();
    await waitFor(async () => (await lines(page)).length >= 4, "the four events so far");
    const shown = await lines(page);
    expect(shown.some((l) => l.includes("message_end (user)") && l.includes("Round 1: what is in this project's README?"))).toBe(true);
    expect(shown.some((l) => l.includes("message_end (assistant)") && l.includes("Let me read it."))).toBe(true);
    expect(shown.some((l) => l.includes("tool_execution_start") && l.includes("tool: read"))).toBe(true);
    expect(await page.locator("#login").isHidden()).toBe(true);
    await waitFor(() => viewerConnected === 1, "viewer_connected at the CLI");

    // A live update, published after the page has loaded.
    cli.publish(demoEvent(4));
    await page.locator("#events li", { hasText: "Round 1: it describes a relay for live AI coding sessions." }).waitFor();

    // The session's collab mode is on (the default): the input box sends `input`.
    await page.locator("#text").fill("hello from the browser");
    await page.locator("#input button").click();
    await waitFor(() => inputs.includes("hello from the browser"), "the input at the CLI");
    expect(await page.locator("#status").innerText()).toMatch(/^connected/);
    await page.screenshot({ path: `${SHOTS}/share-page.png`, fullPage: true });

    // The key is kept: a reload watches again without asking.
    expect(await page.evaluate(() => localStorage.getItem("pizzapi.apiKey"))).toBe(key);
    await page.reload();
    await page.locator("#events li", { hasText: "it describes a relay" }).waitFor();
    expect(await page.locator("#login").isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("watches `pizzapi-relay demo` (run in-process): its fresh state for the new viewer, new events, and the echo of an input", async () => {
    if (!browser) throw new Error("no browser");
    let stopDemo: () => void = () => undefined;
    const stop = new Promise<void>((done) => (stopDemo = done));
    const urls: string[] = [];
    const demo = runDemo({ url: node.url, apiKey: key, intervalMs: 200, stop, out: (line) => line.startsWith("watch at ") && urls.push(line.slice(9)), err: () => undefined });
    try {
      await waitFor(() => urls.length === 1, "the demo's shareUrl");
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(urls[0] ?? "");
      await page.locator("#key").fill(key);
      await page.locator("#login button").click();
      await page.locator("#events li", { hasText: "session_active" }).first().waitFor();
      const before = (await lines(page)).length;
      await waitFor(async () => (await lines(page)).length > before, "an event published after the page loaded");
      await page.locator("#text").fill("hi demo");
      await page.locator("#input button").click();
      await page.locator("#events li", { hasText: "You said: hi demo" }).waitFor();
      stopDemo();
      expect(await demo).toBe(0);
      await page.locator("#status", { hasText: "ended" }).waitFor();
      expect(await page.locator("#input").isHidden()).toBe(true);
      await context.close();
    } finally {
      stopDemo();
      await demo;
    }
  });

  it("hides the input box when the session's collab mode is off", async () => {
    if (!browser) throw new Error("no browser");
    const solo = new RelayClient({ url: node.url, apiKey: key, session: { cwd: "/home/alice/proj", collabMode: false } });
    try {
      const url = new Promise<string>((done) => solo.on("registered", (r) => done(r.shareUrl)));
      solo.start();
      solo.publish(demoEvent(0));
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(await url);
      await page.locator("#key").fill(key);
      await page.locator("#login button").click();
      await page.locator("#events li", { hasText: "Round 1" }).waitFor();
      await page.locator("#text").fill("may I?");
      await page.locator("#input button").click();
      await page.locator("#input-note", { hasText: "Collab mode is off" }).waitFor();
      expect(await page.locator("#input").isHidden()).toBe(true);
      await context.close();
    } finally {
      solo.close();
    }
  });

  it("asks again when the key is refused", async () => {
    if (!browser) throw new Error("no browser");
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(shareUrl);
    await page.locator("#key").fill("0".repeat(64));
    await page.locator("#login button").click();
    await page.locator("#login-error").waitFor();
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(await page.evaluate(() => localStorage.getItem("pizzapi.apiKey"))).toBeNull();
    await context.close();
  });
});
