import { Command, CommanderError } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import type { RelayPlugin } from "../relay-server.js";
import { runKeysCommand } from "./keys.js";
import { runStart } from "./start.js";

export interface CliOptions {
  /** The plugins of the composition root: `start` attaches them, and their commands join the CLI. */
  plugins?: RelayPlugin[];
  env?: NodeJS.ProcessEnv;
}

export async function runCli(options: CliOptions = {}, argv: string[] = process.argv): Promise<void> {
  const env = options.env ?? process.env;
  const plugins = options.plugins ?? [];
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
    .action(async () => runStart(loadConfig(env), plugins));

  const keys = program.command("keys").description("manage API keys (in Redis with PIZZAPI_REDIS_URL, else in PIZZAPI_DATA_DIR)");
  keys
    .command("create")
    .description("mint an API key and print it once")
    .requiredOption("--user <userId>", "the user the key authenticates as")
    .option("--name <display name>", "the user's display name (defaults to the user id)")
    .option("--admin", "give the key the operator scope (the migration routes and commands)")
    .option("--json", "print {key, userId, userName, id, admin} as JSON")
    .action(async (opts: { user: string; name?: string; admin?: boolean; json?: boolean }) => runKeysCommand(loadConfig(env), { op: "create", ...opts }));
  keys
    .command("list")
    .description("list API keys (never the keys themselves)")
    .option("--user <userId>", "only this user's keys")
    .option("--json", "print JSON")
    .action(async (opts: { user?: string; json?: boolean }) => runKeysCommand(loadConfig(env), { op: "list", ...opts }));
  keys
    .command("revoke <id>")
    .description("revoke an API key by its id (from `keys list`)")
    .action(async (id: string) => runKeysCommand(loadConfig(env), { op: "revoke", id }));

  for (const plugin of plugins) plugin.commands?.(program, env);

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
