import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseTrustProxy, type TrustProxy } from "./http/client-address.js";

/**
 * Configuration from the environment. Every variable is listed in README.md ("Configuration"); the
 * legacy names keep their legacy meaning and defaults (docs/legacy-protocol.md sections 2.9 and 8).
 */

const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback);

const ADAPTERS = ["redis-streams", "redis", "redis-sharded"] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

/** The schema of a group of settings: environment variable → its validated value, each with `.describe()`. */
export type SettingsSchema = z.ZodObject;

/** `PIZZAPI_REDIS_URL` values that mean embedded single-node mode. */
const REDIS_OFF = new Set(["", "off", "disabled", "none"]);

const redisUrlSetting = z
  .string()
  .refine((v) => REDIS_OFF.has(v.trim().toLowerCase()) || isRedisUrl(v.trim()), "expected a redis:// or rediss:// URL, or off")
  .optional();

const trustProxy = z
  .string()
  .superRefine((v, ctx) => {
    const parsed = parseTrustProxy(v);
    if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
  })
  .optional();

const origins = z
  .string()
  .refine((v) => splitOrigins(v).every(isOrigin), "expected a comma list of origins (scheme://host[:port])")
  .optional();

/**
 * The relay's settings: each with its one-line meaning, which `start --help` prints (README,
 * "Configuration", has the long form). The bridge and the migration plane declare theirs the same way.
 */
