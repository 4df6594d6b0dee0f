import { createHash } from "node:crypto";
import type { RelayRedisClient } from "../adapters.js";

/**
 * What the Redis state needs of a client: a connected node-redis client speaking RESP2 (created with
 * `REDIS_CLIENT_OPTIONS`, server/adapters.ts), since only `sendCommand` is used and its raw replies are
 * parsed as RESP2 (under RESP3, HGETALL would come back as a map).
 */
export type RedisCommandClient = Pick<RelayRedisClient, "sendCommand">;

/** A raw RESP2 reply as node-redis hands it back from `sendCommand` on a RESP2 connection. */
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

local function ended_set(prefix, uid)
  return prefix .. 'user:' .. uid .. ':ended'
end
`;

function script(name: string, body: string): LuaScript {
  return new LuaScript(name, PRELUDE + body);
}

/**
 * KEYS: record, snapshot, events, expiry zset, user set of the claimant, and optionally the pending
 * runner link of the id (passed only for a claim of the requested id: a "created" outcome consumes it).
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
if outcome == 'created' and KEYS[6] then
  local link = redis.call('HMGET', KEYS[6], 'runnerId', 'runnerName')
  if link[1] then
    redis.call('HSET', rec, 'runnerId', link[1])
    if link[2] then
      redis.call('HSET', rec, 'runnerName', link[2])
    else
      redis.call('HDEL', rec, 'runnerName')
    end
    redis.call('DEL', KEYS[6])
  end
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
 *       stateJson, expiresAt (tagged), nPatch, streamId ('' = no de-duplication), streamSeq,
 *       streamAfter ('' = none; PublishInput.dedupe.after), ownerUserId ('' = no owner check: the
 *       generation is checked instead; PublishInput.owner), ownerRunnerId, ephemeral ttlMs, ephemeral
 *       expiresAt (tagged), patch pairs...
 * Returns {1, seq}, {2} for a duplicate (nothing appended) or {0, reason}.
 */
export const PUBLISH = script(
  "publish",
  `
local rec, snap, events, zset = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', rec, 'live') ~= '1' then return {0, 'not_live'} end
local ttl_arg, expires_arg = ARGV[4], ARGV[12]
if ARGV[17] ~= '' then
  local owner = redis.call('HMGET', rec, 'userId', 'runnerId', 'isEphemeral')
  if owner[1] ~= ARGV[17] or owner[2] ~= ARGV[18] then return {0, 'not_owner'} end
  if owner[3] == '1' then ttl_arg, expires_arg = ARGV[19], ARGV[20] end
elseif redis.call('HGET', rec, 'generation') ~= ARGV[3] then return {0, 'stale'} end
if ARGV[14] ~= '' then
  local stream = redis.call('HMGET', rec, 'streamId', 'streamSeq')
  local position = nil
  if stream[1] == ARGV[14] then position = tonumber(stream[2]) end
  if position and tonumber(ARGV[15]) <= position then return {2} end
  if ARGV[16] ~= '' and (not position or position < tonumber(ARGV[16])) then return {0, 'gap'} end
end
local ttl, size, kind = tonumber(ttl_arg), tonumber(ARGV[5]), ARGV[6]
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
apply_fields(rec, 21, tonumber(ARGV[13]))
set_tagged(rec, 'expiresAt', expires_arg)
index_expiry(rec, zset, ARGV[1])
keep_set(user_set(ARGV[2], redis.call('HGET', rec, 'userId')), ttl)
-- last: Redis does not undo a script that fails midway, and a stream position stored without its
-- event would make the client's resend of it a duplicate
if ARGV[14] ~= '' then redis.call('HSET', rec, 'streamId', ARGV[14], 'streamSeq', ARGV[15]) end
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
local uid = redis.call('HGET', rec, 'userId')
redis.call('SREM', user_set(ARGV[2], uid), ARGV[1])
redis.call('SADD', ended_set(ARGV[2], uid), ARGV[1])
keep_set(ended_set(ARGV[2], uid), tonumber(ARGV[5]))
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

