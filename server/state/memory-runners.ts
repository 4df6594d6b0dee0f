import type { RunnerSkill } from "../../protocol/index.js";
import { hashSecret, safeEqual } from "../auth/secrets.js";
import { compareRunners, newRunnerRecord } from "./records.js";
import type { RunnerRecord, RunnerRegistration, RunnerStore, SecretCheck } from "./types.js";

interface Entry {
  record: RunnerRecord;
  /** Epoch ms after which the record is forgotten (the Redis implementation's key TTL). */
  dropAt: number;
}

const copy = (r: RunnerRecord): RunnerRecord => newRunnerRecord(r, r.generation, r.sessionIds);

/** In-memory RunnerStore for the embedded single-node mode. Same contract as the Redis one. */
export class MemoryRunnerStore implements RunnerStore {
  /** runnerId → SHA-256 of its secret and the user who bound it; never expires. */
  private readonly secrets = new Map<string, { hash: string; userId: string }>();
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number = Date.now) {}

  private live(runnerId: string): Entry | undefined {
    const entry = this.entries.get(runnerId);
    if (entry && entry.dropAt <= this.clock()) {
      this.entries.delete(runnerId);
      return undefined;
    }
    return entry;
  }

  async bindSecret(runnerId: string, secret: string, userId: string): Promise<SecretCheck> {
    const hash = hashSecret(secret);
    const bound = this.secrets.get(runnerId);
    if (!bound) {
      this.secrets.set(runnerId, { hash, userId });
      return { ok: true };
    }
    if (!safeEqual(bound.hash, hash)) return { ok: false, reason: "secret_mismatch" };
    if (bound.userId !== userId) return { ok: false, reason: "other_user" };
    return { ok: true };
  }

  async register(input: RunnerRegistration, ttlMs: number): Promise<RunnerRecord> {
    const previous = this.live(input.runnerId);
    const record = newRunnerRecord(input, (previous?.record.generation ?? 0) + 1, previous?.record.sessionIds ?? []);
    this.entries.set(input.runnerId, { record, dropAt: this.clock() + ttlMs });
    return copy(record);
  }

  async get(runnerId: string): Promise<RunnerRecord | null> {
    const entry = this.live(runnerId);
    return entry ? copy(entry.record) : null;
  }

  async refresh(runnerId: string, generation: number, ttlMs: number): Promise<boolean> {
    const entry = this.live(runnerId);
    if (!entry || entry.record.generation !== generation) return false;
    entry.dropAt = this.clock() + ttlMs;
    return true;
  }

  async remove(runnerId: string, generation: number): Promise<boolean> {
    const entry = this.live(runnerId);
    if (!entry || entry.record.generation !== generation) return false;
    this.entries.delete(runnerId);
    return true;
  }

  async listByUser(userId: string): Promise<RunnerRecord[]> {
    const out: RunnerRecord[] = [];
    for (const id of [...this.entries.keys()]) {
      const entry = this.live(id);
      if (entry?.record.userId === userId) out.push(copy(entry.record));
    }
    return out.sort(compareRunners);
  }

  async setSkills(runnerId: string, skills: RunnerSkill[]): Promise<void> {
    const entry = this.live(runnerId);
    if (entry) entry.record.skills = skills.map((s) => ({ ...s }));
  }

  async addSession(runnerId: string, sessionId: string): Promise<void> {
    const entry = this.live(runnerId);
    if (entry && !entry.record.sessionIds.includes(sessionId)) entry.record.sessionIds.push(sessionId);
  }

  async removeSession(runnerId: string, sessionId: string): Promise<void> {
    const entry = this.live(runnerId);
    if (entry) entry.record.sessionIds = entry.record.sessionIds.filter((id) => id !== sessionId);
  }
}
