import { describe, expect, it } from "vitest";
import { GENERATION_SPECS, LEGACY_PROTOCOL_VERSION, LEGACY_TRANSPORT_NAME, PROTOCOL_VERSION, routeGeneration, type Declared } from "../../protocol/index.js";

/** The routing table of client generations (docs/protocol.md, "Client generations"), row by row. */
const declared = (over: Partial<Declared>): Declared => ({ transport: "websocket", namespace: "/relay", protocolVersion: undefined, clientVersion: undefined, ...over });

describe("routeGeneration", () => {
  it.each<[string, Partial<Declared>, string, string]>([
    ["a bridged /ws/* connection is legacy, whatever it declares", { transport: LEGACY_TRANSPORT_NAME, protocolVersion: "1.0.0" }, "legacy", LEGACY_PROTOCOL_VERSION],
    ["no protocolVersion: socket-unversioned (0.2.x – 0.4.0)", {}, "socket-unversioned", "none"],
    ["null counts as absent", { protocolVersion: null }, "socket-unversioned", "none"],
    ["the number 1: socket-v1", { protocolVersion: 1, clientVersion: "0.5.7" }, "socket-v1", "1"],
    ["the number 1 without a clientVersion: socket-v1", { protocolVersion: 1 }, "socket-v1", "1"],
    ["the number 1 with a clientVersion that is not semver: socket-v1", { protocolVersion: 1, clientVersion: "nightly" }, "socket-v1", "1"],
    ["a CLI above 0.5.7 with the number 1: socket-v1-acked", { protocolVersion: 1, clientVersion: "0.5.8" }, "socket-v1-acked", "1"],
    ["a prerelease above 0.5.7 is acked too", { protocolVersion: 1, clientVersion: "0.6.0-beta.2" }, "socket-v1-acked", "1"],
    ["a runner above 0.5.7 stays socket-v1 (only CLIs ack input)", { namespace: "/runner", protocolVersion: 1, clientVersion: "0.6.1" }, "socket-v1", "1"],
    ["this relay's semver: current", { protocolVersion: PROTOCOL_VERSION }, "current", PROTOCOL_VERSION],
    ["any 1.x semver: current", { protocolVersion: "1.7.3" }, "current", "1.7.3"],
  ])("%s", (_name, over, generation, protocolVersion) => {
    expect(routeGeneration(declared(over))).toEqual({ ok: true, generation, protocolVersion });
  });

  it.each([["1"], ["1.0"], ["2.0.0"], ["0.9.9"], ["1.0.0-beta.1"], [2], [0], [1.5], [""], ["one.two.three"]])("refuses %j, naming what this relay speaks", (version) => {
    const routed = routeGeneration(declared({ protocolVersion: version }));
    expect(routed.ok).toBe(false);
    if (!routed.ok) expect(routed.message).toContain(JSON.stringify(version));
  });

  it("acks input only for socket-v1-acked", () => {
    expect(Object.values(GENERATION_SPECS).filter((s) => s.inputWithAck).map((s) => s.generation)).toEqual(["socket-v1-acked"]);
  });
});