export const EnvSchema = z.object({
  PORT: int(3000, 0, 65_535).describe("HTTP port for REST and Socket.IO (0: any free port)"),
  PIZZAPI_HOST: z.string().default("0.0.0.0").describe("address to bind"),
  PIZZAPI_BASE_URL: z.string().url().default("http://localhost:5173").describe("public URL of the web UI (share links; https: makes the login cookie Secure)"),
  PIZZAPI_REDIS_URL: redisUrlSetting.describe("redis:// URL: cluster mode; unset or off: embedded single-node mode"),
  PIZZAPI_REDIS_PREFIX: z.string().min(1).default("pizzapi:relay:").describe("prefix of every Redis key and adapter channel"),
  PIZZAPI_SIO_ADAPTER: z.enum(ADAPTERS).default("redis-streams").describe("cluster adapter: redis-streams, redis or redis-sharded"),
  PIZZAPI_EPHEMERAL_TTL_MS: int(600_000, 1).describe("an ephemeral session expires this long after its last activity"),
  PIZZAPI_EPHEMERAL_SWEEP_MS: int(60_000, 10).describe("how often each node sweeps expired sessions"),
  PIZZAPI_RELAY_EVENT_BUFFER_SIZE: int(1000, 1).describe("events kept per session in the replay log"),
  PIZZAPI_RELAY_EVENT_TTL_MS: int(86_400_000, 1).describe("lifetime of a non-ephemeral session's log and snapshot"),
  PIZZAPI_TRUSTED_ORIGINS: origins.describe("comma list of origins allowed to use the login cookie and CORS (default: origin of PIZZAPI_BASE_URL)"),
  PIZZAPI_TRUST_PROXY: trustProxy.describe("off, on (the TCP peer is a proxy) or a comma list of proxy addresses/subnets: believe X-Forwarded-For/-Proto"),
  PIZZAPI_DATA_DIR: z.string().optional().describe("embedded mode's folder for the API key file (default: ~/.pizzapi-relay)"),
  PIZZAPI_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("fatal … trace, or silent"),
  PIZZAPI_LOGIN_TTL_MS: int(7 * 86_400_000, 1).describe("lifetime of a browser login"),
  PIZZAPI_RECOVERY_WINDOW_MS: z.coerce.number().int().min(0).optional().describe("Socket.IO connection state recovery window in ms (default 0: off; clients resume by seq)"),
  // 64 MiB: a 120 s window at ~500 KB/s of events, or four of the largest (16 MiB) frames (README).
  PIZZAPI_RECOVERY_BUFFER_BYTES: int(64 * 1024 * 1024, 65_536).describe("embedded mode: bytes of emitted packets kept for connection state recovery"),
  PIZZAPI_SIO_STREAM_MAXLEN: int(100_000, 1_000).describe("entries the redis-streams adapter keeps in its stream"),
  PIZZAPI_PRESENCE_TIMEOUT_MS: int(2_000, 1).describe("timeout of cluster presence look-ups"),
  PIZZAPI_SHUTDOWN_GRACE_MS: int(10_000, 0).describe("after the drain delay, how long a stopping node waits for its clients to go"),
  PIZZAPI_DRAIN_DELAY_MS: z.coerce.number().int().min(0).optional().describe("after SIGTERM, how long /readyz answers 503 while serving (default: 5000 with Redis, 0 embedded)"),
  PIZZAPI_SHUTDOWN_SPREAD_MS: int(3_000, 0).describe("over how long a stopping node closes its connections"),
  PIZZAPI_CLI_RECONNECT_GRACE_MS: int(10_000, 0).describe("how long a session outlives its CLI's lost connection"),
  PIZZAPI_RUNNER_TTL_MS: int(90_000, 1_000).describe("lifetime of a runner's record unless its node refreshes it"),
  PIZZAPI_RUNNER_RECONNECT_GRACE_MS: int(10_000, 0).describe("how long a runner's record and terminals outlive its lost connection"),
  PIZZAPI_SPAWN_TIMEOUT_MS: int(5_000, 1).describe("how long POST /api/runners/spawn waits for the runner's answer"),
  PIZZAPI_SKILL_TIMEOUT_MS: int(10_000, 1).describe("how long a skill route waits for the runner"),
  PIZZAPI_PENDING_LINK_TTL_MS: int(120_000, 1).describe("how long a spawned session's runner link waits for the session"),
  PIZZAPI_TERMINAL_BUFFER_BYTES: int(1_048_576, 1_024).describe("terminal output kept per terminal while no browser is attached"),
  PIZZAPI_VAPID_PUBLIC_KEY: z.string().optional().describe("Web Push (VAPID) public key; push is off unless both keys are set"),
  PIZZAPI_VAPID_PRIVATE_KEY: z.string().optional().describe("Web Push (VAPID) private key"),
  PIZZAPI_VAPID_SUBJECT: z.string().default("mailto:admin@localhost").describe("VAPID sub claim: a mailto: or https: contact"),
  PIZZAPI_PUSH_TIMEOUT_MS: int(10_000, 1).describe("timeout of one push delivery"),
  PIZZAPI_RUNNER_TOKEN: z.string().optional().describe("shared token of old runners"),
  PIZZAPI_NODE_ID: z.string().optional().describe("node name in logs and /healthz (default: <hostname>:<pid>)"),
  PIZZAPI_MAX_JSON_DEPTH: int(64, 8).describe("deepest nesting accepted in a client's payload or legacy frame"),
  PIZZAPI_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional().describe("serve Prometheus /metrics on this port of its own, unauthenticated"),
  PIZZAPI_METRICS_HOST: z.string().optional().describe("address the metrics port binds to (default: 127.0.0.1)"),
  PIZZAPI_METRICS_TOKEN: z.string().min(16, "use at least 16 characters").optional().describe("serve /metrics on the main port for this bearer token"),
  PIZZAPI_ADMIN_UI: z.enum(["on", "off"]).default("off").describe("on: serve the Socket.IO Admin UI at /admin/socketio/"),
  PIZZAPI_STATE_TIMEOUT_MS: int(3_000, 100).describe("every shared-state (Redis) call answers within this or counts as unavailable"),
  PIZZAPI_REVOCATION_CHECK_MS: int(2_000, 100).describe("how often each node checks that its connections' API keys still exist"),
  PIZZAPI_EPOCH_CHECK_MS: int(2_000, 100).describe("how often each node checks that shared state was not wiped"),
  PIZZAPI_REDIS_LOST_MOVE_MS: int(3_000, 0).describe("a node without Redis this long moves its clients to other nodes (0: never)"),
  PIZZAPI_MAX_FIELD_BYTES: int(4_096, 64).describe("longest text field of a session or runner"),
  PIZZAPI_MAX_SESSIONS_PER_USER: int(100, 1).describe("live sessions per user"),
  PIZZAPI_HUB_MAX_SESSIONS: int(200, 1).describe("sessions a hub's list carries at most"),
  PIZZAPI_MAX_EVENTS_PER_SECOND: int(200, 1).describe("client events per second per connection (bursts up to twice that)"),
  PIZZAPI_ACK_INTERVAL_MS: int(1_000, 0).describe("a CLI's event_ack is written at most about once per this interval: folded for Socket.IO CLIs, batched for legacy ones (0: each at once)"),
  PIZZAPI_REDIS_CONNECT_TIMEOUT_MS: int(30_000, 1_000).describe("a node that cannot reach Redis at start exits after this"),
});

