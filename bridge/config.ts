import { z } from "zod";

/** The bridge's own settings (README, "Configuration"). */
export interface BridgeConfig {
  /** `on` serves the legacy /ws/* endpoints; `off` answers every legacy upgrade 410 Gone. */
  enabled: boolean;
  /** A `/ws/sessions` or `/ws/runner` client that sends nothing this long after connecting is closed. */
  firstFrameTimeoutMs: number;
}

const Env = z.object({
  PIZZAPI_LEGACY_WS: z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .pipe(z.enum(["on", "off", "true", "false", "1", "0"]))
    .optional(),
  PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
});

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const flag = parsed.data.PIZZAPI_LEGACY_WS ?? "on";
  return {
    enabled: flag === "on" || flag === "true" || flag === "1",
    firstFrameTimeoutMs: parsed.data.PIZZAPI_LEGACY_FIRST_FRAME_TIMEOUT_MS ?? 30_000,
  };
}
