/**
 * What a user of the published package writes: a plain-Node import of every `exports` entry, and a
 * TypeScript file type-checked against the shipped declarations (NodeNext resolution, strict).
 */

/** Each entry of package.json's `exports` (but ./package.json) with names it must export. */
export const ENTRIES: Record<string, string[]> = {
  "pizzapi-relay": ["createRelayServer", "loadConfig", "relayPlugins", "ConfigError"],
  "pizzapi-relay/protocol": ["PROTOCOL_VERSION", "ERRORS"],
  "pizzapi-relay/clients/cli": ["RelayClient"],
  "pizzapi-relay/clients/runner": ["RunnerClient", "RunnerClientError"],
  "pizzapi-relay/clients/browser": ["ViewerClient", "HubClient", "TerminalClient", "PROTOCOL_VERSION", "RECONNECTION_DEFAULTS"],
  "pizzapi-relay/clients/legacy/cli": ["LegacyCliClient"],
  "pizzapi-relay/clients/legacy/runner": ["LegacyRunnerClient"],
  "pizzapi-relay/clients/legacy/browser": ["LegacyViewerClient", "LegacyHubClient", "LegacyTerminalClient"],
};

/** imports.mjs: prints `{ specifier: [exported names] }` as JSON. */
export const IMPORTS_MJS = `const specifiers = ${JSON.stringify(Object.keys(ENTRIES))};
const found = {};
for (const specifier of specifiers) found[specifier] = Object.keys(await import(specifier)).sort();
console.log(JSON.stringify(found));
`;

/** consumer.ts: uses each entry's types; the @ts-expect-error lines fail if a type degraded to any. */
export const CONSUMER_TS = `import { createRelayServer, loadConfig, relayPlugins, type RelayConfig, type RelayServer } from "pizzapi-relay";
import { PROTOCOL_VERSION, type ErrorCode } from "pizzapi-relay/protocol";
import { RelayClient, type RelayClientOptions } from "pizzapi-relay/clients/cli";
import { RunnerClient, type RunnerClientOptions } from "pizzapi-relay/clients/runner";
import { ViewerClient, HubClient, TerminalClient, type ConnectionStatus } from "pizzapi-relay/clients/browser";
import { LegacyCliClient } from "pizzapi-relay/clients/legacy/cli";
import { LegacyRunnerClient } from "pizzapi-relay/clients/legacy/runner";
import { LegacyViewerClient } from "pizzapi-relay/clients/legacy/browser";

export async function embed(): Promise<number> {
  const config: RelayConfig = loadConfig({ PORT: "0" });
  const relay: RelayServer = await createRelayServer(config, { plugins: relayPlugins() });
  const port: number = await relay.start();
  await relay.stop({ drainDelayMs: 0 });
  return port;
}

export const version: string = PROTOCOL_VERSION;
export const code: ErrorCode | undefined = undefined;
export const cliOptions: RelayClientOptions | undefined = undefined;
export const runnerOptions: RunnerClientOptions | undefined = undefined;
export const status: ConnectionStatus | undefined = undefined;
export const classes = [RelayClient, RunnerClient, ViewerClient, HubClient, TerminalClient, LegacyCliClient, LegacyRunnerClient, LegacyViewerClient];

// @ts-expect-error: the port is a number
export const wrongPort: string = (await createRelayServer(loadConfig({}))).config.port;
// @ts-expect-error: no such export
export { NoSuchExport } from "pizzapi-relay/protocol";
`;

/** tsconfig.json of the consumer; \`typeRoots\` lends it this repository's @types/node. */
export function consumerTsconfig(typeRoots: string): string {
  return JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ["node"],
        typeRoots: [typeRoots],
        lib: ["ES2022", "DOM"],
      },
      files: ["consumer.ts"],
    },
    null,
    2,
  );
}
