import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { startExampleServer } from "../../examples/browser/serve.js";
import { startRelayWithAlice, type TestRelay } from "../helpers/relay.js";

const CHROMIUM = "/usr/bin/chromium";

/** The README's browser example (examples/browser/viewer.html, served by serve.ts) as a reader runs it, watching a session a CLI example publishes. */
describe("examples/browser in headless Chromium", () => {
  let example: { server: Server; url: string };
  let node: TestRelay;
  let key: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
    example = await startExampleServer(0, "127.0.0.1");
    ({ node, key } = await startRelayWithAlice({ PIZZAPI_TRUSTED_ORIGINS: example.url }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    await new Promise<void>((resolve) => (example ? example.server.close(() => resolve()) : resolve()));
  });

  it("shows the session's events as the CLI publishes them", async () => {
    const cli = new RelayClient({ url: node.url, apiKey: key, session: { cwd: "/p" } });
    const sessionId = await new Promise<string>((resolve) => cli.once("registered", (r) => resolve(r.sessionId)).start());
    try {
      const page = await (await browser!.newContext()).newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(`${example.url}/?relay=${encodeURIComponent(node.url)}&session=${sessionId}&key=${encodeURIComponent(key)}`);
      await page.waitForFunction(() => document.getElementById("status")?.textContent === "connected", undefined, { timeout: 8_000 });
      for (let n = 1; n <= 3; n++) cli.publish({ type: "message_update", n });
      await page.waitForFunction(() => document.querySelectorAll("#events li").length >= 3, undefined, { timeout: 8_000 });
      const items = await page.$$eval("#events li", (lis) => lis.map((li) => li.textContent));
      expect(items).toEqual([1, 2, 3].map((n) => JSON.stringify({ type: "message_update", n })));
      expect(errors).toEqual([]);
    } finally {
      cli.close();
    }
  });
});
