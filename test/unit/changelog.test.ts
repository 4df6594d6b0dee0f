import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const changelog = readFileSync(resolve(ROOT, "CHANGELOG.md"), "utf8");
const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string };

/** `## [x.y.z] - YYYY-MM-DD` headings, newest first (Keep a Changelog). */
const releases = [...changelog.matchAll(/^## \[(\d+\.\d+\.\d+[^\]]*)\] - (\d{4}-\d{2}-\d{2})$/gm)].map((m) => ({ version: m[1], date: m[2] }));

describe("CHANGELOG.md", () => {
  it("opens with an Unreleased section, then dated releases, the newest being package.json's version", () => {
    const sections = [...changelog.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(sections[0]).toBe("[Unreleased]");
    expect(sections.length).toBe(releases.length + 1);
    expect(releases[0]?.version).toBe(pkg.version);
  });

  it("dates releases with real dates, newest first", () => {
    const dates = releases.map((r) => r.date ?? "");
    for (const date of dates) expect(Number.isNaN(Date.parse(date)), date).toBe(false);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it("uses only Keep a Changelog's kinds of change", () => {
    const kinds = [...changelog.matchAll(/^### (.*)$/gm)].map((m) => m[1]);
    for (const kind of kinds) expect(["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]).toContain(kind);
  });
});
