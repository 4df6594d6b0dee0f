import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The dependency rule of docs/architecture.md section 2, checked on the source: `protocol` depends on
 * nothing of ours; `server` on `protocol`; `bridge` and `migration` on `server` and `protocol`, never on
 * each other; `clients` on `protocol` only. Deleting `bridge/` must stay a small, safe change.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const LAYERS = ["protocol", "server", "bridge", "migration", "clients"] as const;
const ALLOWED: Record<(typeof LAYERS)[number], readonly string[]> = {
  protocol: ["protocol"],
  server: ["server", "protocol"],
  bridge: ["bridge", "server", "protocol"],
  migration: ["migration", "server", "protocol"],
  clients: ["clients", "protocol"],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The top-level folder each relative import of a file lands in. */
function importedLayers(file: string): Array<{ specifier: string; layer: string }> {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:import|export)\s[^"';]*?from\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2] ?? "");
  return specifiers.map((specifier) => ({ specifier, layer: relative(ROOT, resolve(dirname(file), specifier)).split("/")[0] ?? "" }));
}

describe("layering", () => {
  it.each(LAYERS)("%s/ imports only what it may", (layer) => {
    const files = sources(join(ROOT, layer));
    expect(files.length).toBeGreaterThan(0);
    const violations = files.flatMap((file) =>
      importedLayers(file)
        .filter(({ layer: target }) => !ALLOWED[layer].includes(target))
        .map(({ specifier }) => `${relative(ROOT, file)} imports ${specifier}`),
    );
    expect(violations).toEqual([]);
  });

  it("finds imports the way the rule needs (a self-check of the scanner)", () => {
    const found = importedLayers(join(ROOT, "bin/composition.ts")).map((i) => i.layer);
    expect(found).toEqual(expect.arrayContaining(["bridge", "migration", "clients", "server"]));
  });
});
