import { Decoder, Encoder, type Packet } from "socket.io-parser";
import { knownJson, payloadJson } from "./known-json.js";

/**
 * The Socket.IO parser of the relay (the `parser` option of its Server): the stock socket.io-parser,
 * plus two shortcuts for connections whose client lives in this process (the legacy bridge's; see
 * docs/performance.md "The legacy path"), and one for payloads whose JSON is already known. Remote
 * clients see no difference: what goes on the wire is the stock encoding, and what comes from the wire
 * is decoded by the stock decoder.
 *
 * - In: a packet an in-process client hands over already decoded (`deliverDecoded`) reaches the
 *   namespace as it is, instead of being encoded to text here and parsed back.
 * - Out: the text of a packet this encoder produced recently can be turned back into that packet
 *   (`packetOfEncoded`), so an in-process client reads a broadcast without parsing it again.
 * - Out: a payload that carries its JSON, or whose fields do (server/io/known-json.ts), is written with
 *   that JSON, not stringified again (docs/performance.md "One stringify per event, fewer promises").
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
 * A ring searched newest first by identity: the texts are the very string objects handed to engine.io,
 * so a hit is a pointer compare, and recording one is two stores (a Map keyed by the texts hashed every
 * encoded string, hundreds of bytes each, on every broadcast).
 */
const RECENT_ENCODINGS = 64;
const recentTexts: Array<string | undefined> = new Array<string | undefined>(RECENT_ENCODINGS).fill(undefined);
const recentPackets: Array<Packet | undefined> = new Array<Packet | undefined>(RECENT_ENCODINGS).fill(undefined);
let newest = 0;

/** The packet this text was encoded from, if it was encoded recently here. Treat it as read-only. */
export function packetOfEncoded(text: string): Packet | undefined {
  for (let back = 0; back < RECENT_ENCODINGS; back++) {
    const slot = (newest - back + RECENT_ENCODINGS) % RECENT_ENCODINGS;
    const known = recentTexts[slot];
    if (known === undefined) return undefined;
    // Same length first: a differing one is never the same string, and that check is one load.
    if (known.length === text.length && known === text) return recentPackets[slot];
  }
  return undefined;
}

function remember(text: string, packet: Packet): void {
  newest = (newest + 1) % RECENT_ENCODINGS;
  recentTexts[newest] = text;
  recentPackets[newest] = packet;
}

const SOCKET_IO_EVENT = 2;

/**
 * The stock string encoding (socket.io-parser's `encodeAsString`) of an event whose arguments are
 * strings, numbers, booleans, null and payloads whose JSON is known (`knownJson`, `payloadJson`);
 * undefined for any other packet, which the stock encoder takes (binary detection included: none of
 * these can hold binary).
 */
function encodeKnown(packet: Packet): string | undefined {
  if (packet.type !== SOCKET_IO_EVENT || !Array.isArray(packet.data)) return undefined;
  const args: unknown[] = packet.data;
  let known = false;
  const parts: string[] = [];
  for (const arg of args) {
    if (typeof arg === "object" && arg !== null) {
      const json = knownJson(arg) ?? payloadJson(arg);
      if (json === undefined) return undefined;
      parts.push(json);
      known = true;
    } else if (typeof arg === "string" || typeof arg === "boolean" || (typeof arg === "number" && Number.isFinite(arg)) || arg === null) {
      parts.push(JSON.stringify(arg));
    } else return undefined;
  }
  if (!known) return undefined;
  const nsp = packet.nsp && packet.nsp !== "/" ? `${packet.nsp},` : "";
  const id = packet.id === undefined || packet.id === null ? "" : String(packet.id);
  return `${SOCKET_IO_EVENT}${nsp}${id}[${parts.join(",")}]`;
}

class RelayEncoder extends Encoder {
  override encode(packet: Packet): ReturnType<Encoder["encode"]> {
    const known = encodeKnown(packet);
    const encoded = known === undefined ? super.encode(packet) : [known];
    const text: unknown = encoded.length === 1 ? encoded[0] : undefined;
    if (typeof text === "string") remember(text, packet);
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