/**
 * KEYS: a user's session index (live or ended). ARGV: prefix, userId, wanted `live` flag ("1" or "0").
 * Returns the records (flat hashes) still in that state and owned by the user; drops the other members
 * (expired, ended, or claimed again), so the index never outlives its records for long.
 */
export const LIST_USER_SESSIONS = script(
  "listUserSessions",
  `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = redis.call('HGETALL', ARGV[1] .. 'session:' .. id)
  local live, owner
  for i = 1, #r, 2 do
    if r[i] == 'live' then live = r[i + 1] elseif r[i] == 'userId' then owner = r[i + 1] end
  end
  if live == ARGV[3] and owner == ARGV[2] then
    out[#out + 1] = r
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`,
);

/**
 * KEYS: user's live set. ARGV: prefix, userId, atMost. The user's live sessions counted up to atMost,
 * two fields read per session, nothing returned but the count; drops stale members as it goes.
 */
export const COUNT_USER_SESSIONS = script(
  "countUserSessions",
  `
local count = 0
local most = tonumber(ARGV[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. 'session:' .. id, 'live', 'userId')
  if f[1] == '1' and f[2] == ARGV[2] then
    count = count + 1
    if count >= most then return count end
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return count
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

/** KEYS: pending link. ARGV: ttlMs, runnerId, runnerName (tagged). Replaces any earlier link. */
export const SET_PENDING_LINK = script(
  "setPendingLink",
  `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'runnerId', ARGV[2])
