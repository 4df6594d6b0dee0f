import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.js";

/** loadConfig reads only the env object it is given, so every case here is a plain object. */

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("loadConfig defaults (legacy names keep their legacy defaults)", () => {
  const config = loadConfig({});

  it("uses the legacy defaults", () => {
    expect(config.port).toBe(3000);
    expect(config.ephemeralTtlMs).toBe(600_000);
    expect(config.ephemeralSweepMs).toBe(60_000);
    expect(config.eventBufferSize).toBe(1000);
    expect(config.eventTtlMs).toBe(86_400_000);
    expect(config.baseUrl).toBe("http://localhost:5173");
  });

  it("runs embedded (no Redis) with the redis-streams adapter selected", () => {
    expect(config.redisUrl).toBeNull();
    expect(config.adapter).toBe("redis-streams");
    expect(config.redisPrefix).toBe("pizzapi:relay:");
  });

  it("trusts the base URL's origin, keeps data under the home directory, names the node after host and pid", () => {
    expect(config.trustedOrigins).toEqual(["http://localhost:5173"]);
    expect(config.dataDir).toBe(join(homedir(), ".pizzapi-relay"));
    expect(config.nodeId).toBe(`${hostname()}:${process.pid}`);
    expect(config.host).toBe("0.0.0.0");
    expect(config.logLevel).toBe("info");
    expect(config.cliReconnectGraceMs).toBe(10_000);
  });

  it("does not read process.env when given an env object", () => {
    const saved = process.env.PORT;
    process.env.PORT = "4321";
    try {
      expect(loadConfig({}).port).toBe(3000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});

describe("loadConfig values", () => {
  it("parses numbers from strings", () => {
    const c = loadConfig({
      PORT: "8080",
      PIZZAPI_EPHEMERAL_TTL_MS: "200",
      PIZZAPI_EPHEMERAL_SWEEP_MS: "50",
      PIZZAPI_RELAY_EVENT_BUFFER_SIZE: "5",
      PIZZAPI_RELAY_EVENT_TTL_MS: "1000",
      PIZZAPI_CLI_RECONNECT_GRACE_MS: "0",
    });
    expect([c.port, c.ephemeralTtlMs, c.ephemeralSweepMs, c.eventBufferSize, c.eventTtlMs, c.cliReconnectGraceMs]).toEqual([8080, 200, 50, 5, 1000, 0]);
  });

  it.each([["off"], ["disabled"], ["none"], [""], ["OFF"], ["  None  "], ["   "]])("PIZZAPI_REDIS_URL=%j means embedded (null)", (value) => {
    expect(loadConfig({ PIZZAPI_REDIS_URL: value }).redisUrl).toBeNull();
  });

  it("defaults by mode: no recovery in either mode, no drain embedded and a 5 s drain in a cluster; an explicit value wins", () => {
    const embedded = loadConfig({});
    const cluster = loadConfig({ PIZZAPI_REDIS_URL: "redis://127.0.0.1:6379" });
    expect([embedded.recoveryWindowMs, embedded.drainDelayMs]).toEqual([0, 0]);
    expect([cluster.recoveryWindowMs, cluster.drainDelayMs]).toEqual([0, 5_000]);
    const explicit = loadConfig({ PIZZAPI_REDIS_URL: "redis://127.0.0.1:6379", PIZZAPI_RECOVERY_WINDOW_MS: "60000", PIZZAPI_DRAIN_DELAY_MS: "0" });
    expect([explicit.recoveryWindowMs, explicit.drainDelayMs]).toEqual([60_000, 0]);
    expect(cluster.shutdownSpreadMs).toBe(3_000);
    expect(loadConfig({ PIZZAPI_RECOVERY_WINDOW_MS: "120000" }).recoveryWindowMs).toBe(120_000);
  });

  it("folds a CLI's event_ack to one per second by default; 0 sends one per event", () => {
    expect(loadConfig({}).ackIntervalMs).toBe(1_000);
    expect(loadConfig({ PIZZAPI_ACK_INTERVAL_MS: "0" }).ackIntervalMs).toBe(0);
  });

  it("bounds the embedded recovery buffer at 64 MiB by default, at least 64 KiB", () => {
    expect(loadConfig({}).recoveryBufferBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ PIZZAPI_RECOVERY_BUFFER_BYTES: "1048576" }).recoveryBufferBytes).toBe(1_048_576);
    expect(configError({ PIZZAPI_RECOVERY_BUFFER_BYTES: "1000" }).message).toContain("PIZZAPI_RECOVERY_BUFFER_BYTES");
  });

  it("keeps a real Redis URL, trimmed", () => {
    expect(loadConfig({ PIZZAPI_REDIS_URL: " redis://127.0.0.1:6380/2 " }).redisUrl).toBe("redis://127.0.0.1:6380/2");
  });

  it("defaults the trusted origins to the origin of PIZZAPI_BASE_URL (no path, no trailing slash)", () => {
    const c = loadConfig({ PIZZAPI_BASE_URL: "https://pizza.example.com:8443/app/" });
    expect(c.baseUrl).toBe("https://pizza.example.com:8443/app");
    expect(c.trustedOrigins).toEqual(["https://pizza.example.com:8443"]);
  });

  it("takes an explicit comma list of trusted origins, trimmed, without trailing slashes or empties", () => {
    const c = loadConfig({ PIZZAPI_BASE_URL: "https://a.test", PIZZAPI_TRUSTED_ORIGINS: " https://b.test/ ,,https://c.test:8080 , " });
    expect(c.trustedOrigins).toEqual(["https://b.test", "https://c.test:8080"]);
  });

  it.each([["redis-streams"], ["redis"], ["redis-sharded"]])("accepts adapter %s", (adapter) => {
    expect(loadConfig({ PIZZAPI_SIO_ADAPTER: adapter }).adapter).toBe(adapter);
  });
});

describe("loadConfig refuses invalid values with a ConfigError naming the variable", () => {
  it.each([
    ["PORT", "http"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["PIZZAPI_BASE_URL", "not a url"],
    ["PIZZAPI_SIO_ADAPTER", "kafka"],
    ["PIZZAPI_EPHEMERAL_TTL_MS", "0"],
    ["PIZZAPI_EPHEMERAL_SWEEP_MS", "5"],
    ["PIZZAPI_RELAY_EVENT_BUFFER_SIZE", "0"],
    ["PIZZAPI_RELAY_EVENT_TTL_MS", "soon"],
    ["PIZZAPI_LOG_LEVEL", "verbose"],
    ["PIZZAPI_CLI_RECONNECT_GRACE_MS", "-5"],
  ])("%s=%j", (name, value) => {
    const err = configError({ [name]: value });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ConfigError");
    expect(err.message).toContain(name);
  });

  it("treats an empty value as unset: the default applies", () => {
    const config = loadConfig({ PORT: "", PIZZAPI_EPHEMERAL_TTL_MS: " ", PIZZAPI_REDIS_PREFIX: "", PIZZAPI_SIO_ADAPTER: "" });
    expect(config).toMatchObject({ port: 3000, ephemeralTtlMs: 600_000, redisPrefix: "pizzapi:relay:", adapter: "redis-streams" });
  });

  it("names every invalid variable at once", () => {
    const err = configError({ PORT: "x", PIZZAPI_SIO_ADAPTER: "kafka" });
    expect(err.message).toContain("PORT");
    expect(err.message).toContain("PIZZAPI_SIO_ADAPTER");
  });
});
