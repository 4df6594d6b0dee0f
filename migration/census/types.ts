import type { Generation, NamespaceName } from "../../protocol/index.js";
import type { ClientKind, Mode } from "../modes.js";

/**
 * The census (docs/migration.md, "Census"): who speaks which protocol, cluster-wide. Each node reports
 * its live connections every flush (the report expires unless renewed, so a dead node's counts vanish
 * with it), and records who it saw; the store keeps both for the retention period, in Redis in a cluster
 * and in memory in embedded mode.
 */

export interface LiveCount {
  namespace: NamespaceName;
  generation: Generation;
  transport: string;
  count: number;
}

export interface NodeReport {
  nodeId: string;
  /** When this report was written (epoch ms). */
  at: number;
  startedAt: number;
  /** The mode this node applies to each generation, and when it applied the last change. */
  modes: Record<Generation, { mode: Mode; source: "boot" | "runtime"; appliedAt: number | null }>;
  live: LiveCount[];
  /** Connections admitted as deprecated (warn, drain) since the node started. */
  deprecated: Partial<Record<Generation, number>>;
  /**
   * Who is connected now on the generations being migrated away from (not `current`), at most
   * MAX_LIVE_SUBJECTS per generation: the status names them whatever its window.
   */
  liveSubjects: LiveSubject[];
}

export interface LiveSubject {
  generation: Generation;
  kind: SubjectKind;
  id: string;
}

/** Live subjects a node lists per generation in its report. */
export const MAX_LIVE_SUBJECTS = 1_000;

export type SubjectKind = "user" | "runner";

/** One sighting: a user or runner connected with a generation (and maybe a client version). */
export interface Sighting {
  kind: SubjectKind;
  id: string;
  generation: Generation;
  clientKind: ClientKind;
  clientVersion: string | null;
  at: number;
}

/** What the census remembers of a user or runner on one generation. */
export interface Subject {
  kind: SubjectKind;
  id: string;
  generation: Generation;
  firstSeen: number;
  lastSeen: number;
  clientKinds: ClientKind[];
  /** Most recently seen first, at most MAX_VERSIONS_PER_SUBJECT. */
  clientVersions: string[];
}

export interface MinuteCounts {
  /** Epoch minute (ms / 60,000). */
  minute: number;
  counts: Partial<Record<Generation, number>>;
}

/** Client versions remembered per subject and generation (the most recent ones). */
export const MAX_VERSIONS_PER_SUBJECT = 8;

export interface CensusStore {
  /** Writes the node's report (kept `ttlMs`) and its live counts into the minute's history. */
  report(report: NodeReport, ttlMs: number, retentionMs: number): Promise<void>;
  /** Records sightings; each subject is kept `retentionMs` after it was last seen. */
  record(sightings: Sighting[], retentionMs: number): Promise<void>;
  /** The reports of the nodes alive now (unexpired). */
  nodes(): Promise<NodeReport[]>;
  /** Subjects of a generation seen at or after `since`, most recent first, at most `limit` (and the total). */
  subjects(generation: Generation, since: number, limit: number): Promise<{ total: number; subjects: Subject[] }>;
  /** What the census remembers of one subject on a generation, or null. */
  subject(generation: Generation, kind: SubjectKind, id: string): Promise<Subject | null>;
  /** When anyone was last seen on a generation (within retention), or null. */
  lastSeen(generation: Generation): Promise<number | null>;
  /** Live counts per generation summed over the nodes, per minute, for minutes in [from, to]. */
  history(fromMinute: number, toMinute: number): Promise<MinuteCounts[]>;
}
