#!/usr/bin/env node
// Entry point of the `pizzapi-relay` command, and the composition root: the relay server plus its
// plugins. The sources are TypeScript: Bun runs them as they are, Node.js loads them through tsx's ESM
// hook (a runtime dependency), so there is no build step to forget.
if (!process.versions.bun) {
  const { register } = await import("tsx/esm/api");
  register();
}
const { runCli } = await import("../server/cli/main.ts");
// The legacy /ws/* bridge. Retiring the legacy path for good: delete bridge/ and this line.
const { legacyBridge } = await import("../bridge/index.ts");
await runCli({ plugins: [() => legacyBridge()] });
