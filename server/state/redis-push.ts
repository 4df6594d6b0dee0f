import { comparePush } from "./records.js";
import { replyArray, replyNumber, replyString, type RedisCommandClient, type Reply } from "./redis-scripts.js";
import type { PushStore, PushSubscriptionRecord } from "./types.js";

/*
 * Layout (P = prefix):
 *   P push:{userId}  HASH  endpoint → the subscription record as JSON. No TTL.
 * Each operation is one command, so no script is needed.
 */

function decodeSubscription(text: string): PushSubscriptionRecord {
  const parsed: unknown = JSON.parse(text);
  const str = (o: object, f: string): string => {
    const v: unknown = (o as Record<string, unknown>)[f];
    if (typeof v !== "string") throw new Error(`Corrupt push subscription: no ${f}`);
    return v;
  };
  if (typeof parsed !== "object" || parsed === null) throw new Error("Corrupt push subscription");
  const keys: unknown = (parsed as Record<string, unknown>).keys;
  if (typeof keys !== "object" || keys === null) throw new Error("Corrupt push subscription: no keys");
  return {
    endpoint: str(parsed, "endpoint"),
    keys: { p256dh: str(keys, "p256dh"), auth: str(keys, "auth") },
    enabledEvents: str(parsed, "enabledEvents"),
    userId: str(parsed, "userId"),
    createdAt: str(parsed, "createdAt"),
  };
}

export class RedisPushStore implements PushStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly prefix: string,
  ) {}

  private userKey(userId: string): string {
    return `${this.prefix}push:${userId}`;
  }

  async add(record: PushSubscriptionRecord): Promise<void> {
    const value = JSON.stringify({
      endpoint: record.endpoint,
      keys: { p256dh: record.keys.p256dh, auth: record.keys.auth },
      enabledEvents: record.enabledEvents,
      userId: record.userId,
      createdAt: record.createdAt,
    });
    await this.client.sendCommand(["HSET", this.userKey(record.userId), record.endpoint, value]);
  }

  async remove(userId: string, endpoint: string): Promise<boolean> {
    return replyNumber(await this.client.sendCommand<Reply>(["HDEL", this.userKey(userId), endpoint]), "push remove") === 1;
  }

  async list(userId: string): Promise<PushSubscriptionRecord[]> {
    const values = replyArray(await this.client.sendCommand<Reply>(["HVALS", this.userKey(userId)]), "push list");
    return values.map((v) => decodeSubscription(replyString(v, "push list"))).sort(comparePush);
  }
}
