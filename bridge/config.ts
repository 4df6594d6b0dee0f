import { z } from "zod";
import { parseEnv } from "../server/config.js";

/** The bridge's own settings (README, "Configuration"). */
export interface BridgeConfig {
  /** A `/ws/sessions` or `/ws/runner` client that sends nothing this long after connecting is closed. */
  firstFrameTimeoutMs: number;
}

/** The bridge's settings, each with its one-line meaning (`start --help`). */
export const BridgeEnv = z.object({
  PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .optional()
    .describe("a legacy /ws/sessions or /ws/runner client silent this long after connecting is closed (default: 30000)"),
});

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  return { firstFrameTimeoutMs: parseEnv(BridgeEnv, env).PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS ?? 30_000 };
}
