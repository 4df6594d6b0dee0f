import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runLegacyCliCheck } from "../../clients/legacy/probe.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";

/** `pizzapi-relay legacy-cli`: an operator's check of a deployment as an old CLI sees it. */
describe("legacy-cli check", () => {
  let node: TestRelay;
  let key: string;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    node = await startRelay();
    key = (await node.relay.ctx.state.keys.create({ userId: "alice", userName: "alice" })).key;
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await node.stop();
  });

  it("registers, gets every event acknowledged, and exits 0", async () => {
    lines.length = 0;
    expect(await runLegacyCliCheck({ url: node.url, apiKey: key, events: 4, timeoutMs: 5_000 })).toBe(0);
    expect(lines.find((l) => l.step === "register")).toMatchObject({ ok: true, isEphemeral: true, collabMode: true });
    expect(lines.find((l) => l.step === "events")).toEqual({ step: "events", ok: true, sent: 4, ackedSeq: 6, expectedSeq: 6 });
  });

  it("reports a refused upgrade with its status and body, and exits 1", async () => {
    lines.length = 0;
    expect(await runLegacyCliCheck({ url: node.url, apiKey: "0".repeat(64), events: 1, timeoutMs: 3_000 })).toBe(1);
    expect(lines.find((l) => l.step === "upgrade")).toEqual({ step: "upgrade", ok: false, status: 401, body: "Invalid or expired API key" });
    expect(lines.find((l) => l.step === "register")).toMatchObject({ ok: false });
  });
});
