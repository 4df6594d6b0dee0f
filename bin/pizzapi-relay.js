#!/usr/bin/env node
// Entry point of the `pizzapi-relay` command. The sources are TypeScript: Bun runs them as they are,
// Node.js loads them through tsx's ESM hook (a runtime dependency), so there is no build step to forget.
// The plugins (legacy bridge, migration plane) are chosen in one place: bin/composition.ts.
if (!process.versions.bun) {
  const { register } = await import("tsx/esm/api");
  register();
}
const { runCli } = await import("../server/cli/main.ts");
const { relayPlugins } = await import("./composition.ts");
await runCli({ plugins: relayPlugins() });
