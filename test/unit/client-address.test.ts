import { describe, expect, it } from "vitest";
import { clientAddress, clientProtocol, parseTrustProxy, type TrustProxy } from "../../server/http/client-address.js";

/** PIZZAPI_TRUST_PROXY and the one function that decides a request's client address. */
function trust(text: string): TrustProxy {
  const parsed = parseTrustProxy(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

describe("parseTrustProxy", () => {
  it("reads off, on, and lists of addresses and subnets", () => {
    expect(parseTrustProxy(undefined)).toEqual({ kind: "off" });
    expect(parseTrustProxy("off")).toEqual({ kind: "off" });
    expect(parseTrustProxy("false")).toEqual({ kind: "off" });
    expect(parseTrustProxy("ON")).toEqual({ kind: "on" });
    expect(parseTrustProxy("1")).toEqual({ kind: "on" });
    expect(parseTrustProxy(" 10.0.0.0/8, ::1 ,192.168.1.5")).toEqual({ kind: "list", entries: ["10.0.0.0/8", "::1", "192.168.1.5"] });
  });

  it("refuses what is not an address or subnet, naming it", () => {
    expect(parseTrustProxy("yes")).toMatch(/not an address: yes/);
    expect(parseTrustProxy("10.0.0.0/33")).toMatch(/10\.0\.0\.0\/33/);
    expect(parseTrustProxy("10.0.0.1, proxy.local")).toMatch(/proxy\.local/);
  });
});

describe("clientAddress", () => {
  const xff = (value: string) => ({ "x-forwarded-for": value });

  it("off: the TCP peer, whatever X-Forwarded-For says", () => {
    expect(clientAddress(trust("off"), "198.51.100.1", xff("203.0.113.7"))).toBe("198.51.100.1");
  });

  it("reads an IPv4 peer of a dual-stack socket as plain IPv4", () => {
    expect(clientAddress(trust("off"), "::ffff:127.0.0.1", {})).toBe("127.0.0.1");
  });

  it("on: the last X-Forwarded-For hop (the one the proxy added), not a client's forged ones", () => {
    expect(clientAddress(trust("on"), "10.0.0.2", xff("1.1.1.1, 203.0.113.7"))).toBe("203.0.113.7");
    expect(clientAddress(trust("on"), "10.0.0.2", { "x-forwarded-for": ["1.1.1.1", "203.0.113.7"] })).toBe("203.0.113.7");
    expect(clientAddress(trust("on"), "10.0.0.2", {})).toBe("10.0.0.2");
  });

  it("a list: the nearest hop that is not a trusted proxy", () => {
    const t = trust("10.0.0.0/8, 192.168.0.9");
    expect(clientAddress(t, "10.0.0.2", xff("6.6.6.6, 203.0.113.7, 192.168.0.9"))).toBe("203.0.113.7");
    // A peer that is not a listed proxy is the client, whatever it forwards.
    expect(clientAddress(t, "198.51.100.1", xff("203.0.113.7"))).toBe("198.51.100.1");
    // Every hop trusted: the farthest one.
    expect(clientAddress(t, "10.0.0.2", xff("10.1.1.1"))).toBe("10.1.1.1");
  });

  it("stops at a hop that is not an IP address", () => {
    expect(clientAddress(trust("on"), "10.0.0.2", xff("<script>"))).toBe("10.0.0.2");
    expect(clientAddress(trust("10.0.0.0/8"), "10.0.0.2", xff("203.0.113.7, 10.0.0.3:8080"))).toBe("10.0.0.2");
  });
});

describe("clientProtocol", () => {
  it("believes X-Forwarded-Proto only from a trusted proxy", () => {
    const headers = { "x-forwarded-proto": "https" };
    expect(clientProtocol(trust("off"), "10.0.0.2", headers)).toBe("http");
    expect(clientProtocol(trust("on"), "10.0.0.2", headers)).toBe("https");
    expect(clientProtocol(trust("10.0.0.0/8"), "10.0.0.2", headers)).toBe("https");
    expect(clientProtocol(trust("10.0.0.0/8"), "198.51.100.1", headers)).toBe("http");
    expect(clientProtocol(trust("on"), "10.0.0.2", { "x-forwarded-proto": "gopher" })).toBe("http");
  });
});
