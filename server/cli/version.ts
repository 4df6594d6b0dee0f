import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "pizzapi-relay";

/**
 * The version of the installed package: the nearest package.json named `pizzapi-relay` above this
 * module, read at runtime. It is found alike from the TypeScript sources (server/cli/) and from the
 * compiled dist/server/cli/, and never bundled into the code.
 */
export function packageVersion(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    const found = readPackage(join(dir, "package.json"));
    if (found !== null) return found;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json named ${PACKAGE_NAME} above ${fileURLToPath(from)}`);
    dir = parent;
  }
}

function readPackage(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || !("name" in parsed) || parsed.name !== PACKAGE_NAME) return null;
  return "version" in parsed && typeof parsed.version === "string" ? parsed.version : null;
}
