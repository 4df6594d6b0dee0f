import type { Generation } from "../../protocol/index.js";
import type { ClientKind } from "../modes.js";
import { MAX_VERSIONS_PER_SUBJECT, type CensusStore, type MinuteCounts, type NodeReport, type Sighting, type Subject, type SubjectKind } from "./types.js";

const MINUTE = 60_000;

interface Remembered {
  subject: Subject;
  /** client version → last seen */
  versions: Map<string, number>;
  kinds: Set<ClientKind>;
  expiresAt: number;
}

/** The census of an embedded (single-node) relay: in memory, bounded by the retention period. */
export class MemoryCensusStore implements CensusStore {
  private readonly reports = new Map<string, { report: NodeReport; expiresAt: number }>();
  private readonly minutes = new Map<number, Map<string, number>>();
  private readonly remembered = new Map<string, Remembered>();

  constructor(private readonly clock: () => number = Date.now) {}

  async report(report: NodeReport, ttlMs: number, retentionMs: number): Promise<void> {
    this.reports.set(report.nodeId, { report: structuredClone(report), expiresAt: this.clock() + ttlMs });
    const minute = Math.floor(report.at / MINUTE);
    const bucket = this.minutes.get(minute) ?? new Map<string, number>();
    for (const key of [...bucket.keys()]) if (key.endsWith(`|${report.nodeId}`)) bucket.delete(key);
    for (const [generation, count] of totals(report)) bucket.set(`${generation}|${report.nodeId}`, count);
    this.minutes.set(minute, bucket);
    const oldest = Math.floor((this.clock() - retentionMs) / MINUTE);
    for (const m of this.minutes.keys()) if (m < oldest) this.minutes.delete(m);
  }

  async record(sightings: Sighting[], retentionMs: number): Promise<void> {
    const now = this.clock();
    for (const [key, entry] of this.remembered) if (entry.expiresAt <= now) this.remembered.delete(key);
    for (const s of sightings) {
      const key = `${s.generation}|${s.kind}:${s.id}`;
      const entry = this.remembered.get(key) ?? {
        subject: { kind: s.kind, id: s.id, generation: s.generation, firstSeen: s.at, lastSeen: s.at, clientKinds: [], clientVersions: [] },
        versions: new Map<string, number>(),
        kinds: new Set<ClientKind>(),
        expiresAt: 0,
      };
      entry.subject.firstSeen = Math.min(entry.subject.firstSeen, s.at);
      entry.subject.lastSeen = Math.max(entry.subject.lastSeen, s.at);
      entry.kinds.add(s.clientKind);
      if (s.clientVersion !== null) entry.versions.set(s.clientVersion, Math.max(entry.versions.get(s.clientVersion) ?? 0, s.at));
      while (entry.versions.size > MAX_VERSIONS_PER_SUBJECT) entry.versions.delete(oldestOf(entry.versions));
      entry.expiresAt = entry.subject.lastSeen + retentionMs;
      this.remembered.set(key, entry);
    }
  }

  async nodes(): Promise<NodeReport[]> {
    const now = this.clock();
    const out: NodeReport[] = [];
    for (const [nodeId, { report, expiresAt }] of this.reports) {
      if (expiresAt <= now) this.reports.delete(nodeId);
      else out.push(structuredClone(report));
    }
    return out.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  async subjects(generation: Generation, since: number, limit: number): Promise<{ total: number; subjects: Subject[] }> {
    const now = this.clock();
    const matching = [...this.remembered.values()]
      .filter((e) => e.expiresAt > now && e.subject.generation === generation && e.subject.lastSeen >= since)
      .sort((a, b) => b.subject.lastSeen - a.subject.lastSeen || a.subject.id.localeCompare(b.subject.id));
    return { total: matching.length, subjects: matching.slice(0, limit).map(view) };
  }

  async subject(generation: Generation, kind: SubjectKind, id: string): Promise<Subject | null> {
    const entry = this.remembered.get(`${generation}|${kind}:${id}`);
    return entry && entry.expiresAt > this.clock() ? view(entry) : null;
  }

  async lastSeen(generation: Generation): Promise<number | null> {
    const now = this.clock();
    let last: number | null = null;
    for (const e of this.remembered.values()) if (e.expiresAt > now && e.subject.generation === generation) last = Math.max(last ?? 0, e.subject.lastSeen);
    return last;
  }

  async history(fromMinute: number, toMinute: number): Promise<MinuteCounts[]> {
    const out: MinuteCounts[] = [];
    for (const [minute, bucket] of [...this.minutes].sort((a, b) => a[0] - b[0])) {
      if (minute < fromMinute || minute > toMinute) continue;
      out.push({ minute, counts: sumByGeneration(bucket) });
    }
    return out;
  }
}

/** Live connections per generation in a report. */
export function totals(report: NodeReport): Map<Generation, number> {
  const out = new Map<Generation, number>();
  for (const { generation, count } of report.live) out.set(generation, (out.get(generation) ?? 0) + count);
  return out;
}

/** A minute's `<generation>|<node>` fields summed per generation. */
export function sumByGeneration(fields: Map<string, number>): Partial<Record<Generation, number>> {
  const counts: Partial<Record<Generation, number>> = {};
  for (const [field, count] of fields) {
    const generation = field.slice(0, field.indexOf("|")) as Generation;
    counts[generation] = (counts[generation] ?? 0) + count;
  }
  return counts;
}

function oldestOf(versions: Map<string, number>): string {
  let oldest: [string, number] | null = null;
  for (const entry of versions) if (!oldest || entry[1] < oldest[1]) oldest = entry;
  return oldest?.[0] ?? "";
}

function view(entry: Remembered): Subject {
  return {
    ...entry.subject,
    clientKinds: [...entry.kinds].sort(),
    clientVersions: [...entry.versions].sort((a, b) => b[1] - a[1]).map(([v]) => v),
  };
}
