import semver from "semver";
import { LEGACY_TRANSPORT_NAME } from "./legacy.js";
import { ACCEPTED_PROTOCOL_RANGE, LEGACY_PROTOCOL_VERSION } from "./version.js";

/**
 * The client generations in the field and how a connection is routed to one (docs/protocol.md,
 * "Client generations"). Each generation keeps the behaviour its clients were built for; operators
 * retire old ones at runtime (the migration modes). One table: the order of GENERATION_RULES is the
 * order of the checks, the first match wins, and a connection no rule takes is refused
 * `unsupported_protocol`.
 */
export const GENERATIONS = ["legacy", "socket-unversioned", "socket-v1", "socket-v1-acked", "current"] as const;
export type Generation = (typeof GENERATIONS)[number];

export function isGeneration(value: unknown): value is Generation {
  return typeof value === "string" && (GENERATIONS as readonly string[]).includes(value);
}

/** What a connection declares about itself: its transport, its namespace and its handshake `auth`. */
export interface Declared {
  transport: string;
  namespace: string;
  /** `auth.protocolVersion` as sent: absent, a JSON number (socket-v1), or a semver string. */
  protocolVersion: unknown;
  clientVersion: string | null | undefined;
}

export interface GenerationSpec {
  generation: Generation;
  /** Which clients these are (docs and the status report). */
  clients: string;
  /** Does this rule take the connection? */
  matches(declared: Declared): boolean;
  /**
   * `/relay` `input` is emitted with an acknowledgement. socket-v1-acked CLIs call their `input`
   * listener's second argument as the ack; without one they receive the recovery offset there instead
   * and report a false error. Acknowledged packets are not kept for connection state recovery, so no
   * other generation gets them.
   */
  inputWithAck: boolean;
}

/** socket-v1 CLIs up to this release; later builds (socket-v1-acked) ack `input`. */
export const LAST_UNACKED_V1_RELEASE = "0.5.7";

const isSemver = (v: unknown): v is string => typeof v === "string" && semver.valid(v) !== null;

export const GENERATION_RULES: readonly GenerationSpec[] = [
  {
    generation: "legacy",
    clients: "v0.1.x CLIs, runners and web UIs on the raw-WebSocket /ws/* endpoints (protocol 0)",
    matches: (d) => d.transport === LEGACY_TRANSPORT_NAME,
    inputWithAck: false,
  },
  {
    generation: "socket-unversioned",
    clients: "Socket.IO CLIs and runners 0.2.x – 0.4.0 (no protocolVersion in the handshake)",
    matches: (d) => d.protocolVersion === undefined || d.protocolVersion === null,
    inputWithAck: false,
  },
  {
    generation: "socket-v1-acked",
    clients: `the newest Socket.IO CLI builds (protocolVersion 1 as a number, clientVersion above ${LAST_UNACKED_V1_RELEASE}); they acknowledge input`,
    matches: (d) =>
      d.protocolVersion === 1 &&
      d.namespace === "/relay" &&
      isSemver(d.clientVersion) &&
      semver.gt(d.clientVersion, LAST_UNACKED_V1_RELEASE),
    inputWithAck: true,
  },
  {
    generation: "socket-v1",
    clients: `Socket.IO CLIs and runners 0.4.5 – ${LAST_UNACKED_V1_RELEASE} and newer runners (protocolVersion 1 as a number)`,
    matches: (d) => d.protocolVersion === 1,
    inputWithAck: false,
  },
  {
    generation: "current",
    clients: `clients of this relay's typed protocol (protocolVersion a semver string in ${ACCEPTED_PROTOCOL_RANGE})`,
    matches: (d) => isSemver(d.protocolVersion) && semver.satisfies(d.protocolVersion, ACCEPTED_PROTOCOL_RANGE),
    inputWithAck: false,
  },
];

export const GENERATION_SPECS: Readonly<Record<Generation, GenerationSpec>> = Object.fromEntries(
  GENERATION_RULES.map((rule) => [rule.generation, rule]),
) as Record<Generation, GenerationSpec>;

export type Routed =
  | { ok: true; generation: Generation; protocolVersion: string }
  | { ok: false; message: string };

/** Routes a connection to its generation, or explains why no generation takes it. */
export function routeGeneration(declared: Declared): Routed {
  const rule = GENERATION_RULES.find((r) => r.matches(declared));
  if (rule) return { ok: true, generation: rule.generation, protocolVersion: recordedVersion(rule.generation, declared.protocolVersion) };
  return {
    ok: false,
    message: `Unsupported protocol version: ${JSON.stringify(declared.protocolVersion)} (this relay speaks ${ACCEPTED_PROTOCOL_RANGE} as a semver string, and protocol 1 as the number 1)`,
  };
}

/** The protocol version recorded for a connection (logs, census): "0.0.0", "none", "1" or the semver. */
function recordedVersion(generation: Generation, declared: unknown): string {
  if (generation === "legacy") return LEGACY_PROTOCOL_VERSION;
  if (declared === undefined || declared === null) return "none";
  return String(declared);
}
