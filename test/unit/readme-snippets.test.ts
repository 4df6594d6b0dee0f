import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Removes the common leading indentation of a block of lines. */
function dedent(text: string): string {
  const lines = text.split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join("\n").trim();
}

/** Every `// #region readme` … `// #endregion readme` of the example files, with the file it is in. */
const regions = filesUnder(join(ROOT, "examples")).flatMap((path) =>
  [...readFileSync(path, "utf8").matchAll(/\/\/ #region readme\n([\s\S]*?)\n[ \t]*\/\/ #endregion readme/g)].map((m) => ({ file: relative(ROOT, path), text: dedent(m[1] ?? "") })),
);
const snippets = [...readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => (m[1] ?? "").trim());
const tests = filesUnder(join(ROOT, "test"))
  .filter((p) => p.endsWith(".test.ts"))
  .map((p) => readFileSync(p, "utf8"))
  .join("\n");

describe("README code snippets", () => {
  it("are each, verbatim, a `#region readme` of a file in examples/", () => {
    expect(snippets.length).toBeGreaterThan(0);
    for (const snippet of snippets) {
      const source = regions.find((r) => r.text === snippet);
      expect(source, `no examples/ region equals this README snippet:\n${snippet}`).toBeDefined();
    }
  });

  it("come from example files that a test runs", () => {
    for (const file of new Set(regions.map((r) => r.file))) expect(tests, `${file} is run by no test`).toContain(file.replace(/\.ts$/, ""));
  });
});
