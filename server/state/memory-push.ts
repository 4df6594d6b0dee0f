import { comparePush } from "./records.js";
import type { PushStore, PushSubscriptionRecord } from "./types.js";

const copy = (r: PushSubscriptionRecord): PushSubscriptionRecord => ({ ...r, keys: { ...r.keys } });

/** In-memory PushStore for the embedded single-node mode: userId → endpoint → subscription. */
export class MemoryPushStore implements PushStore {
  private readonly byUser = new Map<string, Map<string, PushSubscriptionRecord>>();

  async add(record: PushSubscriptionRecord): Promise<void> {
    let subs = this.byUser.get(record.userId);
    if (!subs) {
      subs = new Map();
      this.byUser.set(record.userId, subs);
    }
    subs.set(record.endpoint, copy(record));
  }

  async remove(userId: string, endpoint: string): Promise<boolean> {
    const subs = this.byUser.get(userId);
    if (!subs?.delete(endpoint)) return false;
    if (subs.size === 0) this.byUser.delete(userId);
    return true;
  }

  async list(userId: string): Promise<PushSubscriptionRecord[]> {
    return [...(this.byUser.get(userId)?.values() ?? [])].map(copy).sort(comparePush);
  }
}
