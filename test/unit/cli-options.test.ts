import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { EnvSchema } from "../../server/config.js";
import { integerIn } from "../../server/cli/options.js";
import { settingsHelp } from "../../server/cli/settings-help.js";
import { packageVersion } from "../../server/cli/version.js";

describe("integerIn (numeric CLI options)", () => {
  it("parses integers within bounds", () => {
    expect(integerIn(1)("5")).toBe(5);
    expect(integerIn(0, 10)(" 10 ")).toBe(10);
  });

  it.each(["-3", "0", "1.5", "abc", "", "1e3", "99999999999999999999"])("refuses %j with InvalidArgumentError", (value) => {
    expect(() => integerIn(1)(value)).toThrow(InvalidArgumentError);
  });
});

describe("packageVersion", () => {
  it("finds the nearest package.json named pizzapi-relay, from the sources or a dist/ build alike", () => {
    const root = mkdtempSync(join(tmpdir(), "pizzapi-version-"));
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "pizzapi-relay", version: "9.8.7" }));
    // An unrelated package.json on the way up is skipped.
    mkdirSync(join(root, "dist/server/cli"), { recursive: true });
    writeFileSync(join(root, "dist/package.json"), JSON.stringify({ type: "module" }));
    expect(packageVersion(pathToFileURL(join(root, "dist/server/cli/version.js")).href)).toBe("9.8.7");
  });

  it("reads this repository's version by default", async () => {
    const { default: pkg } = (await import("../../package.json", { with: { type: "json" } })) as { default: { version: string } };
    expect(packageVersion()).toBe(pkg.version);
  });
});

describe("settingsHelp", () => {
  it("lists every variable of the schema with its meaning and default", () => {
    const text = settingsHelp([EnvSchema]);
    for (const name of Object.keys(EnvSchema.shape)) expect(text).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(text).toMatch(/PORT +HTTP port for REST and Socket\.IO \(0: any free port\) \(default 3000\)/);
    expect(text).toContain("PIZZAPI_TRUST_PROXY");
  });
});
