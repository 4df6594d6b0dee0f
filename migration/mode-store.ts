import { z } from "zod";
import { isGeneration, type Generation } from "../protocol/index.js";
import { LuaScript, replyArray, replyHash, replyString, ScriptRunner, type RedisCommandClient } from "../server/state/redis-scripts.js";
import { MODES, type ModeChange, type StoredMode } from "./modes.js";

/**
 * The operators' runtime mode settings, shared by every node (Redis; memory in embedded mode), and the
 * audit trail of changes: who, when, from, to. A setting wins over the nodes' boot defaults until it is
 * cleared.
 */
export interface ModeStore {
  read(): Promise<Partial<Record<Generation, StoredMode>>>;
  /** Sets (or, with null, clears) a generation's runtime mode and records the change, atomically. */
  write(generation: Generation, setting: StoredMode | null, by: string, at: number): Promise<ModeChange>;
  /** The most recent changes first. */
  changes(limit: number): Promise<ModeChange[]>;
}

/** Changes kept in the audit trail. */
export const MAX_CHANGES = 1_000;

const StoredModeSchema = z.object({ mode: z.enum(MODES), sunset: z.number().nullable(), at: z.number(), by: z.string() });
const ChangeSchema = z.object({
  generation: z.string().refine(isGeneration),
  from: z.enum(MODES).nullable(),
  to: z.enum(MODES).nullable(),
  at: z.number(),
  by: z.string(),
});

export class MemoryModeStore implements ModeStore {
  private readonly modes = new Map<Generation, StoredMode>();
  private readonly log: ModeChange[] = [];

  async read(): Promise<Partial<Record<Generation, StoredMode>>> {
    return Object.fromEntries([...this.modes].map(([g, m]) => [g, { ...m }]));
  }

  async write(generation: Generation, setting: StoredMode | null, by: string, at: number): Promise<ModeChange> {
    const change: ModeChange = { generation, from: this.modes.get(generation)?.mode ?? null, to: setting?.mode ?? null, at, by };
    if (setting) this.modes.set(generation, { ...setting });
    else this.modes.delete(generation);
    this.log.unshift(change);
    this.log.length = Math.min(this.log.length, MAX_CHANGES);
    return { ...change };
  }

  async changes(limit: number): Promise<ModeChange[]> {
    return this.log.slice(0, limit).map((c) => ({ ...c }));
  }
}

/** KEYS: modes hash, changes list. ARGV: generation, setting JSON ('' clears), change JSON without `from`. */
const WRITE_MODE = new LuaScript(
  "migrationWriteMode",
  `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local change = cjson.decode(ARGV[3])
if old then change['from'] = cjson.decode(old)['mode'] else change['from'] = cjson.null end
local encoded = cjson.encode(change)
redis.call('LPUSH', KEYS[2], encoded)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
return encoded
`,
);

/** `<prefix>migration:modes` HASH generation → StoredMode JSON; `<prefix>migration:changes` LIST of ModeChange JSON, newest first. */
export class RedisModeStore implements ModeStore {
  private readonly scripts: ScriptRunner;
  private readonly modesKey: string;
  private readonly changesKey: string;

  constructor(
    private readonly client: RedisCommandClient,
    prefix: string,
  ) {
    this.scripts = new ScriptRunner(client);
    this.modesKey = `${prefix}migration:modes`;
    this.changesKey = `${prefix}migration:changes`;
  }

  async read(): Promise<Partial<Record<Generation, StoredMode>>> {
    const out: Partial<Record<Generation, StoredMode>> = {};
    for (const [generation, json] of replyHash(await this.client.sendCommand(["HGETALL", this.modesKey]), "migration modes")) {
      const parsed = StoredModeSchema.safeParse(JSON.parse(json));
      if (isGeneration(generation) && parsed.success) out[generation] = parsed.data;
    }
    return out;
  }

  async write(generation: Generation, setting: StoredMode | null, by: string, at: number): Promise<ModeChange> {
    const change = { generation, to: setting?.mode ?? null, at, by };
    const reply = await this.scripts.run(WRITE_MODE, [this.modesKey, this.changesKey], [generation, setting ? JSON.stringify(setting) : "", JSON.stringify(change), String(MAX_CHANGES)]);
    return ChangeSchema.parse(JSON.parse(replyString(reply, "migration mode write"))) as ModeChange;
  }

  async changes(limit: number): Promise<ModeChange[]> {
    const reply = replyArray(await this.client.sendCommand(["LRANGE", this.changesKey, "0", String(limit - 1)]), "migration changes");
    const out: ModeChange[] = [];
    for (const entry of reply) {
      const parsed = ChangeSchema.safeParse(JSON.parse(replyString(entry, "migration change")));
      if (parsed.success) out.push(parsed.data as ModeChange);
    }
    return out;
  }
}
