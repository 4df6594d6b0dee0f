import type { Command } from "commander";
import { legacyBridge } from "../bridge/index.js";
import { runLegacyCliCheck } from "../clients/legacy/probe.js";
import { runDemo } from "../clients/socketio/demo.js";
import { migrationPlane } from "../migration/index.js";
import { integerIn } from "../server/cli/options.js";
import type { RelayPlugin } from "../server/plugins/types.js";

/**
 * The composition root: the relay's plugins, used by the `pizzapi-relay` command and by the test helpers
 * alike. Retiring the legacy path for good = deleting `bridge/` and its line below (and the legacy probe
 * with `clients/legacy/`): the migration plane then answers every `/ws/*` upgrade with the retirement
 * notice.
 */
export function relayPlugins(env: NodeJS.ProcessEnv = process.env): RelayPlugin[] {
  return [
    legacyBridge(env), // the legacy /ws/* endpoints
    migrationPlane(env), // modes per client generation, census, status
    legacyProbe(),
    demo(),
  ];
}

/** `pizzapi-relay legacy-cli`: checks a deployment the way a deployed v0.1.x CLI sees it. */
function legacyProbe(): RelayPlugin {
  return {
    name: "legacy-probe",
    commands: (program: Command) => {
      program
        .command("legacy-cli")
        .description("check a relay the way a deployed v0.1.x CLI sees it: register on /ws/sessions, publish, wait for every event_ack")
        .requiredOption("--url <relay url>", "the relay's base URL, e.g. http://localhost:3000")
        .requiredOption("--api-key <key>", "an API key (the x-api-key header)")
        .option("--session <id>", "the session id to register (default: a new UUID)")
        .option("--events <n>", "events to publish (1 – 10000)", integerIn(1, 10_000), 5)
        .option("--timeout <ms>", "overall timeout (at least 100)", integerIn(100), 10_000)
        .action(async (opts: { url: string; apiKey: string; session?: string; events: number; timeout: number }) => {
          const code = await runLegacyCliCheck({ url: opts.url, apiKey: opts.apiKey, sessionId: opts.session, events: opts.events, timeoutMs: opts.timeout });
          process.exitCode = code;
        });
    },
  };
}

/** `pizzapi-relay demo`: a live demo session to watch in the browser (README, "First session in five commands"). */
function demo(): RelayPlugin {
  return {
    name: "demo",
    commands: (program: Command) => {
      program
        .command("demo")
        .description("register a demo session, print its shareUrl, and publish a readable conversation every 2 s until Ctrl-C")
        .requiredOption("--url <relay url>", "the relay's base URL, e.g. http://localhost:3000")
        .requiredOption("--api-key <key>", "an API key (pizzapi-relay keys create)")
        .option("--count <n>", "stop after n events (1 – 100000)", integerIn(1, 100_000))
        .option("--interval <ms>", "time between events (at least 10)", integerIn(10), 2_000)
        .action(async (opts: { url: string; apiKey: string; count?: number; interval: number }) => {
          let interrupted = false;
          const stop = new Promise<void>((resolve) => {
            process.on("SIGINT", () => {
              if (interrupted) process.exit(130);
              interrupted = true;
              resolve();
            });
          });
          process.exitCode = await runDemo({ url: opts.url, apiKey: opts.apiKey, count: opts.count, intervalMs: opts.interval, stop });
        });
    },
  };
}
