import { z } from "zod";
import { ConfigError, parseEnv } from "../server/config.js";
import type { Mode } from "./modes.js";

/** The migration plane's settings (README, "Configuration"). */
export interface MigrationConfig {
  /** Boot default of the legacy generation's mode (`PIZZAPI_LEGACY_WS`); a runtime setting wins. */
  legacyMode: Mode;
  /** How often each node re-reads the runtime modes (a flip applies cluster-wide within about this). */
  pollMs: number;
  /** How often each node writes its census (live counts, who was seen). */
  censusFlushMs: number;
  /** How long the census remembers who was seen, and its per-minute history. */
  retentionMs: number;
  /** The quiet window of the verdict: nothing of a generation seen for this long → safe to turn off. */
  windowMs: number;
}

const DAY = 86_400_000;
const FLAG: Record<string, Mode> = { on: "on", true: "on", "1": "on", warn: "warn", drain: "drain", off: "off", false: "off", "0": "off" };

/** The migration plane's settings, each with its one-line meaning (`start --help`). */
export const MigrationEnv = z.object({
  PIZZAPI_LEGACY_WS: z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => Object.hasOwn(FLAG, v), "expected on, warn, drain or off (true/1 = on, false/0 = off)")
    .optional()
    .describe("boot default of the legacy generation's mode: on, warn, drain or off (default: on)"),
  PIZZAPI_MIGRATION_POLL_MS: z.coerce.number().int().min(100).max(5_000).default(1_000).describe("how often each node re-reads the runtime modes"),
  PIZZAPI_CENSUS_FLUSH_MS: z.coerce.number().int().min(100).max(60_000).default(5_000).describe("how often each node writes its census"),
  PIZZAPI_CENSUS_RETENTION_MS: z.coerce.number().int().min(60_000).default(8 * DAY).describe("how long the census remembers who was seen"),
  PIZZAPI_MIGRATION_WINDOW_MS: z.coerce.number().int().min(0).default(7 * DAY).describe("the verdict's quiet window"),
});

export function loadMigrationConfig(env: NodeJS.ProcessEnv = process.env): MigrationConfig {
  const e = parseEnv(MigrationEnv, env);
  if (e.PIZZAPI_MIGRATION_WINDOW_MS > e.PIZZAPI_CENSUS_RETENTION_MS) {
    throw new ConfigError("Invalid configuration: PIZZAPI_MIGRATION_WINDOW_MS must not exceed PIZZAPI_CENSUS_RETENTION_MS (the census cannot vouch for a longer window)");
  }
  return {
    legacyMode: FLAG[e.PIZZAPI_LEGACY_WS ?? "on"] ?? "on",
    pollMs: e.PIZZAPI_MIGRATION_POLL_MS,
    censusFlushMs: e.PIZZAPI_CENSUS_FLUSH_MS,
    retentionMs: e.PIZZAPI_CENSUS_RETENTION_MS,
    windowMs: e.PIZZAPI_MIGRATION_WINDOW_MS,
  };
}
