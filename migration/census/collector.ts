import { inSlices } from "../../server/io/slices.js";
import type { PluginApi, ConnectionView } from "../../server/plugins/types.js";
import type { MigrationConfig } from "../config.js";
import type { ModeSync } from "../mode-sync.js";
import { KIND_OF_NAMESPACE } from "../modes.js";
import { MAX_LIVE_SUBJECTS, type CensusStore, type LiveCount, type LiveSubject, type NodeReport, type Sighting } from "./types.js";

/** A subject still connected is written again at most this often (its last seen moves on). */
const SEEN_REFRESH_MS = 60_000;
/** Sightings waiting for the store at most (a long outage drops the newest beyond it, logged). */
const MAX_PENDING = 10_000;

/**
 * This node's part of the census, off the handshake path: a handshake only notes who connected (a map
 * entry); every `censusFlushMs` the node counts its live connections (a slice at a time,
 * server/io/slices.ts) and writes its report and the sightings in one batch. A report lives three
 * flushes, so a dead node's counts expire within seconds.
 */
export class CensusCollector {
  private readonly pending = new Map<string, Sighting>();
  private readonly written = new Map<string, number>();
  /** Who was connected at the last flush: one who is gone since is written as seen now (their last). */
  private connected = new Map<string, Sighting>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private failing = false;
  private dropped = 0;
  private readonly startedAt: number;

  constructor(
    private readonly api: PluginApi,
    private readonly store: CensusStore,
    private readonly sync: ModeSync,
    private readonly deprecated: ReadonlyMap<string, number>,
    private readonly config: MigrationConfig,
    private readonly clock: () => number = Date.now,
  ) {
    this.startedAt = clock();
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.config.censusFlushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Notes a connection the relay admitted (called on the handshake path: no I/O). */
  observe(conn: ConnectionView): void {
    for (const sighting of sightingsOf(conn, this.clock())) this.enqueue(sighting);
  }

  /** A flush that starts after this call, so it reports what the node applies now. */
  async flushNow(): Promise<void> {
    await this.flushing;
    await this.flush();
  }

  /** Writes the report and the pending sightings now (one flush at a time; a call during one waits for it). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private enqueue(s: Sighting): void {
    const key = `${s.generation}|${s.kind}|${s.id}|${s.clientKind}|${s.clientVersion ?? ""}`;
    if (!this.pending.has(key) && this.pending.size >= MAX_PENDING) {
      if (this.dropped++ === 0) this.api.log.warn({ pending: MAX_PENDING }, "census backlog full: sightings dropped until the store answers");
      return;
    }
    this.pending.set(key, s);
  }

  private async write(): Promise<void> {
    const now = this.clock();
    const live = new Map<string, LiveCount>();
    const liveSubjects = new Map<string, LiveSubject>();
    const perGeneration = new Map<string, number>();
    const connected = new Map<string, Sighting>();
    for await (const conn of inSlices(this.api.connections())) {
      const key = `${conn.namespace}|${conn.generation}|${conn.transport}`;
      const entry = live.get(key) ?? { namespace: conn.namespace, generation: conn.generation, transport: conn.transport, count: 0 };
      entry.count++;
      live.set(key, entry);
      for (const s of sightingsOf(conn, now)) {
        const subject = `${s.generation}|${s.kind}|${s.id}|${s.clientKind}|${s.clientVersion ?? ""}`;
        if (now - (this.written.get(subject) ?? 0) >= SEEN_REFRESH_MS) this.enqueue(s);
        connected.set(subject, s);
        const who = `${s.generation}|${s.kind}|${s.id}`;
        const listed = perGeneration.get(s.generation) ?? 0;
        if (s.generation !== "current" && !liveSubjects.has(who) && listed < MAX_LIVE_SUBJECTS) {
          liveSubjects.set(who, { generation: s.generation, kind: s.kind, id: s.id });
          perGeneration.set(s.generation, listed + 1);
        }
      }
    }
    // Left since the last flush: their last sighting is now, so a quiet window starts when they left.
    for (const [subject, s] of this.connected) if (!connected.has(subject)) this.enqueue({ ...s, at: now });
    this.connected = connected;
    const report: NodeReport = {
      nodeId: this.api.config.nodeId,
      at: now,
      startedAt: this.startedAt,
      modes: Object.fromEntries(
        Object.entries(this.sync.modes).map(([g, s]) => [g, { mode: s.mode, source: s.source, appliedAt: this.sync.appliedAt.get(g as keyof typeof this.sync.modes) ?? null }]),
      ) as NodeReport["modes"],
      live: [...live.values()],
      deprecated: Object.fromEntries(this.deprecated),
      liveSubjects: [...liveSubjects.values()],
    };
    const batch = [...this.pending.entries()];
    try {
      await this.store.report(report, 3 * this.config.censusFlushMs, this.config.retentionMs);
      await this.store.record(
        batch.map(([, s]) => s),
        this.config.retentionMs,
      );
    } catch (err) {
      if (!this.failing) this.api.log.warn({ err }, "census write failed: kept for the next flush");
      this.failing = true;
      return;
    }
    if (this.failing || this.dropped > 0) this.api.log.info({ dropped: this.dropped }, "census writes resumed");
    this.failing = false;
    this.dropped = 0;
    for (const [key] of batch) {
      this.pending.delete(key);
      this.written.set(key, now);
    }
    for (const [key, at] of this.written) if (now - at > 2 * SEEN_REFRESH_MS) this.written.delete(key);
  }
}

/** Who a connection is for the census: its user (if it has one) and, for runners, the runner. */
function sightingsOf(conn: ConnectionView, at: number): Sighting[] {
  const clientKind = KIND_OF_NAMESPACE[conn.namespace];
  const base = { generation: conn.generation, clientKind, clientVersion: conn.clientVersion, at };
  const out: Sighting[] = [];
  if (conn.userId) out.push({ ...base, kind: "user", id: conn.userId });
  if (conn.runnerId) out.push({ ...base, kind: "runner", id: conn.runnerId });
  return out;
}
