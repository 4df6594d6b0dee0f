import { GENERATION_SPECS, GENERATIONS, type Generation } from "../protocol/index.js";
import type { CensusStore, NodeReport, Subject } from "./census/types.js";
import { KIND_OF_NAMESPACE, type ClientKind, type Mode, type ModeSetting, type StoredMode } from "./modes.js";

/** Subjects listed per generation at most (the total is always given). */
export const MAX_LISTED = 500;

export interface GenerationStatus {
  generation: Generation;
  clients: string;
  mode: ModeSetting & { changedBy: string | null };
  /** Whether every live node applies this mode, and what each applies. */
  applied: { everywhere: boolean; nodes: Array<{ nodeId: string; mode: Mode }> };
  live: { total: number; byKind: Partial<Record<ClientKind, number>>; byNode: Record<string, number>; byTransport: Record<string, number> };
  /** When anyone was last seen on it (within the census retention), epoch ms. */
  lastSeen: number | null;
  /** Users and runners seen on it within the window, most recent first. */
  seen: { total: number; subjects: Subject[] };
  verdict: { safeToTurnOff: boolean; reasons: string[] };
}

export interface MigrationStatus {
  at: number;
  /** The node that answered. */
  node: string;
  windowMs: number;
  nodes: Array<{ nodeId: string; at: number; startedAt: number; live: number; deprecated: Partial<Record<Generation, number>> }>;
  generations: GenerationStatus[];
}

export interface StatusInputs {
  census: CensusStore;
  modes: Readonly<Record<Generation, ModeSetting>>;
  stored: Partial<Record<Generation, StoredMode>>;
  nodeId: string;
  windowMs: number;
  now: number;
}

/**
 * The rollout report (docs/migration.md, "Reading the status"): per generation, its mode and whether
 * every live node applies it, its live connections across the cluster, who still uses it, and the
 * verdict: safe to turn off when nothing live speaks it and nobody has for the whole window.
 */
export async function migrationStatus(inputs: StatusInputs): Promise<MigrationStatus> {
  const { census, now, windowMs } = inputs;
  const nodes = await census.nodes();
  const generations = await Promise.all(
    GENERATIONS.map(async (generation) => {
      const [inWindow, lastSeen] = await Promise.all([census.subjects(generation, now - windowMs, MAX_LISTED), census.lastSeen(generation)]);
      return generationStatus(generation, inputs, nodes, await withLive(census, generation, nodes, inWindow), lastSeen);
    }),
  );
  return {
    at: now,
    node: inputs.nodeId,
    windowMs,
    nodes: nodes.map((n) => ({ nodeId: n.nodeId, at: n.at, startedAt: n.startedAt, live: n.live.reduce((sum, l) => sum + l.count, 0), deprecated: n.deprecated })),
    generations,
  };
}

/**
 * Adds who is connected now (the nodes' live subjects) to who was seen within the window: a subject the
 * census last wrote before the window may still be connected (live subjects are re-written only every
 * minute), and the status must name everyone still using the generation.
 */
async function withLive(census: CensusStore, generation: Generation, nodes: NodeReport[], inWindow: { total: number; subjects: Subject[] }): Promise<{ total: number; subjects: Subject[] }> {
  const listed = new Set(inWindow.subjects.map((s) => `${s.kind}:${s.id}`));
  const missing = new Map<string, { kind: Subject["kind"]; id: string; at: number }>();
  for (const node of nodes) {
    for (const s of node.liveSubjects) {
      const key = `${s.kind}:${s.id}`;
      if (s.generation !== generation || listed.has(key)) continue;
      missing.set(key, { kind: s.kind, id: s.id, at: Math.max(node.at, missing.get(key)?.at ?? 0) });
    }
  }
  if (missing.size === 0) return inWindow;
  const found = await Promise.all([...missing.values()].slice(0, MAX_LISTED).map((m) => census.subject(generation, m.kind, m.id).then((s) => ({ m, s }))));
  const live: Subject[] = found.map(({ m, s }) =>
    s ? { ...s, lastSeen: Math.max(s.lastSeen, m.at) } : { kind: m.kind, id: m.id, generation, firstSeen: m.at, lastSeen: m.at, clientKinds: [], clientVersions: [] },
  );
  const subjects = [...live, ...inWindow.subjects].sort((a, b) => b.lastSeen - a.lastSeen || a.id.localeCompare(b.id)).slice(0, MAX_LISTED);
  return { total: inWindow.total + missing.size, subjects };
}

function generationStatus(
  generation: Generation,
  inputs: StatusInputs,
  nodes: NodeReport[],
  seen: { total: number; subjects: Subject[] },
  lastSeen: number | null,
): GenerationStatus {
  const mode = inputs.modes[generation];
  const live: GenerationStatus["live"] = { total: 0, byKind: {}, byNode: {}, byTransport: {} };
  for (const node of nodes) {
    for (const l of node.live) {
      if (l.generation !== generation) continue;
      const kind = KIND_OF_NAMESPACE[l.namespace];
      live.total += l.count;
      live.byKind[kind] = (live.byKind[kind] ?? 0) + l.count;
      live.byNode[node.nodeId] = (live.byNode[node.nodeId] ?? 0) + l.count;
      live.byTransport[l.transport] = (live.byTransport[l.transport] ?? 0) + l.count;
    }
  }
  const applied = nodes.map((n) => ({ nodeId: n.nodeId, mode: n.modes[generation]?.mode ?? "on" }));
  return {
    generation,
    clients: GENERATION_SPECS[generation].clients,
    mode: { ...mode, changedBy: inputs.stored[generation]?.by ?? null },
    applied: { everywhere: applied.every((a) => a.mode === mode.mode), nodes: applied },
    live,
    lastSeen,
    seen,
    verdict: verdict(generation, live.total, seen, inputs.windowMs),
  };
}

function verdict(generation: Generation, liveTotal: number, seen: { total: number; subjects: Subject[] }, windowMs: number): GenerationStatus["verdict"] {
  if (generation === "current") return { safeToTurnOff: false, reasons: ["current is the protocol the other generations migrate to"] };
  const reasons: string[] = [];
  if (liveTotal > 0) reasons.push(`${liveTotal} live connection${liveTotal === 1 ? "" : "s"}`);
  if (seen.total > 0) {
    const named = seen.subjects
      .slice(0, 10)
      .map((s) => `${s.kind} ${s.id}`)
      .join(", ");
    const more = seen.total > 10 ? ` and ${seen.total - 10} more` : "";
    reasons.push(`seen within the last ${formatDuration(windowMs)}: ${named}${more}`);
  }
  return { safeToTurnOff: reasons.length === 0, reasons };
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Parses `7d`, `12h`, `30m`, `90s`, `500ms` or plain milliseconds; null if it is none of these. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return null;
  const size = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "ms"] ?? 1;
  return Number(match[1]) * size;
}
