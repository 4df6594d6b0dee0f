import { describe, expect, it } from "vitest";
import { PacketType, type Packet } from "socket.io-parser";
import { Encoder } from "socket.io-parser";
import { deliverDecoded, packetOfEncoded, relayParser } from "../../server/io/in-process-parser.js";
import { withEncoding } from "../../server/io/known-json.js";

/** The relay's Socket.IO parser (docs/performance.md "The legacy path"): the stock one plus three shortcuts. */
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

  it("writes a payload's own JSON, byte for byte what the stock encoder writes", () => {
    const encoder = new relayParser.Encoder();
    const stock = new Encoder();
    const event = { type: "message_update", text: "héllo \"🍕\"\n", n: [1, null, true] };
    const payloads = (): unknown[][] => [
      ["event", { event, seq: 7, publishedAt: 1_700_000_000_123 }],
      ["event", { event, seq: 7, publishedAt: 1_700_000_000_123 }, "1700000000123-0"],
      ["event", { seq: 8, publishedAt: 5 }, 3, true, null],
    ];
    for (const [nsp, id] of [["/viewer", undefined], ["/", 12], ["/hub", 0]] as const) {
      const plain = payloads();
      const marked = payloads().map((args) => args.map((arg) => (typeof arg === "object" && arg !== null ? withEncoding(arg, JSON.stringify(arg)) : arg)));
      for (let i = 0; i < plain.length; i++) {
        const packet = (data: unknown[]): Packet => ({ type: PacketType.EVENT, nsp, data, ...(id !== undefined ? { id } : {}) });
        expect(encoder.encode(packet(marked[i] ?? []))).toEqual(stock.encode(packet(plain[i] ?? [])));
      }
    }
  });

  it("uses the carried JSON, and only on the payload it was given to", () => {
    const encoder = new relayParser.Encoder();
    const payload = withEncoding({ seq: 1 }, '{"seq":1,"carried":true}');
    const [text] = encoder.encode({ type: PacketType.EVENT, nsp: "/viewer", data: ["event", payload] }) as [string];
    expect(text).toBe('2/viewer,["event",{"seq":1,"carried":true}]');
    // A copy (which may differ) is encoded from its fields; JSON never shows the mark.
    const copy = { ...payload, seq: 2 };
    expect(encoder.encode({ type: PacketType.EVENT, nsp: "/viewer", data: ["event", copy] })).toEqual(['2/viewer,["event",{"seq":2}]']);
    expect(JSON.stringify(payload)).toBe('{"seq":1}');
    // Anything else in the packet that is not plain (here binary) goes to the stock encoder.
    const binary = encoder.encode({ type: PacketType.EVENT, nsp: "/viewer", data: ["event", payload, Buffer.from("x")] });
    expect(binary).toHaveLength(2);
  });

  it("puts a payload's JSON together around its fields' carried JSON, and leaves other objects to the stock encoder", () => {
    const encoder = new relayParser.Encoder();
    const stock = new Encoder();
    const event = { type: "message_update", text: "héllo", n: [1, null] };
    const packet = (data: unknown[]): Packet => ({ type: PacketType.EVENT, nsp: "/viewer", data });
    const marked = withEncoding({ ...event }, JSON.stringify(event));
    expect(encoder.encode(packet(["event", { event: marked, seq: 3, publishedAt: 9 }]))).toEqual(stock.encode(packet(["event", { event, seq: 3, publishedAt: 9 }])));
    // A field that is an object without carried JSON could hold binary: the stock encoder takes it.
    const withBinary = encoder.encode(packet(["event", { event: marked, extra: { data: Buffer.from("x") } }]));
    expect(withBinary).toHaveLength(2);
    expect(encoder.encode(packet(["event", [marked]]))).toEqual(stock.encode(packet(["event", [event]])));
  });
});
