import { describe, expect, it } from "vitest";
import { PacketType, type Packet } from "socket.io-parser";
import { deliverDecoded, packetOfEncoded, relayParser } from "../../server/io/in-process-parser.js";

/** The relay's Socket.IO parser (docs/performance.md "The legacy path"): the stock one plus two shortcuts. */
describe("relay parser", () => {
  const decodedBy = (decoder: InstanceType<typeof relayParser.Decoder>): Packet[] => {
    const out: Packet[] = [];
    decoder.on("decoded", (p: Packet) => out.push(p));
    return out;
  };

  it("takes a handed-over packet as it is, only within deliverDecoded", () => {
    const decoder = new relayParser.Decoder();
    const out = decodedBy(decoder);
    const packet: Packet = { type: PacketType.EVENT, nsp: "/viewer", data: ["input", { text: "hi" }] };
    const frame = JSON.stringify({ type: "input", text: "hi" });
    deliverDecoded(frame, packet, (text) => decoder.add(text));
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(packet);
    // The same text from the network afterwards is parsed by the stock decoder, which refuses it.
    expect(() => decoder.add(frame)).toThrow();
    expect(out).toHaveLength(1);
  });

  it("decodes network text with the stock decoder", () => {
    const decoder = new relayParser.Decoder();
    const out = decodedBy(decoder);
    decoder.add('2/viewer,["input",{"text":"hi"}]');
    expect(out).toEqual([{ type: PacketType.EVENT, nsp: "/viewer", data: ["input", { text: "hi" }] }]);
  });

  it("encodes as the stock encoder does, and gives the packet of a recent encoding back", () => {
    const encoder = new relayParser.Encoder();
    const packet: Packet = { type: PacketType.EVENT, nsp: "/viewer", data: ["event", { seq: 1, event: { type: "agent_start" } }] };
    const [text] = encoder.encode(packet) as [string];
    expect(text).toBe('2/viewer,["event",{"seq":1,"event":{"type":"agent_start"}}]');
    expect(packetOfEncoded(text)).toBe(packet);
    // Only the last 64 encodings are remembered.
    for (let i = 0; i < 64; i++) encoder.encode({ type: PacketType.EVENT, nsp: "/viewer", data: ["event", { seq: i + 2 }] });
    expect(packetOfEncoded(text)).toBeUndefined();
  });
});
