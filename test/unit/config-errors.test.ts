import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.js";

/** Every invalid setting is a ConfigError naming the variable (exit 2 from the command). */
function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("configuration errors name the variable", () => {
  it("PORT above 65535", () => {
    expect(messageOf({ PORT: "70000" })).toMatch(/PORT/);
  });

  it("PIZZAPI_REDIS_URL that is not a redis URL, without echoing it (it may carry a password)", () => {
    const message = messageOf({ PIZZAPI_REDIS_URL: "notaurl" });
    expect(message).toMatch(/PIZZAPI_REDIS_URL/);
    expect(message).not.toContain("notaurl");
    expect(messageOf({ PIZZAPI_REDIS_URL: "http://user:s3cret@host:6379" })).not.toContain("s3cret");
  });

  it("accepts redis:// and rediss:// URLs and the off values", () => {
    expect(loadConfig({ PIZZAPI_REDIS_URL: "rediss://h:6380" }).redisUrl).toBe("rediss://h:6380");
    expect(loadConfig({ PIZZAPI_REDIS_URL: "Off" }).redisUrl).toBeNull();
  });

  it("PIZZAPI_TRUSTED_ORIGINS with something that is not an origin", () => {
    expect(messageOf({ PIZZAPI_TRUSTED_ORIGINS: "https://a.test,a.test" })).toMatch(/PIZZAPI_TRUSTED_ORIGINS/);
    expect(messageOf({ PIZZAPI_TRUSTED_ORIGINS: "https://a.test/path" })).toMatch(/PIZZAPI_TRUSTED_ORIGINS/);
  });

  it("PIZZAPI_TRUST_PROXY: off by default, on, a list, and refused otherwise", () => {
    expect(loadConfig({}).trustProxy).toEqual({ kind: "off" });
    expect(loadConfig({ PIZZAPI_TRUST_PROXY: "on" }).trustProxy).toEqual({ kind: "on" });
    expect(loadConfig({ PIZZAPI_TRUST_PROXY: "10.0.0.0/8" }).trustProxy).toEqual({ kind: "list", entries: ["10.0.0.0/8"] });
    expect(messageOf({ PIZZAPI_TRUST_PROXY: "sometimes" })).toMatch(/PIZZAPI_TRUST_PROXY: .*sometimes/);
  });
});
