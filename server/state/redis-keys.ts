import { z } from "zod";
import { mintApiKey } from "./records.js";
import { hashSecret, randomHex } from "../auth/secrets.js";
import {
  KEY_CREATE,
  KEY_LIST,
  KEY_REVOKE,
  replyArray,
  replyHash,
  replyNumber,
  type RedisCommandClient,
  type ScriptRunner,
} from "./redis-scripts.js";
import type { ApiKeyMeta, ApiKeyStore, LoginIdentity, LoginStore, NewApiKey } from "./types.js";

/**
 * API keys in Redis: `P apikey:{sha256}` HASH (id, userId, userName, name (absent = null), createdAt,
 * admin ("1"; absent = an ordinary key))
 * plus the index `P apikeys` HASH id → sha256. The plain key is never stored.
 */
export class RedisApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private keyOf(hash: string): string {
    return `${this.prefix}apikey:${hash}`;
  }

  private get indexKey(): string {
    return `${this.prefix}apikeys`;
  }

  async create(input: NewApiKey): Promise<{ key: string; meta: ApiKeyMeta }> {
    const { key, hash, meta } = mintApiKey(input);
    await this.scripts.run(
      KEY_CREATE,
      [this.keyOf(hash), this.indexKey],
      [
        meta.id,
        hash,
        "id",
        `s${meta.id}`,
        "userId",
        `s${meta.userId}`,
        "userName",
        `s${meta.userName}`,
        "name",
        meta.name === null ? "d" : `s${meta.name}`,
        "createdAt",
        `s${meta.createdAt}`,
        "admin",
        meta.admin ? "s1" : "d",
      ],
    );
    return { key, meta };
  }

  async verify(key: string): Promise<ApiKeyMeta | null> {
    const fields = replyHash(await this.client.sendCommand(["HGETALL", this.keyOf(hashSecret(key))]), "apikey");
    return fields.size === 0 ? null : decodeKey(fields);
  }

  async list(userId?: string): Promise<ApiKeyMeta[]> {
    const reply = replyArray(await this.scripts.run(KEY_LIST, [this.indexKey], [this.prefix]), "apikeys");
    return reply
      .map((h) => decodeKey(replyHash(h, "apikey")))
      .filter((k) => userId === undefined || k.userId === userId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async exists(id: string): Promise<boolean> {
    return replyNumber(await this.client.sendCommand(["HEXISTS", this.indexKey, id]), "apikey exists") === 1;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const reply = replyArray(await this.client.sendCommand(["HMGET", this.indexKey, ...ids]), "apikey existing");
    return new Set(ids.filter((_, i) => reply[i] !== null && reply[i] !== undefined));
  }

  async revoke(id: string): Promise<boolean> {
    return replyNumber(await this.scripts.run(KEY_REVOKE, [this.indexKey], [this.prefix, id]), "revoke") === 1;
  }
}

function decodeKey(fields: Map<string, string>): ApiKeyMeta {
  const need = (f: string): string => {
    const v = fields.get(f);
    if (v === undefined) throw new Error(`Corrupt API key record: no ${f}`);
    return v;
  };
  return {
    id: need("id"),
    userId: need("userId"),
    userName: need("userName"),
    name: fields.get("name") ?? null,
    createdAt: need("createdAt"),
    admin: fields.get("admin") === "1",
  };
}

/** Logins stored before the admin scope existed have neither `admin` nor `keyId`: ordinary ones. */
const StoredLogin = z.object({ userId: z.string(), userName: z.string(), admin: z.boolean().optional(), keyId: z.string().nullable().optional() });

/** Browser logins in Redis: `P login:{sha256}` holds the identity as JSON, with a PX TTL. */
export class RedisLoginStore implements LoginStore {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly prefix: string,
  ) {}

  private keyOf(token: string): string {
    return `${this.prefix}login:${hashSecret(token)}`;
  }

  async create(identity: LoginIdentity, ttlMs: number): Promise<string> {
    const token = randomHex(32);
    const px = Math.ceil(ttlMs);
    // A login with no time to live is expired at once: nothing to store (PX rejects 0).
    if (px > 0) {
      const value = JSON.stringify({ userId: identity.userId, userName: identity.userName, admin: identity.admin, keyId: identity.keyId });
      await this.client.sendCommand(["SET", this.keyOf(token), value, "PX", String(px)]);
    }
    return token;
  }

  async verify(token: string): Promise<LoginIdentity | null> {
    const raw = await this.client.sendCommand(["GET", this.keyOf(token)]);
    if (raw === null || raw === undefined) return null;
    const parsed = StoredLogin.safeParse(JSON.parse(String(raw)));
    if (!parsed.success) throw new Error("Corrupt login record");
    return { userId: parsed.data.userId, userName: parsed.data.userName, admin: parsed.data.admin === true, keyId: parsed.data.keyId ?? null };
  }

  async delete(token: string): Promise<void> {
    await this.client.sendCommand(["DEL", this.keyOf(token)]);
  }
}
