import { createHash } from "node:crypto";
import type { RedisClientType } from "redis";

/**
 * What the Redis state needs of a client: any connected node-redis v4 client (whatever modules,
 * functions or scripts it was created with) fits, since only `sendCommand` is used.
 */
export type RedisCommandClient = Pick<RedisClientType, "sendCommand">;

/** A raw RESP2 reply as node-redis v4 hands it back from `sendCommand`. */
export type Reply = string | number | Buffer | null | undefined | Reply[];

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly body: string,
  ) {
    this.sha = createHash("sha1").update(body, "utf8").digest("hex");
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOSCRIPT");
}

/**
 * Runs Lua scripts with EVALSHA. `run` enqueues its command synchronously (node-redis pipelines the
 * commands of one connection in order), so scripts execute in call order without waiting on each
 * other. The first use of a script on this runner pipelines a SCRIPT LOAD just ahead of its EVALSHA,
 * so concurrent first calls never race on a NOSCRIPT; should the server lose its script cache anyway
 * (restart, SCRIPT FLUSH), the failed call falls back to EVAL.
 */
export class ScriptRunner {
  private readonly loaded = new Set<LuaScript>();

  constructor(private readonly client: RedisCommandClient) {}

  run(script: LuaScript, keys: string[], args: string[]): Promise<Reply> {
    if (!this.loaded.has(script)) {
      this.loaded.add(script);
      this.client.sendCommand<Reply>(["SCRIPT", "LOAD", script.body]).catch(() => {
        this.loaded.delete(script);
      });
    }
    const tail = [String(keys.length), ...keys, ...args];
    return this.client.sendCommand<Reply>(["EVALSHA", script.sha, ...tail]).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return this.client.sendCommand<Reply>(["EVAL", script.body, ...tail]);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Reply helpers

export function replyArray(reply: Reply, what: string): Reply[] {
  if (!Array.isArray(reply)) throw new Error(`Unexpected Redis reply for ${what}`);
  return reply;
}

export function replyString(reply: Reply, what: string): string {
  if (typeof reply === "string") return reply;
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  if (typeof reply === "number") return String(reply);
  throw new Error(`Unexpected Redis reply for ${what}`);
}

export function replyNumber(reply: Reply, what: string): number {
  const n = typeof reply === "number" ? reply : Number(replyString(reply, what));
  if (!Number.isFinite(n)) throw new Error(`Unexpected Redis reply for ${what}`);
  return n;
}

/** A flat [field, value, field, value, ...] reply (HGETALL) as a Map. */
export function replyHash(reply: Reply, what: string): Map<string, string> {
  const flat = replyArray(reply, what);
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(replyString(flat[i], what), replyString(flat[i + 1], what));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Lua. Hash fields are written from "tagged" values: "s<text>" sets the field to <text>, "d" deletes it
// (absent field = null). Event and state JSON is never decoded here: it is stored and concatenated as
// opaque text (cjson would turn `[]` into `{}` and re-encode numbers and escapes).

const PRELUDE = `
local function apply_fields(key, from, n)
  for i = from, from + 2 * n - 1, 2 do
    local v = ARGV[i + 1]
    if string.byte(v, 1) == 115 then
      redis.call('HSET', key, ARGV[i], string.sub(v, 2))
    else
      redis.call('HDEL', key, ARGV[i])
    end
  end
end

local function set_tagged(key, field, v)
  if string.byte(v, 1) == 115 then
    redis.call('HSET', key, field, string.sub(v, 2))
  else
    redis.call('HDEL', key, field)
  end
end

-- keeps the expiry ZSET in step with a live record
local function index_expiry(rec, zset, id)
  local eph = redis.call('HGET', rec, 'isEphemeral')
  local exp = redis.call('HGET', rec, 'expiresAt')
  if eph == '1' and exp then
    redis.call('ZADD', zset, exp, id)
  else
    redis.call('ZREM', zset, id)
  end
end

local function expire_session(ttl)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
end

-- a user's set of live ids outlives every member's record: its TTL is only ever extended
local function keep_set(key, ttl)
  if ttl <= 0 then return end
  local t = redis.call('PTTL', key)
  if t == -1 or (t >= 0 and t < ttl) then redis.call('PEXPIRE', key, ttl) end
end

local function user_set(prefix, uid)
  return prefix .. 'user:' .. uid .. ':sessions'
end
`;

function script(name: string, body: string): LuaScript {
  return new LuaScript(name, PRELUDE + body);
}

/**
 * KEYS: record, snapshot, events, expiry zset, user set of the claimant.
 * ARGV: id, userId, ttlMs, mustBeNew (1/0), nUpdate, nBase, update pairs..., base pairs...
 * Returns {"taken"} or {outcome, previousGeneration, HGETALL record}.
 */
export const CLAIM = script(
  "claim",
  `
local rec, snap, events, zset, uset = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, uid, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local nupd, nbase = tonumber(ARGV[5]), tonumber(ARGV[6])
local upd_from = 7
local base_from = 7 + 2 * nupd
local outcome, prev = 'created', 0
if redis.call('EXISTS', rec) == 1 then
  if ARGV[4] == '1' or redis.call('HGET', rec, 'userId') ~= uid then return {'taken'} end
  if redis.call('HGET', rec, 'live') == '1' then
    prev = tonumber(redis.call('HGET', rec, 'generation'))
    apply_fields(rec, upd_from, nupd)
    redis.call('HINCRBY', rec, 'generation', 1)
    outcome = 'reconnected'
  else
    -- same user, ended incarnation: a new session whose seq and log continue
    local seq = redis.call('HGET', rec, 'seq')
    local gen = redis.call('HGET', rec, 'generation')
    redis.call('DEL', rec, snap)
    apply_fields(rec, base_from, nbase)
    redis.call('HSET', rec, 'seq', seq, 'generation', gen)
    redis.call('HINCRBY', rec, 'generation', 1)
  end
else
  redis.call('DEL', snap, events)
  apply_fields(rec, base_from, nbase)
end
redis.call('SADD', uset, id)
index_expiry(rec, zset, id)
local out = redis.call('HGETALL', rec)
expire_session(ttl)
keep_set(uset, ttl)
return {outcome, prev, out}
`,
);

/**
 * KEYS: record, snapshot, events, expiry zset.
 * ARGV: id, prefix, generation, ttlMs, bufferSize, kind, ts, hasEvent, eventJson, hasStateJson,
 *       stateJson, expiresAt (tagged), nPatch, patch pairs...
 * Returns {1, seq} or {0, reason}.
 */
export const PUBLISH = script(
  "publish",
  `
local rec, snap, events, zset = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', rec, 'live') ~= '1' then return {0, 'not_live'} end
if redis.call('HGET', rec, 'generation') ~= ARGV[3] then return {0, 'stale'} end
local ttl, size, kind = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local seq = redis.call('HINCRBY', rec, 'seq', 1)
local entry
if ARGV[8] == '1' then
  entry = '{"seq":' .. seq .. ',"ts":' .. ARGV[7] .. ',"event":' .. ARGV[9] .. '}'
else
  entry = '{"seq":' .. seq .. ',"ts":' .. ARGV[7] .. '}'
end
redis.call('RPUSH', events, entry)
if size > 0 then
  redis.call('LTRIM', events, -size, -1)
else
  redis.call('DEL', events)
end
if kind == 'state' then
  redis.call('HSET', snap, 'hasState', '1')
  if ARGV[10] == '1' then
    redis.call('HSET', snap, 'state', ARGV[11])
  else
    redis.call('HDEL', snap, 'state')
  end
elseif kind == 'heartbeat' then
  if ARGV[8] == '1' then
    redis.call('HSET', snap, 'heartbeat', ARGV[9])
  else
    redis.call('HDEL', snap, 'heartbeat')
  end
end
apply_fields(rec, 14, tonumber(ARGV[13]))
set_tagged(rec, 'expiresAt', ARGV[12])
index_expiry(rec, zset, ARGV[1])
keep_set(user_set(ARGV[2], redis.call('HGET', rec, 'userId')), ttl)
expire_session(ttl)
return {1, seq}
`,
);

/** KEYS: record, snapshot, events, expiry zset. ARGV: id, prefix, expiresAt (tagged), ttlMs. */
export const TOUCH = script(
  "touch",
  `
local rec, zset = KEYS[1], KEYS[4]
if redis.call('HGET', rec, 'live') ~= '1' then return 0 end
local ttl = tonumber(ARGV[4])
set_tagged(rec, 'expiresAt', ARGV[3])
index_expiry(rec, zset, ARGV[1])
keep_set(user_set(ARGV[2], redis.call('HGET', rec, 'userId')), ttl)
expire_session(ttl)
return 1
`,
);

/** KEYS: record, snapshot, events, expiry zset. ARGV: id, prefix, generation, endedAt, ttlMs. */
export const END = script(
  "end",
  `
local rec, zset = KEYS[1], KEYS[4]
if redis.call('HGET', rec, 'live') ~= '1' then return false end
if redis.call('HGET', rec, 'generation') ~= ARGV[3] then return false end
redis.call('HSET', rec, 'live', '0', 'isActive', '0', 'endedAt', ARGV[4])
redis.call('HDEL', rec, 'expiresAt')
redis.call('ZREM', zset, ARGV[1])
redis.call('SREM', user_set(ARGV[2], redis.call('HGET', rec, 'userId')), ARGV[1])
local out = redis.call('HGETALL', rec)
expire_session(tonumber(ARGV[5]))
return out
`,
);

/**
 * KEYS: record, snapshot, events. ARGV: afterSeq ("" for none).
 * Returns nil, or {record, snapshot, status (0 no log asked, 1 complete, 2 incomplete), events}.
 */
export const VIEW = script(
  "view",
  `
local r = redis.call('HGETALL', KEYS[1])
if #r == 0 then return false end
local s = redis.call('HGETALL', KEYS[2])
if ARGV[1] == '' then return {r, s, 0, {}} end
local after = tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq'))
if after > cur then return {r, s, 2, {}} end
if after == cur then return {r, s, 1, {}} end
local first = redis.call('LINDEX', KEYS[3], 0)
if not first then return {r, s, 2, {}} end
local fs = tonumber(string.match(first, '^{"seq":(%d+)'))
if fs > after + 1 then return {r, s, 2, {}} end
local start = math.floor(after) + 1 - fs
if start < 0 then start = 0 end
return {r, s, 1, redis.call('LRANGE', KEYS[3], start, -1)}
`,
);

/** KEYS: user set. ARGV: prefix, userId. Returns the live records (flat hashes); drops stale members. */
export const LIST_BY_USER = script(
  "listByUser",
  `
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local r = redis.call('HGETALL', ARGV[1] .. 'session:' .. id)
  local live, owner
  for i = 1, #r, 2 do
    if r[i] == 'live' then live = r[i + 1] elseif r[i] == 'userId' then owner = r[i + 1] end
  end
  if live == '1' and owner == ARGV[2] then
    out[#out + 1] = r
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`,
);

/** KEYS: expiry zset. ARGV: prefix, now. Returns flat {id, generation, ...}; drops stale members. */
export const LIST_EXPIRED = script(
  "listExpired",
  `
local now = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[1] .. 'session:' .. id, 'live', 'isEphemeral', 'expiresAt', 'generation')
  if f[1] == '1' and f[2] == '1' and f[3] then
    if tonumber(f[3]) <= now then
      out[#out + 1] = id
      out[#out + 1] = f[4]
    else
      redis.call('ZADD', KEYS[1], f[3], id)
    end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`,
);

/** KEYS: apikey:{sha256}, apikeys. ARGV: id, sha256, field pairs (tagged)... */
export const KEY_CREATE = script(
  "keyCreate",
  `
apply_fields(KEYS[1], 3, (#ARGV - 2) / 2)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`,
);

/** KEYS: apikeys. ARGV: prefix. Returns the stored key hashes (flat); drops dangling index entries. */
export const KEY_LIST = script(
  "keyList",
  `
local index = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #index, 2 do
  local h = redis.call('HGETALL', ARGV[1] .. 'apikey:' .. index[i + 1])
  if #h == 0 then
    redis.call('HDEL', KEYS[1], index[i])
  else
    out[#out + 1] = h
  end
end
return out
`,
);

/** KEYS: apikeys. ARGV: prefix, id. Returns 1 when a key was revoked. */
export const KEY_REVOKE = script(
  "keyRevoke",
  `
local h = redis.call('HGET', KEYS[1], ARGV[2])
if not h then return 0 end
redis.call('DEL', ARGV[1] .. 'apikey:' .. h)
redis.call('HDEL', KEYS[1], ARGV[2])
return 1
`,
);
