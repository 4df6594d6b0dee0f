import { Command, CommanderError } from "commander";
import { ConfigError, EnvSchema, loadConfig, parseEnv, type RelayConfig, type SettingsSchema } from "../config.js";
import type { RelayPlugin } from "../relay-server.js";
import { runKeysCommand } from "./keys.js";
import { settingsHelp } from "./settings-help.js";
import { runStart } from "./start.js";
import { packageVersion } from "./version.js";

/** Exit code of a usage or configuration error: a wrong option, argument or environment variable. */
export const EXIT_USAGE = 2;

/** commander's errors that are the caller's mistake (exit 2); help and --version end with 0. */
const USAGE_ERRORS = new Set([
  "commander.invalidArgument",
  "commander.unknownOption",
  "commander.unknownCommand",
  "commander.missingArgument",
  "commander.optionMissingArgument",
  "commander.missingMandatoryOptionValue",
  "commander.excessArguments",
  "commander.conflictingOption",
]);

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
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .exitOverride()
    .showHelpAfterError();

  const pluginSettings: SettingsSchema[] = plugins.flatMap((p) => (p.settings ? [p.settings] : []));
  const settings: SettingsSchema[] = [EnvSchema, ...pluginSettings];
  /** Every setting is checked before anything starts: the relay's, then each plugin's (exit 2). */
  const checkedConfig = (): RelayConfig => {
    const config = loadConfig(env);
    for (const schema of pluginSettings) parseEnv(schema, env);
    return config;
  };

  program
    .command("start")
    .description("start one relay node (embedded single-node mode unless PIZZAPI_REDIS_URL is set)")
    .addHelpText("after", () => settingsHelp(settings))
    .action(async () => runStart(checkedConfig(), plugins));

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
    if (err instanceof CommanderError) process.exit(USAGE_ERRORS.has(err.code) ? EXIT_USAGE : err.exitCode);
    if (err instanceof ConfigError) {
      process.stderr.write(`pizzapi-relay: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`pizzapi-relay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
