import { z } from "zod";
import { ConfigError } from "../server/config.js";

/** The bridge's own settings (README, "Configuration"). */
export interface BridgeConfig {
  /** A `/ws/sessions` or `/ws/runner` client that sends nothing this long after connecting is closed. */
  firstFrameTimeoutMs: number;
}

const Env = z.object({
  PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
});

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return { firstFrameTimeoutMs: parsed.data.PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS ?? 30_000 };
}
