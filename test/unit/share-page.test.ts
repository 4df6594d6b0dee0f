import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { describeEvent } from "../../clients/browser/share-page.js";
import { demoEvent } from "../../clients/socketio/demo.js";
import { sharePageBundle } from "../../server/http/share-page.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** The share page's reading of agent events, and where its script comes from in each layout. */
describe("the share page", () => {
  it("shows each event's type, its message text and its tool names", () => {
    expect(describeEvent(demoEvent(0))).toEqual({ type: "message_end", role: "user", text: "Round 1: what is in this project's README?" });
    expect(describeEvent(demoEvent(2))).toEqual({ type: "tool_execution_start", tools: ["read"] });
    expect(describeEvent({ type: "message_end", message: { role: "assistant", content: [{ type: "thinking", thinking: "hm" }, { type: "text", text: "a" }, { type: "toolCall", name: "bash" }] } })).toEqual({
      type: "message_end",
      role: "assistant",
      text: "a",
      tools: ["bash"],
    });
    expect(describeEvent({ type: "session_active", state: { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: [{ type: "text", text: "hello" }] }] } })).toEqual({
      type: "session_active",
      text: "user: hi\nassistant: hello",
    });
    expect(describeEvent({ type: "heartbeat", active: true })).toEqual({ type: "heartbeat" });
    expect(describeEvent("not an object")).toEqual({ type: "event" });
  });

  it("from the sources, bundles the page's script on demand (with the viewer client)", async () => {
    const code = await sharePageBundle();
    expect(code).toContain("pizzapi.apiKey");
    expect(code).toContain("/viewer");
  });

  it("from dist/, serves the bundle `npm run build` wrote next to the module", async () => {
    const built = (await import(pathToFileURL(resolve(ROOT, "dist/server/http/share-page.js")).href)) as { sharePageBundle: () => Promise<string>; SHARE_BUNDLE_FILE: string };
    expect(built.SHARE_BUNDLE_FILE).toBe(resolve(ROOT, "dist/server/http/share-page/share-page.js"));
    const code = await built.sharePageBundle();
    expect(code).toBe(await readFile(built.SHARE_BUNDLE_FILE, "utf8"));
    expect(code).toContain("pizzapi.apiKey");
  });
});