export interface RelayConfig {
  port: number;
  host: string;
  baseUrl: string;
  /** null: embedded single-node mode (in-memory state and adapter). */
  redisUrl: string | null;
  /** Prefix of every Redis key and channel of this relay (state and adapter), so relays can share a Redis. */
  redisPrefix: string;
  adapter: AdapterKind;
  ephemeralTtlMs: number;
  ephemeralSweepMs: number;
  eventBufferSize: number;
  eventTtlMs: number;
  trustedOrigins: string[];
  /** Which peers are proxies whose X-Forwarded-For/-Proto are believed (server/http/client-address.ts). */
  trustProxy: TrustProxy;
  dataDir: string;
  logLevel: z.infer<typeof EnvSchema>["PIZZAPI_LOG_LEVEL"];
  loginTtlMs: number;
  /** Connection state recovery window (redis-streams and embedded modes); 0 disables recovery. */
  recoveryWindowMs: number;
  /**
   * Embedded mode: bytes of emitted packets kept for connection state recovery (estimated from their
   * JSON length); beyond, the oldest are dropped and the clients that missed them are not recovered
   * but reconnect afresh and resume at the application level (docs/protocol.md, "Reconnection").
   */
  recoveryBufferBytes: number;
  /** Entries the redis-streams adapter keeps: how far behind a node may fall before it skips broadcasts. */
  streamMaxLen: number;
  presenceTimeoutMs: number;
  /** After the drain delay: how long moving the clients off and closing may take before the process exits anyway. */
  shutdownGraceMs: number;
  /**
   * After SIGTERM, how long the node keeps serving with `/readyz` at 503 so that the load balancer stops
   * sending it new clients before it moves its own (docs/operations.md, "Rolling restarts and faults").
   */
  drainDelayMs: number;
  /**
   * Over how long a stopping node closes its connections (in batches), so that its clients do not all
   * reconnect to the other nodes in the same instant (legacy clients all wait exactly 1 s).
   */
  shutdownSpreadMs: number;
  /** How long a session outlives its CLI's lost connection, waiting for it to come back to any node. */
  cliReconnectGraceMs: number;
  /** A runner record lives this long unless its node refreshes it (every third of it). */
  runnerTtlMs: number;
  /** How long a runner's terminals and record outlive its lost connection, waiting for it to return. */
  runnerReconnectGraceMs: number;
  spawnTimeoutMs: number;
  skillTimeoutMs: number;
  /** How long a spawned session's runner link waits for the session to register. */
  pendingLinkTtlMs: number;
  /** Output kept per terminal while no browser is attached (oldest dropped first). */
  terminalBufferBytes: number;
  /** Web Push (VAPID) keys; push notifications are off unless both are set. */
  vapid: { publicKey: string; privateKey: string; subject: string } | null;
  /** Timeout of one push delivery request. */
  pushTimeoutMs: number;
  /** Shared token of old runners (`Authorization: Bearer` on /ws/runner, `auth.runnerToken` on /runner). */
  runnerToken: string | null;
  nodeId: string;
  /**
   * Deepest nesting of objects and arrays accepted in a client's frame or payload (both stacks). Deeper
   * input is refused before anything walks it recursively: thousands of levels overflow the stack.
   */
  maxJsonDepth: number;
  /**
   * Where `/metrics` is served: on its own port (`port`, on `host`), and/or on the main port behind
   * `Authorization: Bearer <token>`; null: not served at all (never public by accident).
   */
  metrics: { port: number | null; host: string; token: string | null };
  /** Instrument the node for the Socket.IO Admin UI (served at /admin/socketio/, admin credential). */
  adminUi: boolean;
  /** Every shared-state call answers within this, or counts as unavailable (503, `unavailable`). */
  stateTimeoutMs: number;
  /** A node that cannot reach Redis at start exits (code 1) after this, instead of hanging. */
  redisConnectTimeoutMs: number;
  /** How often each node checks that the API keys of its live connections still exist. */
  revocationCheckMs: number;
  /** At most one `event_ack` per CLI connection per this interval, beyond the first (0: one per event). */
  ackIntervalMs: number;
  /** How often each node checks that shared state was not wiped (the Redis epoch key). */
  epochCheckMs: number;
  /** A node without Redis for this long sends its clients to other nodes (0: never). */
  redisLostMoveMs: number;
  /** Limits on what one client can make a node keep or do (docs/protocol.md, "Limits and hostile input"). */
  limits: {
    /** Bytes of a session's or runner's text fields: cwd, session name, runner name, each root. */
    fieldBytes: number;
    /** Live sessions one user may have (a new register beyond is refused `limit_exceeded`). */
    sessionsPerUser: number;
    /** Sessions a hub's list carries at most (the most recently started). */
    hubSessions: number;
    /** Client events per second per connection (bursts up to twice that). */
    eventsPerSecond: number;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Reads settings from the environment with a schema: an empty value means "unset" (as for
 * PIZZAPI_REDIS_URL: the default applies); every invalid variable is named in one ConfigError (exit 2).
 * The relay's, the bridge's and the migration plane's settings are all read this way.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${detail}`);
  }
  return parsed.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const e = parseEnv(EnvSchema, env);
  const redisRaw = (env.PIZZAPI_REDIS_URL ?? "").trim() === "" ? undefined : e.PIZZAPI_REDIS_URL?.trim();
  const redisUrl = redisRaw === undefined || REDIS_OFF.has(redisRaw.toLowerCase()) ? null : redisRaw;
  const baseUrl = e.PIZZAPI_BASE_URL.replace(/\/+$/, "");
  const trustedOrigins = splitOrigins(e.PIZZAPI_TRUSTED_ORIGINS ?? new URL(baseUrl).origin);
  const trust = parseTrustProxy(e.PIZZAPI_TRUST_PROXY);
  return {
    port: e.PORT,
    host: e.PIZZAPI_HOST,
    baseUrl,
    redisUrl,
    redisPrefix: e.PIZZAPI_REDIS_PREFIX,
    adapter: e.PIZZAPI_SIO_ADAPTER,
    ephemeralTtlMs: e.PIZZAPI_EPHEMERAL_TTL_MS,
    ephemeralSweepMs: e.PIZZAPI_EPHEMERAL_SWEEP_MS,
    eventBufferSize: e.PIZZAPI_RELAY_EVENT_BUFFER_SIZE,
    eventTtlMs: e.PIZZAPI_RELAY_EVENT_TTL_MS,
    trustedOrigins,
    trustProxy: typeof trust === "string" ? { kind: "off" } : trust,
    dataDir: e.PIZZAPI_DATA_DIR ?? join(homedir(), ".pizzapi-relay"),
    logLevel: e.PIZZAPI_LOG_LEVEL,
    loginTtlMs: e.PIZZAPI_LOGIN_TTL_MS,
    // Off by default in a cluster: the redis-streams adapter restores a session by reading its stream
    // from the client's offset to the end, for every reconnecting socket, which swamped the nodes a
    // rolling restart moved 400 clients to (docs/operations.md, "Rolling restarts and faults").
    recoveryWindowMs: e.PIZZAPI_RECOVERY_WINDOW_MS ?? 0,
    recoveryBufferBytes: e.PIZZAPI_RECOVERY_BUFFER_BYTES,
    streamMaxLen: e.PIZZAPI_SIO_STREAM_MAXLEN,
    presenceTimeoutMs: e.PIZZAPI_PRESENCE_TIMEOUT_MS,
    shutdownGraceMs: e.PIZZAPI_SHUTDOWN_GRACE_MS,
    // A single embedded node has no load balancer to wait for.
    drainDelayMs: e.PIZZAPI_DRAIN_DELAY_MS ?? (redisUrl ? 5_000 : 0),
    shutdownSpreadMs: e.PIZZAPI_SHUTDOWN_SPREAD_MS,
    cliReconnectGraceMs: e.PIZZAPI_CLI_RECONNECT_GRACE_MS,
    runnerTtlMs: e.PIZZAPI_RUNNER_TTL_MS,
    runnerReconnectGraceMs: e.PIZZAPI_RUNNER_RECONNECT_GRACE_MS,
    spawnTimeoutMs: e.PIZZAPI_SPAWN_TIMEOUT_MS,
    skillTimeoutMs: e.PIZZAPI_SKILL_TIMEOUT_MS,
    pendingLinkTtlMs: e.PIZZAPI_PENDING_LINK_TTL_MS,
    terminalBufferBytes: e.PIZZAPI_TERMINAL_BUFFER_BYTES,
    vapid:
      e.PIZZAPI_VAPID_PUBLIC_KEY && e.PIZZAPI_VAPID_PRIVATE_KEY
        ? { publicKey: e.PIZZAPI_VAPID_PUBLIC_KEY, privateKey: e.PIZZAPI_VAPID_PRIVATE_KEY, subject: e.PIZZAPI_VAPID_SUBJECT }
        : null,
    pushTimeoutMs: e.PIZZAPI_PUSH_TIMEOUT_MS,
    runnerToken: e.PIZZAPI_RUNNER_TOKEN ?? null,
    nodeId: e.PIZZAPI_NODE_ID ?? `${hostname()}:${process.pid}`,
    maxJsonDepth: e.PIZZAPI_MAX_JSON_DEPTH,
    // The metrics port is unauthenticated: it binds to loopback unless told otherwise.
    metrics: { port: e.PIZZAPI_METRICS_PORT ?? null, host: e.PIZZAPI_METRICS_HOST ?? "127.0.0.1", token: e.PIZZAPI_METRICS_TOKEN ?? null },
    adminUi: e.PIZZAPI_ADMIN_UI === "on",
    stateTimeoutMs: e.PIZZAPI_STATE_TIMEOUT_MS,
    redisConnectTimeoutMs: e.PIZZAPI_REDIS_CONNECT_TIMEOUT_MS,
    revocationCheckMs: e.PIZZAPI_REVOCATION_CHECK_MS,
    ackIntervalMs: e.PIZZAPI_ACK_INTERVAL_MS,
    epochCheckMs: e.PIZZAPI_EPOCH_CHECK_MS,
    redisLostMoveMs: e.PIZZAPI_REDIS_LOST_MOVE_MS,
    limits: {
      fieldBytes: e.PIZZAPI_MAX_FIELD_BYTES,
      sessionsPerUser: e.PIZZAPI_MAX_SESSIONS_PER_USER,
      hubSessions: e.PIZZAPI_HUB_MAX_SESSIONS,
      eventsPerSecond: e.PIZZAPI_MAX_EVENTS_PER_SECOND,
    },
  };
}

function splitOrigins(text: string): string[] {
  return text
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o) => o.length > 0);
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text.toLowerCase();
  } catch {
    return false;
  }
}

function isRedisUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
  } catch {
    return false;
  }
}
