import { Decoder, Encoder, type Packet } from "socket.io-parser";

/**
 * The Socket.IO parser of the relay (the `parser` option of its Server): the stock socket.io-parser,
 * plus two shortcuts for connections whose client lives in this process (the legacy bridge's; see
 * docs/performance.md "The legacy path"). Remote clients see no difference: what goes on the wire is
 * the stock encoding, and what comes from the wire is decoded by the stock decoder.
 *
 * - In: a packet an in-process client hands over already decoded (`deliverDecoded`) reaches the
 *   namespace as it is, instead of being encoded to text here and parsed back.
 * - Out: the text of a packet this encoder produced recently can be turned back into that packet
 *   (`packetOfEncoded`), so an in-process client reads a broadcast without parsing it again.
 */

/**
 * The packet being handed over now, with the text that stands for it on the engine.io path (the
 * client's own frame, so that byte counters such as the Admin UI's stay right). engine.io passes a
 * message to Socket.IO's decoder synchronously, within `deliver`: the decoder takes the packet when it
 * sees that very text during that call. Network input cannot arrive within it (one thread), so no
 * remote client can stand in for it.
 */
let handing: { text: string; packet: Packet } | null = null;

/** Runs `deliver(text)`, during which this parser decodes `text` as `packet`, untouched. */
export function deliverDecoded(text: string, packet: Packet, deliver: (text: string) => void): void {
  handing = { text, packet };
  try {
    deliver(text);
  } finally {
    handing = null;
  }
}

/**
 * Encoded text → the packet it was encoded from, for the last few encodings. A broadcast is encoded
 * once and written to each recipient right away, so an in-process recipient finds it here; one whose
 * writes were queued past this window parses the text instead (the same result, at a parse's cost).
 * Keys are the very string objects handed to engine.io: a hit compares pointers.
 */
const recent = new Map<string, Packet>();
const RECENT_ENCODINGS = 64;

/** The packet this text was encoded from, if it was encoded recently here. Treat it as read-only. */
export function packetOfEncoded(text: string): Packet | undefined {
  return recent.get(text);
}

class RelayEncoder extends Encoder {
  override encode(packet: Packet): ReturnType<Encoder["encode"]> {
    const encoded = super.encode(packet);
    const text: unknown = encoded.length === 1 ? encoded[0] : undefined;
    if (typeof text === "string") {
      recent.set(text, packet);
      if (recent.size > RECENT_ENCODINGS) recent.delete(recent.keys().next().value as string);
    }
    return encoded;
  }
}

class RelayDecoder extends Decoder {
  override add(data: unknown): void {
    const current = handing;
    if (current !== null && data === current.text) {
      handing = null;
      this.emitReserved("decoded", current.packet);
      return;
    }
    super.add(data);
  }
}

/** The value of Socket.IO's `parser` option. */
export const relayParser = { Encoder: RelayEncoder, Decoder: RelayDecoder };
