import { z } from "zod";
import { parseEnv } from "../server/config.js";

/** The bridge's own settings (README, "Configuration"). */
export interface BridgeConfig {
  /** A `/ws/sessions` or `/ws/runner` client that sends nothing this long after connecting is closed. */
  firstFrameTimeoutMs: number;
}

const Env = z.object({
  PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
});

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  return { firstFrameTimeoutMs: parseEnv(Env, env).PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS ?? 30_000 };
}
