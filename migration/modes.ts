import { GENERATIONS, type Generation, type NamespaceName } from "../protocol/index.js";

/**
 * What an operator can set per client generation (docs/migration.md, "Modes"), from serving it fully to
 * retiring it. `current` is always `on`: it is the protocol the others migrate to.
 */
export const MODES = ["on", "warn", "drain", "off"] as const;
export type Mode = (typeof MODES)[number];

export function isMode(value: unknown): value is Mode {
  return typeof value === "string" && (MODES as readonly string[]).includes(value);
}

/** The generations a mode can be set for. */
export const RETIRABLE: readonly Generation[] = GENERATIONS.filter((g) => g !== "current");

/** Who a connection is, as far as admission goes. */
export type ClientKind = "cli" | "viewer" | "hub" | "runner" | "terminal";

export const KIND_OF_NAMESPACE: Readonly<Record<NamespaceName, ClientKind>> = {
  "/relay": "cli",
  "/viewer": "viewer",
  "/hub": "hub",
  "/runner": "runner",
  "/terminal": "terminal",
};

/**
 * - `serve`: admitted;
 * - `warn`: admitted, logged and counted as a deprecated connection (legacy upgrades carry `Deprecation`
 *   and `Sunset` headers);
 * - `live-session-only`: admitted, but its `register` must name a live session of the same user (a CLI
 *   reconnecting to the session it had); a new session is refused;
 * - `refuse`: refused with `protocol_retired` (410 on a legacy upgrade).
 */
export type Admission = "serve" | "warn" | "live-session-only" | "refuse";

/** The admission table: mode × kind. Drain keeps live sessions (their CLIs, viewers and terminals). */
const ADMISSION: Readonly<Record<Mode, Readonly<Record<ClientKind, Admission>>>> = {
  on: { cli: "serve", viewer: "serve", hub: "serve", runner: "serve", terminal: "serve" },
  warn: { cli: "warn", viewer: "warn", hub: "warn", runner: "warn", terminal: "warn" },
  drain: { cli: "live-session-only", viewer: "warn", hub: "refuse", runner: "refuse", terminal: "warn" },
  off: { cli: "refuse", viewer: "refuse", hub: "refuse", runner: "refuse", terminal: "refuse" },
};

export function admission(mode: Mode, kind: ClientKind): Admission {
  return ADMISSION[mode][kind];
}

/** One generation's mode as a node applies it. */
export interface ModeSetting {
  mode: Mode;
  /** Where it comes from: the node's boot default, or a runtime setting in shared state. */
  source: "boot" | "runtime";
  /** When the generation was deprecated (the runtime setting's time), epoch ms; null for boot `on`. */
  since: number | null;
  /** The announced end of service (`Sunset`), epoch ms, if any. */
  sunset: number | null;
}

/** A runtime setting as stored (the operator's decision). */
export interface StoredMode {
  mode: Mode;
  sunset: number | null;
  at: number;
  by: string;
}

/** One recorded change (the audit trail); null: no runtime setting (the boot default applies). */
export interface ModeChange {
  generation: Generation;
  from: Mode | null;
  to: Mode | null;
  at: number;
  by: string;
}

/** Every generation's effective mode: runtime settings win over the boot defaults. */
export function effectiveModes(stored: Partial<Record<Generation, StoredMode>>, legacyBootMode: Mode): Record<Generation, ModeSetting> {
  const out = {} as Record<Generation, ModeSetting>;
  for (const generation of GENERATIONS) {
    const runtime = generation === "current" ? undefined : stored[generation];
    if (runtime) out[generation] = { mode: runtime.mode, source: "runtime", since: runtime.at, sunset: runtime.sunset };
    else out[generation] = { mode: generation === "legacy" ? legacyBootMode : "on", source: "boot", since: null, sunset: null };
  }
  return out;
}
