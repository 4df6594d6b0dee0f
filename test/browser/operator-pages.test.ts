import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { connectViewer, Recorder } from "../helpers/clients.js";
import { awaitMesh, clusterState, startNode, type NodeProcess } from "../helpers/cluster.js";
import { LegacyClient } from "../helpers/legacy.js";
import { startRedis, uniquePrefix, type TestRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

const CHROMIUM = "/usr/bin/chromium";
/** Screenshots for review, written by every run (git-ignored). */
const SHOTS = resolve(import.meta.dirname, "../../test-results/screenshots");

/**
 * The operator page (`/admin`) and the Socket.IO Admin UI (`/admin/socketio/`), served by a live
 * three-node cluster, in headless Chromium: log in with an admin key, see who is still on legacy, flip
 * the legacy mode to drain with the page's control and watch the cluster apply it; an ordinary key is
 * refused; the Admin UI authenticates and lists a legacy socket with its transport.
 */
describe("operator pages in headless Chromium", () => {
  let redis: TestRedis;
  let A: NodeProcess, B: NodeProcess, C: NodeProcess;
  let closeState: () => Promise<void>;
  let browser: Browser;
  let admin: string;
  const keys: Record<string, string> = {};
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
    mkdirSync(SHOTS, { recursive: true });
    redis = await startRedis();
    const prefix = uniquePrefix();
    const env = { PIZZAPI_CENSUS_FLUSH_MS: "300", PIZZAPI_ADMIN_UI: "on" };
    [A, B, C] = (await Promise.all(["A", "B", "C"].map((name) => startNode({ name, redisUrl: redis.url, prefix, env })))) as [NodeProcess, NodeProcess, NodeProcess];
    await awaitMesh([A, B, C]);
    const shared = await clusterState(redis.url, prefix);
    closeState = shared.close;
    admin = (await shared.state.keys.create({ userId: "ops", userName: "Ops", admin: true })).key;
    for (const user of ["dana", "eli", "frank"]) keys[user] = (await shared.state.keys.create({ userId: user, userName: user })).key;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);
  afterAll(async () => {
    for (const stop of stops.splice(0)) stop();
    await browser?.close();
    await Promise.all([A, B, C].map((n) => n?.stop()));
    await closeState?.();
    await redis?.stop();
  });

  async function newPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    return { page, errors };
  }

  async function logIn(page: Page, node: NodeProcess, key: string): Promise<void> {
    await page.goto(`${node.url}/admin/`);
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#login-key", key);
    await page.click("#login-form button[type=submit]");
  }

  it("logs in with an admin key, names the legacy users, flips legacy to drain, and the cluster applies it", async () => {
    // dana streams from a legacy CLI on B; eli's legacy hub is open on C.
    const dana = new LegacyCliClient({ relayUrl: B.url, apiKey: keys.dana ?? "", heartbeatMs: 60_000 });
    stops.push(() => dana.stop());
    dana.start();
    await waitFor(() => dana.registered !== null, "dana's legacy CLI registered");
    const eli = await LegacyClient.open(C.url, "/ws/hub", { "x-api-key": keys.eli ?? "" });
    stops.push(() => eli.close());
    await eli.next("sessions");
    const viewer = connectViewer(C.url, { apiKey: keys.dana ?? "" }, dana.sessionId);
    stops.push(() => viewer.disconnect());
    const rec = new Recorder(viewer);
    await rec.next("synced");

    const { page, errors } = await newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await logIn(page, A, admin);
    await page.waitForSelector("#dashboard:not([hidden])");
    await page.waitForFunction(() => {
      const ids = Array.from(document.querySelectorAll("#subjects tbody tr[data-generation=legacy] td:nth-child(3)")).map((td) => td.textContent);
      return ids.includes("dana") && ids.includes("eli");
    }, undefined, { timeout: 10_000 });
    const legacyRows = await page.$$eval("#subjects tbody tr[data-generation=legacy]", (rows) => rows.map((r) => Array.from(r.querySelectorAll("td")).map((td) => td.textContent)));
    expect(legacyRows.map((r) => `${r[1]}:${r[2]}`).sort()).toEqual(["user:dana", "user:eli"]);
    expect(await page.textContent("#generations tr[data-generation=legacy] td:nth-child(6)")).toMatch(/not yet/);
    expect(await page.$$eval("#nodes tbody tr td:first-child", (tds) => tds.map((td) => td.textContent))).toEqual(["A", "B", "C"]);
    await page.waitForSelector("#chart canvas");
    await page.screenshot({ path: `${SHOTS}/operator-page-legacy-users.png`, fullPage: true });

    // The control: drain, with the confirmation accepted.
    await page.selectOption("#generations tr[data-generation=legacy] select", "drain");
    const flipped = Date.now();
    await page.click("#generations tr[data-generation=legacy] button");
    await page.waitForFunction(() => document.querySelector("#generations tr[data-generation=legacy] .mode")?.textContent === "drain", undefined, { timeout: 5_000 });

    // The cluster applies it: a new legacy session on C is refused within 5 s ...
    await waitFor(async () => {
      const fresh = await LegacyClient.open(C.url, "/ws/sessions", { "x-api-key": keys.frank ?? "" });
      fresh.send({ type: "register", cwd: "/new" });
      const closed = await fresh.closedWith(3_000).catch(() => null);
      fresh.close();
      return closed?.code === 1008;
    }, "a new legacy session refused on C", 5_000);
    expect(Date.now() - flipped).toBeLessThan(5_000);
    // ... while dana's live one keeps streaming to its viewer.
    for (let n = 1; n <= 3; n++) dana.forward({ type: "message_update", n });
    await rec.until((events) => events.filter((e) => e.name === "event" && (e.payload as { event?: { n?: number } }).event?.n === 3).length === 1, "dana's events after the drain");
    await page.waitForFunction(() => document.querySelector("#generations tr[data-generation=legacy] td:nth-child(3)")?.textContent === "3/3", undefined, { timeout: 5_000 });
    await page.screenshot({ path: `${SHOTS}/operator-page-drain.png`, fullPage: true });
    expect(errors).toEqual([]);
    // Back to the boot default for the next tests, through the same control.
    await page.selectOption("#generations tr[data-generation=legacy] select", "default");
    await page.click("#generations tr[data-generation=legacy] button");
    await page.waitForFunction(() => document.querySelector("#generations tr[data-generation=legacy] .mode")?.textContent === "on", undefined, { timeout: 5_000 });
  });

  it("refuses a login with an ordinary key", async () => {
    const { page, errors } = await newPage();
    await logIn(page, B, keys.frank ?? "");
    await page.waitForFunction(() => /no admin scope/.test(document.getElementById("login-error")?.textContent ?? ""), undefined, { timeout: 5_000 });
    expect(await page.isHidden("#dashboard")).toBe(true);
    await page.screenshot({ path: `${SHOTS}/operator-page-refused.png`, fullPage: true });
    // Even with that user's own login cookie, the admin API answers 403.
    const status = await page.evaluate(async () => (await fetch("/api/admin/migration/status", { credentials: "same-origin" })).status);
    expect([401, 403]).toContain(status);
    expect(errors).toEqual([]);
  });

  it("serves the Socket.IO Admin UI, which authenticates with an admin key and lists a legacy socket", async () => {
    const legacy = new LegacyCliClient({ relayUrl: A.url, apiKey: keys.eli ?? "", heartbeatMs: 60_000 });
    stops.push(() => legacy.stop());
    legacy.start();
    await waitFor(() => legacy.registered !== null, "a legacy CLI on A");

    const { page } = await newPage();
    await page.goto(`${A.url}/admin/socketio/`);
    await page.getByLabel("Password").waitFor({ timeout: 10_000 });
    await page.getByLabel("Username").fill("ops");
    await page.getByLabel("Password").fill(admin);
    await page.getByRole("button", { name: /connect/i }).click();
    await page.goto(`${A.url}/admin/socketio/#/sockets/`);
    await page.getByText("legacy-ws").first().waitFor({ timeout: 10_000 });
    await page.getByText("Connection", { exact: true }).waitFor({ state: "hidden" });
    await page.screenshot({ path: `${SHOTS}/socketio-admin-ui-sockets.png`, fullPage: true });
    const text = await page.textContent("body");
    expect(text).toContain("legacy-ws");
    expect(text).not.toContain(keys.eli ?? "unreachable");
  });
});
