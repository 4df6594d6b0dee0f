#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point of the `pizzapi-relay` command: plain JavaScript that runs the compiled relay in dist/
// under Node.js or Bun, with no TypeScript loader. The line above is the one place of the relay's V8
// flags: a young generation of 64 MiB semi-spaces, which halved the garbage collection time per event
// at thousands of events per second (docs/performance.md "The young generation"). `npm start` runs
// this file directly; whoever runs it as `node bin/pizzapi-relay.js` passes the flags themselves.
// `npm run build` writes dist/ (`npm ci` and `npm test` run it; the published package ships it). The
// plugins (legacy bridge, migration plane) are chosen in one place: bin/composition.ts.
import { existsSync } from "node:fs";

const main = new URL("../dist/server/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("pizzapi-relay: dist/ is missing: run `npm run build` (in a clone, `npm ci` does it)\n");
  process.exit(1);
}
const [{ runCli }, { relayPlugins }] = await Promise.all([import(main.href), import("../dist/bin/composition.js")]);
await runCli({ plugins: relayPlugins() });
