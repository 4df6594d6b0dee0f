import { describe, expect, it } from "vitest";
import { isTrustedOrigin } from "../../server/auth/origin.js";

/** Cookie handshakes must come from a trusted Origin (cross-site WebSocket hijacking, docs/architecture.md 6). */

const trusted = ["http://relay.test", "https://app.example.com:8443"];

describe("isTrustedOrigin", () => {
  it("accepts a request without an Origin (non-browser client or same-origin page)", () => {
    expect(isTrustedOrigin(undefined, trusted)).toBe(true);
    expect(isTrustedOrigin("", trusted)).toBe(true);
    expect(isTrustedOrigin(undefined, [])).toBe(true);
  });

  it("accepts each trusted origin exactly", () => {
    expect(isTrustedOrigin("http://relay.test", trusted)).toBe(true);
    expect(isTrustedOrigin("https://app.example.com:8443", trusted)).toBe(true);
  });

  it("tolerates a trailing slash and surrounding whitespace", () => {
    expect(isTrustedOrigin("http://relay.test/", trusted)).toBe(true);
    expect(isTrustedOrigin(" https://app.example.com:8443 ", trusted)).toBe(true);
  });

  it.each([
    ["another site", "http://evil.test"],
    ["another scheme", "https://relay.test"],
    ["another port", "http://relay.test:8080"],
    ["the same host on its default port", "https://app.example.com"],
    ["a subdomain", "http://sub.relay.test"],
    ["a suffix attack", "http://relay.test.evil.test"],
    ["a prefix attack", "http://evilrelay.test"],
    ["the opaque origin of sandboxed frames and file: pages", "null"],
    ["an origin with a path", "http://relay.test/session/1"],
  ])("refuses %s", (_label, origin) => {
    expect(isTrustedOrigin(origin, trusted)).toBe(false);
  });

  it("refuses every present Origin when nothing is trusted", () => {
    expect(isTrustedOrigin("http://relay.test", [])).toBe(false);
  });
});

describe("isTrustedOrigin: pages the relay served itself (same origin)", () => {
  it("accepts an Origin whose host is the request's Host", () => {
    expect(isTrustedOrigin("http://relay-a.internal:3000", [], "relay-a.internal:3000")).toBe(true);
    expect(isTrustedOrigin("https://relay.example.com", [], "relay.example.com")).toBe(true);
    expect(isTrustedOrigin("http://RELAY.test:3000", [], "relay.test:3000")).toBe(true);
  });

  it.each([
    ["another host", "http://evil.test", "relay.test"],
    ["another port", "http://relay.test:3001", "relay.test:3000"],
    ["a host that only starts alike", "http://relay.test.evil.test", "relay.test"],
    ["the opaque origin", "null", "null"],
    ["a malformed origin", "relay.test", "relay.test"],
  ])("refuses %s", (_label, origin, host) => {
    expect(isTrustedOrigin(origin, [], host)).toBe(false);
  });
});
