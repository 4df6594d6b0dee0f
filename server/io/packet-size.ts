/**
 * About how many bytes a Socket.IO packet's data holds, without encoding it: the length of its JSON,
 * counted from the string lengths (UTF-16 code units) plus a few bytes per number, key and bracket.
 * One walk, no allocation of the encoded text: a multi-megabyte payload is not stringified a second time
 * (the encoder already does it once to send it). It estimates what the payload weighs, not V8's exact
 * footprint: an object shared by several places is counted once, two-byte strings count one per unit.
 */
export function estimatePacketBytes(data: unknown): number {
  let bytes = 0;
  const seen = new WeakSet<object>();
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "string") {
      bytes += value.length + 2;
    } else if (value === null || typeof value !== "object") {
      bytes += 8;
    } else if (seen.has(value)) {
      continue;
    } else if (ArrayBuffer.isView(value)) {
      seen.add(value);
      bytes += value.byteLength;
    } else if (value instanceof ArrayBuffer) {
      seen.add(value);
      bytes += value.byteLength;
    } else if (Array.isArray(value)) {
      seen.add(value);
      bytes += 2 + value.length;
      for (const item of value as unknown[]) stack.push(item);
    } else {
      seen.add(value);
      bytes += 2;
      for (const [key, item] of Object.entries(value)) {
        bytes += key.length + 4;
        stack.push(item);
      }
    }
  }
  return bytes;
}