set_tagged(KEYS[1], 'runnerName', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

/** KEYS: session record. ARGV: runnerId, runnerName (tagged). Returns the record, or nil unless live. */
export const LINK_RUNNER = script(
  "linkRunner",
  `
if redis.call('HGET', KEYS[1], 'live') ~= '1' then return false end
redis.call('HSET', KEYS[1], 'runnerId', ARGV[1])
set_tagged(KEYS[1], 'runnerName', ARGV[2])
return redis.call('HGETALL', KEYS[1])
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

// ---------------------------------------------------------------------------------------------------
// Runners. See redis-runners.ts for the layout.

const RUNNER_PRELUDE = `
local function runner_set(prefix, uid)
  return prefix .. 'user:' .. uid .. ':runners'
end
`;

/** KEYS: runner secret. ARGV: sha256 of the secret, userId. Returns "ok", "secret_mismatch" or "other_user". */
export const RUNNER_BIND_SECRET = script(
  "runnerBindSecret",
  `
local bound = redis.call('HMGET', KEYS[1], 'hash', 'userId')
if not bound[1] then
  redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'userId', ARGV[2])
  return 'ok'
end
if bound[1] ~= ARGV[1] then return 'secret_mismatch' end
if bound[2] ~= ARGV[2] then return 'other_user' end
return 'ok'
`,
);

/**
 * KEYS: runner record, runner set of the registering user. ARGV: prefix, runnerId, ttlMs, field pairs
 * (tagged)... Keeps the live predecessor's session fields; returns the new record (HGETALL).
 */
export const RUNNER_REGISTER = script(
  "runnerRegister",
  RUNNER_PRELUDE +
    `
local rec, uset = KEYS[1], KEYS[2]
local prefix, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local gen = 1
local prev = redis.call('HMGET', rec, 'generation', 'userId')
if prev[1] then
  gen = tonumber(prev[1]) + 1
  if prev[2] then
    local old = runner_set(prefix, prev[2])
    if old ~= uset then redis.call('SREM', old, id) end
  end
end
apply_fields(rec, 4, (#ARGV - 3) / 2)
redis.call('HSET', rec, 'generation', gen)
local out = redis.call('HGETALL', rec)
redis.call('PEXPIRE', rec, ttl)
if ttl > 0 then
  redis.call('SADD', uset, id)
  keep_set(uset, ttl)
end
return out
`,
);

/** KEYS: runner record. ARGV: prefix, generation, ttlMs. Returns 1 when refreshed. */
export const RUNNER_REFRESH = script(
  "runnerRefresh",
  RUNNER_PRELUDE +
    `
local cur = redis.call('HMGET', KEYS[1], 'generation', 'userId')
if cur[1] ~= ARGV[2] then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
if cur[2] then keep_set(runner_set(ARGV[1], cur[2]), ttl) end
return 1
`,
);

/** KEYS: runner record. ARGV: prefix, generation, runnerId. Returns 1 when removed. */
export const RUNNER_REMOVE = script(
  "runnerRemove",
  RUNNER_PRELUDE +
    `
local cur = redis.call('HMGET', KEYS[1], 'generation', 'userId')
if cur[1] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if cur[2] then redis.call('SREM', runner_set(ARGV[1], cur[2]), ARGV[3]) end
return 1
`,
);

/**
 * KEYS: an index set of ids. ARGV: record key prefix (e.g. "<prefix>runner:"), field, expected value.
 * Returns HGETALL of every member whose record still has field = expected, and drops the others (the
 * record expired or moved), so indexes never outlive their records for long. Used for a user's runners
 * and a runner's terminals.
 */
export const LIST_INDEXED = script(
  "listIndexed",
  `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rec = ARGV[1] .. id
  if redis.call('HGET', rec, ARGV[2]) == ARGV[3] then
    out[#out + 1] = redis.call('HGETALL', rec)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`,
);

/** KEYS: a hash. ARGV: field, value. Sets the field only if the hash exists (never resurrects it). */
export const HSET_IF_EXISTS = script(
  "hsetIfExists",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`,
);

/** KEYS: runner record. ARGV: session field. Adds the session (numbered in order) unless present. */
export const RUNNER_ADD_SESSION = script(
  "runnerAddSession",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], redis.call('HINCRBY', KEYS[1], 'sessionCounter', 1))
return 1
`,
);

// ---------------------------------------------------------------------------------------------------
// Terminals. See redis-terminals.ts for the layout. The frame text is never decoded.

const TERMINAL_PRELUDE = `
local function terminal_set(prefix, runner)
  return prefix .. 'runner:' .. runner .. ':terminals'
end

-- gives a runner's terminal set the longest TTL of its members (none if one has none); drops stale ones
local function cover_set(key, prefix)
  local max = 0
  for _, m in ipairs(redis.call('SMEMBERS', key)) do
    local t = redis.call('PTTL', prefix .. 'terminal:' .. m)
    if t == -2 then
      redis.call('SREM', key, m)
    elseif t == -1 then
      redis.call('PERSIST', key)
      return
    elseif t > max then
      max = t
    end
  end
  if max > 0 then redis.call('PEXPIRE', key, max) end
end

-- adds a terminal whose record has just been given ttl (false: no TTL) to its runner's set, whose TTL
-- must outlast every member's
local function index_terminal(key, prefix, id, ttl)
  local t = redis.call('PTTL', key)
  redis.call('SADD', key, id)
  if not ttl then
    redis.call('PERSIST', key)
  elseif t == -1 then
    cover_set(key, prefix)
  elseif t == -2 or t < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
`;

function terminalScript(name: string, body: string): LuaScript {
  return script(name, TERMINAL_PRELUDE + body);
}

/**
 * KEYS: record, buffer, runner's terminal set. ARGV: prefix, terminalId, ttlMs, field pairs (tagged)...
 * Replaces any earlier terminal of that id (and its buffer).
 */
export const TERMINAL_CREATE = terminalScript(
  "terminalCreate",
  `
local rec, buf, tset = KEYS[1], KEYS[2], KEYS[3]
local prefix, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local old = redis.call('HGET', rec, 'runnerId')
if old then redis.call('SREM', terminal_set(prefix, old), id) end
redis.call('DEL', rec, buf)
if ttl <= 0 then return 0 end
apply_fields(rec, 4, (#ARGV - 3) / 2)
redis.call('HSET', rec, 'bufferBytes', '0')
redis.call('PEXPIRE', rec, ttl)
index_terminal(tset, prefix, id, ttl)
return 1
`,
);

/**
 * KEYS: record, buffer. ARGV: prefix, terminalId, ttl ("keep", "persist" or ms), field pairs (tagged)...
 * Returns the record after the change, or nil if there is none.
 */
export const TERMINAL_UPDATE = terminalScript(
  "terminalUpdate",
  `
local rec, buf = KEYS[1], KEYS[2]
local prefix, id, mode = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', rec) == 0 then return false end
apply_fields(rec, 4, (#ARGV - 3) / 2)
local tset = terminal_set(prefix, redis.call('HGET', rec, 'runnerId'))
if mode == 'persist' then
  redis.call('PERSIST', rec)
  redis.call('PERSIST', buf)
  index_terminal(tset, prefix, id, false)
elseif mode ~= 'keep' then
  local ttl = tonumber(mode)
  if ttl <= 0 then
    redis.call('DEL', rec, buf)
    redis.call('SREM', tset, id)
    return false
  end
  redis.call('PEXPIRE', rec, ttl)
  redis.call('PEXPIRE', buf, ttl)
  index_terminal(tset, prefix, id, ttl)
end
return redis.call('HGETALL', rec)
`,
);

/** KEYS: record, buffer. ARGV: prefix, terminalId. */
export const TERMINAL_DELETE = terminalScript(
  "terminalDelete",
  `
local runner = redis.call('HGET', KEYS[1], 'runnerId')
redis.call('DEL', KEYS[1], KEYS[2])
if runner then redis.call('SREM', terminal_set(ARGV[1], runner), ARGV[2]) end
return 1
`,
);

/**
 * KEYS: record, buffer. ARGV: frame text, maxBytes. Returns {live, known} as 1/0. Without a viewer the
 * frame is appended and the oldest frames dropped while the buffer holds more than maxBytes; the
 * record's bufferBytes keeps the running total, so this costs O(dropped). The buffer takes the
 * record's TTL.
 */
export const TERMINAL_FRAME = terminalScript(
  "terminalFrame",
  `
local rec, buf = KEYS[1], KEYS[2]
if redis.call('EXISTS', rec) == 0 then return {0, 0} end
if redis.call('HEXISTS', rec, 'viewer') == 1 then return {1, 1} end
local max = tonumber(ARGV[2])
local bytes = #ARGV[1]
if redis.call('RPUSH', buf, ARGV[1]) > 1 then
  bytes = bytes + (tonumber(redis.call('HGET', rec, 'bufferBytes')) or 0)
end
while bytes > max do
  local oldest = redis.call('LPOP', buf)
  if not oldest then
    bytes = 0
    break
  end
  bytes = bytes - #oldest
end
redis.call('HSET', rec, 'bufferBytes', bytes)
local t = redis.call('PTTL', rec)
if t == -1 then
  redis.call('PERSIST', buf)
elseif t > 0 then
  redis.call('PEXPIRE', buf, t)
end
return {0, 1}
`,
);

/** KEYS: record, buffer. ARGV: viewer. Returns nil, or {record, buffered frames oldest first}. */
export const TERMINAL_ATTACH = terminalScript(
  "terminalAttach",
  `
local rec, buf = KEYS[1], KEYS[2]
if redis.call('EXISTS', rec) == 0 then return false end
redis.call('HSET', rec, 'viewer', ARGV[1], 'bufferBytes', '0')
local buffered = redis.call('LRANGE', buf, 0, -1)
redis.call('DEL', buf)
return {redis.call('HGETALL', rec), buffered}
`,
);

/** KEYS: record. ARGV: viewer. Clears the viewer iff it is ARGV[1]; returns the record or nil. */
export const TERMINAL_DETACH = terminalScript(
  "terminalDetach",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HGET', KEYS[1], 'viewer') == ARGV[1] then redis.call('HDEL', KEYS[1], 'viewer') end
return redis.call('HGETALL', KEYS[1])
`,
);
