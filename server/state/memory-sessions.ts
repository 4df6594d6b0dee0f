import { EventLog } from "./event-log.js";
import { compareEnded, newSessionRecord } from "./records.js";
import type {
  ClaimInput,
  ClaimResult,
  PublishInput,
  PublishResult,
  RunnerLink,
  SessionRecord,
  SessionStore,
  SessionView,
  Snapshot,
} from "./types.js";

interface Entry {
  record: SessionRecord;
  snapshot: Snapshot;
  log: EventLog;
  /** Epoch ms after which the whole entry is forgotten (the Redis implementation's key TTL). */
  dropAt: number;
  /** The last de-duplication position stored (PublishInput.dedupe); kept across reconnects. */
  stream?: { streamId: string; seq: number };
}

const emptySnapshot = (): Snapshot => ({ stateJson: undefined, hasState: false, heartbeatJson: undefined });

/** In-memory SessionStore for the embedded single-node mode. Same contract as the Redis one. */
export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  /**
   * Session ids by user, for the per-user reads (as the Redis store's user sets): added on a claim,
   * pruned on read of whatever is no longer a live session of that user. Without it a register's
   * session cap check went through every session of the node.
   */
  private readonly byUser = new Map<string, Set<string>>();
  /** Pending runner links by session id, each with the epoch ms after which it is forgotten. */
  private readonly links = new Map<string, { link: RunnerLink; dropAt: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  private live(sessionId: string): Entry | undefined {
    const entry = this.entries.get(sessionId);
    if (entry && entry.dropAt <= this.clock()) {
      this.entries.delete(sessionId);
      return undefined;
    }
    return entry;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const requested = input.sessionId && input.sessionId.length > 0 ? input.sessionId : undefined;
    let sessionId = requested ?? input.newId();
    let existing = this.live(sessionId);
    let outcome: ClaimResult["outcome"] = "created";
    if (existing && existing.record.userId !== input.userId) {
      outcome = "reassigned";
      do sessionId = input.newId();
      while (this.live(sessionId));
      existing = undefined;
    }
    const base = newSessionRecord(input, sessionId);
    const dropAt = input.now + input.ttlMs;
    if (existing?.record.live) {
      const previousGeneration = existing.record.generation;
      existing.record = {
        ...existing.record,
        userName: input.userName,
        cwd: input.cwd,
        sessionName: input.sessionName,
        isEphemeral: input.isEphemeral,
        collabMode: input.collabMode,
        expiresAt: input.expiresAt,
        generation: previousGeneration + 1,
      };
      existing.dropAt = dropAt;
      return { record: { ...existing.record }, outcome: "reconnected", previousGeneration };
    }
    if (existing) {
      // Same user, ended incarnation: a new session that keeps the id's seq and log monotonic.
      base.seq = existing.record.seq;
      base.generation = existing.record.generation + 1;
    }
    if (outcome === "created" && requested !== undefined) {
      const link = this.pendingLink(sessionId);
      if (link) {
        base.runnerId = link.runnerId;
        base.runnerName = link.runnerName;
        this.links.delete(sessionId);
      }
    }
    this.entries.set(sessionId, { record: base, snapshot: emptySnapshot(), log: existing?.log ?? new EventLog(), dropAt });
    let ids = this.byUser.get(input.userId);
    if (!ids) this.byUser.set(input.userId, (ids = new Set()));
    ids.add(sessionId);
    return { record: { ...base }, outcome };
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const entry = this.live(sessionId);
    return entry ? { ...entry.record } : null;
  }

  async view(sessionId: string, afterSeq?: number): Promise<SessionView | null> {
    const entry = this.live(sessionId);
    if (!entry) return null;
    const view: SessionView = { record: { ...entry.record }, snapshot: { ...entry.snapshot } };
    if (afterSeq !== undefined) view.log = readAfter(entry, afterSeq);
    return view;
  }

  async publish(input: PublishInput): Promise<PublishResult> {
    const entry = this.live(input.sessionId);
    if (!entry || !entry.record.live) return { ok: false, reason: "not_live" };
    const owner = input.owner;
    if (owner) {
      if (entry.record.userId !== owner.userId || entry.record.runnerId !== owner.runnerId) return { ok: false, reason: "not_owner" };
    } else if (entry.record.generation !== input.generation) return { ok: false, reason: "stale" };
    const { expiresAt, ttlMs } = owner && entry.record.isEphemeral ? owner.ephemeral : input;
    if (input.dedupe) {
      const { streamId, seq, after } = input.dedupe;
      const position = entry.stream?.streamId === streamId ? entry.stream.seq : undefined;
      if (position !== undefined && seq <= position) return { ok: true, duplicate: true };
      if (after !== undefined && (position === undefined || position < after)) return { ok: false, reason: "gap" };
      entry.stream = { streamId, seq };
    }
    const seq = entry.record.seq + 1;
    entry.record.seq = seq;
    entry.log.push(seq, input.now, input.eventJson, input.bufferSize);
    if (input.kind === "state") entry.snapshot = { ...entry.snapshot, stateJson: input.stateJson, hasState: true };
    if (input.kind === "heartbeat") entry.snapshot = { ...entry.snapshot, heartbeatJson: input.eventJson };
    if (input.patch) Object.assign(entry.record, input.patch);
    entry.record.expiresAt = expiresAt;
    entry.dropAt = input.now + ttlMs;
    return { ok: true, seq };
  }

  async touch(sessionId: string, expiresAt: number | null, ttlMs: number): Promise<void> {
    const entry = this.live(sessionId);
    if (!entry || !entry.record.live) return;
    entry.record.expiresAt = expiresAt;
    entry.dropAt = this.clock() + ttlMs;
  }

  async end(sessionId: string, generation: number, now: number, ttlMs: number): Promise<SessionRecord | null> {
    const entry = this.live(sessionId);
    if (!entry || !entry.record.live || entry.record.generation !== generation) return null;
    entry.record = { ...entry.record, live: false, endedAt: new Date(now).toISOString(), expiresAt: null, isActive: false };
    entry.dropAt = now + ttlMs;
    return { ...entry.record };
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const entry of this.liveOf(userId)) out.push({ ...entry.record });
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async countLive(userId: string, atMost: number): Promise<number> {
    let count = 0;
    for (const _entry of this.liveOf(userId)) if (++count >= atMost) break;
    return count;
  }

  /** The user's live sessions, pruning the index of the ones that no longer are. */
  private *liveOf(userId: string): Generator<Entry> {
    const ids = this.byUser.get(userId);
    if (!ids) return;
    for (const id of ids) {
      const entry = this.live(id);
      if (entry?.record.live && entry.record.userId === userId) yield entry;
      else ids.delete(id);
    }
    if (ids.size === 0) this.byUser.delete(userId);
  }

  async listEnded(userId: string): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of [...this.entries.keys()]) {
      const entry = this.live(id);
      if (entry && !entry.record.live && entry.record.userId === userId) out.push({ ...entry.record });
    }
    return out.sort(compareEnded);
  }

  async listExpired(now: number): Promise<Array<{ sessionId: string; generation: number }>> {
    const out: Array<{ sessionId: string; generation: number }> = [];
    for (const id of [...this.entries.keys()]) {
      const entry = this.live(id);
      const r = entry?.record;
      if (r?.live && r.isEphemeral && r.expiresAt !== null && r.expiresAt <= now) out.push({ sessionId: id, generation: r.generation });
    }
    return out;
  }

  private pendingLink(sessionId: string): RunnerLink | undefined {
    const found = this.links.get(sessionId);
    if (found && found.dropAt <= this.clock()) {
      this.links.delete(sessionId);
      return undefined;
    }
    return found?.link;
  }

  async setPendingLink(sessionId: string, link: RunnerLink, ttlMs: number): Promise<void> {
    // Links of spawns that never registered are forgotten here, so the map does not grow without bound.
    for (const id of [...this.links.keys()]) this.pendingLink(id);
    this.links.set(sessionId, { link: { runnerId: link.runnerId, runnerName: link.runnerName }, dropAt: this.clock() + ttlMs });
  }

  async getPendingLink(sessionId: string): Promise<RunnerLink | null> {
    const link = this.pendingLink(sessionId);
    return link ? { ...link } : null;
  }

  async linkRunner(sessionId: string, link: RunnerLink): Promise<SessionRecord | null> {
    const entry = this.live(sessionId);
    if (!entry || !entry.record.live) return null;
    entry.record = { ...entry.record, runnerId: link.runnerId, runnerName: link.runnerName };
    return { ...entry.record };
  }
}

function readAfter(entry: Entry, afterSeq: number): NonNullable<SessionView["log"]> {
  const current = entry.record.seq;
  if (afterSeq > current) return { complete: false };
  if (afterSeq === current) return { complete: true, events: [] };
  const first = entry.log.firstSeq;
  if (first === undefined || first > afterSeq + 1) return { complete: false };
  return { complete: true, events: entry.log.after(afterSeq) };
}
