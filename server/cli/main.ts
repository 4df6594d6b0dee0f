import { Command, CommanderError } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import type { RelayPlugin } from "../relay-server.js";
import { runKeysCommand } from "./keys.js";
import { runLegacyCliCheck } from "./legacy-cli.js";
import { runStart } from "./start.js";

export interface CliOptions {
  /** Plugins `start` attaches (made only when `start` runs, so a plugin's config errors surface there). */
  plugins?: Array<() => RelayPlugin>;
}

export async function runCli(options: CliOptions = {}, argv: string[] = process.argv): Promise<void> {
  /**
   * `pizzapi-relay`: argument parsing with commander (a well-kept parser with generated help and clear
   * errors for unknown options), the work itself in one module per command.
   */
  const program = new Command()
    .name("pizzapi-relay")
    .description("Dual-stack relay for live AI coding sessions")
    .exitOverride()
    .showHelpAfterError();

  program
    .command("start")
    .description("start one relay node (embedded single-node mode unless PIZZAPI_REDIS_URL is set)")
    .action(async () => runStart(loadConfig(), (options.plugins ?? []).map((make) => make())));

  const keys = program.command("keys").description("manage API keys (in Redis with PIZZAPI_REDIS_URL, else in PIZZAPI_DATA_DIR)");
  keys
    .command("create")
    .description("mint an API key and print it once")
    .requiredOption("--user <userId>", "the user the key authenticates as")
    .option("--name <display name>", "the user's display name (defaults to the user id)")
    .option("--json", "print {key, userId, userName} as JSON")
    .action(async (opts: { user: string; name?: string; json?: boolean }) => runKeysCommand(loadConfig(), { op: "create", ...opts }));
  keys
    .command("list")
    .description("list API keys (never the keys themselves)")
    .option("--user <userId>", "only this user's keys")
    .option("--json", "print JSON")
    .action(async (opts: { user?: string; json?: boolean }) => runKeysCommand(loadConfig(), { op: "list", ...opts }));
  keys
    .command("revoke <id>")
    .description("revoke an API key by its id (from `keys list`)")
    .action(async (id: string) => runKeysCommand(loadConfig(), { op: "revoke", id }));

  program
    .command("legacy-cli")
    .description("check a relay the way a deployed v0.1.x CLI sees it: register on /ws/sessions, publish, wait for every event_ack")
    .requiredOption("--url <relay url>", "the relay's base URL, e.g. http://localhost:3000")
    .requiredOption("--api-key <key>", "an API key (the x-api-key header)")
    .option("--session <id>", "the session id to register (default: a new UUID)")
    .option("--events <n>", "events to publish", "5")
    .option("--timeout <ms>", "overall timeout", "10000")
    .action(async (opts: { url: string; apiKey: string; session?: string; events: string; timeout: string }) => {
      const code = await runLegacyCliCheck({ url: opts.url, apiKey: opts.apiKey, sessionId: opts.session, events: Number(opts.events), timeoutMs: Number(opts.timeout) });
      process.exitCode = code;
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof ConfigError) {
      process.stderr.write(`pizzapi-relay: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`pizzapi-relay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
