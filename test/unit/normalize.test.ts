import { describe, expect, it } from "vitest";
import { modelKey, modelSummary, normalizeAttachments, normalizeDeliverAs, normalizeSessionName } from "../../server/sessions/normalize.js";

/** Field handling of docs/legacy-protocol.md 2.1 (session names), 3.2 (viewer input) and 2.5/6 (hub model). */

describe("normalizeAttachments (legacy 3.2)", () => {
  it("drops non-objects, strips unknown keys, drops entries without an id or url", () => {
    expect(normalizeAttachments([{ attachmentId: "a1", mediaType: "image/png", size: 5 }, 7, { foo: 1 }])).toEqual([
      { attachmentId: "a1", mediaType: "image/png" },
    ]);
  });

  it("keeps exactly the four string fields, in any combination with an id or a url", () => {
    const full = { attachmentId: "a", mediaType: "text/plain", filename: "f.txt", url: "https://x.test/f", expiresAt: 1, size: 3 };
    expect(normalizeAttachments([full])).toEqual([{ attachmentId: "a", mediaType: "text/plain", filename: "f.txt", url: "https://x.test/f" }]);
    expect(normalizeAttachments([{ url: "data:image/png;base64,AAAA", filename: "p.png" }])).toEqual([
      { url: "data:image/png;base64,AAAA", filename: "p.png" },
    ]);
  });

  it("drops fields that are not strings, and entries left without a usable id or url", () => {
    expect(normalizeAttachments([{ attachmentId: 5, url: "u", mediaType: null, filename: ["x"] }])).toEqual([{ url: "u" }]);
    expect(normalizeAttachments([{ attachmentId: 5, mediaType: "image/png" }])).toEqual([]);
    expect(normalizeAttachments([{ attachmentId: "", url: "", filename: "f" }])).toEqual([]);
    expect(normalizeAttachments([{ mediaType: "image/png", filename: "f.png" }])).toEqual([]);
  });

  it("drops null, arrays, strings and numbers as entries", () => {
    expect(normalizeAttachments([null, undefined, ["attachmentId", "a"], "a1", 0, true, { attachmentId: "ok" }])).toEqual([{ attachmentId: "ok" }]);
  });

  it("turns a missing or non-array value into an empty list", () => {
    for (const raw of [undefined, null, "a1", 3, { attachmentId: "a1" }]) expect(normalizeAttachments(raw)).toEqual([]);
  });

  it("does not mutate its input and returns fresh objects", () => {
    const entry = { attachmentId: "a1", size: 5 };
    const input = [entry];
    const out = normalizeAttachments(input);
    expect(input).toEqual([{ attachmentId: "a1", size: 5 }]);
    expect(out[0]).not.toBe(entry);
  });
});

describe("normalizeDeliverAs (legacy 3.2)", () => {
  it("keeps steer and followUp", () => {
    expect(normalizeDeliverAs("steer")).toBe("steer");
    expect(normalizeDeliverAs("followUp")).toBe("followUp");
  });

  it.each([["STEER"], ["followup"], ["follow_up"], [""], [1], [null], [undefined], [{ mode: "steer" }]])("drops %j", (value) => {
    expect(normalizeDeliverAs(value)).toBeUndefined();
  });
});

describe("normalizeSessionName (legacy 2.1)", () => {
  it("trims a string", () => {
    expect(normalizeSessionName("  fix the bug \n")).toBe("fix the bug");
    expect(normalizeSessionName("x")).toBe("x");
  });

  it.each([[""], ["   "], ["\t\n"], [null], [undefined], [42], [{ name: "a" }], [["a"]]])("turns %j into null", (value) => {
    expect(normalizeSessionName(value)).toBeNull();
  });
});

describe("modelSummary (hub model, legacy 6)", () => {
  it("keeps provider, id and a string name; drops reasoning and anything else", () => {
    expect(modelSummary({ provider: "anthropic", id: "claude", name: "Claude", reasoning: true, contextWindow: 200_000 })).toEqual({
      provider: "anthropic",
      id: "claude",
      name: "Claude",
    });
  });

  it("omits name when it is absent or not a string (no undefined key)", () => {
    const noName = modelSummary({ provider: "openai", id: "gpt" });
    expect(noName).toEqual({ provider: "openai", id: "gpt" });
    expect(noName).not.toHaveProperty("name");
    expect(modelSummary({ provider: "openai", id: "gpt", name: 3 })).not.toHaveProperty("name");
  });

  it.each([
    ["null", null],
    ["a string", "anthropic/claude"],
    ["an array", ["anthropic", "claude"]],
    ["without provider", { id: "claude" }],
    ["without id", { provider: "anthropic" }],
    ["modelId instead of id", { provider: "anthropic", modelId: "claude" }],
    ["a numeric id", { provider: "anthropic", id: 1 }],
  ])("is null for %s", (_label, value) => {
    expect(modelSummary(value)).toBeNull();
  });

  it("modelKey is provider/id, null for no model; the name does not matter", () => {
    expect(modelKey({ provider: "a", id: "m" })).toBe("a/m");
    expect(modelKey({ provider: "a", id: "m", name: "M" })).toBe(modelKey({ provider: "a", id: "m", name: "Other" }));
    expect(modelKey({ provider: "a", id: "m" })).not.toBe(modelKey({ provider: "b", id: "m" }));
    expect(modelKey(null)).toBeNull();
  });
});
