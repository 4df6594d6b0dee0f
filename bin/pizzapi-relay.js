#!/usr/bin/env node
// Entry point of the `pizzapi-relay` command: plain JavaScript that runs the compiled relay in dist/
// under Node.js or Bun, with no TypeScript loader. `npm run build` writes dist/ (`npm ci` and `npm test`
// run it; the published package ships it). The plugins (legacy bridge, migration plane) are chosen in
// one place: bin/composition.ts.
import { existsSync } from "node:fs";

const main = new URL("../dist/server/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("pizzapi-relay: dist/ is missing: run `npm run build` (in a clone, `npm ci` does it)\n");
  process.exit(1);
}
const [{ runCli }, { relayPlugins }] = await Promise.all([import(main.href), import("../dist/bin/composition.js")]);
await runCli({ plugins: relayPlugins() });
