#!/usr/bin/env node
// Entry point of the `pizzapi-relay` command. The sources are TypeScript: Bun runs them as they are,
// Node.js loads them through tsx's ESM hook (a runtime dependency), so there is no build step to forget.
if (!process.versions.bun) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import("../server/cli/main.ts");
